@testable import Adaptation
import Foundation
import Kinematics
import Testing
import Spiking
import Tensors
@testable import MetaLearning

/// The tiny architecture with proprioceptive inputs: 2 joints × (4 angle + 4 error neurons) after the clock.
func tinyClosedLoopArchitecture() -> MetaArchitecture {
    var a = tinyArchitecture()
    a.proprioception = ProprioceptionSettings(jointRanges: [-1.5...1.5, -1.5...1.5], angleNeurons: 4, errorNeurons: 4,
                                              errorRange: 0.05, peakProbability: 0.5)
    return a
}

/// A linear servo (each tick covers `response` of the distance to the goal), with the secant floor at 0 so
/// the backward pass uses the exact response.
func lagArm(response: Double, hold: (joint: Int, ticks: Range<Int>)? = nil,
            push: (joint: Int, offset: Double, ticks: Range<Int>)? = nil) -> ClosedLoopArm {
    let label = "lag \(response) hold \(hold.map { "\($0.joint) \($0.ticks)" } ?? "none") push \(push.map { "\($0.joint) \($0.offset) \($0.ticks)" } ?? "none")"
    return ClosedLoopArm(label: label, nominalResponse: response, secantFloor: 1e-12) { _ in
        LagPlant(response: response, hold: hold, push: push)
    }
}

/// One task's forward pass (tiny tasks' kinematics, seed-1 noise) on `arm`, returning the tape.
func closedLoopTape(_ a: MetaArchitecture, _ weights: MetaParameters<Double>, arm: ClosedLoopArm?, task: MetaTaskTarget) -> MetaTaskTape<Double> {
    var options = MetaGradientOptions()
    options.closedLoop = arm
    let engine = MetaGradientEngine<Double>(architecture: a, options: options, kinematics: ScorbotKinematics(),
                                            drivenJoints: tinySampler().drivenJoints, restAngles: tinySampler().restAngles)
    let tape = MetaTaskTape<Double>(architecture: a)
    var rng = RandomSource(seed: 1)
    engine.forward(tape, parameters: FlatParameters(weights, architecture: a), target: task, rng: &rng)
    return tape
}

@Suite("Closed-loop meta-gradient")
struct ClosedLoopMetaGradientTests {
    /// The architecture's W_in has the clock rows and then the proprioceptive rows.
    @Test func inputRowsAreClockThenProprioception() {
        let a = tinyClosedLoopArchitecture()
        #expect(a.traineeInputs == a.clockInputs + 16)
        #expect(a.shape(of: .traineeInput).rows == a.traineeInputs)
        #expect(MetaArchitecture(a.controller).traineeInputs == a.traineeInputs, "the settings survive the checkpoint architecture")
    }

    /// With the arm in the loop (a linear servo, so the backward pass's secant is exact) the analytic
    /// meta-gradient still matches central differences: the encoder's spikes are piecewise constant in the
    /// weights, so stopping the gradient at them is exact wherever no spike flips.
    @Test func gradientThroughTheArmMatchesFiniteDifferences() {
        var options = MetaGradientOptions()
        options.spikeFunction = .sigmoid(sharpness: 2)
        options.adaptiveThresholdSpikeGradient = true
        options.closedLoop = lagArm(response: 0.4)
        let report = gradientCheck(options: options, batch: 2, threads: 1, architecture: tinyClosedLoopArchitecture())
        for name in MetaParameterName.allCases {
            let e = report.relativeErrors[name]!
            #expect(e < 1e-3, "\(name.rawValue): relative error \(e) (|g| = \(report.analyticNorms[name]!))")
            #expect(report.analyticNorms[name]! > 0, "\(name.rawValue): zero gradient, the check would be vacuous")
        }
    }

