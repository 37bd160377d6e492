import Adaptation
@preconcurrency import Foundation
import Control
import MetaLearning
import Robot
import Tensors

extension EvaluateCommand {
    /// `engram evaluate --whole-arm`: demonstration-like motions of every joint, each run on the simulated arm
    /// before and after the one-shot updates of a whole-arm controller.
    static func runWholeArm(_ arguments: ParsedArguments) throws -> Int32 {
        let robotPath = arguments[Self.robot]?.directory ?? ResourceLocator.robotDirectory("so101") ?? "so101"
        let robot = try RobotFiles.loadRobot(robotPath)
        guard let wholeArm = robot.controller.wholeArm ?? (arguments.has(Self.checkpoint) ? "" : nil) else {
            throw RuntimeError("robot \(robot.name) names no whole-arm controller (controller.whole_arm in robot.yaml); pass --checkpoint <file> or train one with 'engram meta-train --robot \(robotPath) --whole-arm'")
        }
        let path = arguments[Self.checkpoint] ?? ((robotPath as NSString).appendingPathComponent(wholeArm))
        let checkpoint = try RobotFiles.loadController(path, robotPath: robotPath, robot: robot)
        guard checkpoint.architecture.jointTarget != nil else {
            throw RuntimeError("\(path): is not a whole-arm controller (its architecture has no jointTarget); use one from 'engram meta-train --robot \(robotPath) --whole-arm'")
        }
        let count = arguments[Self.tasks] ?? 20
        guard count <= 10_000 else { throw UsageError("--tasks <n>: \(count) is out of range for --whole-arm; use 1...10000") }
        let seed = arguments[Self.seed]
        let threads = arguments[Self.threads]
        let pcm = arguments[Self.pcm] ?? SynapseMode.trainedFor(checkpoint)
        let range = 4.0...20.0
        if let dir = arguments[Self.writeDemos] {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<count {
                let demo = WholeArmEvaluation.demonstration(i, count: count, range: range, robot: robot, seed: seed)
                let file = (dir as NSString).appendingPathComponent(String(format: "demo-%02d.csv", i))
                do {
                    try WholeArmEvaluation.write(demo, robot: robot, to: file, note: "engram evaluate --whole-arm --robot \(robot.name) --seed \(seed), demonstration \(i)")
                } catch { throw RuntimeError("\(file): cannot write (\(error)); check the folder is writable") }
            }
            print("wrote \(count) demonstrations to \(dir)")
            return 0
        }
        let progress = ProgressLine(total: count, label: "demonstrations")
        let rows = ParallelJobs.run(count: count, threads: threads, progress: progress.report, makeWorker: { () }) { _, i in
            Result { () throws(RunSessionError) -> WholeArmEvaluationRow in
                try WholeArmEvaluation.evaluate(i, count: count, range: range, robot: robot, checkpoint: checkpoint, pcm: pcm, seed: seed)
            }
        }
        progress.finish()
        var done: [WholeArmEvaluationRow] = []
        for r in rows {
            switch r {
            case .success(let row): done.append(row)
            case .failure(let e): throw RuntimeError(e.description)
            }
        }
        let n = Double(done.count)
        let before = done.reduce(0) { $0 + $1.before.jointRMSDegrees } / n
        let after = done.reduce(0) { $0 + $1.after.jointRMSDegrees } / n
        let names = robot.joints.map(\.name)
        let perJointBefore = names.indices.map { j in done.reduce(0) { $0 + $1.before.perJointRMSDegrees[j] } / n }
        let perJointAfter = names.indices.map { j in done.reduce(0) { $0 + $1.after.perJointRMSDegrees[j] } / n }
        let seconds = done.reduce(0) { $0 + $1.seconds }
        let devicesPerSecond = Double(done.reduce(0) { $0 + $1.devicesProgrammed }) / seconds
        let adaptationPerSecond = done.reduce(0) { $0 + $1.adaptationSeconds } / seconds
        let ticksExact = done.allSatisfy { $0.ticksAfter == $0.rows && $0.ticksBefore == $0.rows }
        if arguments[Self.json] {
            let object: [String: Any] = [
                "robot": robot.name, "checkpoint": path, "pcm": pcm.rawValue, "seed": seed, "demonstrations": done.count,
                "joint_rms_deg_before": before, "joint_rms_deg_after": after, "ratio": after / before,
                "per_joint_rms_deg_before": Dictionary(uniqueKeysWithValues: zip(names, perJointBefore)),
                "per_joint_rms_deg_after": Dictionary(uniqueKeysWithValues: zip(names, perJointAfter)),
                "ticks_equal_rows": ticksExact, "seconds_of_motion": seconds,
                "pcm_devices_per_second": devicesPerSecond, "run_seconds_per_second_of_motion": adaptationPerSecond,
                "runs": done.map { ["index": $0.index, "seconds": $0.seconds, "rows": $0.rows, "ticks": $0.ticksAfter, "segments": $0.segments,
                                    "joint_rms_deg_before": $0.before.jointRMSDegrees, "joint_rms_deg_after": $0.after.jointRMSDegrees,
                                    "rate_limited": $0.rateLimited, "clamped": $0.clamped] as [String: Any] },
            ]
            try JSONOutput.print(object)
        } else {
            print("whole-arm evaluation: \(robot.name), \(path), PCM \(pcm.rawValue), \(done.count) demonstrations of \(Int(range.lowerBound))-\(Int(range.upperBound)) s (seed \(seed)) on the simulated arm")
            print("demo  seconds  ticks  segments  joint RMS before  after")
            for r in done {
                print(String(format: "%4d  %7.2f  %5d  %8d  %15.2f°  %5.2f°", r.index, r.seconds, r.ticksAfter, r.segments, r.before.jointRMSDegrees, r.after.jointRMSDegrees))
            }
            print(String(format: "mean joint RMS: %.2f° before → %.2f° after (ratio %.2f); every run lasted its demonstration's rows: %@", before, after, after / before, ticksExact ? "yes" : "NO"))
            print("per joint after: " + zip(names, perJointAfter).map { String(format: "%@ %.2f°", $0, $1) }.joined(separator: ", "))
            print(String(format: "PCM devices programmed per second of motion: %.0f; adaptation and run wall time per second of motion: %.3f s", devicesPerSecond, adaptationPerSecond))
        }
        return 0
    }
}
