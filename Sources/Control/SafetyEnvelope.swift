import Robot

/// Joint limits and rate limits the safety envelope enforces, per joint, in radians and seconds.
public struct SafetyLimits: Sendable, Equatable {
    /// Lowest allowed goal per joint (rad).
    public var lower: [Double]
    /// Highest allowed goal per joint (rad).
    public var upper: [Double]
    /// Fastest allowed goal motion per joint (rad/s).
    public var maxSpeed: [Double]
    /// Largest allowed goal change in one tick per joint (rad), on top of `maxSpeed · period`.
    public var maxStepPerTick: [Double]

    /// Limits for `lower.count` joints; `maxStepPerTick` defaults to `maxSpeed · 0.02 s`.
    public init(lower: [Double], upper: [Double], maxSpeed: [Double], maxStepPerTick: [Double]? = nil) {
        precondition(lower.count == upper.count && upper.count == maxSpeed.count, "one limit per joint")
        self.lower = lower
        self.upper = upper
        self.maxSpeed = maxSpeed
        self.maxStepPerTick = maxStepPerTick ?? maxSpeed.map { $0 * 0.02 }
    }

    /// Number of joints.
    public var jointCount: Int { lower.count }
}

/// What the loop does when it stops on a fault: too many failed bus reads in a row, a reading that cannot
/// be right, a servo in hardware alarm.
public enum WatchdogAction: String, Sendable, CaseIterable {
    /// Keep the last safe goal and stop the loop.
    case hold
    /// Switch torque off and stop the loop.
    case torqueOff = "torque-off"
}

/// What the envelope did over a run; plain counters, so tests can assert them exactly.
public struct SafetyReport: Sendable, Equatable {
    /// Goal components that were outside the joint limits and were clamped.
    public var clampedToLimits = 0
    /// Goal components whose step exceeded the speed or step limit and were slowed.
    public var rateLimited = 0
    /// Goal components that were NaN or infinite and were replaced by the last safe goal.
    public var rejectedNonFinite = 0
    /// Ticks spent easing in from the pose at start.
    public var easeInTicks = 0
    /// Bus reads that failed.
    public var failedReads = 0
    /// Readings refused as implausible (`ReadingPlausibility`); the first one stops the loop.
    public var rejectedReadings = 0
    /// Why the envelope stopped the loop, if it did.
    public var stopReason: String? = nil

    public init() {}
}

/// The last line of defence between any policy and the motors.
///
/// Every goal passes through `filter`: non-finite components are replaced by the last safe goal, each
/// joint moves at most `min(maxStepPerTick, maxSpeed · period)` per tick (scaled down by a linear ramp
/// during ease-in), and the result is clamped to the joint limits last, so whatever a policy outputs,
/// the goal sent is inside the limits. A watchdog counts consecutive failed reads and, past a budget,
/// tells the loop to hold or to switch torque off. Readings pass `checkReading` first: one outside the
/// limits plus a margin, or farther from the last one than the joint can move, is refused
/// (`ReadingPlausibility`), so a wrong reading never becomes the pose goals are computed from.
public struct SafetyEnvelope: Sendable {
    /// The limits enforced.
    public let limits: SafetyLimits
    /// Loop period (s).
    public let period: Double
    /// Ease-in duration (s): the step limit ramps from 0 to full over this time after `begin`.
    public let easeInSeconds: Double
    /// Consecutive failed reads tolerated before the watchdog acts.
    public let failedReadBudget: Int
    /// What the watchdog does when the budget is exceeded.
    public let watchdogAction: WatchdogAction
    /// The counters.
    public private(set) var report = SafetyReport()
    /// The last goal sent (rad); the hold position.
    public private(set) var lastGoal: [Double]
    /// When a reading is refused.
    public let plausibility: ReadingPlausibility
    /// The last reading accepted by `checkReading` (rad).
    public private(set) var lastReading: [Double]
    private var hasReading = false
    private var ticksSinceBegin = 0
    /// Reads that failed in a row (reset by a good one).
    public private(set) var consecutiveFailedReads = 0
    private var begun = false

    /// An envelope; call `begin(from:)` with the measured pose before the first `filter`.
    public init(limits: SafetyLimits, period: Double, easeInSeconds: Double = 1.0, failedReadBudget: Int = 3, watchdogAction: WatchdogAction = .hold,
                plausibility: ReadingPlausibility = ReadingPlausibility()) {
        precondition(period > 0, "period must be positive")
        self.limits = limits
        self.period = period
        self.easeInSeconds = max(0, easeInSeconds)
        self.failedReadBudget = max(0, failedReadBudget)
        self.watchdogAction = watchdogAction
        self.plausibility = plausibility
        self.lastGoal = [Double](repeating: 0, count: limits.jointCount)
        self.lastReading = lastGoal
    }

