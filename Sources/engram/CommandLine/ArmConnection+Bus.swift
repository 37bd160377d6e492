import Robot

extension ArmConnection {
    /// Opens a servo-bus arm on `port`. (Interim until BusArm lands: the lead replaces this file.)
    static func openBus(robot: RobotDescription, directory: String, calibration: Calibration?, calibrationPath: String?, port: String) throws -> ArmConnection {
        throw RuntimeError("--port is not available in this build yet; use --sim")
    }
}
