import Foundation
import Kinematics
import Tensors
import Trajectories

/// What a person's motion of a whole arm must respect: per joint its limits and top speed, which joints
/// are grippers (they open and close on their own schedule), and the robot's tick.
public struct ArmMotionLimits: Sendable, Equatable {
    /// Angle limits per joint (rad).
    public var jointLimits: [ClosedRange<Double>]
    /// Top speed per joint (rad/s).
    public var maxSpeeds: [Double]
    /// Whether each joint is a gripper.
    public var isGripper: [Bool]
    /// Robot time per tick (s, 0.01 at 100 Hz).
    public var stepSeconds: Double

    /// Limits from their parts (one entry per joint in each array).
    public init(jointLimits: [ClosedRange<Double>], maxSpeeds: [Double], isGripper: [Bool], stepSeconds: Double = 0.01) {
        precondition(jointLimits.count == maxSpeeds.count && maxSpeeds.count == isGripper.count, "one entry per joint")
        self.jointLimits = jointLimits
        self.maxSpeeds = maxSpeeds
        self.isGripper = isGripper
        self.stepSeconds = stepSeconds
    }

    /// Joints.
    public var joints: Int { jointLimits.count }
}

/// Motions like a person's demonstrations of an arm, built from minimum-jerk moves (Flash and Hogan's
/// model of human reaching, s(τ) = 10τ³ − 15τ⁴ + 6τ⁵): coordinated moves of several joints between random
/// waypoints, holds, reach-and-return, the gripper opening and closing on its own schedule; every joint
/// inside its limits (with a margin) and under a fraction of its top speed.
///
/// Two styles share the primitives: `.training` (the meta-training family: one move at a time) and
/// `.demonstration` (the evaluation generator: moves that overlap, as a person blends one reach into the
/// next, with longer holds); they are drawn from different seed streams, so evaluation motions are never
/// seen in training.
public struct HumanMotionGenerator: Sendable {
    /// How moves follow each other.
    public enum Style: String, Sendable {
        /// One move or hold at a time (meta-training).
        case training
        /// Overlapping moves, longer holds (evaluation; demonstrations).
        case demonstration
    }

    /// The arm's limits.
    public var limits: ArmMotionLimits
    /// The style.
    public var style: Style
    /// Fraction of each joint's range kept free at either end (0.05).
    public var margin = 0.05
    /// Peak speed of a move as a fraction of the joint's top speed: drawn in this range per move.
    public var speedFraction: ClosedRange<Double> = 0.15...0.6

    /// A generator for `limits` in `style`.
    public init(limits: ArmMotionLimits, style: Style) {
        self.limits = limits
        self.style = style
    }

    /// The usable range of joint `j` (limits less the margin).
    public func usableRange(_ j: Int) -> ClosedRange<Double> {
        let r = limits.jointLimits[j]
        let m = margin * (r.upperBound - r.lowerBound)
        return (r.lowerBound + m)...(r.upperBound - m)
    }

    /// A random pose inside the usable ranges.
    public func randomPose(_ rng: inout RandomSource) -> [Double] {
        (0..<limits.joints).map { j in
            let r = usableRange(j)
            return r.lowerBound + rng.uniform() * (r.upperBound - r.lowerBound)
        }
    }

    /// The minimum-jerk position profile s(τ), τ ∈ [0, 1].
    @inline(__always)
    public static func minimumJerk(_ tau: Double) -> Double {
        let t = min(max(tau, 0), 1)
        return t * t * t * (10 + t * (-15 + 6 * t))
    }

    /// One minimum-jerk move to add on top of a path: joint deltas from `start` over `duration` ticks.
    struct Move {
        var start: Int
        var duration: Int
        var delta: [Double]
    }

