import Foundation
import Kinematics
import Trajectories

/// The value of the trajectory loss and its two parts.
public struct TrajectoryLossValue: Sendable, Equatable {
    /// 0.5·MSE(ω) + 0.5·MSE(xyz).
    public var total: Double
    /// MSE of the angular velocities (rad²/s²), over steps × joints.
    public var velocity: Double
    /// MSE of the end-effector position (m²), over steps × 3.
    public var endEffector: Double
    /// Mean Euclidean end-effector error (m).
    public var meanEndEffectorError: Double
    /// RMS over steps of the integrated angle error per driven joint (degrees), q̂ − q.
    public var perJointRMSDegrees: [Double] = []

    /// RMS over steps and driven joints of the integrated angle error (degrees).
    public var jointRMSDegrees: Double {
        guard !perJointRMSDegrees.isEmpty else { return 0 }
        return (perJointRMSDegrees.reduce(0) { $0 + $1 * $1 } / Double(perJointRMSDegrees.count)).squareRoot()
    }

    /// A loss value from its parts.
    public init(total: Double, velocity: Double, endEffector: Double, meanEndEffectorError: Double, perJointRMSDegrees: [Double] = []) {
        self.total = total
        self.velocity = velocity
        self.endEffector = endEffector
        self.meanEndEffectorError = meanEndEffectorError
        self.perJointRMSDegrees = perJointRMSDegrees
    }
}

/// The paper's task loss (paper-model.md §2.5, `L2LTraineeLSG.loss`): the output ω̂ is integrated like the
/// targets, q̂ = q0 + dt·cumsum(ω̂) (no joint-limit clip), and
/// L = 0.5·MSE(ω_target, ω̂) + 0.5·MSE(xyz_target, FK(q̂)).
public struct TrajectoryLoss<Kinematics: ForwardKinematics>: Sendable {
    /// The arm's forward kinematics.
    public var kinematics: Kinematics
    /// Indices of the driven joints, in output order.
    public var drivenJoints: [Int]
    /// Angles of all joints at the start (rad).
    public var restAngles: [Double]
    /// Score positions in joint space (a whole-arm controller): the position term is MSE(q̂ − q) over steps ×
    /// driven joints (rad²) instead of the end effector's; the end-effector error is still reported.
    public var jointSpace = false

    /// A loss for the given arm and driven joints.
    public init(kinematics: Kinematics, drivenJoints: [Int], restAngles: [Double]? = nil) {
        self.kinematics = kinematics
        self.drivenJoints = drivenJoints
        self.restAngles = restAngles ?? [Double](repeating: 0, count: kinematics.jointCount)
    }

    /// The loss of the same arm as `family`.
    public init(family: TaskFamily<Kinematics>) {
        self.init(kinematics: family.kinematics, drivenJoints: family.drivenJoints, restAngles: family.restAngles)
    }

    /// The end-effector path that integrating `output` (steps × joints, rad/s) gives.
    public func endEffectorPath(output: [Float], stepSeconds: Double) -> [SIMD3<Double>] {
        let j = drivenJoints.count
        let steps = output.count / j
        var q = restAngles
        var sum = [Double](repeating: 0, count: j)
        var path: [SIMD3<Double>] = []
        path.reserveCapacity(steps)
        for s in 0..<steps {
            for k in 0..<j {
                sum[k] += Double(output[s * j + k])
                q[drivenJoints[k]] = restAngles[drivenJoints[k]] + stepSeconds * sum[k]
            }
            path.append(kinematics.position(q))
        }
        return path
    }

    /// The loss of `output` (steps × joints, rad/s, row-major) against `target`.
    public func evaluate(output: [Float], target: TargetTrajectory) -> TrajectoryLossValue {
        let j = drivenJoints.count
        precondition(target.joints == j && output.count == target.steps * j, "output is not steps × driven joints")
        var velocity = 0.0
        for i in 0..<output.count {
            let d = Double(output[i]) - target.angularVelocity[i]
            velocity += d * d
        }
        velocity /= Double(output.count)
        let path = endEffectorPath(output: output, stepSeconds: target.stepSeconds)
        var position = 0.0, distance = 0.0
        for s in 0..<target.steps {
            let d = path[s] - target.endEffector[s]
            let sq = (d * d).sum()
            position += sq
            distance += sq.squareRoot()
        }
        let steps = Double(max(target.steps, 1))
        position /= 3 * steps
        // The integrated angles against the target's, per driven joint.
        var squared = [Double](repeating: 0, count: j)
        var sum = [Double](repeating: 0, count: j)
        for s in 0..<target.steps {
            for k in 0..<j {
                sum[k] += Double(output[s * j + k])
                let e = restAngles[drivenJoints[k]] + target.stepSeconds * sum[k] - target.angles[s * j + k]
                squared[k] += e * e
            }
        }
        let perJoint = squared.map { ($0 / steps).squareRoot() * 180 / .pi }
        if jointSpace { position = squared.reduce(0, +) / (steps * Double(j)) }
        return TrajectoryLossValue(total: 0.5 * velocity + 0.5 * position, velocity: velocity, endEffector: position,
                                   meanEndEffectorError: distance / steps, perJointRMSDegrees: perJoint)
    }
}
