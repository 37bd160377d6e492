import Foundation
import YAMLCoding

/// Per-joint servo calibration, as `Calibration/<arm>.yaml` stores it and `engram calibrate` writes it.
///
/// ```yaml
/// robot: so101
/// joints:
///   - {name: shoulder_pan, id: 1, homing_offset: -12, direction: normal, range_min: 758, range_max: 3292}
/// ```
/// Conventions (`engram calibrate`, like LeRobot, also writes the offset into each servo's Homing_Offset
/// register, so the servo itself reports calibrated ticks; `BusArm` reads the register and converts either way):
/// - `raw` ticks are the encoder's own reading with the register at 0 (0…4095, 4096 per revolution).
/// - `homing_offset` is the raw reading at the homing pose minus 2047 (LeRobot's Feetech convention;
///   a LeRobot Dynamixel file stores the negative, which `init(importingLeRobotJSON:...)` flips).
/// - calibrated ticks `c = (raw − homing_offset) mod 4096`, so the homing pose reads 2047 (a half turn).
/// - joint angle `q = direction · (c − 2047) · 2π/4096` radians: 0 at the homing pose.
/// - `range_min`/`range_max` bound the calibrated ticks the joint may reach.
public struct Calibration: Sendable, Codable, Equatable {
    /// The robot the file belongs to (its description's `name`).
    public var robot: String
    /// One entry per joint, in the description's order.
    public var joints: [JointCalibration]

    /// A calibration for `robot`.
    public init(robot: String, joints: [JointCalibration]) {
        self.robot = robot
        self.joints = joints
    }

    /// Loads a calibration YAML file.
    public static func load(fromFileAt path: String) throws(YAMLError) -> Calibration {
        try YAMLDecoder().decode(Calibration.self, fromFileAt: path)
    }

    /// Parses calibration YAML text; `file` is the name errors show.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> Calibration {
        try YAMLDecoder().decode(Calibration.self, from: text, file: file)
    }

    /// The entry for joint `name`.
    public func joint(named name: String) -> JointCalibration? {
        joints.first { $0.name == name }
    }

    /// Checks that this calibration fits `description`: same robot, one entry per joint with the same names
    /// and servo ids. Returns one line naming the first mismatch and the fix, or nil when it fits.
    public func mismatch(with description: RobotDescription) -> String? {
        if robot != description.name {
            return "calibration is for robot '\(robot)', but the description is '\(description.name)'; pass the matching --calibration file"
        }
        for joint in description.joints {
            guard let entry = self.joint(named: joint.name) else {
                return "calibration has no entry for joint '\(joint.name)'; run `engram calibrate` again"
            }
            if let id = joint.servoID, id != entry.servoID {
                return "joint '\(joint.name)': calibration says servo id \(entry.servoID), the description says \(id); fix one of them"
            }
        }
        let names = Set(description.joints.map(\.name))
        if let (i, extra) = joints.enumerated().first(where: { !names.contains($0.element.name) }) {
            return "joints[\(i)]: calibration names joint '\(extra.name)', which \(description.name) does not have (joints: \(description.joints.map(\.name).joined(separator: ", "))); remove the entry or pass the matching --calibration file"
        }
        return nil
    }

    /// The file text in the format `load` reads (a comment header, then one flow mapping per joint).
    public func yamlText(comment: String? = nil) -> String {
        var s = ""
        if let comment {
            for line in comment.split(separator: "\n", omittingEmptySubsequences: false) { s += "# \(line)\n" }
        }
        s += "robot: \(Self.quoted(robot))\njoints:\n"
        for j in joints {
            s += "  - {name: \(Self.quoted(j.name)), id: \(j.servoID), homing_offset: \(j.homingOffsetTicks), "
            s += "direction: \(j.direction.rawValue), range_min: \(j.rangeMinTicks), range_max: \(j.rangeMaxTicks)}\n"
        }
        return s
    }

    /// Writes `yamlText(comment:)` to `path` atomically.
    public func write(toFileAt path: String, comment: String? = nil) throws {
        try yamlText(comment: comment).write(toFile: path, atomically: true, encoding: .utf8)
    }

    private static func quoted(_ s: String) -> String {
        let plain = s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }
        return plain && !s.isEmpty ? s : "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    enum CodingKeys: String, CodingKey {
        case robot, joints
    }

    /// Decodes and checks for duplicate joints and servo ids.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        robot = try c.decode(String.self, forKey: .robot)
        joints = try c.decode([JointCalibration].self, forKey: .joints)
        var names: Set<String> = [], ids: Set<Int> = []
        for (i, j) in joints.enumerated() {
            if !names.insert(j.name).inserted {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: c.codingPath + [CodingKeys.joints, IndexKey(i), JointCalibration.CodingKeys.name],
                    debugDescription: "joint '\(j.name)' appears twice; keep one entry per joint"))
            }
            if !ids.insert(j.servoID).inserted {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: c.codingPath + [CodingKeys.joints, IndexKey(i), JointCalibration.CodingKeys.servoID],
                    debugDescription: "servo id \(j.servoID) appears twice; every joint has its own servo"))
            }
        }
    }
}

