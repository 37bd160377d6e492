@testable import Adaptation
import Foundation
import Kinematics
import Testing
import Spiking
import Tensors
import EngramTestSupport
@testable import MetaLearning

/// A three-joint planar arm (links 0.3, 0.2, 0.1 m in the x–y plane) with the third joint a gripper that
/// does not move the tool: enough kinematics for whole-arm tasks in tests.
struct PlanarTestArm: ForwardKinematics {
    var jointCount: Int { 3 }
    func position(_ q: [Double]) -> SIMD3<Double> {
        SIMD3(0.3 * cos(q[0]) + 0.2 * cos(q[0] + q[1]), 0.3 * sin(q[0]) + 0.2 * sin(q[0] + q[1]), 0)
    }
}

let planarLimits = ArmMotionLimits(jointLimits: [-2.0...2.0, -1.5...1.5, 0.0...1.2], maxSpeeds: [3, 3, 4],
                                   isGripper: [false, false, true])

/// The tiny model of the gradient checks as a whole-arm controller of the planar arm.
func tinyWholeArmArchitecture() -> MetaArchitecture {
    var a = tinyArchitecture()
    a.outputs = 3
    a.codedCoordinates = 3
    a.jointTarget = JointTargetSettings(jointRanges: planarLimits.jointLimits, handOverSteps: 4)
    return a
}

@Suite("Whole-arm tasks and joint-space loss")
struct WholeArmTaskTests {
    let family = WholeArmTaskFamily(kinematics: PlanarTestArm(), limits: planarLimits, home: [0, 0, 0.6], steps: 20)

    /// The joint-space loss and target code keep the exact gradient: BPTT agrees with central differences.
    @Test func jointSpaceGradientMatchesFiniteDifferences() {
        var options = MetaGradientOptions()
        options.spikeFunction = .sigmoid(sharpness: 2)
        options.adaptiveThresholdSpikeGradient = true
        options.positionWeight = 20
        let a = tinyWholeArmArchitecture()
        var rng = RandomSource(seed: 4)
        let tasks = (0..<2).map { _ in family.sampleTarget(&rng) }
        #expect(tasks.allSatisfy { $0.positions.count == 20 * 3 && $0.startAngles.count == 3 })
        let report = gradientCheck(options: options, batch: 2, threads: 1, architecture: a, sampler: family, tasks: tasks)
        for name in MetaParameterName.allCases {
            let e = report.relativeErrors[name]!
            #expect(e < 1e-3, "\(name.rawValue): relative error \(e) ≥ 1e-3 (|g| = \(report.analyticNorms[name]!))")
            #expect(report.analyticNorms[name]! > 0, "\(name.rawValue): zero gradient, the check would be vacuous")
        }
    }

    /// Training windows start at the pose before them and integrate back to their angles exactly.
    @Test func windowsIntegrateFromTheirStartPose() {
        var rng = RandomSource(seed: 9)
        for _ in 0..<20 {
            let s = family.sample(&rng)
            var q = s.startAngles
            for t in 0..<s.trajectory.steps {
                for j in 0..<3 {
                    q[j] += s.trajectory.stepSeconds * s.trajectory.angularVelocity[t * 3 + j]
                    #expect(abs(q[j] - s.trajectory.angles[t * 3 + j]) < 1e-9)
                }
            }
        }
    }

    /// Every motion stays inside the limits and under the top speeds; the gripper opens and closes; the
    /// same seed gives the same motion.
    @Test func motionsRespectLimitsAndSpeeds() {
        let generator = DemonstrationGenerator(kinematics: PlanarTestArm(), limits: planarLimits)
        var gripperMoved = 0, armMoved = 0
        for index in 0..<10 {
            let d = generator.demonstration(seed: 1, index: index, seconds: 8)
            #expect(d.trajectory.steps == 800)
            var previous = d.startAngles
            var travelled = [Double](repeating: 0, count: 3)
            for t in 0..<d.trajectory.steps {
                for j in 0..<3 {
                    let q = d.trajectory.angles[t * 3 + j]
                    #expect(planarLimits.jointLimits[j].contains(q), "joint \(j) at \(q) leaves its limits")
                    #expect(abs(q - previous[j]) <= planarLimits.maxSpeeds[j] * 0.01 + 1e-12, "joint \(j) too fast at tick \(t)")
                    travelled[j] += abs(q - previous[j])
                    previous[j] = q
                }
            }
            if travelled[2] > 0.3 { gripperMoved += 1 }
            if travelled[0] > 0.3 && travelled[1] > 0.3 { armMoved += 1 }
        }
        #expect(gripperMoved >= 8, "the gripper opened or closed in only \(gripperMoved) of 10 demonstrations")
        #expect(armMoved >= 8, "both arm joints moved in only \(armMoved) of 10 demonstrations")
        let again = generator.demonstration(seed: 1, index: 3, seconds: 8)
        #expect(again == generator.demonstration(seed: 1, index: 3, seconds: 8))
        #expect(again != generator.demonstration(seed: 2, index: 3, seconds: 8))
    }