    /// A compliant push (the servo settles `offset` off its goal for a window) changes each tick's secant
    /// against the raw goal; taken against the shifted goal (`ClosedLoopPlant.goalShift`) it is exact again.
    @Test func gradientThroughAPushedArmMatchesFiniteDifferences() {
        var options = MetaGradientOptions()
        options.spikeFunction = .sigmoid(sharpness: 2)
        options.adaptiveThresholdSpikeGradient = true
        let steps = tinyClosedLoopArchitecture().steps
        options.closedLoop = lagArm(response: 0.4, push: (joint: 0, offset: 0.05, ticks: steps / 4..<steps / 2))
        let report = gradientCheck(options: options, batch: 2, threads: 1, architecture: tinyClosedLoopArchitecture())
        for name in MetaParameterName.allCases {
            let e = report.relativeErrors[name]!
            #expect(e < 1e-3, "\(name.rawValue): relative error \(e) (|g| = \(report.analyticNorms[name]!))")
        }
    }

    /// Weighing the steps after the push (`afterDisturbanceWeight`) keeps the gradient exact, and it weighs
    /// exactly those steps: the loss grows by (a − 1)·0.5·w·(their squared error)/(3T), the logged MSE does not.
    @Test func afterDisturbanceWeightIsExactAndWeighsOnlyTheStepsAfterThePush() {
        var options = MetaGradientOptions()
        options.spikeFunction = .sigmoid(sharpness: 2)
        options.adaptiveThresholdSpikeGradient = true
        options.afterDisturbanceWeight = 4
        options.positionWeight = 3
        let a = tinyClosedLoopArchitecture()
        let steps = a.steps
        let push = (joint: 0, offset: 0.05, ticks: steps / 4..<steps / 2)
        options.closedLoop = lagArm(response: 0.4, push: push)
        let report = gradientCheck(options: options, batch: 2, threads: 1, architecture: a)
        for name in MetaParameterName.allCases {
            let e = report.relativeErrors[name]!
            #expect(e < 1e-3, "\(name.rawValue): relative error \(e) (|g| = \(report.analyticNorms[name]!))")
        }
        let plant = LagPlant(response: 0.4, push: push)
        let after = (0..<steps).filter { plant.isAfterDisturbance(tick: $0) }
        #expect(after == Array((steps / 2 - 1)..<steps), "after the push: measurements from the window's end on")
        #expect(!LagPlant(response: 0.4).isAfterDisturbance(tick: steps - 1), "no push, no after")

        func tape(weight: Double) -> MetaTaskTape<Double> {
            var o = options
            o.afterDisturbanceWeight = weight
            let engine = MetaGradientEngine<Double>(architecture: a, options: o, kinematics: ScorbotKinematics(),
                                                    drivenJoints: tinySampler().drivenJoints, restAngles: tinySampler().restAngles)
            let t = MetaTaskTape<Double>(architecture: a)
            var rng = RandomSource(seed: 1)
            engine.forward(t, parameters: FlatParameters(tinyParameters(a, seed: 5), architecture: a), target: tinyTasks(a, count: 1, seed: 4)[0], rng: &rng)
            return t
        }
        let plain = tape(weight: 1), weighted = tape(weight: 4)
        #expect(plain.positionError == weighted.positionError && plain.velocityError == weighted.velocityError)
        #expect(weighted.positionWeights == (0..<steps).map { after.contains($0) ? 4 : 1 })
        // Squared end-effector errors of the steps after the push, from the tape's measured angles.
        let kinematics = ScorbotKinematics(), sampler = tinySampler(), target = tinyTasks(a, count: 1, seed: 4)[0]
        var afterSum = 0.0
        for t in after {
            var q = sampler.restAngles
            for o in 0..<a.outputs { q[sampler.drivenJoints[o]] = plain.measured[(t + 1) * a.outputs + o] }
            let p = kinematics.position(q)
            let e = SIMD3(p.x - target.positions[t * 3], p.y - target.positions[t * 3 + 1], p.z - target.positions[t * 3 + 2])
            afterSum += (e * e).sum()
        }
        #expect(afterSum > 0)
        let expected = plain.loss + 3 * 0.5 * 3 * afterSum / Double(steps * 3)
        #expect(abs(weighted.loss - expected) <= 1e-12 * max(1, abs(expected)), "\(weighted.loss) vs \(expected)")
    }

