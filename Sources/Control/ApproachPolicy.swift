import Foundation

/// Moves every joint from the pose measured at start to `goal` along a smooth (cosine) profile whose
/// duration lets the slowest joint stay under its speed limit, holds the goal for `settleSeconds`, and
/// finishes. Used to bring an arm to a trial's start pose. No allocation per tick.
public struct ApproachPolicy: Policy {
    /// Where to go (rad), one per joint.
    public let goal: [Double]
    /// Peak speed per joint (rad/s).
    public let maxSpeed: [Double]
    /// Time to hold the goal after arriving (s).
    public let settleSeconds: Double
    /// Duration of the move, set at start (s).
    public private(set) var moveSeconds = 0.0
    private var from: [Double] = []

    /// A move to `goal` at no more than `maxSpeed` per joint, then `settleSeconds` of holding.
    public init(goal: [Double], maxSpeed: [Double], settleSeconds: Double = 0.2) {
        precondition(goal.count == maxSpeed.count, "one speed per joint")
        self.goal = goal
        self.maxSpeed = maxSpeed
        self.settleSeconds = settleSeconds
    }

    /// Plans the move from `pose`: the cosine profile's peak speed is π/2 · distance / duration.
    public mutating func start(from pose: [Double]) {
        from = pose
        moveSeconds = 0
        for j in 0..<goal.count where maxSpeed[j] > 0 {
            moveSeconds = max(moveSeconds, Double.pi / 2 * abs(goal[j] - pose[j]) / maxSpeed[j])
        }
    }

    /// The pose along the profile at `time`; finished once moved and settled.
    public mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        let s = moveSeconds > 0 ? min(1, time / moveSeconds) : 1
        let f = 0.5 - 0.5 * cos(Double.pi * s)
        for j in 0..<goals.count { goals[j] = from[j] + (goal[j] - from[j]) * f }
        return time >= moveSeconds + settleSeconds ? .finished : .running
    }
}