    /// A motion of `ticks` ticks starting at `start` (all joints, rad): positions after each tick,
    /// ticks × joints, row-major. Every position stays inside the joint's limits and every per-tick change
    /// under its top speed.
    public func motion(ticks: Int, from start: [Double], rng: inout RandomSource) -> [Double] {
        let n = limits.joints
        precondition(start.count == n, "one start angle per joint")
        var moves: [Move] = []
        // The arm: a timeline of moves and holds; `planned` is the pose each joint reaches after the moves so far.
        var planned = start
        var t = 0
        let dt = limits.stepSeconds
        let holdRange: ClosedRange<Double> = style == .training ? 0.0...0.6 : 0.2...1.5
        while t < ticks {
            if rng.uniform() < (style == .training ? 0.2 : 0.25) {
                t += Int((holdRange.lowerBound + rng.uniform() * (holdRange.upperBound - holdRange.lowerBound)) / dt)
                continue
            }
            let before = planned
            var goal = planned
            var moved = false
            for j in 0..<n where !limits.isGripper[j] {
                guard rng.uniform() < 0.7 else { continue }
                let r = usableRange(j)
                // A reach of up to half the range, from where the joint is.
                let span = 0.5 * (r.upperBound - r.lowerBound)
                let g = planned[j] + (2 * rng.uniform() - 1) * span
                goal[j] = min(max(g, r.lowerBound), r.upperBound)
                moved = true
            }
            if !moved { continue }
            let duration = moveDuration(from: planned, to: goal, rng: &rng)
            moves.append(Move(start: t, duration: duration, delta: zip(goal, planned).map { $0 - $1 }))
            planned = goal
            // A person blends one reach into the next; training moves follow one another.
            let overlap = style == .demonstration ? Int(Double(duration) * 0.4 * rng.uniform()) : 0
            t += duration - overlap
            if rng.uniform() < 0.25 {
                // Reach and return: a short hold at the goal, then back to where the move started.
                t += overlap + Int((0.1 + 0.4 * rng.uniform()) / dt)
                let back = moveDuration(from: planned, to: before, rng: &rng)
                moves.append(Move(start: t, duration: back, delta: zip(before, planned).map { $0 - $1 }))
                planned = before
                t += back
            }
        }
        // The gripper(s): open and close on their own schedule.
        for j in 0..<n where limits.isGripper[j] {
            var g = start[j]
            var s = Int(rng.uniform() * 1.0 / dt)
            while s < ticks {
                let r = usableRange(j)
                let target = rng.uniform() < 0.5
                    ? (g - r.lowerBound > r.upperBound - g ? r.lowerBound + 0.15 * rng.uniform() * (r.upperBound - r.lowerBound)
                                                           : r.upperBound - 0.15 * rng.uniform() * (r.upperBound - r.lowerBound))
                    : r.lowerBound + rng.uniform() * (r.upperBound - r.lowerBound)
                var pose = [Double](repeating: 0, count: n), goal = pose
                pose[j] = g
                goal[j] = target
                let d = moveDuration(from: pose, to: goal, rng: &rng)
                var delta = [Double](repeating: 0, count: n)
                delta[j] = target - g
                moves.append(Move(start: s, duration: d, delta: delta))
                g = target
                s += d + Int((0.3 + 1.5 * rng.uniform()) / dt)
            }
        }
        // Superpose the moves (each a minimum-jerk ramp of its delta), then keep every joint inside its
        // range and under its speed.
        var q = [Double](repeating: 0, count: ticks * n)
        for k in 0..<ticks { for j in 0..<n { q[k * n + j] = start[j] } }
        for move in moves where move.start < ticks {
            let d = Double(move.duration)
            for k in move.start..<ticks {
                let s = Self.minimumJerk(Double(k + 1 - move.start) / d)
                for j in 0..<n where move.delta[j] != 0 { q[k * n + j] += s * move.delta[j] }
            }
        }
        var previous = start
        for k in 0..<ticks {
            for j in 0..<n {
                let r = limits.jointLimits[j]
                let step = limits.maxSpeeds[j] * dt * 0.95
                var v = min(max(q[k * n + j], r.lowerBound), r.upperBound)
                v = min(max(v, previous[j] - step), previous[j] + step)
                q[k * n + j] = v
                previous[j] = v
            }
        }
        return q
    }

    /// Ticks of a minimum-jerk move from `a` to `b` whose fastest joint peaks (at 1.875·Δ/T) at a random
    /// fraction of its top speed; at least 0.3 s.
    func moveDuration(from a: [Double], to b: [Double], rng: inout RandomSource) -> Int {
        let fraction = speedFraction.lowerBound + rng.uniform() * (speedFraction.upperBound - speedFraction.lowerBound)
        var seconds = 0.3
        for j in 0..<a.count where a[j] != b[j] {
            seconds = max(seconds, 1.875 * abs(b[j] - a[j]) / (fraction * limits.maxSpeeds[j]))
        }
        return max(Int((seconds / limits.stepSeconds).rounded(.up)), 1)
    }
}

/// A target for a whole-arm controller: every joint, in joint space, from any start pose.
public struct WholeArmTarget: Sendable, Equatable {
    /// The trajectory (angles after each tick, velocities, end effector).
    public var trajectory: TargetTrajectory
    /// Angles of all joints before the first tick (rad).
    public var startAngles: [Double]

    /// A target from its parts.
    public init(trajectory: TargetTrajectory, startAngles: [Double]) {
        self.trajectory = trajectory
        self.startAngles = startAngles
    }
}