/// Which way a joint turns relative to its servo's encoder.
public enum DriveDirection: String, Sendable, Codable, CaseIterable {
    /// Joint angle grows with ticks.
    case normal
    /// Joint angle shrinks as ticks grow (LeRobot `drive_mode: 1`).
    case reversed

    /// +1 or −1.
    public var sign: Double { self == .normal ? 1 : -1 }
}

/// One joint's calibration and the tick ↔ radian conversions it defines (see `Calibration`).
public struct JointCalibration: Sendable, Codable, Equatable {
    /// Encoder ticks per revolution (Feetech STS and Dynamixel X series).
    public static let ticksPerRevolution = 4096
    /// Calibrated ticks at the homing pose, i.e. joint angle 0 (LeRobot's half turn, (4096 − 1) / 2).
    public static let homeTicks = 2047
    /// Radians per encoder tick (2π / 4096).
    public static let radiansPerTick = 2 * Double.pi / Double(ticksPerRevolution)

    /// The joint's name in the robot description.
    public var name: String
    /// The servo's bus id.
    public var servoID: Int
    /// Raw ticks at the homing pose minus 2047.
    public var homingOffsetTicks: Int
    /// Turning direction.
    public var direction: DriveDirection
    /// Lowest calibrated tick the joint reaches.
    public var rangeMinTicks: Int
    /// Highest calibrated tick the joint reaches.
    public var rangeMaxTicks: Int

    /// A joint calibration.
    public init(name: String, servoID: Int, homingOffsetTicks: Int, direction: DriveDirection = .normal, rangeMinTicks: Int, rangeMaxTicks: Int) {
        self.name = name
        self.servoID = servoID
        self.homingOffsetTicks = homingOffsetTicks
        self.direction = direction
        self.rangeMinTicks = rangeMinTicks
        self.rangeMaxTicks = rangeMaxTicks
    }

    /// Raw servo ticks → calibrated ticks (0…4095): `(raw − homing_offset) mod 4096`.
    @inlinable
    public func calibratedTicks(fromRawTicks raw: Int) -> Int {
        let c = (raw - homingOffsetTicks) % Self.ticksPerRevolution
        return c < 0 ? c + Self.ticksPerRevolution : c
    }

    /// Calibrated ticks → raw servo ticks (0…4095).
    @inlinable
    public func rawTicks(fromCalibratedTicks c: Int) -> Int {
        let raw = (c + homingOffsetTicks) % Self.ticksPerRevolution
        return raw < 0 ? raw + Self.ticksPerRevolution : raw
    }

    /// The raw encoder ticks the calibrated range spans, unwrapped: `range_min + homing_offset ...
    /// range_max + homing_offset`. Outside 0…4095 the range crosses the encoder's 4095 → 0 wrap.
    public var rawRangeTicks: ClosedRange<Int> { (rangeMinTicks + homingOffsetTicks)...(rangeMaxTicks + homingOffsetTicks) }

