import Foundation
import Kinematics
import ServoBus
import YAMLCoding

/// A robot as `Robots/<robot>/robot.yaml` describes it: bus, joints, kinematics and what the controller drives.
///
/// ```yaml
/// name: so101
/// bus: {protocol: feetech-sts, baud: 1_000_000}      # absent for a simulation-only robot
/// joints:
///   - {name: shoulder_pan, servo_id: 1, servo_model: sts3215, limits_deg: [-110, 110], home_deg: 0, max_speed_deg_s: 180}
/// controller: {driven_joints: [shoulder_pan, shoulder_lift], rate_hz: 100, loop: open-loop}   # loop: closed-loop
/// kinematics: {type: dh, base: {xyz: [0, 0, 0], rpy_deg: [0, 0, 0]}, links: [...], tool: [0, 0, 0.1]}
/// ```
/// Loading validates the whole file (unique names and ids, servo models that speak the bus protocol, home
/// inside the limits, driven joints and kinematic links that name existing joints) and reports the first
/// problem as `file:line:column: key.path: message`.
public struct RobotDescription: Sendable, Codable {
    /// The robot's name (e.g. `so101`).
    public var name: String
    /// The servo bus, or nil for a robot that only exists in simulation (the Scorbot of the paper).
    public var bus: BusDescription?
    /// The joints in bus and state-vector order.
    public var joints: [JointDescription]
    /// What the controller drives and how fast it runs.
    public var controller: ControllerSettings
    /// Forward kinematics: the Scorbot closed form, or a DH chain.
    public var kinematics: KinematicsModel

    /// A description built in code; call `validate()` if it doesn't come from a file.
    public init(
        name: String, bus: BusDescription?, joints: [JointDescription], controller: ControllerSettings,
        kinematics: KinematicsModel
    ) {
        self.name = name
        self.bus = bus
        self.joints = joints
        self.controller = controller
        self.kinematics = kinematics
    }

