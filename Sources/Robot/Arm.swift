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
    /// Goals were sent to an arm that is not active (torque off, or closed).
    case notActive(ArmLifecycleState)
    /// A lifecycle transition was asked of an arm in a state it does not leave that way (activate an
    /// active arm, deactivate an inactive one).
    case invalidTransition(ArmTransition, from: ArmLifecycleState)

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
        case .notActive(let state): return "goals sent to an arm that is \(state); activate it first (torque on)"
        case .invalidTransition(let transition, let state): return "cannot \(transition.rawValue) an arm that is \(state)"
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

/// Where an arm is in its lifecycle: ros2_control's primary states of a hardware component
/// (ros-controls/ros2_control: hardware_interface/include/hardware_interface/system_interface.hpp).
///
/// An arm's initialiser configures it (ros2_control's `on_configure`: a bus arm pings every servo and reads
/// its offsets, a simulated arm builds its plants), so a new arm is `.inactive`. `activate` and
/// `deactivate` move it between `.inactive` and `.active`; `close` finalizes it.
public enum ArmLifecycleState: String, Sendable, Equatable, CustomStringConvertible {
    /// Configured: communicating and readable, torque off; goals are refused.
    case inactive
    /// Powered and free to move: torque on, goals accepted.
    case active
    /// Closed: every call returns `.deactivate`.
    case finalized

    /// The state's name ("inactive").
    public var description: String { rawValue }
}

/// A lifecycle transition of an arm (see `ArmLifecycleState`).
public enum ArmTransition: String, Sendable, Equatable {
    /// `.inactive` → `.active`: torque on, holding a goal.
    case activate
    /// `.active` → `.inactive`: torque off.
    case deactivate
}

/// A robot arm as the control loop sees it: two per-cycle calls, `read` and `write`, and the lifecycle
/// transitions `activate`, `deactivate` and `close`.
///
/// Modelled on ros2_control's `SystemInterface` (`read(time, period)`, `write(time, period)` returning
/// `return_type`, and the lifecycle of `ArmLifecycleState`). An arm is readable while `.inactive` or
/// `.active` and takes goals only while `.active`: a `write` to an inactive arm returns `.error` with
/// `ArmFault.notActive`, and a transition from the wrong state returns `.error` with
/// `ArmFault.invalidTransition`. A finalized arm answers every call with `.deactivate` (`ArmFault.closed`).
/// An arm has exactly one owner (it is a class, not copied). Joint order is the robot description's;
/// angles are radians in the joint frame (calibration applied). Implementations do not allocate in `read`
/// or `write`.
public protocol Arm: AnyObject {
    /// The robot this arm is.
    var robot: RobotDescription { get }
    /// Why the last call did not return `.ok` (nil after a successful call).
    var lastFault: ArmFault? { get }
    /// Where the arm is in its lifecycle.
    var lifecycleState: ArmLifecycleState { get }

    /// Reads the present joint state into `state` (preallocated for `robot.joints.count` joints).
    /// `time` is the loop's clock (s); `period` is the measured time since the previous cycle (s).
    func read(into state: inout JointState, time: Double, period: Double) -> ArmStatus

    /// Sends goal angles (rad), one per joint in description order; only an `.active` arm takes them.
    /// Goals are not checked against limits here: the safety envelope does that before calling `write`.
    func write(goals: [Double], time: Double, period: Double) -> ArmStatus

    /// `.inactive` → `.active`: turns torque on holding `goals` (rad, one per joint), which the caller has
    /// passed through its safety envelope, so the goal sent with torque-on is checked like every other,
    /// not a raw reading echoed back.
    func activate(holding goals: [Double]) -> ArmStatus

    /// `.inactive` → `.active`: turns torque on holding the present position (each goal first set to it),
    /// so the arm holds where it is instead of jumping to a stale goal.
    func activate() -> ArmStatus

    /// `.active` → `.inactive`: turns torque off.
    func deactivate() -> ArmStatus

    /// Torque as a switch, for tools outside a control loop (`record`, calibration, tests): idempotent,
    /// unlike the transitions. On: `activate()` unless active. Off: `deactivate()` when active; an
    /// inactive arm makes sure torque is off where it can (servos may still hold from a previous owner).
    func setTorque(enabled: Bool) -> ArmStatus

    /// Turns torque off (where the arm can) and releases the device: `.finalized`.
    func close()
}

extension Arm {
    /// Number of joints (`robot.joints.count`).
    public var jointCount: Int { robot.joints.count }

    /// Whether the servos hold position (torque on): the arm is `.active`.
    public var isTorqueEnabled: Bool { lifecycleState == .active }

    /// For an arm whose reading is its true position (a simulation), holding the envelope's goals, which
    /// start at that reading, is holding where it is: `activate()`.
    public func activate(holding goals: [Double]) -> ArmStatus { activate() }

    /// `activate()` unless active; `deactivate()` when active, else nothing.
    public func setTorque(enabled: Bool) -> ArmStatus {
        switch (enabled, lifecycleState) {
        case (true, .active), (false, .inactive): return .ok
        case (true, _): return activate()
        case (false, _): return deactivate()
        }
    }
}
