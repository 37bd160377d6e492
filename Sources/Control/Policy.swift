import Foundation

/// What a policy says after computing a tick's goals.
public enum PolicyStatus: Sendable, Equatable {
    /// Goals written; keep going.
    case running
    /// The policy has nothing more to do (end of trajectory); the loop holds and stops.
    case finished
}

/// Computes joint goals from the measured joint state, once per tick.
///
/// Policies work in radians for all joints of the arm, in the arm's joint order, and must not allocate
/// in `goals`: the loop calls it every tick.
public protocol Policy {
    /// Called once before the first tick with the measured pose (rad).
    mutating func start(from pose: [Double])
    /// Writes the goal for every joint (rad) for tick `tick` at loop time `time` (s).
    mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus
}

/// Holds the pose measured at start.
public struct HoldPolicy: Policy {
    private var pose: [Double] = []
    /// How long to hold (s); nil holds until stopped.
    public var duration: Double?

    public init(duration: Double? = nil) { self.duration = duration }

    public mutating func start(from pose: [Double]) { self.pose = pose }

    public mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        for j in 0..<goals.count { goals[j] = pose[j] }
        if let duration, time >= duration { return .finished }
        return .running
    }
}

/// Replays a recorded trajectory: joint positions at given times, linearly interpolated at the loop's
/// tick times (so a file recorded at any rate plays at the loop rate), optionally faster or slower, and
/// optionally looping. Joints the trajectory does not cover hold their start pose.
public struct ReplayPolicy: Policy {
    /// Sample times of the trajectory (s), increasing, starting anywhere.
    public let times: [Double]
    /// Positions (rad): `positions[k][j]` for sample k and joint j; nil entries hold the start pose.
    public let positions: [[Double?]]
    /// Playback speed factor (2 = twice as fast).
    public let speed: Double
    /// Start again from the beginning after the end.
    public let loops: Bool
    /// Goals are taken this far ahead of the tick time (s), to cancel a position servo's lag.
    public let lead: Double
    private var startPose: [Double] = []
    private var cursor = 0

    /// A replay of `positions` at `times`. `times` must be strictly increasing with at least one sample.
    public init(times: [Double], positions: [[Double?]], speed: Double = 1, loops: Bool = false, lead: Double = 0) {
        precondition(!times.isEmpty && times.count == positions.count, "one position row per time")
        precondition(speed > 0, "speed must be positive")
        self.times = times
        self.positions = positions
        self.speed = speed
        self.loops = loops
        self.lead = max(0, lead)
    }

    /// Duration of one pass at the given speed (s).
    public var duration: Double { (times.last! - times.first!) / speed }

    public mutating func start(from pose: [Double]) {
        startPose = pose
        cursor = 0
    }

    public mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        var t = times.first! + (time + lead) * speed
        let span = times.last! - times.first!
        if loops && span > 0 {
            t = times.first! + (t - times.first!).truncatingRemainder(dividingBy: span)
            if t < times[cursor] { cursor = 0 }
        }
        let finished = t - lead * speed >= times.last!
        if finished { t = times.last! }
        while cursor + 1 < times.count && times[cursor + 1] <= t { cursor += 1 }
        let k = cursor
        let k1 = min(k + 1, times.count - 1)
        let f = k1 == k ? 0 : (t - times[k]) / (times[k1] - times[k])
        for j in 0..<goals.count {
            if j < positions[k].count, let a = positions[k][j], let b = positions[k1][j] {
                goals[j] = a + (b - a) * f
            } else {
                goals[j] = startPose[j]
            }
        }
        return finished && !loops ? .finished : .running
    }
}

/// Eases in to another policy: for the first `seconds`, goals move on a smooth (cosine) path from the
/// measured start pose to the inner policy's first goals; then the inner policy runs with its clock
/// starting at zero.
public struct EaseInPolicy<Inner: Policy>: Policy {
    /// The policy eased into.
    public var inner: Inner
    /// Ease-in duration (s).
    public let seconds: Double
    private var startPose: [Double] = []
    private var firstGoals: [Double] = []
    private var innerStartTick: Int? = nil

    public init(_ inner: Inner, seconds: Double) {
        self.inner = inner
        self.seconds = max(0, seconds)
    }

    public mutating func start(from pose: [Double]) {
        startPose = pose
        inner.start(from: pose)
        firstGoals = pose
        _ = inner.goals(tick: 0, time: 0, measured: pose, into: &firstGoals)
        inner.start(from: pose)
        innerStartTick = nil
    }

    public mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        if time < seconds {
            let s = 0.5 - 0.5 * cos(Double.pi * time / seconds)
            for j in 0..<goals.count { goals[j] = startPose[j] + (firstGoals[j] - startPose[j]) * s }
            return .running
        }
        if innerStartTick == nil { innerStartTick = tick }
        return inner.goals(tick: tick - innerStartTick!, time: time - seconds, measured: measured, into: &goals)
    }
}
