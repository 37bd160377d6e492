import Adaptation
import Foundation
import Control
import Kinematics
import PhaseChange
import Robot
import MetaLearning
import Spiking
import Tensors
import Trajectories

/// `engram adapt`: one-shot adaptation of a controller to target trajectories from CSV files.
enum AdaptCommand: EngramCommand {
    static let name = "adapt"
    static let abstract = "Adapt a controller to target trajectories (CSV) with one e-prop update"
    static let discussion = """
        Each --target CSV (format: # metadata lines, a header, then rows) carries time_s, \
        base.pos and shoulder.pos (rad), optionally base.vel and shoulder.vel (rad/s; derived by finite \
        difference when absent) and ee.x, ee.y, ee.z (m; derived by Scorbot forward kinematics when absent). \
        A file with another number of rows than the controller's steps (249 at 10 ms), such as a recorded demonstration, is resampled onto the trial (its whole duration mapped onto 2.49 s; the command says by how much). For each target the command runs \
        trial 1, the learning-signal generator, the natural e-prop update (rounded to 1/16 with --quantize on; \
        default: on with PCM, off without), writes it (to the PCM crossbar's changed devices with --pcm), runs \
        trial 2 and reports the loss 0.5·MSE(ω) + 0.5·MSE(xyz) before and after. With --pcm off and \
        --quantize off the result is deterministic. --out writes the adapted controller (one --target only).

        Example: engram adapt --checkpoint controller.safetensors --target reach.csv --json
        """
    static let checkpoint = Option<String>("--checkpoint", "file", "Controller checkpoint (safetensors)", required: true)
    static let target = Option<String>("--target", "csv", "Target trajectory file(s)", required: true, repeating: true)
    static let robot = CommonOptions.robot("Targets are for this robot (its joints, kinematics and task family): a name from Robots/ or a folder with robot.yaml",
                                           defaultNote: "the paper's Scorbot")
    static let pcm = Option<SynapseMode>("--pcm", "model", "Trainee synapses: ideal weights (off) or a PCM model").defaulting(to: .off)
    static let quantize = Option<Switch>("--quantize", "on|off", "Round the update to 1/16 of w_max", defaultNote: "on with PCM, off without")
    static let drift = Option<Switch>("--drift", "on|off", "PCM conductance drift (with --pcm only)").defaulting(to: .on)
    static let seed = CommonOptions.seed("Seed of the device noise")
    static let out = CommonOptions.out("file", "Write the adapted controller here (safetensors; one --target only)")
    static let json = CommonOptions.json

