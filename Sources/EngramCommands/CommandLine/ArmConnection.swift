import Foundation
import MetaLearning
import Robot
import Tensors

/// The robot, its calibration and an open arm, as the arm-driving commands (`record`, `replay`, `run`,
/// `demo`) get them from `--robot`, `--calibration`, `--port` and `--sim`.
struct ArmConnection {
    var robot: RobotDescription
    var robotDirectory: String
    var calibration: Calibration?
    var calibrationPath: String?
    var arm: any Arm
    /// "sim" or the port path, for metadata.
    var source: String

    /// Options every arm-driving command accepts.
    static let options: [OptionSpec] = [
        .value("--robot", "dir", "Robot directory (Robots/<robot>) or name (default scorbot-er7)"),
        .value("--port", "path", "Serial port of a real arm (or of 'engram sim-serial')"),
        .flag("--sim", "Use the simulated arm in-process"),
        .value("--calibration", "file", "Calibration file (default Calibration/<robot>.yaml when present)"),
    ]

    /// Loads the robot description named by `--robot`.
    static func loadRobot(_ arguments: ParsedArguments) throws -> (RobotDescription, String) {
        let name = arguments.string("--robot") ?? "scorbot-er7"
        guard let dir = ResourceLocator.robotDirectory(name) else {
            throw UsageError("--robot <dir>: no robot '\(name)'; give a folder with a robot.yaml, or one of scorbot-er7, so101, koch")
        }
        do {
            return (try RobotDescription.load(fromFileAt: dir), dir)
        } catch {
            throw RuntimeError("\(error)")
        }
    }

    /// Opens the arm: `--sim` gives a `SimulatedArm`, `--port` a servo-bus arm.
    static func open(_ arguments: ParsedArguments, simulatedSeed: UInt64 = 0) throws -> ArmConnection {
        let (robot, dir) = try loadRobot(arguments)
        let sim = arguments.has("--sim")
        let port = arguments.string("--port")
        if sim == (port != nil) {
            throw UsageError("give exactly one of --port <path> (a real arm or 'engram sim-serial') or --sim (the simulated arm)")
        }
        let calibrationPath = arguments.string("--calibration") ?? ResourceLocator.find("Calibration/\(robot.name).yaml")
        let calibration = try RobotFiles.loadCalibration(calibrationPath, robotPath: dir, robot: robot, required: port != nil)
        if sim {
            var configuration = SimulatedArm.Configuration()
            configuration.seed = simulatedSeed
            return ArmConnection(robot: robot, robotDirectory: dir, calibration: calibration, calibrationPath: calibrationPath,
                                 arm: SimulatedArm(robot: robot, configuration: configuration), source: "sim")
        }
        return try openBus(robot: robot, directory: dir, calibration: calibration, calibrationPath: calibrationPath, port: port!)
    }
}
