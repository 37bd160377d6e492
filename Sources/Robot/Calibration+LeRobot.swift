import Foundation
import ServoBus

extension Calibration {
    /// A failure to import a LeRobot calibration file.
    public struct ImportError: Error, Sendable, CustomStringConvertible {
        /// One line: which file, what is wrong, what to do.
        public var description: String
    }

    /// Converts a LeRobot calibration JSON file
    /// (`{"shoulder_pan": {"id": 1, "drive_mode": 0, "homing_offset": -1470, "range_min": 758, "range_max": 3292}, ...}`)
    /// for `robot`.
    ///
    /// Joints are matched by name and put in the description's order. LeRobot's Feetech homing offset
    /// (`Present = Actual − offset`) is Engram's `homing_offset` as is; its Dynamixel offset
    /// (`Present = Actual + offset`) is negated. `drive_mode` 1 becomes `direction: reversed`; ranges are
    /// copied (they are in calibrated ticks in both tools).
    public init(importingLeRobotJSON data: Data, for robot: RobotDescription, file: String) throws(ImportError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ImportError(description: "\(file): not valid JSON (\(error.localizedDescription)); pass a LeRobot calibration .json file")
        }
        guard let motors = object as? [String: Any] else {
            throw ImportError(description: "\(file): expected a JSON object keyed by motor name, as LeRobot writes it")
        }
        let negate = robot.bus?.protocol == .dynamixel2
        var joints: [JointCalibration] = []
        for joint in robot.joints {
            guard let entry = motors[joint.name] as? [String: Any] else {
                let hint = YAMLErrorHint.closest(joint.name, Array(motors.keys))
                throw ImportError(description: "\(file): no motor '\(joint.name)'\(hint) (the file has: \(motors.keys.sorted().joined(separator: ", ")))")
            }
            func integer(_ key: String) throws(ImportError) -> Int {
                guard let n = entry[key] as? NSNumber, let v = Int(exactly: n.doubleValue) else {
                    throw ImportError(description: "\(file): \(joint.name).\(key) is missing or not an integer")
                }
                return v
            }
            let id = try integer("id")
            let driveMode = try integer("drive_mode")
            guard driveMode == 0 || driveMode == 1 else {
                throw ImportError(description: "\(file): \(joint.name).drive_mode is \(driveMode); LeRobot uses 0 or 1")
            }
            let offset = try integer("homing_offset")
            let lo = try integer("range_min"), hi = try integer("range_max")
            guard (0..<JointCalibration.ticksPerRevolution).contains(lo), (0..<JointCalibration.ticksPerRevolution).contains(hi), lo < hi else {
                throw ImportError(description: "\(file): \(joint.name) range [\(lo), \(hi)] is not within 0...4095 with min < max; recalibrate")
            }
            if let expected = joint.servoID, expected != id {
                throw ImportError(description: "\(file): \(joint.name) has id \(id), the robot description says \(expected); fix one of them")
            }
            joints.append(JointCalibration(
                name: joint.name, servoID: id, homingOffsetTicks: negate ? -offset : offset,
                direction: driveMode == 1 ? .reversed : .normal, rangeMinTicks: lo, rangeMaxTicks: hi))
        }
        self.init(robot: robot.name, joints: joints)
    }

    /// Reads and converts a LeRobot calibration JSON file at `path`.
    public init(importingLeRobotFileAt path: String, for robot: RobotDescription) throws(ImportError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImportError(description: "\(path): cannot read the file; check the path")
        }
        try self.init(importingLeRobotJSON: data, for: robot, file: path)
    }
}

extension JointCalibration {
    /// The Homing_Offset register value that makes the servo itself report calibrated ticks, in the
    /// servo's sign convention: Feetech STS `Present = Actual − offset` (so `homing_offset`), Dynamixel X
    /// `Present = Actual + offset` (so `−homing_offset`). LeRobot writes this value at calibration.
    ///
    /// A bus arm reads the register once at connect: when it holds this value the servo already applies
    /// the offset and positions convert with `radians(fromCalibratedTicks:)`; when it holds 0, with
    /// `radians(fromTicks:)`.
    public func servoHomingOffsetRegister(for wireProtocol: ServoProtocol) -> Int {
        wireProtocol == .dynamixel2 ? -homingOffsetTicks : homingOffsetTicks
    }
}