extension TargetTrajectory {
    /// The trajectory of angles `angles` (ticks × joints, the pose after each tick) from `start`: velocities
    /// by backward difference, ω_t = (q_t − q_{t−1})/Δt with q_{−1} = `start` (so q = q_{−1} + Δt·cumsum(ω)
    /// exactly, the paper's integration), and the end effector through `kinematics`.
    public init(angles: [Double], joints: Int, from start: [Double], stepSeconds: Double, kinematics: any ForwardKinematics) {
        let steps = angles.count / joints
        var omega = [Double](repeating: 0, count: angles.count)
        var ee: [SIMD3<Double>] = []
        ee.reserveCapacity(steps)
        for t in 0..<steps {
            for j in 0..<joints {
                let before = t == 0 ? start[j] : angles[(t - 1) * joints + j]
                omega[t * joints + j] = (angles[t * joints + j] - before) / stepSeconds
            }
            ee.append(kinematics.position(Array(angles[(t * joints)..<((t + 1) * joints)])))
        }
        self.init(steps: steps, joints: joints, angularVelocity: omega, angles: angles, endEffector: ee, stepSeconds: stepSeconds)
    }
}

/// The meta-training family of a whole-arm controller: windows of `steps` ticks cut from human-like motions
/// of every joint (`HumanMotionGenerator`, training style) that start at a random pose and have been going for
/// a random lead-in, so a window may begin mid-move, as a segment of a demonstration does.
public struct WholeArmTaskFamily: Sendable {
    /// The arm's kinematics (for the end-effector path of reports; the loss is in joint space).
    public var kinematics: any ForwardKinematics
    /// The motion generator.
    public var generator: HumanMotionGenerator
    /// Ticks per task (the controller's trial).
    public var steps: Int
    /// Home pose (rad).
    public var home: [Double]

    /// A family for an arm with `limits`, trials of `steps` ticks.
    public init(kinematics: any ForwardKinematics, limits: ArmMotionLimits, home: [Double], steps: Int) {
        precondition(home.count == limits.joints && kinematics.jointCount == limits.joints, "one home angle per joint, kinematics over every joint")
        self.kinematics = kinematics
        generator = HumanMotionGenerator(limits: limits, style: .training)
        self.steps = steps
        self.home = home
    }

    public var anyKinematics: any ForwardKinematics { kinematics }
    public var drivenJoints: [Int] { Array(0..<generator.limits.joints) }
    public var restAngles: [Double] { home }

    /// One task: a window of `steps` ticks and the pose before it.
    public func sample(_ rng: inout RandomSource) -> WholeArmTarget {
        let n = generator.limits.joints
        let origin = generator.randomPose(&rng)
        let lead = Int(rng.uniform() * 200)
        let q = generator.motion(ticks: lead + steps, from: origin, rng: &rng)
        let start = lead == 0 ? origin : Array(q[((lead - 1) * n)..<(lead * n)])
        let window = Array(q[(lead * n)...])
        let trajectory = TargetTrajectory(angles: window, joints: n, from: start, stepSeconds: generator.limits.stepSeconds, kinematics: kinematics)
        return WholeArmTarget(trajectory: trajectory, startAngles: start)
    }
}

/// The evaluation generator: demonstration-like motions of every joint (`HumanMotionGenerator`,
/// demonstration style) of a given length, from a random pose, on a seed stream that meta-training never
/// draws from (`RandomSource(seed:).derived(streamKey)` per motion index).
public struct DemonstrationGenerator: Sendable {
    /// The seed stream's key: training draws `RandomSource(seed:).derived(iteration)` with iterations below
    /// 2^40; evaluation motions come from keys above 2^62.
    public static let streamKey: UInt64 = 0x4000_0000_0000_0000 | 0xDE40
    /// The arm's kinematics.
    public var kinematics: any ForwardKinematics
    /// The motion generator.
    public var generator: HumanMotionGenerator

    /// A generator for an arm with `limits`.
    public init(kinematics: any ForwardKinematics, limits: ArmMotionLimits) {
        self.kinematics = kinematics
        generator = HumanMotionGenerator(limits: limits, style: .demonstration)
    }

    /// Demonstration `index` of seed `seed`: `seconds` long (rounded to ticks), starting at a random pose.
    public func demonstration(seed: UInt64, index: Int, seconds: Double) -> WholeArmTarget {
        var rng = RandomSource(seed: seed).derived(Self.streamKey &+ UInt64(index))
        let n = generator.limits.joints
        let ticks = max(Int((seconds / generator.limits.stepSeconds).rounded()), 1)
        let start = generator.randomPose(&rng)
        let q = generator.motion(ticks: ticks, from: start, rng: &rng)
        return WholeArmTarget(trajectory: TargetTrajectory(angles: q, joints: n, from: start, stepSeconds: generator.limits.stepSeconds,
                                                           kinematics: kinematics),
                              startAngles: start)
    }
}
