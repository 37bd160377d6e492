import Foundation
import MetaLearning
import YAMLCoding

/// A rigid transform (rotation and translation) in metres.
public struct RigidTransform: Sendable, Equatable {
    /// Columns of the rotation matrix: the frame's x, y and z axes expressed in the parent frame.
    public var x: SIMD3<Double>, y: SIMD3<Double>, z: SIMD3<Double>
    /// The frame's origin in the parent frame (m).
    public var translation: SIMD3<Double>

    /// The identity transform.
    public static let identity = RigidTransform(
        x: SIMD3(1, 0, 0), y: SIMD3(0, 1, 0), z: SIMD3(0, 0, 1), translation: .zero)

    /// A transform from rotation columns and a translation.
    public init(x: SIMD3<Double>, y: SIMD3<Double>, z: SIMD3<Double>, translation: SIMD3<Double>) {
        self.x = x
        self.y = y
        self.z = z
        self.translation = translation
    }

    /// URDF's `<origin xyz rpy>`: translation `xyz` (m), then rotation Rz(yaw)·Ry(pitch)·Rx(roll) (rad).
    public init(xyz: SIMD3<Double>, rollPitchYaw rpy: SIMD3<Double>) {
        let (cr, sr) = (cos(rpy.x), sin(rpy.x)), (cp, sp) = (cos(rpy.y), sin(rpy.y)), (cy, sy) = (cos(rpy.z), sin(rpy.z))
        x = SIMD3(cy * cp, sy * cp, -sp)
        y = SIMD3(cy * sp * sr - sy * cr, sy * sp * sr + cy * cr, cp * sr)
        z = SIMD3(cy * sp * cr + sy * sr, sy * sp * cr - cy * sr, cp * cr)
        translation = xyz
    }

    /// A rotation by `angle` (rad) about the unit `axis`, right-handed (Rodrigues).
    public init(rotationAbout axis: SIMD3<Double>, angle: Double) {
        let k = axis / (axis * axis).sum().squareRoot()
        let c = cos(angle), s = sin(angle), v = 1 - c
        x = SIMD3(c + k.x * k.x * v, k.y * k.x * v + k.z * s, k.z * k.x * v - k.y * s)
        y = SIMD3(k.x * k.y * v - k.z * s, c + k.y * k.y * v, k.z * k.y * v + k.x * s)
        z = SIMD3(k.x * k.z * v + k.y * s, k.y * k.z * v - k.x * s, c + k.z * k.z * v)
        translation = .zero
    }

    /// The standard Denavit–Hartenberg link transform Rz(θ)·Tz(d)·Tx(a)·Rx(α).
    public init(dhTheta theta: Double, d: Double, a: Double, alpha: Double) {
        let ct = cos(theta), st = sin(theta), ca = cos(alpha), sa = sin(alpha)
        x = SIMD3(ct, st, 0)
        y = SIMD3(-st * ca, ct * ca, sa)
        z = SIMD3(st * sa, -ct * sa, ca)
        translation = SIMD3(a * ct, a * st, d)
    }

    /// Rotates a vector (no translation).
    public func rotate(_ v: SIMD3<Double>) -> SIMD3<Double> { x * v.x + y * v.y + z * v.z }

    /// Maps a point from this frame to the parent frame.
    public func apply(_ p: SIMD3<Double>) -> SIMD3<Double> { rotate(p) + translation }

    /// `self ∘ other`: first `other`, then `self` (parent ← self ← other).
    public static func * (a: RigidTransform, b: RigidTransform) -> RigidTransform {
        RigidTransform(x: a.rotate(b.x), y: a.rotate(b.y), z: a.rotate(b.z), translation: a.apply(b.translation))
    }
}

/// One link of a standard (distal) Denavit–Hartenberg chain: joint angle about z_{i-1}, then d along
/// z_{i-1}, a along x_i, α about x_i.
public struct DHLink: Sendable, Equatable {
    /// The index (into the robot's joints) of the joint that turns this link.
    public var jointIndex: Int
    /// Link length a along x_i (m).
    public var a: Double
    /// Link twist α about x_i (rad).
    public var alpha: Double
    /// Link offset d along z_{i-1} (m).
    public var d: Double
    /// Constant added to the joint angle: θ = q + thetaOffset (rad).
    public var thetaOffset: Double

