extension RobotDescription {
    /// Per-joint limits (rad) that both the description and, when given, the calibration allow: the
    /// intersection of `limits_deg` and the calibrated tick range. A safety envelope clamps goals to these.
    /// A joint whose two ranges do not overlap gets the description's home angle as a zero-width range.
    public func jointLimitsRadians(calibration: Calibration? = nil) -> [ClosedRange<Double>] {
        joints.map { joint in
            let described = joint.limitsRadians
            guard let range = calibration?.joint(named: joint.name)?.rangeRadians else { return described }
            let lo = max(described.lowerBound, range.lowerBound), hi = min(described.upperBound, range.upperBound)
            return lo <= hi ? lo...hi : joint.homeRadians...joint.homeRadians
        }
    }
}

extension Calibration {
    /// The calibration of an arm whose servos were never offset: homing offset 0 (angle 0 = raw tick 2047),
    /// normal direction, and the range the description's limits span. This is what a simulated arm behind
    /// the servo emulator reads like; servo ids come from the description (or 1, 2, … when it has none).
    public static func uncalibrated(for robot: RobotDescription) -> Calibration {
        Calibration(robot: robot.name, joints: robot.joints.enumerated().map { i, joint in
            let neutral = JointCalibration(name: joint.name, servoID: joint.servoID ?? i + 1, homingOffsetTicks: 0, rangeMinTicks: 0, rangeMaxTicks: 4095)
            let lo = neutral.calibratedTicks(fromRadians: joint.limitsRadians.lowerBound)
            let hi = neutral.calibratedTicks(fromRadians: joint.limitsRadians.upperBound)
            return JointCalibration(
                name: joint.name, servoID: neutral.servoID, homingOffsetTicks: 0,
                rangeMinTicks: max(0, min(lo, hi)), rangeMaxTicks: min(4095, max(lo, hi)))
        })
    }
}