    /// Loads and validates a `robot.yaml` file, or the `robot.yaml` inside a robot directory.
    public static func load(fromFileAt path: String) throws(YAMLError) -> RobotDescription {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = (path as NSString).appendingPathComponent("robot.yaml")
        }
        return try YAMLDecoder().decode(RobotDescription.self, fromFileAt: file)
    }

    /// Parses and validates robot YAML text; `file` is the name errors show.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> RobotDescription {
        try YAMLDecoder().decode(RobotDescription.self, from: text, file: file)
    }

    /// Whether there is no servo bus (simulation only).
    public var isSimulationOnly: Bool { bus == nil }

    /// The index of the joint called `name` in `joints`, if any.
    public func jointIndex(named name: String) -> Int? {
        joints.firstIndex { $0.name == name }
    }

    /// Indices (into `joints`) of the joints the controller drives, in the controller's output order.
    public var drivenJointIndices: [Int] {
        controller.drivenJoints.compactMap { jointIndex(named: $0) }
    }

    /// Forward kinematics over all joints (`position(_:)` takes one angle per entry of `joints`, in radians).
    public var forwardKinematics: any ForwardKinematics {
        switch kinematics {
        case .scorbot: return ScorbotKinematics()
        case .denavitHartenberg(let dh): return dh
        }
    }

    /// Home angles of all joints (rad).
    public var homeRadians: [Double] { joints.map(\.homeRadians) }

    // MARK: Codable

    enum CodingKeys: String, CodingKey {
        case name, bus, joints, controller, kinematics
    }

    /// Decodes and validates (see `validate()`); a problem becomes a positioned YAML error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        bus = try c.decodeIfPresent(BusDescription.self, forKey: .bus)
        joints = try c.decode([JointDescription].self, forKey: .joints)
        controller = try c.decodeIfPresent(ControllerSettings.self, forKey: .controller) ?? ControllerSettings(drivenJoints: [])
        let names = joints.map(\.name)
        let kinematicsDecoder = try c.superDecoder(forKey: .kinematics)
        kinematics = try KinematicsModel(from: kinematicsDecoder, jointNames: names)
        if let problem = validationProblem() {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + problem.path, debugDescription: problem.message))
        }
    }

    /// Encodes in the `robot.yaml` layout.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(bus, forKey: .bus)
        try c.encode(joints, forKey: .joints)
        try c.encode(controller, forKey: .controller)
        try kinematics.encode(to: c.superEncoder(forKey: .kinematics), jointNames: joints.map(\.name))
    }

    // MARK: Validation

    /// A problem found by `validate()`: the coding path of the offending value and a message naming the fix.
    public struct ValidationProblem: Error, Sendable, CustomStringConvertible {
        /// Where, as a coding path from the document root (e.g. `joints[2].home_deg`).
        public var path: [any CodingKey]
        /// What is wrong and what to do.
        public var message: String
        /// The message.
        public var description: String { message }
    }

    /// Checks the description for consistency; throws the first problem found.
    public func validate() throws(ValidationProblem) {
        if let p = validationProblem() { throw p }
    }

    /// The largest `max_speed_deg_s` accepted: 3,600 °/s (10 turns a second), well above any servo Engram
    /// drives (STS3215: about 330 °/s), so the speed limit always means something.
    public static let maximumSpeedDegreesPerSecond = 3_600.0
    /// The largest joint limit magnitude accepted (`limits_deg`), ten turns.
    public static let maximumLimitDegrees = 3_600.0

    func validationProblem() -> ValidationProblem? {
        typealias J = JointDescription.CodingKeys
        func at(_ keys: any CodingKey...) -> [any CodingKey] { keys }
        if joints.isEmpty {
            return ValidationProblem(path: at(CodingKeys.joints), message: "a robot needs at least one joint")
        }
        var seenNames: [String: Int] = [:]
        var seenIDs: [Int: Int] = [:]
        for (i, joint) in joints.enumerated() {
            let base: [any CodingKey] = [CodingKeys.joints, IndexKey(i)]
            if let first = seenNames[joint.name] {
                return ValidationProblem(path: base + at(J.name), message: "joint name '\(joint.name)' is used twice (also joints[\(first)]); names must be unique")
            }
            seenNames[joint.name] = i
            let limits = joint.limitsDegrees
            if !(limits.lowerBound < limits.upperBound) {
                return ValidationProblem(path: base + at(J.limitsDegrees), message: "limits [\(limits.lowerBound), \(limits.upperBound)] must be [min, max] with min < max")
            }
            if !(limits.lowerBound >= -Self.maximumLimitDegrees && limits.upperBound <= Self.maximumLimitDegrees) {
                return ValidationProblem(path: base + at(J.limitsDegrees), message: "limits [\(limits.lowerBound), \(limits.upperBound)] leave ±\(Int(Self.maximumLimitDegrees))° (ten turns), beyond any joint Engram drives; give the joint's real range in degrees")
            }
            if !limits.contains(joint.homeDegrees) {
                return ValidationProblem(path: base + at(J.homeDegrees), message: "home \(joint.homeDegrees)° lies outside the limits [\(limits.lowerBound), \(limits.upperBound)]; move it inside")
            }
            if !(joint.maxSpeedDegreesPerSecond > 0 && joint.maxSpeedDegreesPerSecond <= Self.maximumSpeedDegreesPerSecond) {
                return ValidationProblem(path: base + at(J.maxSpeedDegreesPerSecond), message: "max speed \(joint.maxSpeedDegreesPerSecond) must be in (0, \(Int(Self.maximumSpeedDegreesPerSecond))] degrees per second (hobby and industrial servos turn at most a few hundred); a larger value would switch the speed limit off")
            }
            guard let bus else { continue }
            guard let id = joint.servoID else {
                return ValidationProblem(path: base, message: "joint '\(joint.name)' has no servo_id; a robot with a bus needs one per joint")
            }
            guard let model = joint.servoModel else {
                return ValidationProblem(path: base, message: "joint '\(joint.name)' has no servo_model; a robot with a bus needs one per joint")
            }
            if let first = seenIDs[id] {
                return ValidationProblem(path: base + at(J.servoID), message: "servo id \(id) is used twice (also joints[\(first)]); give every servo its own id")
            }
            seenIDs[id] = i
            if !bus.protocol.validServoIDs.contains(id) {
                return ValidationProblem(path: base + at(J.servoID), message: "servo id \(id) is outside \(bus.protocol.validServoIDs) for \(bus.protocol.rawValue)")
            }
            if model.wireProtocol != bus.protocol {
                return ValidationProblem(path: base + at(J.servoModel), message: "servo model \(model.rawValue) speaks \(model.wireProtocol.rawValue), but the bus is \(bus.protocol.rawValue)")
            }
        }
        if let bus, bus.baud <= 0 {
            return ValidationProblem(path: at(CodingKeys.bus, BusDescription.CodingKeys.baud), message: "baud must be positive (e.g. 1_000_000)")
        }
        typealias C = ControllerSettings.CodingKeys
        if controller.drivenJoints.isEmpty {
            return ValidationProblem(path: at(CodingKeys.controller), message: "controller.driven_joints is missing or empty; name the joints the controller drives (the paper drives two)")
        }
        var driven: Set<String> = []
        for (i, name) in controller.drivenJoints.enumerated() {
            let path = at(CodingKeys.controller, C.drivenJoints, IndexKey(i))
            if jointIndex(named: name) == nil {
                let hint = YAMLErrorHint.closest(name, joints.map(\.name))
                return ValidationProblem(path: path, message: "unknown joint '\(name)'\(hint) (joints: \(joints.map(\.name).joined(separator: ", ")))")
            }
            if !driven.insert(name).inserted {
                return ValidationProblem(path: path, message: "joint '\(name)' is listed twice")
            }
        }
        if !(controller.rateHz > 0 && controller.rateHz <= 10_000) {
            return ValidationProblem(path: at(CodingKeys.controller, C.rateHz), message: "rate_hz must be in (0, 10000]; the default is 100")
        }
        if case .scorbot = kinematics, joints.count != 4 {
            return ValidationProblem(path: at(CodingKeys.joints), message: "scorbot kinematics needs exactly 4 joints (base, shoulder, elbow, wrist), found \(joints.count)")
        }
        return nil
    }
}