    /// The proprioceptive rows fire in both trials and take part in the update: their ΔW rows are not zero.
    @Test func proprioceptiveRowsFireAndLearn() {
        let a = tinyClosedLoopArchitecture()
        let parameters = FlatParameters(tinyParameters(a, seed: 5), architecture: a)
        let tape = closedLoopTape(a, tinyParameters(a, seed: 5), arm: lagArm(response: 0.4), task: tinyTasks(a, count: 1, seed: 4)[0])
        for trial in 0..<2 {
            var proprioceptive = 0
            for t in 0..<a.steps {
                for q in 0..<Int(tape.inputCounts[trial][t]) where Int(tape.inputs[trial][t * a.traineeInputs + q]) >= a.clockInputs { proprioceptive += 1 }
            }
            #expect(proprioceptive > a.steps / 2, "trial \(trial + 1): \(proprioceptive) proprioceptive spikes in \(a.steps) steps")
        }
        // Trial-2 weights minus the meta-learned ones on the proprioceptive rows.
        var changed = 0
        let n = a.traineeNeurons
        for i in a.clockInputs..<a.traineeInputs {
            for j in 0..<n where tape.w1In[i * n + j] != parameters.pointer(.traineeInput)[i * n + j] { changed += 1 }
        }
        #expect(changed > 0, "no proprioceptive weight changed in the update")
        #expect(tape.loss.isFinite)
    }

