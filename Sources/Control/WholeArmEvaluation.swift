import Foundation
import Adaptation
import Robot
import Spiking
import Tensors
import Trajectories

/// One demonstration of a whole-arm evaluation: run on the simulated arm without the update (the
/// meta-trained controller, the "before") and with it (the "after").
public struct WholeArmEvaluationRow: Sendable {
    /// Index of the demonstration in the generator's stream.
    public var index: Int
    /// Its length (s).
    public var seconds: Double
    /// Rows of the demonstration (start pose plus one per tick) and ticks the two runs lasted.
    public var rows: Int, ticksBefore: Int, ticksAfter: Int
    /// Tracking of the arm, without and with the update.
    public var before: TrackingError, after: TrackingError
    /// Segments, and PCM devices programmed for the run with the update (0 for ideal weights).
    public var segments: Int, devicesProgrammed: Int
    /// Wall time of the adaptation of all segments (s).
    public var adaptationSeconds: Double
    /// Safety counters of the run with the update.
    public var clamped: Int, rateLimited: Int
}

/// `engram evaluate --whole-arm`: demonstration-like motions of every joint from the evaluation generator
/// (seeds never drawn in meta-training), each run through the real control path (`RunSession` on the
/// simulated arm) with and without the one-shot updates.
public enum WholeArmEvaluation {
    /// The length of demonstration `i` of `count`: spread evenly over `range` seconds.
    public static func seconds(_ i: Int, count: Int, range: ClosedRange<Double>) -> Double {
        count <= 1 ? range.lowerBound : (range.lowerBound + (range.upperBound - range.lowerBound) * Double(i) / Double(count - 1)).rounded()
    }

    /// Demonstration `i` as a target of the run (the pose before it is the run's start).
    public static func demonstration(_ i: Int, count: Int, range: ClosedRange<Double>, robot: RobotDescription, seed: UInt64) -> WholeArmTarget {
        WholeArm.demonstrations(for: robot).demonstration(seed: seed, index: i, seconds: seconds(i, count: count, range: range))
    }

    /// Runs demonstration `i` before and after on a fresh simulated arm each.
    public static func evaluate(_ i: Int, count: Int, range: ClosedRange<Double>, robot: RobotDescription, checkpoint: ControllerCheckpoint,
                                pcm: SynapseMode, seed: UInt64) throws(RunSessionError) -> WholeArmEvaluationRow {
        let demo = demonstration(i, count: count, range: range, robot: robot, seed: seed)
        var settings = RunSettings()
        settings.pcm = pcm
        settings.seed = seed &+ UInt64(i)
        settings.watchSignals = false
        var outcomes: [RunOutcome] = []
        var adaptationSeconds = 0.0
        for adapt in [false, true] {
            settings.adapt = adapt
            let session = try RunSession(robot: robot, calibration: nil, checkpoint: checkpoint, target: demo.trajectory, settings: settings)
            let arm = SimulatedArm(robot: robot)
            arm.teleport(to: session.startPose)
            let started = Date()
            outcomes.append(session.run(on: arm))
            if adapt { adaptationSeconds = Date().timeIntervalSince(started) }
        }
        guard let before = outcomes[0].tracking, let after = outcomes[1].tracking else {
            throw RunSessionError("demonstration \(i): the run stopped before it started (\(outcomes[1].loop.stopReason))")
        }
        return WholeArmEvaluationRow(index: i, seconds: Double(demo.trajectory.steps) * RunSession.stepSeconds, rows: demo.trajectory.steps + 1,
                                     ticksBefore: outcomes[0].loop.ticks, ticksAfter: outcomes[1].loop.ticks, before: before, after: after,
                                     segments: outcomes[1].segmented?.layout.count ?? 0,
                                     devicesProgrammed: outcomes[1].programming?.devicesProgrammed ?? 0,
                                     adaptationSeconds: adaptationSeconds,
                                     clamped: outcomes[1].loop.safety.clampedToLimits, rateLimited: outcomes[1].loop.safety.rateLimited)
    }

    /// Writes demonstration `i` as a trajectory CSV a user could have recorded (start pose, then one row per tick).
    public static func write(_ demo: WholeArmTarget, robot: RobotDescription, to path: String, note: String) throws {
        let n = robot.joints.count
        let rows = demo.trajectory.steps + 1
        var positions = demo.startAngles
        positions += demo.trajectory.angles
        let file = TrajectoryFile(joints: robot.joints.map(\.name), time: (0..<rows).map { Double($0) * RunSession.stepSeconds }, positions: positions,
                                  metadata: [.init("robot", robot.name), .init("rate_hz", "100"), .init("source", note)])
        precondition(positions.count == rows * n)
        try file.write(toFile: path)
    }
}
