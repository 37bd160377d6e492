/// When a joint reading cannot be right: outside the joint's limits by more than a margin, or farther from
/// the previous reading than the joint can move in the time between them.
///
/// A servo that answers once with a valid-looking but wrong position (Feetech's 8-bit checksum lets some
/// corrupted frames through) must not become the pose the arm is driven from. The bounds are generous on
/// purpose: a real arm never trips them, a wrong reading of more than a few degrees does.
public struct ReadingPlausibility: Sendable, Equatable {
    /// How far outside its limits a reading may lie (rad): overshoot, a joint resting on its stop.
    public var marginRadians: Double
    /// A joint moves at most `speedFactor` × its max speed between readings (the servo's own top speed is
    /// above the speed limit goals are held to; a push by hand adds to it).
    public var speedFactor: Double
    /// Added to every jump bound (rad): encoder noise, a tick of quantization, clock jitter.
    public var slackRadians: Double

    /// Defaults: 10° margin, 2 × max speed, 2° slack.
    public init(marginRadians: Double = 10 * .pi / 180, speedFactor: Double = 2, slackRadians: Double = 2 * .pi / 180) {
        self.marginRadians = marginRadians
        self.speedFactor = speedFactor
        self.slackRadians = slackRadians
    }

    /// The farthest joint `j` may move in `elapsed` seconds at `maxSpeed` rad/s.
    @inlinable
    public func maxJump(maxSpeed: Double, elapsed: Double) -> Double {
        speedFactor * maxSpeed * max(0, elapsed) + slackRadians
    }

    /// The first joint of `pose` that is not finite, lies outside `lower...upper` by more than the margin,
    /// or (with a `previous` reading `elapsed` seconds before) has jumped farther than `maxJump`; nil when
    /// every joint is plausible. No allocation.
    public func implausibility(of pose: [Double], lower: [Double], upper: [Double], maxSpeed: [Double],
                               previous: [Double]?, elapsed: Double) -> ImplausibleReading? {
        for j in 0..<pose.count {
            let q = pose[j]
            guard q.isFinite else { return ImplausibleReading(joint: j, value: q, kind: .notFinite) }
            if q < lower[j] - marginRadians || q > upper[j] + marginRadians {
                return ImplausibleReading(joint: j, value: q, kind: .outsideLimits(lower: lower[j], upper: upper[j], margin: marginRadians))
            }
            if let previous {
                let bound = maxJump(maxSpeed: maxSpeed[j], elapsed: elapsed)
                if abs(q - previous[j]) > bound {
                    return ImplausibleReading(joint: j, value: q, kind: .jump(from: previous[j], bound: bound, elapsed: elapsed))
                }
            }
        }
        return nil
    }
}

/// A joint reading refused as impossible: which joint (index in the robot description), the value, and
/// the bound it broke.
public struct ImplausibleReading: Sendable, Equatable {
    /// What made the reading impossible.
    public enum Kind: Sendable, Equatable {
        /// NaN or infinite.
        case notFinite
        /// Outside `lower...upper` by more than `margin` (rad).
        case outsideLimits(lower: Double, upper: Double, margin: Double)
        /// Moved from `from` by more than `bound` (rad) in `elapsed` seconds.
        case jump(from: Double, bound: Double, elapsed: Double)
    }

    /// The joint's index.
    public var joint: Int
    /// The reading (rad).
    public var value: Double
    /// The bound it broke.
    public var kind: Kind

    /// Creates a record.
    public init(joint: Int, value: Double, kind: Kind) {
        self.joint = joint
        self.value = value
        self.kind = kind
    }

    /// One line naming the joint (and its servo, when `robot` has one), the value and the bound, in degrees.
    public func description(robot: RobotDescription) -> String {
        let j = robot.joints[joint]
        let name = "joint '\(j.name)'" + (j.servoID.map { " (servo \($0))" } ?? "")
        let v = Self.degrees(value)
        switch kind {
        case .notFinite:
            return "\(name) read \(value), not a number"
        case .outsideLimits(let lower, let upper, let margin):
            return "\(name) read \(v)°, outside its limits \(Self.degrees(lower))°...\(Self.degrees(upper))° by more than the \(Self.degrees(margin))° margin"
        case .jump(let from, let bound, let elapsed):
            return "\(name) read \(v)° after \(Self.degrees(from))° \(Self.milliseconds(elapsed)) ms before, a jump of \(Self.degrees(abs(value - from)))° where at most \(Self.degrees(bound))° is possible"
        }
    }

    static func degrees(_ radians: Double) -> String {
        let d = radians * 180 / .pi
        return String(Double((d * 10).rounded()) / 10)
    }

    static func milliseconds(_ seconds: Double) -> String { String(Int((seconds * 1000).rounded())) }
}
