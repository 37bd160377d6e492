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
    /// How a joint's code value becomes channels.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The paper's binary code: the bits of the value (neighbouring angles may differ in every bit,
        /// as at mid-range, 0x7FFF → 0x8000).
        case binary
        /// The reflected binary (Gray) code of the same value, v ⊕ (v >> 1): neighbouring angles differ in
        /// one channel, so a smooth motion switches one channel at a time. Same channels, same cost.
        case gray
    }

    /// Per output joint, [min, max] of the coded angle (rad): the joint's limits.
    public var jointRanges: [[Double]]
    /// Steps at the start of each segment's trial shared with the end of the previous segment; over these
    /// the command is cross-faded from the old segment's network to the new one's.
    public var handOverSteps: Int
    /// The channel code (binary unless the checkpoint says otherwise).
    public var code: Code = .binary

    /// Settings for joints with the given ranges.
    public init(jointRanges: [ClosedRange<Double>], handOverSteps: Int, code: Code = .binary) {
        self.jointRanges = jointRanges.map { [$0.lowerBound, $0.upperBound] }
        self.handOverSteps = handOverSteps
        self.code = code
    }

    private enum CodingKeys: String, CodingKey { case jointRanges, handOverSteps, code }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jointRanges = try c.decode([[Double]].self, forKey: .jointRanges)
        handOverSteps = try c.decode(Int.self, forKey: .handOverSteps)
        code = try c.decodeIfPresent(Code.self, forKey: .code) ?? .binary
    }

    /// The channel pattern of joint `joint` at angle `q`: `bits` bits of the binary code of the normalised
    /// angle, or of its Gray code.
    @inline(__always)
    public func channels(_ q: Double, joint: Int, bits: Int) -> UInt64 {
        let v = TargetCode(bits: bits).code(normalized(q, joint: joint))
        return code == .gray ? v ^ (v >> 1) : v
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