    /// Whether the joint's range crosses the encoder's 4095 → 0 wrap in raw ticks. A single-turn servo whose
    /// Homing_Offset register is 0 cannot be driven across it (a goal past 4095 is a goal near 0: the
    /// long way round), so such a joint needs the offset in the servo's register.
    public var rangeCrossesRawWrap: Bool {
        rawRangeTicks.lowerBound < 0 || rawRangeTicks.upperBound >= Self.ticksPerRevolution
    }

    /// Joint angle (rad) from a raw servo reading (ticks).
    @inlinable
    public func radians(fromTicks raw: Int) -> Double {
        radians(fromCalibratedTicks: calibratedTicks(fromRawTicks: raw))
    }

    /// Joint angle (rad) from calibrated ticks (for servos whose Homing_Offset register already holds the offset).
    @inlinable
    public func radians(fromCalibratedTicks c: Int) -> Double {
        direction.sign * Double(c - Self.homeTicks) * Self.radiansPerTick
    }

    /// The raw servo goal (ticks, rounded to the nearest tick) for joint angle `q` (rad).
    @inlinable
    public func ticks(fromRadians q: Double) -> Int {
        rawTicks(fromCalibratedTicks: calibratedTicks(fromRadians: q))
    }

    /// Calibrated ticks (rounded to the nearest tick, not wrapped) for joint angle `q` (rad).
    @inlinable
    public func calibratedTicks(fromRadians q: Double) -> Int {
        Self.homeTicks + Int((direction.sign * q / Self.radiansPerTick).rounded())
    }

    /// Joint velocity (rad/s) from a servo velocity in ticks per second.
    @inlinable
    public func radiansPerSecond(fromTicksPerSecond v: Double) -> Double {
        direction.sign * v * Self.radiansPerTick
    }

    /// The calibrated range as joint angles (rad), lowest first.
    public var rangeRadians: ClosedRange<Double> {
        let a = radians(fromCalibratedTicks: rangeMinTicks), b = radians(fromCalibratedTicks: rangeMaxTicks)
        return min(a, b)...max(a, b)
    }

    enum CodingKeys: String, CodingKey {
        case name
        case servoID = "id"
        case homingOffsetTicks = "homing_offset"
        case direction
        case rangeMinTicks = "range_min"
        case rangeMaxTicks = "range_max"
    }

    /// Decodes and checks ticks are within 0…4095, min < max and the offset within half a turn.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        servoID = try c.decode(Int.self, forKey: .servoID)
        homingOffsetTicks = try c.decode(Int.self, forKey: .homingOffsetTicks)
        direction = try c.decodeIfPresent(DriveDirection.self, forKey: .direction) ?? .normal
        rangeMinTicks = try c.decode(Int.self, forKey: .rangeMinTicks)
        rangeMaxTicks = try c.decode(Int.self, forKey: .rangeMaxTicks)
        let ticks = 0...(Self.ticksPerRevolution - 1)
        for (key, value) in [(CodingKeys.rangeMinTicks, rangeMinTicks), (.rangeMaxTicks, rangeMaxTicks)] where !ticks.contains(value) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: c.codingPath + [key], debugDescription: "\(value) is outside the encoder's 0...4095 ticks"))
        }
        if rangeMinTicks >= rangeMaxTicks {
            throw DecodingError.dataCorrupted(.init(
                codingPath: c.codingPath + [CodingKeys.rangeMaxTicks],
                debugDescription: "range_max (\(rangeMaxTicks)) must be greater than range_min (\(rangeMinTicks)); swap them or recalibrate"))
        }
        if abs(homingOffsetTicks) > Self.ticksPerRevolution / 2 {
            throw DecodingError.dataCorrupted(.init(
                codingPath: c.codingPath + [CodingKeys.homingOffsetTicks],
                debugDescription: "homing offset \(homingOffsetTicks) is more than half a turn (±2048 ticks)"))
        }
    }
}
