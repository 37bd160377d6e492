import Tensors

/// Something that happens to a simulated arm during a trial, for testing how a controller copes
/// (`SimulatedArm.disturbance`). Windows are in control-loop ticks: the disturbance acts on ticks k with
/// `startTick ≤ k < endTick`, where k is the tick the loop passes to `read`/`write` as its time
/// (k = round(time / period); see `SimulatedArm.disturbance`).
public enum ArmDisturbance: Sendable, Equatable, CustomStringConvertible {
    /// Nothing happens.
    case none
    /// A hand pushes joint `joint` (index among the arm's joints) with the torque its servo needs to be
    /// `offsetRadians` off its goal: while the window lasts the servo settles at (goal + offset), with its own
    /// speed and acceleration limits, instead of at the goal. The joint is held off its goal, but compliantly:
    /// moving the goal by −offset brings it back onto the target. Afterwards the servo returns to its goal.
    case push(joint: Int, offsetRadians: Double, startTick: Int, ticks: Int)
    /// A payload slows joint `joint`: its servo's velocity limit and position gain are multiplied by
    /// `speedFactor` (acceleration limit and dead band unchanged).
    case payload(joint: Int, speedFactor: Double, startTick: Int, ticks: Int)
    /// The bus is slower: goals written during the window take effect `extraTicks` cycles later than usual.
    case latency(extraTicks: Int, startTick: Int, ticks: Int)

    /// The kinds of disturbance, as `engram evaluate --disturbance` names them.
    public enum Kind: String, Sendable, CaseIterable {
        case none, push, payload, latency
    }

    /// This disturbance's kind.
    public var kind: Kind {
        switch self {
        case .none: return .none
        case .push: return .push
        case .payload: return .payload
        case .latency: return .latency
        }
    }

    /// First tick of the window (0 for `.none`).
    public var startTick: Int {
        switch self {
        case .none: return 0
        case .push(_, _, let s, _), .payload(_, _, let s, _), .latency(_, let s, _): return s
        }
    }

    /// First tick after the window (0 for `.none`: an empty window).
    public var endTick: Int {
        switch self {
        case .none: return 0
        case .push(_, _, let s, let n), .payload(_, _, let s, let n), .latency(_, let s, let n): return s + n
        }
    }

    /// Whether tick `tick` is inside the window.
    @inlinable
    public func isActive(atTick tick: Int) -> Bool { tick >= startTick && tick < endTick }

    /// One line for logs and reports.
    public var description: String {
        switch self {
        case .none: return "none"
        case .push(let j, let o, let s, let n): return "push joint \(j) by \(o) rad, ticks \(s)..<\(s + n)"
        case .payload(let j, let f, let s, let n): return "payload on joint \(j) (speed × \(f)), ticks \(s)..<\(s + n)"
        case .latency(let e, let s, let n): return "latency +\(e) tick(s), ticks \(s)..<\(s + n)"
        }
    }

    /// A disturbance of `kind` for a trial of `trialTicks` ticks on one of `joints` (indices among the arm's
    /// joints, e.g. the driven ones), drawn from `rng`:
    /// - push: a joint, ±(0.15…0.3) rad, starting in ticks 60…120, lasting 30…60 ticks;
    /// - payload: a joint, speed and gain × (0.25…0.4), the same window sizes;
    /// - latency: one extra tick of bus latency, starting in ticks 60…120, lasting 60…100 ticks.
    /// A window that would end after `trialTicks` is moved earlier (not below tick 0) so the trial sees it
    /// end. `.none` draws nothing from `rng`.
    public static func random(kind: Kind, joints: [Int], trialTicks: Int, rng: inout RandomSource) -> ArmDisturbance {
        precondition(!joints.isEmpty, "give the joints a disturbance may act on")
        func window(minimumTicks: Int, maximumTicks: Int) -> (start: Int, ticks: Int) {
            let start = 60 + rng.int(below: 61)
            let ticks = minimumTicks + rng.int(below: maximumTicks - minimumTicks + 1)
            return (max(0, min(start, trialTicks - ticks - 1)), ticks)
        }
        switch kind {
        case .none:
            return .none
        case .push:
            let joint = joints[rng.int(below: joints.count)]
            let magnitude = 0.15 + 0.15 * rng.uniform()
            let sign: Double = rng.int(below: 2) == 0 ? -1 : 1
            let w = window(minimumTicks: 30, maximumTicks: 60)
            return .push(joint: joint, offsetRadians: sign * magnitude, startTick: w.start, ticks: w.ticks)
        case .payload:
            let joint = joints[rng.int(below: joints.count)]
            let factor = 0.25 + 0.15 * rng.uniform()
            let w = window(minimumTicks: 30, maximumTicks: 60)
            return .payload(joint: joint, speedFactor: factor, startTick: w.start, ticks: w.ticks)
        case .latency:
            let w = window(minimumTicks: 60, maximumTicks: 100)
            return .latency(extraTicks: 1, startTick: w.start, ticks: w.ticks)
        }
    }
}
