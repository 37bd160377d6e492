import Adaptation
import Control
import Foundation
import MetaLearning
import Robot

/// Loading what the arm commands need (robot, calibration, controller), with one-line errors that name the
/// file and the fix; and the options that pick one of a robot's shipped controllers.
enum RobotFiles {
    static func loadRobot(_ path: String) throws -> RobotDescription {
        do {
            return try RobotDescription.load(fromFileAt: path)
        } catch {
            throw RuntimeError("\(error)")
        }
    }

    /// The calibration at `path`, or Calibration/<robot>.yaml beside the robot folder's parent (the
    /// repository layout) or in the current folder; nil when absent and not `required`.
    static func loadCalibration(_ path: String?, robotPath: String, robot: RobotDescription, required: Bool) throws -> Calibration? {
        var file = path
        if file == nil {
            let dir = robotPath.hasSuffix(".yaml") ? (robotPath as NSString).deletingLastPathComponent : robotPath
            let candidates = [((dir as NSString).appendingPathComponent("../../Calibration/\(robot.name).yaml") as NSString).standardizingPath,
                              "Calibration/\(robot.name).yaml"]
            file = candidates.first { FileManager.default.fileExists(atPath: $0) }
        }
        guard let file else {
            if required {
                throw RuntimeError("no calibration for \(robot.name): Calibration/\(robot.name).yaml not found; run 'engram calibrate --robot \(robotPath) --port <path>' or pass --calibration <file>")
            }
            return nil
        }
        let calibration: Calibration
        do {
            calibration = try Calibration.load(fromFileAt: file)
        } catch {
            throw RuntimeError("\(error)")
        }
        if let mismatch = calibration.mismatch(with: robot) { throw RuntimeError("\(file): \(mismatch)") }
        return calibration
    }

    /// `--checkpoint <file>`: a controller instead of the robot's shipped one.
    static let checkpoint = Option<String>("--checkpoint", "file", "Controller checkpoint", defaultNote: "<robot dir>/controller.safetensors")
    /// `--closed-loop`: the robot's shipped closed-loop controller.
    static let closedLoop = Flag("--closed-loop", "Use <robot dir>/controller-closed-loop.safetensors (hears the measured joint state)")
    /// `--open-loop`: the robot's shipped open-loop controller.
    static let openLoop = Flag("--open-loop", "Use <robot dir>/controller.safetensors (the paper's; the default unless robot.yaml says controller.loop: closed-loop)")

    /// The options that pick one of the robot's shipped controllers.
    static let loopOptions: [OptionSpec] = [closedLoop.spec, openLoop.spec]

    /// The two loop flags exclude each other, and `--checkpoint` excludes both.
    static let loopRules: [OptionRule] = [
        .exclusive(["--closed-loop", "--open-loop"]),
        .exclusive(["--checkpoint", "--closed-loop"], message: "--checkpoint <file> names the controller; drop --closed-loop (it picks one of the robot's shipped controllers)"),
        .exclusive(["--checkpoint", "--open-loop"], message: "--checkpoint <file> names the controller; drop --open-loop (it picks one of the robot's shipped controllers)"),
    ]

    /// `--closed-loop` / `--open-loop` (nil: neither, the robot's default); `loopRules` checked the rest.
    static func controllerLoop(_ arguments: ParsedArguments) -> ControllerLoop? {
        if arguments[Self.closedLoop] { return .closedLoop }
        if arguments[Self.openLoop] { return .openLoop }
        return nil
    }

    /// The file of the robot's shipped controller for `loop` (nil: the robot's default, `controller.loop`).
    static func shippedControllerPath(robotPath: String, robot: RobotDescription, loop: ControllerLoop?) -> String {
        let dir = robotPath.hasSuffix(".yaml") ? (robotPath as NSString).deletingLastPathComponent : robotPath
        return (dir as NSString).appendingPathComponent((loop ?? robot.controller.loop).checkpointFileName)
    }

    /// Why the robot's shipped controller for `loop` cannot be used when `file` is missing: one line with the fix.
    static func missingControllerMessage(_ file: String, robotPath: String, robot: RobotDescription, loop: ControllerLoop?) -> String {
        if (loop ?? robot.controller.loop) == .closedLoop {
            return "\(file): robot \(robot.name) has no closed-loop controller yet; train one with 'engram meta-train --robot \(robotPath) --closed-loop --out \(file)', pass --checkpoint <file>, or use --open-loop"
        }
        let hint = robot.name == "scorbot-er7"
            ? "pass --checkpoint ../shared/reference/robot-l2l-official.safetensors (the paper's meta-trained controller)"
            : "meta-train one with 'engram meta-train --robot \(robotPath)' or pass --checkpoint <file>"
        return "\(file): no shipped controller for \(robot.name) yet; \(hint)"
    }

    /// The controller at `path`, or the robot's shipped one for `loop` (nil: robot.yaml's `controller.loop`,
    /// default open-loop): `<robot dir>/controller.safetensors` or `controller-closed-loop.safetensors`; or,
    /// when `wholeArmTarget` is a file with every joint of the robot and robot.yaml names a whole-arm
    /// controller (`controller.whole_arm`), that one. A checkpoint trained for another robot is refused.
    static func loadController(_ path: String?, robotPath: String, robot: RobotDescription, loop: ControllerLoop? = nil,
                               wholeArmTarget: String? = nil) throws -> ControllerCheckpoint {
        var shipped = shippedControllerPath(robotPath: robotPath, robot: robot, loop: loop)
        if path == nil, let wholeArm = robot.controller.wholeArm, let target = wholeArmTarget, WholeArm.coversEveryJoint(fileAt: target, robot: robot) {
            let dir = robotPath.hasSuffix(".yaml") ? (robotPath as NSString).deletingLastPathComponent : robotPath
            shipped = (dir as NSString).appendingPathComponent(wholeArm)
            guard FileManager.default.fileExists(atPath: shipped) else {
                throw RuntimeError("\(shipped): robot.yaml names it as \(robot.name)'s whole-arm controller (controller.whole_arm) but it is missing; train one with 'engram meta-train --robot \(robotPath) --whole-arm' or pass --checkpoint <file>")
            }
        }
        let file = path ?? shipped
        let checkpoint = try loadCheckpoint(file, path: path, robotPath: robotPath, robot: robot, loop: loop)
        if let trained = MetaTrainer.trainedRobot(in: checkpoint.metadata), trained != robot.name {
            throw RuntimeError("\(file): this controller was meta-trained for \(trained), not \(robot.name); use \(robot.name)'s own controller (its robot folder) or train one with 'engram meta-train --robot \(robotPath)'")
        }
        return checkpoint
    }

    private static func loadCheckpoint(_ file: String, path: String?, robotPath: String, robot: RobotDescription, loop: ControllerLoop?) throws -> ControllerCheckpoint {
        if path == nil && !FileManager.default.fileExists(atPath: file) {
            throw RuntimeError(missingControllerMessage(file, robotPath: robotPath, robot: robot, loop: loop))
        }
        let checkpoint = try AdaptationSetup.loadCheckpoint(file)
        if path == nil, (loop ?? robot.controller.loop) == .closedLoop, checkpoint.architecture.proprioception == nil {
            throw RuntimeError("\(file): is an open-loop controller (its architecture has no proprioception); replace it with one from 'engram meta-train --robot \(robotPath) --closed-loop'")
        }
        return checkpoint
    }

    static func number(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }
}