/// A coding key for a sequence position, rendered `[i]` in YAML error paths.
struct IndexKey: CodingKey, Sendable {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

/// The serial bus a robot's servos share.
public struct BusDescription: Sendable, Codable, Equatable {
    /// The wire protocol.
    public var `protocol`: ServoProtocol
    /// Baud rate (e.g. 1_000_000).
    public var baud: Int

    /// A bus description.
    public init(protocol: ServoProtocol, baud: Int) {
        self.protocol = `protocol`
        self.baud = baud
    }

    enum CodingKeys: String, CodingKey {
        case `protocol`, baud
    }
}

extension ServoProtocol {
    /// Servo ids a device may have (broadcast excluded).
    var validServoIDs: ClosedRange<Int> {
        switch self {
        case .dynamixel2: return 0...252
        case .feetechSTS: return 0...253
        }
    }
}

/// One joint of a robot.
public struct JointDescription: Sendable, Codable, Equatable {
    /// The joint's name (e.g. `shoulder_pan`); LeRobot's motor names where they exist.
    public var name: String
    /// The servo's bus id; nil for a simulation-only robot.
    public var servoID: Int?
    /// The servo model; nil for a simulation-only robot.
    public var servoModel: ServoModel?
    /// Joint limits in degrees (YAML `limits_deg: [min, max]`).
    public var limitsDegrees: ClosedRange<Double>
    /// Home (rest) angle in degrees.
    public var homeDegrees: Double
    /// Maximum joint speed in degrees per second.
    public var maxSpeedDegreesPerSecond: Double

    /// A joint description.
    public init(
        name: String, servoID: Int? = nil, servoModel: ServoModel? = nil, limitsDegrees: ClosedRange<Double>,
        homeDegrees: Double = 0, maxSpeedDegreesPerSecond: Double
    ) {
        self.name = name
        self.servoID = servoID
        self.servoModel = servoModel
        self.limitsDegrees = limitsDegrees
        self.homeDegrees = homeDegrees
        self.maxSpeedDegreesPerSecond = maxSpeedDegreesPerSecond
    }

    /// Limits in radians.
    public var limitsRadians: ClosedRange<Double> {
        limitsDegrees.lowerBound * .pi / 180...limitsDegrees.upperBound * .pi / 180
    }
    /// Home angle in radians.
    public var homeRadians: Double { homeDegrees * .pi / 180 }
    /// Maximum speed in radians per second.
    public var maxSpeedRadiansPerSecond: Double { maxSpeedDegreesPerSecond * .pi / 180 }

