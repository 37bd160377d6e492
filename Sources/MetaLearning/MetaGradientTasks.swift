import Foundation
import Tensors

/// A source of target trajectories for meta-training: any arm with forward kinematics and the joints
/// the controller drives.
public protocol MetaTaskSampler: Sendable {
    /// The arm's forward kinematics (the loss integrates the trainee's output through it).
    var kinematics: any ForwardKinematics { get }
    /// Joint index in `kinematics` of each controller output.
    var drivenJoints: [Int] { get }
    /// Draws one task of `steps` steps.
    func sample(steps: Int, rng: inout RandomSource) -> MetaTaskTarget
}

/// The paper's task family (paper-model.md §2.3) for any arm: per driven joint a Brownian angular
/// velocity with increments N(0, (σ·√Δt)²), smoothed by a normalised periodic Hann window (119 zeros in
/// front, the last 119 samples reflected at the end, 'VALID', samples from offset 60), clipped to ±π rad/s,
/// integrated with Δt = 0.01 s from the start angles, clipped to the joint limits, and mapped through the
/// forward kinematics.
///
/// This is MetaLearning's own sampler for the meta-trainer; it follows the same specification as the
/// Spiking helper's `TaskFamily` and is meant to be replaced by it once that lands.
public struct BrownianTaskSampler: MetaTaskSampler {
    public let kinematics: any ForwardKinematics
    public let drivenJoints: [Int]
    /// Lower and upper angle limit of each driven joint, rad.
    public var limits: [ClosedRange<Double>]
    /// Start angles of all joints of `kinematics`, rad.
    public var startAngles: [Double]
    /// Brownian scale σ (0.65 for the Scorbot family).
    public var velocityScale = 0.65
    /// Robot time per step, s (0.01).
    public var secondsPerStep = 0.01
    /// Hann window length (120).
    public var windowLength = 120

    /// A family for `kinematics`, driving `drivenJoints` within `limits`.
    public init(kinematics: any ForwardKinematics, drivenJoints: [Int], limits: [ClosedRange<Double>], startAngles: [Double]? = nil) {
        precondition(limits.count == drivenJoints.count, "one limit per driven joint")
        self.kinematics = kinematics
        self.drivenJoints = drivenJoints
        self.limits = limits
        self.startAngles = startAngles ?? [Double](repeating: 0, count: kinematics.jointCount)
    }

    /// The paper's Scorbot family: base and shoulder, ±130° and ±70°.
    public static var scorbot: BrownianTaskSampler {
        let deg = Double.pi / 180
        return BrownianTaskSampler(kinematics: ScorbotKinematics(), drivenJoints: [0, 1],
                                   limits: [(-130 * deg)...(130 * deg), (-70 * deg)...(70 * deg)])
    }

    public func sample(steps: Int, rng: inout RandomSource) -> MetaTaskTarget {
        let k = drivenJoints.count
        let w = windowLength
        precondition(steps >= w / 2 + 1, "trajectories need at least half a Hann window (\(w / 2 + 1)) of steps")
        // Periodic Hann window, normalised to sum 1.
        var window = (0..<w).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(w)) }
        let total = window.reduce(0, +)
        window = window.map { $0 / total }
        var velocities = [Double](repeating: 0, count: steps * k)
        let sd = velocityScale * secondsPerStep.squareRoot()
        for o in 0..<k {
            var walk = [Double](repeating: 0, count: steps)
            var x = 0.0
            for t in 0..<steps { x += sd * rng.normal(); walk[t] = x }
            var padded = [Double](repeating: 0, count: w - 1)
            padded += walk
            padded += walk.suffix(w - 1).reversed()
            let offset = w / 2
            for t in 0..<steps {
                var s = 0.0
                for i in 0..<w { s += padded[t + offset + i] * window[i] }
                velocities[t * k + o] = min(max(s, -Double.pi), Double.pi)
            }
        }
        var q = startAngles
        var positions = [Double](repeating: 0, count: steps * 3)
        var unclipped = drivenJoints.map { startAngles[$0] }
        for t in 0..<steps {
            for o in 0..<k {
                unclipped[o] += secondsPerStep * velocities[t * k + o]
                q[drivenJoints[o]] = min(max(unclipped[o], limits[o].lowerBound), limits[o].upperBound)
            }
            let p = kinematics.position(q)
            positions[t * 3] = p.x; positions[t * 3 + 1] = p.y; positions[t * 3 + 2] = p.z
        }
        return MetaTaskTarget(velocities: velocities, positions: positions)
    }
}