    /// A held joint: the measured angle stays put during the hold, the command goes on, so the error
    /// population of that joint sees the difference (its end neurons fire), which it does not with the arm free.
    @Test func heldJointShowsInTheErrorAndTheLoss() {
        let a = tinyClosedLoopArchitecture()
        let task = tinyTasks(a, count: 1, seed: 4)[0]
        func run(_ arm: ClosedLoopArm) -> MetaTaskTape<Double> { closedLoopTape(a, tinyParameters(a, seed: 5), arm: arm, task: task) }
        let free = run(lagArm(response: 0.9))
        let held = run(lagArm(response: 0.9, hold: (joint: 0, ticks: 0..<a.steps + 1)))
        let k = a.outputs
        for t in 0...a.steps { #expect(held.measured[t * k] == held.measured[0], "the held joint moved at tick \(t)") }
        let lastError = abs(held.commands[a.steps * k] - held.measured[a.steps * k])
        #expect(lastError > 0, "the command should run away from the held joint")
        // Rows of joint 0's outer error neurons (errors beyond ±0.05 rad saturate there).
        let encoder = a.proprioception!.makeEncoder()
        let outer = Set([encoder.errorRow(joint: 0, neuron: 0), encoder.errorRow(joint: 0, neuron: 3)].map { $0 + a.clockInputs })
        func outerSpikes(_ tape: MetaTaskTape<Double>) -> Int {
            var count = 0
            for t in 0..<a.steps {
                for q in 0..<Int(tape.inputCounts[1][t]) where outer.contains(Int(tape.inputs[1][t * a.traineeInputs + q])) { count += 1 }
            }
            return count
        }
        #expect(outerSpikes(held) > outerSpikes(free), "held \(outerSpikes(held)), free \(outerSpikes(free))")
        #expect(held.positionError != free.positionError, "the loss is computed on the arm's angles")
    }
}

@Suite("Closed loop leaves the rest alone")
struct ClosedLoopInvariantTests {
    /// The LSG hears only the clock and the target code: adding proprioceptive inputs to the trainee does not
    /// change its spikes, and trial 1 of the trainee is the same when the proprioceptive weights are zero.
    @Test func learningSignalGeneratorAndTrialOneUnchanged() {
        let open = tinyArchitecture()
        let closed = tinyClosedLoopArchitecture()
        let weights = tinyParameters(open, seed: 5)
        var expanded = weights
        expanded.tensors[MetaParameterName.traineeInput.index] = weights[.traineeInput]
            + [Double](repeating: 0, count: closed.proprioception!.rowCount * closed.traineeNeurons)
        let task = tinyTasks(open, count: 1, seed: 4)[0]
        func run(_ a: MetaArchitecture, _ w: MetaParameters<Double>, _ arm: ClosedLoopArm?) -> MetaTaskTape<Double> {
            closedLoopTape(a, w, arm: arm, task: task)
        }
        let o = run(open, weights, nil), c = run(closed, expanded, lagArm(response: 1))
        for j in 0..<open.lsgNeurons { #expect(o.lsgSpikeTotals[j] == c.lsgSpikeTotals[j], "LSG neuron \(j)") }
        for i in 0..<(open.steps * open.traineeNeurons) { #expect(o.z[0][i] == c.z[0][i], "trial-1 spike \(i)") }
    }
}

@Suite("Closed loop: training and deployment agree")
struct ClosedLoopTrainingDeploymentTests {
    /// Trial 1 of meta-training and trial 1 of `OneShotAdaptation` (what `adapt`, `run` and `demo` do) feed the
    /// trainee the same input rows at every step: the clock and the demonstration's proprioception.
    @Test func firstTrialInputsMatchOneShotAdaptation() {
        var controller = ControllerArchitecture.paper
        let family = TaskFamily.paperScorbot
        controller.proprioception = ProprioceptionSettings(jointRanges: family.jointLimits)
        var rng = RandomSource(seed: 8)
        let weights = ControllerWeights(initializing: controller, rng: &rng)
        var target = rng
        let trajectory = family.sample(&target)

        var adaptation = OneShotAdaptation(architecture: controller, weights: weights, loss: TrajectoryLoss(family: family), quantize: false)
        var noise = RandomSource(seed: 1)
        _ = adaptation.adapt(to: trajectory, rng: &noise)

        let a = MetaArchitecture(controller)
        var options = MetaGradientOptions()
        options.closedLoop = lagArm(response: 1)
        let engine = MetaGradientEngine<Float>(architecture: a, options: options, kinematics: family.kinematics,
                                               drivenJoints: family.drivenJoints, restAngles: family.restAngles)
        let tape = MetaTaskTape<Float>(architecture: a)
        var forwardRNG = RandomSource(seed: 2)
        engine.forward(tape, parameters: FlatParameters(MetaParameters(weights), architecture: a), target: MetaTaskTarget(trajectory), rng: &forwardRNG)

        var proprioceptive = 0
        for t in 0..<a.steps {
            let deployed = adaptation.firstTrialInputs.withStep(t) { Array($0).sorted() }
            var trained: [Int32] = []
            for q in 0..<Int(tape.inputCounts[0][t]) { trained.append(tape.inputs[0][t * a.traineeInputs + q]) }
            #expect(trained.sorted() == deployed, "step \(t)")
            proprioceptive += deployed.filter { Int($0) >= a.clockInputs }.count
        }
        #expect(proprioceptive > a.steps / 2, "the demonstration's proprioception must be there to compare")
    }
}

@Suite("Position weight")
struct PositionWeightTests {
    /// The weight scales the position term of the loss, and the gradient follows (finite differences).
    @Test func weightScalesThePositionTermAndTheGradient() {
        let a = tinyClosedLoopArchitecture()
        let sampler = tinySampler()
        let tasks = tinyTasks(a, count: 2, seed: 11)
        let parameters = FlatParameters(tinyParameters(a, seed: 5), architecture: a)
        func evaluate(_ w: Double) -> MetaBatchResult {
            var options = MetaGradientOptions()
            options.closedLoop = lagArm(response: 0.4)
            options.positionWeight = w
            let ev = MetaBatchEvaluator<Double>(architecture: a, options: options, tasks: sampler, batchSize: 2, threads: 1)
            return ev.evaluate(parameters, tasks: tasks, noiseSeed: 3, gradient: nil)
        }
        let one = evaluate(1), three = evaluate(3)
        #expect(abs((three.taskLoss - one.taskLoss) - one.positionError) < 1e-12, "0.5·(3 − 1)·MSE(xyz)")
        var options = MetaGradientOptions()
        options.spikeFunction = .sigmoid(sharpness: 2)
        options.adaptiveThresholdSpikeGradient = true
        options.closedLoop = lagArm(response: 0.4)
        options.positionWeight = 3
        let report = gradientCheck(options: options, batch: 2, threads: 1, architecture: a)
        for name in MetaParameterName.allCases { #expect(report.relativeErrors[name]! < 1e-3, "\(name.rawValue)") }
    }
}
