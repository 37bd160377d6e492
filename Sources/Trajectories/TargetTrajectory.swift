import Foundation

/// A target trajectory for the driven joints of an arm: angular velocities, angles and the
/// end-effector path, one row per network step (each step is `stepSeconds` of robot time).
public struct TargetTrajectory: Sendable, Equatable {
    /// Number of steps.
    public var steps: Int
    /// Number of driven joints (the trainee's outputs).
    public var joints: Int
    /// Angular velocities ω (rad/s), steps × joints, row-major.
    public var angularVelocity: [Double]
    /// Joint angles q (rad), steps × joints, row-major.
    public var angles: [Double]
    /// End-effector positions (m), one per step.
    public var endEffector: [SIMD3<Double>]
    /// Robot time per step in seconds (0.01 in the paper).
    public var stepSeconds: Double

    /// A trajectory from its parts; the arrays must have `steps × joints` (and `steps`) entries.
    public init(steps: Int, joints: Int, angularVelocity: [Double], angles: [Double], endEffector: [SIMD3<Double>], stepSeconds: Double) {
        precondition(angularVelocity.count == steps * joints && angles.count == steps * joints && endEffector.count == steps,
                     "trajectory arrays do not match \(steps) steps × \(joints) joints")
        self.steps = steps
        self.joints = joints
        self.angularVelocity = angularVelocity
        self.angles = angles
        self.endEffector = endEffector
        self.stepSeconds = stepSeconds
    }
}