    /// A DH link turned by joint `jointIndex`.
    public init(jointIndex: Int, a: Double, alpha: Double, d: Double, thetaOffset: Double) {
        self.jointIndex = jointIndex
        self.a = a
        self.alpha = alpha
        self.d = d
        self.thetaOffset = thetaOffset
    }
}

/// Forward kinematics of a serial arm as a DH chain between a base transform and a tool point.
///
/// `position(q)` = base · Π_i DH(q[jointIndex_i] + θ0_i, d_i, a_i, α_i) · tool. Joints without a link (a
/// gripper) are ignored, so `q` has one entry per robot joint.
public struct DHKinematics: ForwardKinematics, Equatable {
    /// The pose of the chain's frame 0 in the robot's base frame.
    public var base: RigidTransform
    /// The links, base to tip.
    public var links: [DHLink]
    /// The tool point in the last link's frame (m).
    public var tool: SIMD3<Double>
    /// Number of robot joints `position(_:)` expects.
    public let jointCount: Int

    /// A DH chain over `jointCount` robot joints.
    public init(base: RigidTransform = .identity, links: [DHLink], tool: SIMD3<Double>, jointCount: Int) {
        precondition(links.allSatisfy { (0..<jointCount).contains($0.jointIndex) }, "DH link joint index out of range")
        self.base = base
        self.links = links
        self.tool = tool
        self.jointCount = jointCount
    }

    /// The pose of the last link's frame for joint angles `q` (rad); missing angles count as 0.
    public func linkTransform(_ q: [Double]) -> RigidTransform {
        var m = base
        for link in links {
            let angle = link.jointIndex < q.count ? q[link.jointIndex] : 0
            m = m * RigidTransform(dhTheta: angle + link.thetaOffset, d: link.d, a: link.a, alpha: link.alpha)
        }
        return m
    }

    /// The tool point (m) in the base frame for joint angles `q` (rad).
    public func position(_ q: [Double]) -> SIMD3<Double> {
        linkTransform(q).apply(tool)
    }

    /// Geometric Jacobian of the tool point: for a revolute joint, z × (p − o) of the frame it turns about.
    public func jacobian(_ q: [Double]) -> [SIMD3<Double>] {
        var rows = [SIMD3<Double>](repeating: .zero, count: jointCount)
        var frames: [RigidTransform] = []
        frames.reserveCapacity(links.count)
        var m = base
        for link in links {
            frames.append(m)
            let angle = link.jointIndex < q.count ? q[link.jointIndex] : 0
            m = m * RigidTransform(dhTheta: angle + link.thetaOffset, d: link.d, a: link.a, alpha: link.alpha)
        }
        let p = m.apply(tool)
        for (link, frame) in zip(links, frames) {
            let r = p - frame.translation, z = frame.z
            rows[link.jointIndex] += SIMD3(z.y * r.z - z.z * r.y, z.z * r.x - z.x * r.z, z.x * r.y - z.y * r.x)
        }
        return rows
    }
}

/// The forward kinematics a robot description names.
public enum KinematicsModel: Sendable {
    /// The Scorbot ER-VII closed form of the paper (`ScorbotKinematics`); joints base, shoulder, elbow, wrist.
    case scorbot
    /// A DH chain.
    case denavitHartenberg(DHKinematics)

    enum CodingKeys: String, CodingKey {
        case type, base, links, tool
    }

    enum Kind: String, Codable, CaseIterable {
        case scorbot, dh
    }

    struct BasePose: Codable {
        var xyz: [Double]
        var rpyDegrees: [Double]
        enum CodingKeys: String, CodingKey {
            case xyz
            case rpyDegrees = "rpy_deg"
        }
    }