    /// The LSG's joint code covers each joint's range: the low and high ends code to the extreme integers.
    @Test func jointCodeSpansTheRange() {
        let s = JointTargetSettings(jointRanges: [-1.0...3.0], handOverSteps: 0)
        let code = TargetCode(bits: 16)
        #expect(code.code(s.normalized(-1, joint: 0)) == 0)
        #expect(code.code(s.normalized(3, joint: 0)) == 65535)
        #expect(code.code(s.normalized(1, joint: 0)) == 32768)
        #expect(code.code(s.normalized(9, joint: 0)) == 65535, "an angle past the range is clamped, not wrapped")
    }

    /// The Gray code: angles one code step apart switch exactly one channel (the binary code switches all 16 at
    /// mid-range), and a checkpoint written before the code was a setting reads as binary.
    @Test func grayCodeSwitchesOneChannelPerStep() throws {
        var s = JointTargetSettings(jointRanges: [-1.0...3.0], handOverSteps: 0)
        let step = 4.0 / 65536
        #expect((s.channels(1 - step / 2, joint: 0, bits: 16) ^ s.channels(1 + step / 2, joint: 0, bits: 16)).nonzeroBitCount == 16)
        s.code = .gray
        var previous = s.channels(-1, joint: 0, bits: 16)
        for i in stride(from: 1, to: 65536, by: 97) {
            let q = -1 + (Double(i) + 0.5) * step
            let below = s.channels(q - step, joint: 0, bits: 16), here = s.channels(q, joint: 0, bits: 16)
            #expect((below ^ here).nonzeroBitCount == 1, "Gray neighbours at \(i) differ in \((below ^ here).nonzeroBitCount) channels")
            previous = here
        }
        #expect(previous != 0)
        let old = Data(#"{"jointRanges":[[-1,3]],"handOverSteps":5}"#.utf8)
        let decoded = try JSONDecoder().decode(JointTargetSettings.self, from: old)
        #expect(decoded.code == .binary && decoded.handOverSteps == 5)
        #expect(try JSONDecoder().decode(JointTargetSettings.self, from: JSONEncoder().encode(s)) == s)
    }
}

@Suite("Whole arm: training and deployment agree")
struct WholeArmTrainingDeploymentTests {
    /// The meta-gradient's forward pass (what training optimises) and `OneShotAdaptation` (what `adapt`, `run`
    /// and `demo` do) give the same trial-2 errors on the same weights and target: the joint-space loss, the
    /// joint code and the start pose agree between training and deployment.
    @Test(arguments: JointTargetSettings.Code.allCases)
    func forwardLossMatchesOneShotAdaptation(code: JointTargetSettings.Code) {
        let family = WholeArmTaskFamily(kinematics: PlanarTestArm(), limits: planarLimits, home: [0, 0, 0.6], steps: 20)
        var a = tinyWholeArmArchitecture()
        a.jointTarget!.code = code
        a.traineeNeurons = 40
        a.lsgPlainNeurons = 30
        a.lsgAdaptiveNeurons = 10
        let controller = a.controller
        var rng = RandomSource(seed: 21)
        var weights = ControllerWeights(initializing: controller, rng: &rng)
        weights.traineeReadout = Matrix(rows: weights.traineeReadout.rows, columns: weights.traineeReadout.columns,
                                        storage: weights.traineeReadout.storage.map { $0 * 40 })
        var compared = 0
        for _ in 0..<4 {
            let task = family.sample(&rng)
            var loss = TrajectoryLoss(kinematics: PlanarTestArm(), drivenJoints: [0, 1, 2], restAngles: task.startAngles)
            loss.jointSpace = true
            var adaptation = OneShotAdaptation(architecture: controller, weights: weights, loss: loss, quantize: false)
            var noise = RandomSource(seed: 1)
            let deployed = adaptation.adapt(to: task.trajectory, startAngles: task.startAngles, rng: &noise)

            let engine = MetaGradientEngine<Float>(architecture: a, options: MetaGradientOptions(), kinematics: PlanarTestArm(),
                                                   drivenJoints: [0, 1, 2], restAngles: [0, 0, 0.6])
            let tape = MetaTaskTape<Float>(architecture: a)
            var forwardRNG = RandomSource(seed: 2)
            let target = MetaTaskTarget(velocities: task.trajectory.angularVelocity, positions: task.trajectory.angles, startAngles: task.startAngles)
            engine.forward(tape, parameters: FlatParameters(MetaParameters(weights), architecture: a), target: target, rng: &forwardRNG)
            #expect(isClose(tape.velocityError, deployed.lossAfter.velocity, relative: 1e-4), "velocity MSE: training \(tape.velocityError), deployment \(deployed.lossAfter.velocity)")
            #expect(isClose(tape.positionError, deployed.lossAfter.endEffector, relative: 1e-4), "joint MSE: training \(tape.positionError), deployment \(deployed.lossAfter.endEffector)")
            if deployed.lossAfter.velocity > 0 { compared += 1 }
        }
        #expect(compared == 4)
    }
}
