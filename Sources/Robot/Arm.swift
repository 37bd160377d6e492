/// What one `read`, `write` or torque call achieved, ros2_control style: a small value instead of a throw,
/// so the control loop's tick never unwinds. The arm's `lastFault` says why when it is not `.ok`.
public enum ArmStatus: Sendable, Equatable {
    /// Done.
    case ok
    /// Failed this time (a timeout, a bad reply, an invalid goal); the loop decides whether to retry or stop.
    case error
    /// The arm cannot continue (closed, a servo in hardware alarm): stop the loop and leave it.
    case deactivate
}

/// Why an arm call did not return `.ok`.
public enum ArmFault: Sendable, Equatable, CustomStringConvertible {
    /// The arm was closed; create a new one.
    case closed
    /// The goal vector has the wrong length.
    case goalCount(expected: Int, found: Int)
    /// A goal is NaN or infinite.
    case nonFiniteGoal(joint: String)
    /// The bus or device failed (timeouts, checksum errors, an unplugged cable).
    case communication(String)
    /// A servo reported an error (a refused instruction); `joint` names it.
    case servo(joint: String, String)
    /// A servo is in hardware alarm (overload, overheating, voltage, encoder), named from its own register.
    case hardwareAlarm(joint: String, servo: Int, alarm: String)
    /// A reading that cannot be right (outside the encoder's range, the joint's limits or its speed).
    case implausibleReading(String)

    /// One line for a user: what failed.
    public var description: String {
        switch self {
        case .closed: return "the arm is closed"
        case .goalCount(let e, let f): return "expected \(e) goals (one per joint), got \(f)"
        case .nonFiniteGoal(let joint): return "goal for joint '\(joint)' is not a finite number"
        case .communication(let text): return "bus communication failed: \(text)"
        case .servo(let joint, let text): return "servo of joint '\(joint)' reports: \(text)"
        case .hardwareAlarm(let joint, let servo, let alarm): return "servo \(servo) (joint '\(joint)') is in hardware alarm: \(alarm)"
        case .implausibleReading(let text): return "implausible reading: \(text)"
        }
    }
}

/// Joint positions and velocities of an arm at one instant, preallocated and refilled every tick.
public struct JointState: Sendable, Equatable {
    /// Joint angles (rad), one per joint of the robot description.
    public var positions: [Double]
    /// Joint velocities (rad/s).
    public var velocities: [Double]
    /// When the state was read (s, on the loop's clock).
    public var time: Double

    /// A zero state for `jointCount` joints.
    public init(jointCount: Int) {
        positions = [Double](repeating: 0, count: jointCount)
        velocities = [Double](repeating: 0, count: jointCount)
        time = 0
    }
}

/// A robot arm as the control loop sees it: two per-cycle calls, `read` and `write`, plus torque and close.
///
/// Modelled on ros2_control's `SystemInterface` (`read(time, period)`, `write(time, period)` returning
/// `return_type`). An arm has exactly one owner (it is a class, not copied). Joint order is the robot
/// description's; angles are radians in the joint frame (calibration applied). Implementations do not
/// allocate in `read` or `write`.
public protocol Arm: AnyObject {
    /// The robot this arm is.
    var robot: RobotDescription { get }
    /// Why the last call did not return `.ok` (nil after a successful call).
    var lastFault: ArmFault? { get }
    /// Whether the servos hold position (torque on).
    var isTorqueEnabled: Bool { get }

    /// Reads the present joint state into `state` (preallocated for `robot.joints.count` joints).
    /// `time` is the loop's clock (s); `period` is the time since the previous cycle (s).
    func read(into state: inout JointState, time: Double, period: Double) -> ArmStatus

    /// Sends goal angles (rad), one per joint in description order. Goals are not checked against limits
    /// here: the safety envelope does that before calling `write`.
    func write(goals: [Double], time: Double, period: Double) -> ArmStatus

    /// Turns torque on or off for every joint. Turning it on first sets each goal to the present position,
    /// so the arm holds where it is instead of jumping to a stale goal.
    func setTorque(enabled: Bool) -> ArmStatus

    /// Turns torque on holding `goals` (rad, one per joint), which the caller has passed through its safety
    /// envelope: the goal sent with torque-on is checked like every other, not a raw reading echoed back.
    func enableTorque(holding goals: [Double]) -> ArmStatus

    /// Turns torque off (where the arm can) and releases the device; later calls return `.deactivate`.
    func close()
}

extension Arm {
    /// Number of joints (`robot.joints.count`).
    public var jointCount: Int { robot.joints.count }

    /// For an arm whose reading is its true position (a simulation), holding the envelope's goals, which
    /// start at that reading, is holding where it is: `setTorque(enabled: true)`.
    public func enableTorque(holding goals: [Double]) -> ArmStatus { setTorque(enabled: true) }
}