    struct LinkEntry: Codable {
        var joint: String
        var a: Double
        var alphaDegrees: Double
        var d: Double
        var thetaOffsetDegrees: Double
        enum CodingKeys: String, CodingKey {
            case joint, a, d
            case alphaDegrees = "alpha_deg"
            case thetaOffsetDegrees = "theta_offset_deg"
        }
    }

    /// Decodes `{type: scorbot}` or `{type: dh, base: {xyz, rpy_deg}, links: [{joint, a, alpha_deg, d,
    /// theta_offset_deg}], tool: [x, y, z]}`, resolving link joint names against `jointNames`.
    init(from decoder: Decoder, jointNames: [String]) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(Kind.self, forKey: .type) {
        case .scorbot:
            self = .scorbot
        case .dh:
            var base = RigidTransform.identity
            if let pose = try c.decodeIfPresent(BasePose.self, forKey: .base) {
                guard pose.xyz.count == 3, pose.rpyDegrees.count == 3 else {
                    throw DecodingError.dataCorrupted(.init(
                        codingPath: c.codingPath + [CodingKeys.base],
                        debugDescription: "base needs xyz: [x, y, z] (m) and rpy_deg: [roll, pitch, yaw]"))
                }
                let r = pose.rpyDegrees.map { $0 * .pi / 180 }
                base = RigidTransform(xyz: SIMD3(pose.xyz[0], pose.xyz[1], pose.xyz[2]), rollPitchYaw: SIMD3(r[0], r[1], r[2]))
            }
            let entries = try c.decode([LinkEntry].self, forKey: .links)
            if entries.isEmpty {
                throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [CodingKeys.links], debugDescription: "a DH chain needs at least one link"))
            }
            var links: [DHLink] = []
            for (i, e) in entries.enumerated() {
                guard let index = jointNames.firstIndex(of: e.joint) else {
                    let hint = YAMLErrorHint.closest(e.joint, jointNames)
                    throw DecodingError.dataCorrupted(.init(
                        codingPath: c.codingPath + [CodingKeys.links, IndexKey(i), LinkEntry.CodingKeys.joint],
                        debugDescription: "unknown joint '\(e.joint)'\(hint) (joints: \(jointNames.joined(separator: ", ")))"))
                }
                links.append(DHLink(
                    jointIndex: index, a: e.a, alpha: e.alphaDegrees * .pi / 180, d: e.d,
                    thetaOffset: e.thetaOffsetDegrees * .pi / 180))
            }
            let tool = try c.decodeIfPresent([Double].self, forKey: .tool) ?? [0, 0, 0]
            guard tool.count == 3 else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: c.codingPath + [CodingKeys.tool], debugDescription: "expected 3 numbers [x, y, z] (m), found \(tool.count)"))
            }
            self = .denavitHartenberg(DHKinematics(base: base, links: links, tool: SIMD3(tool[0], tool[1], tool[2]), jointCount: jointNames.count))
        }
    }

    func encode(to encoder: Encoder, jointNames: [String]) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .scorbot:
            try c.encode(Kind.scorbot, forKey: .type)
        case .denavitHartenberg(let dh):
            try c.encode(Kind.dh, forKey: .type)
            let b = dh.base
            let rpy = [atan2(b.y.z, b.z.z), asin(-b.x.z), atan2(b.x.y, b.x.x)].map { $0 * 180 / .pi }
            try c.encode(BasePose(xyz: [b.translation.x, b.translation.y, b.translation.z], rpyDegrees: rpy), forKey: .base)
            try c.encode(dh.links.map {
                LinkEntry(joint: jointNames[$0.jointIndex], a: $0.a, alphaDegrees: $0.alpha * 180 / .pi, d: $0.d,
                          thetaOffsetDegrees: $0.thetaOffset * 180 / .pi)
            }, forKey: .links)
            try c.encode([dh.tool.x, dh.tool.y, dh.tool.z], forKey: .tool)
        }
    }
}

/// A did-you-mean fragment for an unknown name.
enum YAMLErrorHint {
    static func closest(_ word: String, _ candidates: [String]) -> String {
        YAMLError.closestMatch(to: word, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }
}