    static let options: [OptionSpec] = [checkpoint.spec, target.spec, robot.spec, pcm.spec, quantize.spec, drift.spec, seed.spec, out.spec, json.spec]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let checkpointPath = try arguments.required(Self.checkpoint)
        let paths = arguments.all(Self.target)
        guard !paths.isEmpty else { throw UsageError("missing --target <csv>: target trajectory file(s); see 'engram help adapt'") }
        let out = arguments[Self.out]
        if out != nil && paths.count != 1 { throw UsageError("--out <file> writes one adapted controller; give exactly one --target") }
        let checkpoint = try AdaptationSetup.loadCheckpoint(checkpointPath)
        let seed = arguments[Self.seed]
        let pcm = arguments[Self.pcm].rawValue
        let quantize = (arguments[Self.quantize] ?? (pcm == "off" ? .off : .on)).isOn
        let json = arguments[Self.json]
        var targets: [TargetTrajectory] = []
        let results: [(AdaptationResult, ControllerWeights?)]
        func adaptAll<K: ForwardKinematics>(_ family: TaskFamily<K>) throws -> [(AdaptationResult, ControllerWeights?)] {
            let base = RandomSource(seed: seed)
            let captured = targets
            let drift = arguments[Self.drift].isOn
            return try AdaptationSetup.runKeeping(checkpoint: checkpoint, pcm: pcm, quantize: quantize, drift: drift, family: family,
                                                  count: targets.count, threads: ProcessInfo.processInfo.activeProcessorCount,
                                                  keepAdapted: out != nil) { i in (captured[i], base.derived(UInt64(i))) }
        }
        if let robotPath = arguments[Self.robot]?.directory {
            // Any robot: its description names the joints; recordings are resampled onto the trial.
            let robot = try RobotFiles.loadRobot(robotPath)
            if let trained = MetaTrainer.trainedRobot(in: checkpoint.metadata), trained != robot.name {
                throw RuntimeError("\(checkpointPath): this controller was meta-trained for \(trained), not \(robot.name); give \(robot.name)'s own controller (Robots/\(robot.name)/) or train one with 'engram meta-train --robot \(robotPath)'")
            }
            if checkpoint.architecture.jointTarget != nil {
                return try adaptWholeArm(checkpoint: checkpoint, checkpointPath: checkpointPath, robot: robot, paths: paths, pcm: pcm,
                                         quantize: quantize, seed: seed, json: json, out: out)
            }
            let steps = checkpoint.architecture.steps
            guard checkpoint.architecture.outputs == robot.controller.drivenJoints.count else {
                throw RuntimeError("\(checkpointPath): the controller has \(checkpoint.architecture.outputs) outputs; \(robot.name) drives \(robot.controller.drivenJoints.count) joints")
            }
            for path in paths {
                do { targets.append(try RunSession.loadTarget(fromFileAt: path, robot: robot, steps: steps)) } catch { throw RuntimeError("\(error)") }
            }
            results = try adaptAll(RunSession.taskFamily(for: robot, steps: steps))
        } else {
            if checkpoint.architecture.jointTarget != nil {
                throw UsageError("\(checkpointPath) is a whole-arm controller; give --robot <dir>, the robot whose joints its demonstrations move")
            }
            if let trained = MetaTrainer.trainedRobot(in: checkpoint.metadata), trained != "scorbot-er7" {
                throw RuntimeError("\(checkpointPath): this controller was meta-trained for \(trained); give --robot Robots/\(trained) (without --robot, targets are the paper's Scorbot)")
            }
            let family = TaskFamily<ScorbotKinematics>.paperScorbot
            let names = ["base", "shoulder"]
            guard checkpoint.architecture.outputs == names.count else {
                throw RuntimeError("\(checkpointPath): the controller has \(checkpoint.architecture.outputs) outputs; Scorbot targets drive \(names.count) joints (base, shoulder)")
            }
            for path in paths {
                do {
                    let file = try TrajectoryFile(contentsOfFile: path)
                    for n in names where !file.joints.contains(n) {
                        throw TrajectoryFileError(source: path, line: nil, message: "missing column '\(n).pos'; the file has \(file.joints.map { $0 + ".pos" }.joined(separator: ", ")); Scorbot targets need base.pos and shoulder.pos")
                    }
                    let fileIndices = file.joints.map { n -> Int in n == "base" ? 0 : n == "shoulder" ? 1 : n == "elbow" ? 2 : n == "wrist" ? 3 : -1 }
                    if let unknown = zip(file.joints, fileIndices).first(where: { $0.1 < 0 }) {
                        throw TrajectoryFileError(source: path, line: nil, message: "joint '\(unknown.0)' is not a Scorbot joint (base, shoulder, elbow, wrist); remove or rename its columns")
                    }
                    try file.checkPositions(within: Dictionary(uniqueKeysWithValues: zip(names, family.jointLimits)), source: path)
                    let steps = checkpoint.architecture.steps
                    let fitted = file.rows == steps || file.rows < 2 ? file : file.resampled(rows: steps, stepSeconds: family.stepSeconds)
                    let full = fitted.derivingMissing(kinematics: family.kinematics, jointIndices: fileIndices)
                    if !json {
                        for note in full.notes { printError("\(path): \(note)") }
                        let start = names.map { full.positions[file.joints.firstIndex(of: $0)!] }
                        if start.contains(where: { abs($0) > 0.05 }) {
                            printError("\(path): note: the target starts at \(start.map { String(format: "%.3f", $0) }.joined(separator: ", ")) rad; the controller starts from rest (0, 0), so the end-effector error includes that offset")
                        }
                    }
                    guard full.rows == checkpoint.architecture.steps else {
                        throw TrajectoryFileError(source: path, line: nil, message: "has \(full.rows) rows; the controller runs \(checkpoint.architecture.steps) steps, so give \(checkpoint.architecture.steps) rows (\(String(format: "%.2f", Double(checkpoint.architecture.steps) * family.stepSeconds)) s at \(Int(1 / family.stepSeconds)) Hz)")
                    }
                    targets.append(try full.target(joints: names, stepSeconds: family.stepSeconds, source: path))
                } catch let e as TrajectoryFileError {
                    throw RuntimeError(e.description)
                }
            }
            results = try adaptAll(family)
        }
        // A loss that is not finite means the adaptation diverged: nothing is written, and the command fails.
        if let bad = zip(paths, results).first(where: { !($0.1.0.lossBefore.total.isFinite && $0.1.0.lossAfter.total.isFinite) }) {
            throw RuntimeError("\(bad.0): the loss went \(bad.1.0.lossBefore.total) → \(bad.1.0.lossAfter.total), not finite; the adaptation diverged\(out.map { ", so \($0) was not written" } ?? ""); check the target and the controller")
        }
        if let out, let adapted = results.first?.1 {
            var file = ControllerCheckpoint(architecture: checkpoint.architecture, weights: adapted, metadata: checkpoint.metadata)
            file.metadata["engram.adapted_to"] = paths[0]
            file.metadata["engram.adaptation"] = "pcm \(pcm), quantize \(quantize ? "on" : "off"), seed \(seed)"
            do { try file.write(toFile: out) } catch { throw RuntimeError("\(out): cannot write the checkpoint (\(error)); check the folder exists and is writable") }
        }
        let meanBefore = results.reduce(0) { $0 + $1.0.lossBefore.total } / Double(results.count)
        let meanAfter = results.reduce(0) { $0 + $1.0.lossAfter.total } / Double(results.count)
        if json {
            let tasks: [[String: Any]] = zip(paths, results).map { path, r in
                ["target": path, "loss_before": r.0.lossBefore.total, "loss_after": r.0.lossAfter.total,
                 "mse_vel_after": r.0.lossAfter.velocity, "mse_xyz_after": r.0.lossAfter.endEffector,
                 "changed_in": r.0.changedInput, "changed_rec": r.0.changedRecurrent]
            }
            try JSONOutput.print((["tasks": tasks, "mean_loss_before": meanBefore, "mean_loss_after": meanAfter] as [String: Any]))
        } else {
            let width = max(6, paths.map { $0.count }.max() ?? 6)
            func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
            print("\(pad("target"))  loss before  loss after  MSE ω after  MSE xyz after  changed W_in  changed W_rec")
            for (path, r) in zip(paths, results) {
                print("\(pad(path))  \(col(r.0.lossBefore.total, 11))  \(col(r.0.lossAfter.total, 10))  \(col(r.0.lossAfter.velocity, 11))  \(col(r.0.lossAfter.endEffector, 13))  \(String(format: "%11.1f%%", 100 * r.0.changedInput))  \(String(format: "%12.1f%%", 100 * r.0.changedRecurrent))")
            }
            if results.count > 1 { print("\(pad("mean"))  \(col(meanBefore, 11))  \(col(meanAfter, 10))") }
            if let out { print("adapted controller written to \(out)") }
        }
        return 0
    }

    /// A whole-arm controller on demonstrations of every joint: one update per segment of each file, reported
    /// as the joint RMS of the adaptation's own trials (no arm) before and after.
    static func adaptWholeArm(checkpoint: ControllerCheckpoint, checkpointPath: String, robot: RobotDescription, paths: [String], pcm: String,
                              quantize: Bool, seed: UInt64, json: Bool, out: String?) throws -> Int32 {
        if let out {
            throw UsageError("--out \(out): a whole-arm adaptation is one weight set per segment of the demonstration, adapted again at every run; 'engram run --robot \(robot.name) --target <csv>' adapts and runs it in one go")
        }
        let kinematics = AnyKinematics(robot.forwardKinematics)
        var rows: [(String, SegmentedAdaptationResult)] = []
        for (i, path) in paths.enumerated() {
            let target: WholeArmTarget
            do { target = try WholeArm.loadTarget(fromFileAt: path, robot: robot, calibration: nil, rateHz: robot.controller.rateHz) } catch { throw RuntimeError(error.description) }
            var rng = RandomSource(seed: seed).derived(UInt64(i))
            let a = checkpoint.architecture, w = checkpoint.weights
            let result: SegmentedAdaptationResult
            if pcm == "off" {
                result = SegmentedAdaptation(architecture: a, weights: w, kinematics: kinematics, target: target.trajectory, startAngles: target.startAngles,
                                             quantize: quantize, rng: &rng) { DenseSynapses(rows: $0, columns: $1) }.summary(target: target.trajectory)
            } else {
                let parameters = PCMParameters(kind: pcm == "paper" ? .paper : .physical)
                result = SegmentedAdaptation(architecture: a, weights: w, kinematics: kinematics, target: target.trajectory, startAngles: target.startAngles,
                                             quantize: quantize, rng: &rng) { Crossbar(rows: $0, columns: $1, parameters: parameters) }.summary(target: target.trajectory)
            }
            rows.append((path, result))
        }
        let names = robot.joints.map(\.name)
        if json {
            let targets: [[String: Any]] = rows.map { path, r in
                ["target": path, "ticks": r.layout.ticks + 1, "segments": r.layout.count,
                 "joint_rms_deg_before": r.jointRMSDegreesBefore, "joint_rms_deg_after": r.jointRMSDegreesAfter,
                 "per_joint_rms_deg_after": Dictionary(uniqueKeysWithValues: zip(names, r.perJointRMSDegreesAfter)),
                 "changed_in": r.segments.map(\.changedInput).reduce(0, +) / Double(max(r.segments.count, 1)),
                 "changed_rec": r.segments.map(\.changedRecurrent).reduce(0, +) / Double(max(r.segments.count, 1))]
            }
            try JSONOutput.print(["robot": robot.name, "pcm": pcm, "quantize": quantize, "tasks": targets] as [String: Any])
        } else {
            print("whole-arm adaptation (\(robot.name), PCM \(pcm)): one e-prop update per segment; joint RMS of the controller's own trials, no arm")
            for (path, r) in rows {
                print(String(format: "%@: %d ticks, %d segments: joint RMS %.2f° → %.2f°", path, r.layout.ticks + 1, r.layout.count,
                             r.jointRMSDegreesBefore, r.jointRMSDegreesAfter))
                print("  per joint after: " + zip(names, r.perJointRMSDegreesAfter).map { String(format: "%@ %.2f°", $0, $1) }.joined(separator: ", "))
            }
            print("run it on the arm: engram run --robot \(robot.name) (--sim | --port <path>) --target <csv>")
        }
        return 0
    }

    private static func col(_ x: Double, _ width: Int) -> String { String(format: "%\(width).5f", x) }
}