    enum CodingKeys: String, CodingKey {
        case name
        case servoID = "servo_id"
        case servoModel = "servo_model"
        case limitsDegrees = "limits_deg"
        case homeDegrees = "home_deg"
        case maxSpeedDegreesPerSecond = "max_speed_deg_s"
    }

    /// Decodes a joint; `home_deg` defaults to 0 and `limits_deg` must be `[min, max]`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        servoID = try c.decodeIfPresent(Int.self, forKey: .servoID)
        servoModel = try c.decodeIfPresent(ServoModel.self, forKey: .servoModel)
        limitsDegrees = try c.decode(NumberPair.self, forKey: .limitsDegrees).range
        homeDegrees = try c.decodeIfPresent(Double.self, forKey: .homeDegrees) ?? 0
        maxSpeedDegreesPerSecond = try c.decode(Double.self, forKey: .maxSpeedDegreesPerSecond)
    }

    /// Encodes in the `robot.yaml` layout.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(servoID, forKey: .servoID)
        try c.encodeIfPresent(servoModel, forKey: .servoModel)
        try c.encode([limitsDegrees.lowerBound, limitsDegrees.upperBound], forKey: .limitsDegrees)
        try c.encode(homeDegrees, forKey: .homeDegrees)
        try c.encode(maxSpeedDegreesPerSecond, forKey: .maxSpeedDegreesPerSecond)
    }
}

/// `[min, max]` in YAML; any other count is an error.
struct NumberPair: Decodable {
    var range: ClosedRange<Double>
    init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        guard c.count == 2 else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: "expected 2 numbers [min, max], found \(c.count ?? 0)"))
        }
        let lo = try c.decode(Double.self), hi = try c.decode(Double.self)
        guard lo <= hi else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath, debugDescription: "expected [min, max] with min <= max, found [\(lo), \(hi)]; swap them"))
        }
        range = lo...hi
    }
}

/// What the controller drives and at what rate.
public struct ControllerSettings: Sendable, Codable, Equatable {
    /// Names of the joints the controller drives, in its output order (the paper: base and shoulder).
    public var drivenJoints: [String]
    /// Control loop rate in Hz (default 100: one 1 ms network step integrated as 10 ms of robot time).
    public var rateHz: Double
    /// Which of the robot's shipped controllers runs by default (`loop:` in robot.yaml, default open-loop):
    /// `controller.safetensors` or `controller-closed-loop.safetensors`.
    public var loop: ControllerLoop
    /// The file, in the robot's folder, of the whole-arm controller that learns demonstrations of every
    /// joint (`whole_arm:` in robot.yaml; docs/whole-arm.md); nil when the robot has none.
    public var wholeArm: String?

    /// Controller settings; the rate defaults to 100 Hz, the controller to the open-loop one.
    public init(drivenJoints: [String], rateHz: Double = 100, loop: ControllerLoop = .openLoop, wholeArm: String? = nil) {
        self.drivenJoints = drivenJoints
        self.rateHz = rateHz
        self.loop = loop
        self.wholeArm = wholeArm
    }

    enum CodingKeys: String, CodingKey {
        case drivenJoints = "driven_joints"
        case rateHz = "rate_hz"
        case loop
        case wholeArm = "whole_arm"
    }

    /// Decodes; `rate_hz` defaults to 100, `loop` to open-loop.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        drivenJoints = try c.decode([String].self, forKey: .drivenJoints)
        rateHz = try c.decodeIfPresent(Double.self, forKey: .rateHz) ?? 100
        loop = try c.decodeIfPresent(ControllerLoop.self, forKey: .loop) ?? .openLoop
        wholeArm = try c.decodeIfPresent(String.self, forKey: .wholeArm)
    }
}

/// Whether a robot's controller hears only its clock (the paper's, open loop) or also the arm's measured
/// joint state (closed loop, docs/closed-loop.md).
public enum ControllerLoop: String, Sendable, Codable, CaseIterable {
    /// The paper's controller: `controller.safetensors`.
    case openLoop = "open-loop"
    /// The proprioceptive controller: `controller-closed-loop.safetensors`.
    case closedLoop = "closed-loop"

    /// The shipped checkpoint's file name in the robot's folder.
    public var checkpointFileName: String {
        switch self {
        case .openLoop: return "controller.safetensors"
        case .closedLoop: return "controller-closed-loop.safetensors"
        }
    }
}
