import Foundation

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
