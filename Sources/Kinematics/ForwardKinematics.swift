import Foundation

/// Forward kinematics of an arm: joint angles (rad) → end-effector position (m).
///
/// Task families and the meta-training loss use this, so a controller can be meta-trained for any arm
/// that has one: the Scorbot closed form of the paper, or a DH chain from a robot description.
public protocol ForwardKinematics: Sendable {
    /// Number of joint angles `position(_:)` expects (all joints of the arm, driven or not).
    var jointCount: Int { get }
    /// End-effector position (x, y, z) in metres for joint angles `q` in radians.
    func position(_ q: [Double]) -> SIMD3<Double>
    /// ∂(x, y, z)/∂q_j for every joint j (rows: joints), for gradients through the loss.
    func jacobian(_ q: [Double]) -> [SIMD3<Double>]
}

extension ForwardKinematics {
    /// Central finite-difference Jacobian (step 1e-6 rad); arms with a closed form override it.
    public func jacobian(_ q: [Double]) -> [SIMD3<Double>] {
        var rows: [SIMD3<Double>] = []
        var qq = q
        let h = 1e-6
        for j in 0..<q.count {
            qq[j] = q[j] + h
            let p = position(qq)
            qq[j] = q[j] - h
            let m = position(qq)
            qq[j] = q[j]
            rows.append((p - m) / (2 * h))
        }
        return rows
    }
}

/// The Scorbot ER-VII direct kinematics of the paper's code (`module/scorbot.py`), as specified in
/// ../shared/design/paper-model.md §2.3. Joints: base, shoulder, elbow, wrist (rad); the paper drives
/// base and shoulder and leaves elbow and wrist at 0.
public struct ScorbotKinematics: ForwardKinematics {
    public static let d1 = 0.3585, a1 = 0.050, a2 = 0.300, a3 = 0.350, a4 = 0.22, d2 = -0.098, d3 = 0.065
    /// Home offsets of base, shoulder and elbow (degrees).
    public static let homeOffsetsDegrees = (23.6, -22.0, 22.4)
    /// The code's constant angular offsets, as the rationals it writes them in.
    public static let offsetA = 3_745_578_344.0 / 9_093_467_413.0
    public static let offsetB = 3_357_166_075.0 / 8_743_247_601.0
    public static let offsetC = 1_421_104_251.0 / 3_634_967_671.0

    public init() {}

    public var jointCount: Int { 4 }

    public func position(_ q: [Double]) -> SIMD3<Double> {
        let deg = Double.pi / 180
        let q1 = q.count > 0 ? q[0] : 0, q2 = q.count > 1 ? q[1] : 0
        let q3 = q.count > 2 ? q[2] : 0, q4 = q.count > 3 ? q[3] : 0
        let q1p = -(q1 + 23.6 * deg), q2p = -(q2 - 22.0 * deg), q3p = -(q3 + 22.4 * deg)
        let A = q1p + Self.offsetA, B = q2p - Self.offsetB, C = q3p + Self.offsetC
        let cA = cos(A), sA = sin(A), cB = cos(B), sB = sin(B), cC = cos(C), sC = sin(C)
        let c4 = cos(q4), s4 = sin(q4)
        let a1 = Self.a1, a2 = Self.a2, a3 = Self.a3, a4 = Self.a4, d1 = Self.d1, d2 = Self.d2, d3 = Self.d3
        let x = a1 * cA + a2 * cA * cB - a3 * sB * sC * cA + a3 * cA * cB * cC
            + a4 * (-sB * sC * cA + cA * cB * cC) * c4 + a4 * (-sB * cA * cC - sC * cA * cB) * s4
            - d2 * sA - d3 * sA
        let y = a1 * sA + a2 * sA * cB - a3 * sA * sB * sC + a3 * sA * cB * cC
            + a4 * (-sA * sB * sC + sA * cB * cC) * c4 + a4 * (-sA * sB * cC - sA * sC * cB) * s4
            + d2 * cA + d3 * cA
        let z = -a2 * sB - a3 * sB * cC - a3 * sC * cB + a4 * (sB * sC - cB * cC) * s4
            + a4 * (-sB * cC - sC * cB) * c4 + d1
        return SIMD3(x, y, z)
    }

    /// The analytic Jacobian. With D = B + C + q4 and d = d2 + d3 the closed form reduces to
    /// x = cA·R − d·sA, y = sA·R + d·cA, z = d1 − a2·sB − a3·sin(B+C) − a4·sin D, where
    /// R = a1 + a2·cB + a3·cos(B+C) + a4·cos D; and ∂A/∂q1 = ∂B/∂q2 = ∂C/∂q3 = −1, ∂D/∂q4 = 1.
    public func jacobian(_ q: [Double]) -> [SIMD3<Double>] {
        let deg = Double.pi / 180
        let q1 = q.count > 0 ? q[0] : 0, q2 = q.count > 1 ? q[1] : 0
        let q3 = q.count > 2 ? q[2] : 0, q4 = q.count > 3 ? q[3] : 0
        let A = -(q1 + 23.6 * deg) + Self.offsetA, B = -(q2 - 22.0 * deg) - Self.offsetB, C = -(q3 + 22.4 * deg) + Self.offsetC
        let D = B + C + q4, d = Self.d2 + Self.d3
        let cA = cos(A), sA = sin(A)
        let r = Self.a1 + Self.a2 * cos(B) + Self.a3 * cos(B + C) + Self.a4 * cos(D)
        let rB = -Self.a2 * sin(B) - Self.a3 * sin(B + C) - Self.a4 * sin(D)
        let zB = -Self.a2 * cos(B) - Self.a3 * cos(B + C) - Self.a4 * cos(D)
        let rC = -Self.a3 * sin(B + C) - Self.a4 * sin(D)
        let zC = -Self.a3 * cos(B + C) - Self.a4 * cos(D)
        let r4 = -Self.a4 * sin(D), z4 = -Self.a4 * cos(D)
        let rows = [
            SIMD3(sA * r + d * cA, -cA * r + d * sA, 0),
            SIMD3(-cA * rB, -sA * rB, -zB),
            SIMD3(-cA * rC, -sA * rC, -zC),
            SIMD3(cA * r4, sA * r4, z4),
        ]
        return Array(rows.prefix(q.count))
    }
}
