import Foundation
import Robot
import ServoBus

/// `engram calibrate`: the guided calibration of an arm on a serial port, or the import of a LeRobot file.
enum CalibrateCommand: EngramCommand {
    static let name = "calibrate"
    static let abstract = "Calibrate an arm (guided, as LeRobot) or import a LeRobot calibration file"
    static let discussion = """
        Guided (--port): switches torque off and clears the servos' own homing offsets, asks you to move every \
        joint to the middle of its range and press Enter (homing offset = raw reading − 2047, so the middle is \
        angle 0), writes each offset into its servo's Homing_Offset register as LeRobot does (the servo then \
        reports calibrated ticks, so no joint's range crosses the encoder's 4095 → 0 wrap), then asks you to move each joint through its whole range and press Enter (range_min/max = the extreme \
        calibrated ticks seen). Drive directions are kept from an existing --out file, otherwise normal. Writes \
        the calibration (to --out, or Calibration/<robot>.yaml beside the Robots folder) and prints it.

        Import (--import-lerobot FILE.json): converts a LeRobot calibration file (its Dynamixel offsets are \
        negated, drive_mode 1 becomes direction: reversed) for the robot; no port needed.

        Example: engram calibrate --robot so101 --port /dev/ttyACM0
        Example: engram calibrate --robot koch --import-lerobot ~/.cache/huggingface/lerobot/calibration/robots/koch_follower/my_koch.json
        """
    static let robot = CommonOptions.robot(required: true)
    static let port = Option<String>("--port", "path", "Serial port of the arm")
    static let out = CommonOptions.out("file", "Where to write the calibration", defaultNote: "Calibration/<robot>.yaml")
    static let importLeRobot = Option<String>("--import-lerobot", "json", "Convert a LeRobot calibration file instead of calibrating")

    static let options: [OptionSpec] = [robot.spec, port.spec, out.spec, importLeRobot.spec]
    static let rules: [OptionRule] = [
        .exclusive(["--import-lerobot", "--port"], message: "--import-lerobot <json> converts a file; drop --port"),
        .oneOf(["--port", "--import-lerobot"], message: "missing --port <path> (or --import-lerobot <json>): the arm's serial port, e.g. /dev/ttyACM0; 'engram ports' lists them"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let robotPath = try arguments.required(Self.robot).directory
        let robot = try RobotFiles.loadRobot(robotPath)
        let out = arguments[Self.out] ?? defaultOutput(robotPath: robotPath, robot: robot)
        let calibration: Calibration
        let comment: String
        if let json = arguments[Self.importLeRobot] {
            do {
                calibration = try Calibration(importingLeRobotFileAt: json, for: robot)
            } catch {
                throw RuntimeError(error.description)
            }
            comment = "\(robot.name) calibration imported from LeRobot file \(json) by engram calibrate"
        } else {
            let port = try arguments.required(Self.port)
            guard let busDescription = robot.bus else {
                throw RuntimeError("\(robotPath): robot '\(robot.name)' has no bus in its robot.yaml (simulation only); there is nothing to calibrate")
            }
            let bus: ServoBus
            do {
                bus = try ServoBus(path: port, baudRate: busDescription.baud, protocol: busDescription.protocol, servos: [])
            } catch {
                throw RuntimeError("\(port): \(error)")
            }
            defer { bus.close() }
            var procedure = CalibrationProcedure(robot: robot)
            // An earlier calibration only contributes drive directions; a missing or unreadable one is simply not used.
            if let existing = try? Calibration.load(fromFileAt: out), existing.robot == robot.name {
                for j in existing.joints { procedure.directions[j.name] = j.direction }
            }
            do {
                calibration = try procedure.run(bus: bus, console: TerminalConsole())
            } catch {
                throw RuntimeError(error.description)
            }
            comment = "\(robot.name) calibration written by engram calibrate on \(port), \(ISO8601DateFormatter().string(from: Date()))\nhoming_offset = raw ticks at the homing pose - 2047 (also written into each servo's Homing_Offset register); range_min/max in calibrated ticks"
        }
        do {
            try calibration.write(toFileAt: out, comment: comment)
        } catch {
            throw RuntimeError("\(out): cannot write the calibration (\(error.localizedDescription)); check the folder exists or pass --out <file>")
        }
        print(calibration.yamlText(comment: comment), terminator: "")
        printError("calibration written to \(out)")
        return 0
    }

    /// Calibration/<robot>.yaml beside the Robots folder that holds the robot, else in the current folder.
    static func defaultOutput(robotPath: String, robot: RobotDescription) -> String {
        let dir = robotPath.hasSuffix(".yaml") ? (robotPath as NSString).deletingLastPathComponent : robotPath
        let folder = ((dir as NSString).appendingPathComponent("../../Calibration") as NSString).standardizingPath
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue {
            return (folder as NSString).appendingPathComponent("\(robot.name).yaml")
        }
        return "Calibration/\(robot.name).yaml"
    }
}
