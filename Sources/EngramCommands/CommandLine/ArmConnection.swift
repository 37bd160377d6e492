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

    /// `--robot`, default the Scorbot.
    static let robot = CommonOptions.robot(default: "scorbot-er7")

    /// Options every arm-driving command accepts.
    static let options: [OptionSpec] = [robot.spec, CommonOptions.port.spec, CommonOptions.sim.spec, CommonOptions.calibration.spec]

    /// Exactly one of `--port` and `--sim`.
    static let rules: [OptionRule] = [CommonOptions.portOrSim]

    /// Loads the robot description named by `--robot` (resolved when the arguments were parsed).
    static func loadRobot(_ arguments: ParsedArguments) throws -> (RobotDescription, String) {
        let dir = arguments[robot].directory
        return (try RobotFiles.loadRobot(dir), dir)
    }

    /// Opens the arm: `--sim` gives a `SimulatedArm`, `--port` a servo-bus arm.
    static func open(_ arguments: ParsedArguments, simulatedSeed: UInt64 = 0) throws -> ArmConnection {
        let (robot, dir) = try loadRobot(arguments)
        let port = arguments[CommonOptions.port]
        let calibrationPath = arguments[CommonOptions.calibration] ?? ResourceLocator.find("Calibration/\(robot.name).yaml")
        let calibration = try RobotFiles.loadCalibration(calibrationPath, robotPath: dir, robot: robot, required: port != nil)
        guard let port else {
            var configuration = SimulatedArm.Configuration()
            configuration.seed = simulatedSeed
            return ArmConnection(robot: robot, robotDirectory: dir, calibration: calibration, calibrationPath: calibrationPath,
                                 arm: SimulatedArm(robot: robot, configuration: configuration), source: "sim")
        }
        return try openBus(robot: robot, directory: dir, calibration: calibration, calibrationPath: calibrationPath, port: port)
    }
}
