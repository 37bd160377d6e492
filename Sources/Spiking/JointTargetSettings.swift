import Foundation

/// The target code and time base of a whole-arm controller: one readout per joint of the robot (gripper
/// included), a learning-signal generator that hears the demonstration's joint angles (not the end effector,
/// which does not say where a wrist or a gripper is), and trials that are consecutive segments of a
/// demonstration of any length (docs/whole-arm.md).
///
/// The code is the paper's binary code (paper-model.md §2.2) applied per joint to the angle normalised over
/// the joint's range: c = 2(q − min)/(max − min) − 1 ∈ [−1, 1), coded as the low `codeBits` bits of
/// int((c + 1)·2^(bits−1)). Stored in the checkpoint's architecture, so a controller always runs with the
/// code and segment layout it was trained with; nil for the paper's end-effector-coded controllers.
public struct JointTargetSettings: Sendable, Equatable, Codable {
    /// Per output joint, [min, max] of the coded angle (rad): the joint's limits.
    public var jointRanges: [[Double]]
    /// Steps at the start of each segment's trial shared with the end of the previous segment; over these
    /// the command is cross-faded from the old segment's network to the new one's.
    public var handOverSteps: Int

    /// Settings for joints with the given ranges.
    public init(jointRanges: [ClosedRange<Double>], handOverSteps: Int) {
        self.jointRanges = jointRanges.map { [$0.lowerBound, $0.upperBound] }
        self.handOverSteps = handOverSteps
    }

    /// Joints coded.
    public var joints: Int { jointRanges.count }

    /// The angle `q` of joint `joint` on the code's scale [−1, 1) (clamped: a target is checked against the
    /// limits before it reaches the code).
    @inline(__always)
    public func normalized(_ q: Double, joint: Int) -> Double {
        let r = jointRanges[joint]
        let c = 2 * (q - r[0]) / max(r[1] - r[0], 1e-9) - 1
        return min(max(c, -1), 1 - 0x1p-20)
    }
}
