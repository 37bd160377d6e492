import Robot

extension ArmConnection {
    /// Opens a servo-bus arm on `port` with the robot's protocol and baud rate. A calibration is
    /// required: without one, ticks cannot be turned into joint angles safely.
    static func openBus(robot: RobotDescription, directory: String, calibration: Calibration?, calibrationPath: String?, port: String) throws -> ArmConnection {
        guard let calibration else {
            throw RuntimeError("no calibration for \(robot.name): run 'engram calibrate --robot \(directory) --port \(port)' or pass --calibration <file>")
        }
        do {
            let arm = try BusArm.open(robot: robot, calibration: calibration, port: port)
            return ArmConnection(robot: robot, robotDirectory: directory, calibration: calibration, calibrationPath: calibrationPath, arm: arm, source: port)
        } catch {
            throw RuntimeError("\(error)")
        }
    }
}
