import Foundation
import Kinematics
import Tensors
import Trajectories

/// The paper's family of target trajectories (paper-model.md §2.3, `BrownianTrajectoriesScorbot`),
/// generic over the arm's forward kinematics and which joints are driven:
///
/// 1. per driven joint, ω is a random walk of `steps` Gaussian increments N(0, (σ·√dt)²) (σ = 0.65,
///    dt = 0.01; the first sample already carries one increment, as `tf.scan` does);
/// 2. smoothed by a normalised periodic Hann window of length 120: 119 zeros in front, the last 119
///    samples reflected at the end, 'VALID' correlation, the `steps` samples from offset 60 kept;
/// 3. clipped to ±`velocityLimit` (π rad/s);
/// 4. integrated: q = q0 + dt·cumsum(ω), 10 ms of robot time per network step;
/// 5. q clipped to the joint limits (ω is not changed);
/// 6. end effector = FK(q), the other joints at `restAngles`.
public struct TaskFamily<Kinematics: ForwardKinematics>: Sendable {
    /// The arm's forward kinematics.
    public var kinematics: Kinematics
    /// Indices (into the kinematics' joints) of the driven joints, in output order.
    public var drivenJoints: [Int]
    /// Angle limits (rad) of each driven joint.
    public var jointLimits: [ClosedRange<Double>]
    /// Angles (rad) of all joints at the start; undriven joints stay there.
    public var restAngles: [Double]
    /// Steps per trajectory (249).
    public var steps: Int
    /// Robot time per step in seconds (0.01).
    public var stepSeconds: Double
    /// Scale σ of the Brownian motion (0.65 rad/s per √s).
    public var brownianScale: Double
    /// Length of the Hann smoothing window in steps (120).
    public var windowLength: Int
    /// Clip of |ω| in rad/s (π).
    public var velocityLimit: Double

    /// A task family; see the properties for units.
    public init(kinematics: Kinematics, drivenJoints: [Int], jointLimits: [ClosedRange<Double>], restAngles: [Double]? = nil,
                steps: Int = 249, stepSeconds: Double = 0.01, brownianScale: Double = 0.65, windowLength: Int = 120,
                velocityLimit: Double = .pi) {
        precondition(drivenJoints.count == jointLimits.count, "one limit per driven joint")
        precondition(drivenJoints.allSatisfy { $0 >= 0 && $0 < kinematics.jointCount }, "driven joint out of range")
        precondition(windowLength >= 2 && windowLength - 1 <= steps, "the window must fit the trajectory")
        self.kinematics = kinematics
        self.drivenJoints = drivenJoints
        self.jointLimits = jointLimits
        self.restAngles = restAngles ?? [Double](repeating: 0, count: kinematics.jointCount)
        self.steps = steps
        self.stepSeconds = stepSeconds
        self.brownianScale = brownianScale
        self.windowLength = windowLength
        self.velocityLimit = velocityLimit
    }

    /// The normalised periodic Hann window (`tf.signal.hann_window(L)` / its sum).
    public var window: [Double] {
        let l = windowLength
        let w = (0..<l).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(l)) }
        let sum = w.reduce(0, +)
        return w.map { $0 / sum }
    }

    /// Smooths one joint's raw walk as the official code does (see the type's step 2).
    public func smooth(_ raw: [Double]) -> [Double] {
        let l = windowLength, t = raw.count
        var padded = [Double](repeating: 0, count: l - 1)
        padded += raw
        padded += raw[(t - (l - 1))...].reversed()
        let w = window
        let start = l / 2
        return (0..<t).map { i in
            var s = 0.0
            for k in 0..<l { s += padded[start + i + k] * w[k] }
            return s
        }
    }

    /// Samples one target trajectory from `rng`.
    public func sample(_ rng: inout RandomSource) -> TargetTrajectory {
        let j = drivenJoints.count
        let increment = brownianScale * stepSeconds.squareRoot()
        var omega = [Double](repeating: 0, count: steps * j)
        // Draw step by step for all joints, like tf.scan over (steps, joints).
        var walk = [Double](repeating: 0, count: j)
        var raw = [[Double]](repeating: [Double](repeating: 0, count: steps), count: j)
        for s in 0..<steps {
            for k in 0..<j {
                walk[k] += increment * rng.normal()
                raw[k][s] = walk[k]
            }
        }
        for k in 0..<j {
            let smoothed = smooth(raw[k])
            for s in 0..<steps { omega[s * j + k] = min(max(smoothed[s], -velocityLimit), velocityLimit) }
        }
        return trajectory(angularVelocity: omega)
    }

    /// The trajectory that follows from angular velocities ω (steps × driven joints): integrated,
    /// clipped to the joint limits, then mapped through the kinematics.
    public func trajectory(angularVelocity omega: [Double]) -> TargetTrajectory {
        let j = drivenJoints.count
        let steps = omega.count / j
        var angles = [Double](repeating: 0, count: steps * j)
        var sum = [Double](repeating: 0, count: j)
        var ee: [SIMD3<Double>] = []
        ee.reserveCapacity(steps)
        var q = restAngles
        for s in 0..<steps {
            for k in 0..<j {
                sum[k] += omega[s * j + k]
                let limits = jointLimits[k]
                let angle = min(max(restAngles[drivenJoints[k]] + stepSeconds * sum[k], limits.lowerBound), limits.upperBound)
                angles[s * j + k] = angle
                q[drivenJoints[k]] = angle
            }
            ee.append(kinematics.position(q))
        }
        return TargetTrajectory(steps: steps, joints: j, angularVelocity: omega, angles: angles, endEffector: ee, stepSeconds: stepSeconds)
    }
}

extension TaskFamily where Kinematics == ScorbotKinematics {
    /// The paper's Scorbot family: base and shoulder driven, limits ±130° and ±70°, 249 steps.
    public static var paperScorbot: TaskFamily<ScorbotKinematics> {
        let deg = Double.pi / 180
        return TaskFamily(kinematics: ScorbotKinematics(), drivenJoints: [0, 1],
                          jointLimits: [(-130 * deg)...(130 * deg), (-70 * deg)...(70 * deg)])
    }
}
