import Foundation
import Testing
import Adaptation
import Kinematics
import Robot
import Spiking
import Tensors
@testable import Control
import Trajectories

/// A random (not meta-trained) whole-arm controller for the SO-101: the mechanics of segments, hand-overs,
/// time base and reports do not depend on training.
func randomWholeArmController(for robot: RobotDescription, seed: UInt64 = 3) -> ControllerCheckpoint {
    let a = WholeArm.architecture(for: robot)
    var rng = RandomSource(seed: seed)
    return ControllerCheckpoint(architecture: a, weights: ControllerWeights(initializing: a, rng: &rng), metadata: [:])
}

func so101() throws -> RobotDescription {
    try RobotDescription.load(fromFileAt: repositoryRoot() + "/Robots/so101")
}

func repositoryRoot() -> String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}

@Suite("Whole-arm runs: segments, hand-over, time base")
struct WholeArmRunTests {
    /// Segments tile any length: the first starts at 0, the last ends with the demonstration, neighbours
    /// overlap by at least the hand-over, and the cross-fade weights add up to one at every tick.
    @Test(arguments: [1, 2, 124, 125, 126, 200, 1000, 2999, 3000])
    func layoutCoversEveryTick(ticks: Int) {
        let layout = SegmentLayout(ticks: ticks, steps: 125, handOver: 25)
        #expect(layout.starts.first == 0)
        #expect(layout.starts.last! + 125 >= ticks)
        if ticks >= 125 { #expect(layout.starts.last! + 125 == ticks, "the last segment ends with the demonstration") }
        for (a, b) in zip(layout.starts, layout.starts.dropFirst()) { #expect(a + 125 - b >= 25) }
        for n in 0..<ticks {
            let total = (0..<layout.count).reduce(0.0) { $0 + layout.weight(segment: $1, tick: n) }
            #expect(abs(total - 1) < 1e-12, "weights at tick \(n) add up to \(total)")
        }
        #expect(layout.count == max(1, Int((Double(max(ticks - 25, 1)) / 100).rounded(.up))))
    }

    /// A run lasts its demonstration's rows tick for tick and reports every joint.
    @Test func runLastsTheDemonstrationTickForTick() throws {
        let robot = try so101()
        let demo = WholeArm.demonstrations(for: robot).demonstration(seed: 7, index: 0, seconds: 4)
        var settings = RunSettings()
        settings.pcm = .off
        settings.watchSignals = false
        let session = try RunSession(robot: robot, calibration: nil, checkpoint: randomWholeArmController(for: robot), target: demo.trajectory,
                                     settings: settings)
        #expect(session.drivenIndices == Array(0..<6))
        let arm = SimulatedArm(robot: robot)
        arm.teleport(to: session.startPose)
        let outcome = session.run(on: arm)
        #expect(outcome.loop.ticks == demo.trajectory.steps + 1, "a demonstration of \(demo.trajectory.steps + 1) rows runs as many ticks")
        #expect(outcome.tracking?.perJointRMSDegrees.count == 6)
        let segmented = try #require(outcome.segmented)
        #expect(segmented.layout.count == 4)
        #expect(segmented.perJointRMSDegreesAfter.count == 6)
        #expect(outcome.integratedGoals.count == demo.trajectory.steps * 6)
    }

    /// The segmented adaptation's stitched "after" path is what the policy integrates on an ideal arm (the
    /// adaptation and the deployment run the same networks), and a hand-over has no jump: at every tick the
    /// goal moves by at most the larger of the two segments' own steps plus the smoothstep's share of the gap
    /// between their paths, 1.5·gap/(hand-over + 1).
    @Test func stitchedPathMatchesThePolicy() throws {
        let robot = try so101()
        let demo = WholeArm.demonstrations(for: robot).demonstration(seed: 2, index: 1, seconds: 3)
        let checkpoint = randomWholeArmController(for: robot)
        var rng = RandomSource(seed: 1)
        let adaptation = SegmentedAdaptation(architecture: checkpoint.architecture, weights: checkpoint.weights, kinematics: AnyKinematics(robot.forwardKinematics),
                                             target: demo.trajectory, startAngles: demo.startAngles, quantize: false, rng: &rng) {
            DenseSynapses(rows: $0, columns: $1)
        }
        let summary = adaptation.summary(target: demo.trajectory)
        var policy = SegmentedSpikingPolicy(networks: adaptation.networks, layout: adaptation.layout, segmentStarts: adaptation.segmentStarts,
                                            clock: checkpoint.architecture.clock, deviceClock: DeviceClock(start: 65), rng: RandomSource(seed: 0))
        policy.start(from: demo.startAngles)
        var goals = [Double](repeating: 0, count: 6)
        var tick = 0
        while policy.goals(tick: tick, time: Double(tick) * 0.01, measured: demo.startAngles, into: &goals) == .running { tick += 1 }
        #expect(tick == demo.trajectory.steps)
        var worst = 0.0
        for i in summary.pathAfter.indices { worst = max(worst, abs(summary.pathAfter[i] - policy.integratedGoals[i])) }
        #expect(worst < 1e-4, "stitched path and deployed goals differ by \(worst) rad")
        // Each segment's own path, integrated from its start pose.
        let layout = adaptation.layout, steps = layout.steps
        var own = [[Double]](repeating: [], count: layout.count)
        for k in 0..<layout.count {
            var network = adaptation.networks[k]
            network.reset()
            var q = adaptation.segmentStarts[k]
            let clock = checkpoint.architecture.clock.raster(steps: steps)
            var rng = RandomSource(seed: 0)
            for t in 0..<steps {
                clock.withStep(t) { network.step(activeInputs: $0, at: 65, rng: &rng) }
                for j in 0..<6 { q[j] += 0.01 * Double(network.output[j]) }
                own[k] += q
            }
        }
        for k in 1..<layout.count {
            let s = layout.starts[k], e = layout.starts[k - 1] + steps
            for n in max(s, 1)..<min(e + 1, layout.ticks) {
                for j in 0..<6 {
                    let step = abs(policy.integratedGoals[n * 6 + j] - policy.integratedGoals[(n - 1) * 6 + j])
                    func ownStep(_ m: Int) -> Double {
                        let t = n - layout.starts[m]
                        guard t >= 1, t < steps else { return 0 }
                        return abs(own[m][t * 6 + j] - own[m][(t - 1) * 6 + j])
                    }
                    func gapAt(_ m: Int) -> Double {
                        let tk = m - s, tp = m - layout.starts[k - 1]
                        guard tk >= 0, tk < steps, tp >= 0, tp < steps else { return 0 }
                        return abs(own[k][tk * 6 + j] - own[k - 1][tp * 6 + j])
                    }
                    let gap = max(gapAt(n), gapAt(n - 1))
                    #expect(step <= max(ownStep(k - 1), ownStep(k)) + 1.5 * gap / Double(layout.handOver + 1) + 1e-9,
                            "tick \(n), joint \(j): the goal jumps \(step) rad at the hand-over")
                }
            }
        }
    }

    /// A demonstration recorded at 50 Hz keeps its duration at the robot's 100 Hz: 10 s are 1001 ticks, not a
    /// stretched trial.
    @Test func fileAtAnotherRateKeepsItsDuration() throws {
        let robot = try so101()
        let path = NSTemporaryDirectory() + "engram-\(getpid())-50hz.csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let rows = 501
        var positions: [Double] = []
        for k in 0..<rows { for j in 0..<6 { positions.append(0.5 + 0.3 * sin(Double(k) * 0.02 + Double(j))) } }
        let file = TrajectoryFile(joints: robot.joints.map(\.name), time: (0..<rows).map { Double($0) * 0.02 }, positions: positions)
        try file.write(toFile: path)
        let target = try WholeArm.loadTarget(fromFileAt: path, robot: robot, calibration: nil, rateHz: 100)
        #expect(target.trajectory.steps + 1 == 1001)
        #expect(abs(target.trajectory.angles[(1000 - 1) * 6 + 2] - (0.5 + 0.3 * sin(500 * 0.02 + 2))) < 1e-9, "the last row is the file's last pose")
    }

    /// Bad demonstrations are refused with the file, the joint and the row.
    @Test func badDemonstrationsNameFileJointAndRow() throws {
        let robot = try so101()
        let path = NSTemporaryDirectory() + "engram-\(getpid())-bad.csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        func write(joints: [String], rows: Int, rate: Double = 100, _ value: (Int, Int) -> Double) throws {
            var positions: [Double] = []
            for k in 0..<rows { for j in joints.indices { positions.append(value(k, j)) } }
            try TrajectoryFile(joints: joints, time: (0..<rows).map { Double($0) / rate }, positions: positions).write(toFile: path)
        }
        func message() -> String {
            do { _ = try WholeArm.loadTarget(fromFileAt: path, robot: robot, calibration: nil, rateHz: 100); return "" } catch { return error.description }
        }
        let names = robot.joints.map(\.name)
        try write(joints: Array(names.dropLast()), rows: 10) { _, _ in 0 }
        #expect(message().contains("missing column 'gripper.pos'"))
        try write(joints: names + ["elbow"], rows: 10) { _, _ in 0 }
        #expect(message().contains("'elbow.pos' is not a joint of so101"))
        try write(joints: names, rows: 3101) { _, _ in 0 }
        #expect(message().contains("at most 30 s"))
        try write(joints: names, rows: 50) { k, j in j == 2 && k == 40 ? 1.8 : 0 }
        let limits = message()
        #expect(limits.contains(path) && limits.contains("row 41") && limits.contains("elbow_flex") && limits.contains("outside its limits"), "\(limits)")
        try write(joints: names, rows: 50) { k, j in j == 0 && k >= 20 ? 0.2 : 0 }
        let speed = message()
        #expect(speed.contains("row 21") && speed.contains("shoulder_pan") && speed.contains("top speed"), "\(speed)")
    }
}