    /// Largest goal step of joint `j` in one tick after ease-in (rad): `min(maxStepPerTick, maxSpeed · period)`.
    public func maxStep(joint j: Int) -> Double { min(limits.maxStepPerTick[j], limits.maxSpeed[j] * period) }

    /// Checks a reading `elapsed` seconds after the last accepted one (see `ReadingPlausibility`); remembers
    /// it when plausible, counts and returns the refusal when not. The first reading after
    /// `forgetReadings()` is checked against the limits only. No allocation.
    public mutating func checkReading(_ pose: [Double], elapsed: Double) -> ImplausibleReading? {
        precondition(pose.count == limits.jointCount, "pose has \(pose.count) joints, limits have \(limits.jointCount)")
        if let refused = plausibility.implausibility(of: pose, lower: limits.lower, upper: limits.upper, maxSpeed: limits.maxSpeed,
                                                     previous: hasReading ? lastReading : nil, elapsed: elapsed) {
            report.rejectedReadings += 1
            return refused
        }
        for j in 0..<pose.count { lastReading[j] = pose[j] }
        hasReading = true
        return nil
    }

    /// Forgets the last accepted reading (a new run: its first reading has no predecessor).
    public mutating func forgetReadings() { hasReading = false }

    /// Whether `pose` may be a start pose: each joint inside its limits or at most one step (`maxStep`)
    /// outside, so that the hold position `begin(from:)` clamps it to is within one rate-limited step of
    /// where the arm is. Returns the first joint that is not.
    public func startRefusal(_ pose: [Double]) -> ImplausibleReading? {
        for j in 0..<pose.count {
            let step = maxStep(joint: j)
            if !(pose[j] >= limits.lower[j] - step && pose[j] <= limits.upper[j] + step) {
                return ImplausibleReading(joint: j, value: pose[j], kind: .outsideLimits(lower: limits.lower[j], upper: limits.upper[j], margin: step))
            }
        }
        return nil
    }

    /// Starts from the measured pose: the hold position becomes that pose (clamped into the limits) and
    /// ease-in restarts.
    public mutating func begin(from pose: [Double]) {
        precondition(pose.count == limits.jointCount, "pose has \(pose.count) joints, limits have \(limits.jointCount)")
        for j in 0..<pose.count {
            let p = pose[j].isFinite ? pose[j] : (limits.lower[j] + limits.upper[j]) / 2
            lastGoal[j] = min(max(p, limits.lower[j]), limits.upper[j])
        }
        ticksSinceBegin = 0
        consecutiveFailedReads = 0
        begun = true
    }

    /// Makes `goal` safe in place (see the type's description) and remembers it as the last safe goal.
    /// No allocation.
    public mutating func filter(_ goal: inout [Double]) {
        precondition(goal.count == limits.jointCount, "goal has \(goal.count) joints, limits have \(limits.jointCount)")
        precondition(begun, "call begin(from:) before filter")
        ticksSinceBegin += 1
        var ramp = 1.0
        if easeInSeconds > 0 {
            let t = Double(ticksSinceBegin) * period
            if t < easeInSeconds {
                ramp = t / easeInSeconds
                report.easeInTicks += 1
            }
        }
        for j in 0..<goal.count {
            var g = goal[j]
            if !g.isFinite {
                report.rejectedNonFinite += 1
                g = lastGoal[j]
            }
            let maxStep = maxStep(joint: j) * ramp
            let step = g - lastGoal[j]
            if step > maxStep {
                g = lastGoal[j] + maxStep
                report.rateLimited += 1
            } else if step < -maxStep {
                g = lastGoal[j] - maxStep
                report.rateLimited += 1
            }
            if g < limits.lower[j] {
                g = limits.lower[j]
                report.clampedToLimits += 1
            } else if g > limits.upper[j] {
                g = limits.upper[j]
                report.clampedToLimits += 1
            }
            goal[j] = g
            lastGoal[j] = g
        }
    }

    /// Records a successful read (resets the watchdog's count).
    public mutating func readSucceeded() { consecutiveFailedReads = 0 }

    /// Records a failed read; returns the watchdog's action once the budget of consecutive failures is
    /// exceeded, nil while the loop may go on (holding the last goal).
    public mutating func readFailed(_ why: String) -> WatchdogAction? {
        report.failedReads += 1
        consecutiveFailedReads += 1
        if consecutiveFailedReads > failedReadBudget {
            report.stopReason = StopReason.watchdog(failedReads: consecutiveFailedReads, lastFault: why, action: watchdogAction).description
            return watchdogAction
        }
        return nil
    }

    /// Marks the run as stopped for `reason` (signal, end of trajectory, error).
    public mutating func stop(_ reason: String) {
        if report.stopReason == nil { report.stopReason = reason }
    }
}
