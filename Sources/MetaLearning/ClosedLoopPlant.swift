import Tensors

/// The arm a closed-loop controller drives in trial 2 of meta-training: it takes goal angles for the driven
/// joints once per tick and reports what its encoders measure (docs/closed-loop.md). A plant instance runs one
/// trial of one task at a time; `ClosedLoopArm.makePlant` makes one per task, with the task's disturbance.
///
/// Order within tick t, as in `ControlLoop`: `measure(tick: t)` (the servos first act for one period on the
/// goal of tick t − 1), then the network step, then `command(tick: t, goals:)`.
public protocol ClosedLoopPlant: AnyObject {
    /// Puts the driven joints at `angles` (rad), at rest, holding them, before tick 0.
    func start(angles: [Double])
    /// Advances the arm by one period and writes the driven joints' measured angles (rad) at tick `tick`.
    func measure(tick: Int, into angles: inout [Double])
    /// Sends the driven joints' goal angles (rad) at tick `tick`.
    func command(tick: Int, goals: [Double])
    /// Whether the arm's velocity over tick `tick` (from measurement `tick` to `tick + 1`) is the controller's
    /// doing and scored by the loss: false while an outside force moves the arm (a push, and the servo's
    /// catch-up right after it), which no command can change.
    func scoresVelocity(tick: Int) -> Bool
    /// How far (rad) an outside force shifts the point driven joint `output`'s servo settles at, away from its
    /// goal, while it integrates towards measurement `tick` (a compliant push). The backward pass takes each
    /// tick's secant against the shifted goal.
    func goalShift(tick: Int, output: Int) -> Double
    /// Whether measurement `tick + 1` (the arm's state after tick `tick`, step `tick` of the loss) comes at or
    /// after the end of a disturbance window: the steps `engram evaluate --disturbance` scores as "after".
    func isAfterDisturbance(tick: Int) -> Bool
}

extension ClosedLoopPlant {
    /// Every tick is scored.
    public func scoresVelocity(tick: Int) -> Bool { true }
    /// No outside force.
    public func goalShift(tick: Int, output: Int) -> Double { 0 }
    /// No disturbance.
    public func isAfterDisturbance(tick: Int) -> Bool { false }
}

/// How meta-training makes the arm of each closed-loop task. Two settings are equal when their labels are.
public struct ClosedLoopArm: Sendable, Equatable {
    /// What the arm is (e.g. "scorbot-er7 simulated servos, disturbances push/payload/latency/none"), for logs.
    public var label: String
    /// A plant for one task; draws the task's disturbance (if any) from `rng`.
    public var makePlant: @Sendable (_ rng: inout RandomSource) -> any ClosedLoopPlant
    /// Servo response per tick used in the backward pass when the goal is within `secantFloor` rad of the
    /// measured angle (the secant of such a tick is dominated by encoder quantization): 1 − e^(−gain·period).
    public var nominalResponse: Double
    /// Goal distances (rad) below which `nominalResponse` replaces the secant.
    public var secantFloor: Double

    /// A setting; `nominalResponse` defaults to a 40/s position gain at 100 Hz, `secantFloor` to 3 encoder ticks.
    public init(label: String, nominalResponse: Double = 1 - 0.670_320_046, secantFloor: Double = 3 * 2 * Double.pi / 4096,
                makePlant: @escaping @Sendable (_ rng: inout RandomSource) -> any ClosedLoopPlant) {
        self.label = label
        self.makePlant = makePlant
        self.nominalResponse = nominalResponse
        self.secantFloor = secantFloor
    }

    public static func == (a: ClosedLoopArm, b: ClosedLoopArm) -> Bool {
        a.label == b.label && a.nominalResponse == b.nominalResponse && a.secantFloor == b.secantFloor
    }
}

/// A first-order servo for tests and quick experiments: each tick the joint moves `response` of the way to
/// its goal, at most `maxStep` rad; optionally a joint is held still during a window of ticks (`hold`), or
/// pushed: it settles `offset` rad off its goal during a window (`push`, as `ArmDisturbance.push`).
public final class LagPlant: ClosedLoopPlant {
    /// Fraction of the distance to the goal covered per tick.
    public let response: Double
    /// Largest move per tick (rad).
    public let maxStep: Double
    /// A joint held still for ticks in `holdTicks`, if any.
    public var hold: (joint: Int, ticks: Range<Int>)?
    /// A joint whose goal is shifted by `offset` for ticks in `ticks`, if any.
    public var push: (joint: Int, offset: Double, ticks: Range<Int>)?
    var angles: [Double] = []
    var goals: [Double] = []

    /// A plant with the given response and speed limit.
    public init(response: Double, maxStep: Double = .infinity, hold: (joint: Int, ticks: Range<Int>)? = nil,
                push: (joint: Int, offset: Double, ticks: Range<Int>)? = nil) {
        self.response = response
        self.maxStep = maxStep
        self.hold = hold
        self.push = push
    }

    public func start(angles: [Double]) {
        self.angles = angles
        goals = angles
    }

    public func measure(tick: Int, into out: inout [Double]) {
        for j in 0..<angles.count {
            if let h = hold, h.joint == j, h.ticks.contains(tick) { continue }
            let goal = goals[j] + goalShift(tick: tick, output: j)
            angles[j] += min(max(response * (goal - angles[j]), -maxStep), maxStep)
        }
        for j in 0..<angles.count { out[j] = angles[j] }
    }

    public func goalShift(tick: Int, output: Int) -> Double {
        guard let p = push, p.joint == output, p.ticks.contains(tick) else { return 0 }
        return p.offset
    }

    public func command(tick: Int, goals: [Double]) {
        for j in 0..<goals.count { self.goals[j] = goals[j] }
    }

    /// After the push's ticks (measurement `tick + 1` past them).
    public func isAfterDisturbance(tick: Int) -> Bool {
        guard let p = push else { return false }
        return tick + 1 >= p.ticks.upperBound
    }
}
