import Robot

/// Why a control loop ended: data first, text second. `description` is the one line the command line
/// prints (`engram run`, `replay`, `demo`); tests and callers match on the case.
public enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// The policy said it was done (end of trajectory, end of trial).
    case policyFinished
    /// The loop ran for its `duration`.
    case durationReached
    /// SIGINT or SIGTERM (named, "SIGINT") arrived; the arm holds the last goal.
    case signal(String)
    /// No plausible reading of the start pose in a few tries.
    case startUnreadable(ArmFault?)
    /// The start pose was read but refused (outside the limits by more than one step); `torqueWasOn`
    /// says whether torque was left as it was (on) or off.
    case startRefused(RefusedReading, torqueWasOn: Bool)
    /// A read reported the arm deactivated (a servo in hardware alarm, a lost port); `response` is what
    /// the loop did about it.
    case armDeactivated(ArmFault?, response: FaultResponse)
    /// More consecutive reads failed than the envelope's budget allows.
    case watchdog(failedReads: Int, lastFault: String, action: WatchdogAction)
    /// A reading the envelope refused as impossible.
    case implausibleReading(RefusedReading, response: FaultResponse)
    /// Activating the arm (torque on, holding the envelope's goal) failed.
    case activationFailed(ArmFault?)
    /// A write reported the arm deactivated.
    case writeDeactivated(ArmFault?)
    /// The recorder could not append a row (its message names the file and what to do).
    case recordingFailed(String)

    /// True when the loop ended because something went wrong, not by plan (policy, duration, signal).
    public var isFault: Bool {
        switch self {
        case .policyFinished, .durationReached, .signal: return false
        default: return true
        }
    }

    /// One line for a user: why the run stopped and, after a fault, what the loop did about it.
    public var description: String {
        switch self {
        case .policyFinished: return "policy finished"
        case .durationReached: return "duration reached"
        case .signal(let name): return "\(name): stopped, holding the last goal"
        case .startUnreadable(let fault): return "could not read the arm's pose at start: \(fault?.description ?? "no reply")"
        case .startRefused(let refused, let torqueWasOn):
            return "refused the pose at start: \(refused); torque left \(torqueWasOn ? "as it was" : "off")"
        case .armDeactivated(let fault, let response): return "\(fault?.description ?? "arm deactivated"); action: \(response)"
        case .watchdog(let reads, let last, let action):
            return "watchdog: \(reads) failed reads in a row (last: \(last)); action: \(action.rawValue)"
        case .implausibleReading(let refused, let response): return "implausible reading: \(refused); action: \(response)"
        case .activationFailed(let fault): return "could not switch torque on: \(fault?.description ?? "unknown")"
        case .writeDeactivated(let fault): return "arm deactivated: \(fault?.description ?? "unknown")"
        case .recordingFailed(let message): return "recording failed: \(message)"
        }
    }
}

/// What the loop did about a fault that stopped it (the envelope's `WatchdogAction`, carried out).
public enum FaultResponse: Sendable, Equatable, CustomStringConvertible {
    /// Nothing: the servos keep the last safe goal (`torqueWasOn`), or torque was never switched on.
    case held(torqueWasOn: Bool)
    /// The arm was deactivated (torque off).
    case torqueSwitchedOff
    /// Deactivating the arm failed.
    case torqueOffFailed(ArmFault?)

    /// The action as the stop reason names it.
    public var description: String {
        switch self {
        case .held(let on): return on ? "hold (the servos keep the last safe goal)" : "hold (torque was never switched on)"
        case .torqueSwitchedOff: return "torque-off (torque switched off)"
        case .torqueOffFailed(let fault): return "torque-off (failed: \(fault?.description ?? "unknown"))"
        }
    }
}

/// A reading the safety envelope refused, with its one-line description (which names the joint and its
/// servo from the robot description, so it is rendered where the robot is known).
public struct RefusedReading: Sendable, Equatable, CustomStringConvertible {
    /// The refused reading: joint index, value, the bound it broke.
    public var reading: ImplausibleReading
    /// `reading.description(robot:)`.
    public var description: String

    /// The refusal of `reading` on `robot`.
    public init(_ reading: ImplausibleReading, robot: RobotDescription) {
        self.reading = reading
        description = reading.description(robot: robot)
    }
}
