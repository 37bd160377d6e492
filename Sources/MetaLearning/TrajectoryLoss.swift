import Foundation

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

    /// A loss value from its parts.
    public init(total: Double, velocity: Double, endEffector: Double, meanEndEffectorError: Double) {
        self.total = total
        self.velocity = velocity
        self.endEffector = endEffector
        self.meanEndEffectorError = meanEndEffectorError
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
        return TrajectoryLossValue(total: 0.5 * velocity + 0.5 * position, velocity: velocity, endEffector: position,
                                   meanEndEffectorError: distance / steps)
    }
}
