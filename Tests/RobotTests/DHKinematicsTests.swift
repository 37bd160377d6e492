import EngramTestSupport
import Foundation
import Kinematics
import Tensors
import Testing
@testable import Robot

/// A URDF serial chain evaluated with its own small matrix code (independent of `RigidTransform`):
/// each joint is `origin(xyz, rpy)` then a rotation about its local axis by q.
private struct URDFChain {
    struct Joint { var xyz: [Double]; var rpy: [Double]; var axis: [Double] }
    var joints: [Joint]
    var toolXYZ: [Double]

    typealias M3 = [[Double]]
    static func mul(_ a: M3, _ b: M3) -> M3 {
        (0..<3).map { i in (0..<3).map { j in (0..<3).reduce(0) { $0 + a[i][$1] * b[$1][j] } } }
    }
    static func apply(_ a: M3, _ v: [Double]) -> [Double] {
        (0..<3).map { i in (0..<3).reduce(0) { $0 + a[i][$1] * v[$1] } }
    }
    static func rpy(_ r: Double, _ p: Double, _ y: Double) -> M3 {
        let rx: M3 = [[1, 0, 0], [0, cos(r), -sin(r)], [0, sin(r), cos(r)]]
        let ry: M3 = [[cos(p), 0, sin(p)], [0, 1, 0], [-sin(p), 0, cos(p)]]
        let rz: M3 = [[cos(y), -sin(y), 0], [sin(y), cos(y), 0], [0, 0, 1]]
        return mul(rz, mul(ry, rx))
    }
    static func axisAngle(_ k: [Double], _ q: Double) -> M3 {
        let c = cos(q), s = sin(q), v = 1 - c
        return [
            [c + k[0] * k[0] * v, k[0] * k[1] * v - k[2] * s, k[0] * k[2] * v + k[1] * s],
            [k[1] * k[0] * v + k[2] * s, c + k[1] * k[1] * v, k[1] * k[2] * v - k[0] * s],
            [k[2] * k[0] * v - k[1] * s, k[2] * k[1] * v + k[0] * s, c + k[2] * k[2] * v],
        ]
    }

    func position(_ q: [Double]) -> SIMD3<Double> {
        var r: M3 = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        var t = [0.0, 0, 0]
        for (j, joint) in joints.enumerated() {
            let o = Self.apply(r, joint.xyz)
            t = [t[0] + o[0], t[1] + o[1], t[2] + o[2]]
            r = Self.mul(r, Self.rpy(joint.rpy[0], joint.rpy[1], joint.rpy[2]))
            r = Self.mul(r, Self.axisAngle(joint.axis, q[j]))
        }
        let o = Self.apply(r, toolXYZ)
        return SIMD3(t[0] + o[0], t[1] + o[1], t[2] + o[2])
    }
}

/// TheRobotStudio/SO-ARM100 Simulation/SO101/so101_new_calib.urdf, joints shoulder_pan … wrist_roll and the
/// fixed gripper_frame_joint (its rotation does not move the tool point).
private let so101URDF = URDFChain(joints: [
    .init(xyz: [0.0388353, -8.97657e-09, 0.0624], rpy: [3.14159, 4.18253e-17, -3.14159], axis: [0, 0, 1]),
    .init(xyz: [-0.0303992, -0.0182778, -0.0542], rpy: [-1.5708, -1.5708, 0], axis: [0, 0, 1]),
    .init(xyz: [-0.11257, -0.028, 1.73763e-16], rpy: [-3.63608e-16, 8.74301e-16, 1.5708], axis: [0, 0, 1]),
    .init(xyz: [-0.1349, 0.0052, 3.62355e-17], rpy: [4.02456e-15, 8.67362e-16, -1.5708], axis: [0, 0, 1]),
    .init(xyz: [5.55112e-17, -0.0611, 0.0181], rpy: [1.5708, 0.0486795, 3.14159], axis: [0, 0, 1]),
], toolXYZ: [-0.0079, -0.000218121, -0.0981274])

/// haosulab/ManiSkill mani_skill/assets/robots/koch/follower_arm_v1.1.urdf (fixed base joint folded into joint 1).
private let kochURDF = URDFChain(joints: [
    .init(xyz: [0.005766, -0.040523, 0.038579], rpy: [0, 0, 0], axis: [0, 0, 1]),
    .init(xyz: [0.020713, 0, 0.015368], rpy: [0, 0, 0], axis: [1, 0, 0]),
    .init(xyz: [-0.038026, -0.014951, 0.108424], rpy: [0, 0, 0], axis: [1, 0, 0]),
    .init(xyz: [-0.000251, -0.100502, 0.002641], rpy: [0, 0, 0], axis: [1, 0, 0]),
    .init(xyz: [0.019234, 0.00037, -0.044779], rpy: [0, 0, 0], axis: [0, 0, 1]),
], toolXYZ: [-0.008, 0, -0.065])

@Suite struct DHKinematicsTests {
    @Test func scorbotDescriptionUsesThePaperClosedForm() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
        let fk = robot.forwardKinematics
        #expect(fk.jointCount == 4)
        let reference = ScorbotKinematics()
        var rng = RandomSource(seed: 7)
        for _ in 0..<50 {
            let q = robot.joints.map { rng.uniform($0.limitsRadians.lowerBound, $0.limitsRadians.upperBound) }
            #expect(distance(fk.position(q), reference.position(q)) == 0)  // the same function: bit-identical
        }
        // Known poses, evaluated separately in Python from design/paper-model.md §2.3: at q = 0 the arm is
        // stretched out horizontally, x = a1 + a2 + a3 + a4 = 0.92 m, y = d2 + d3, z = d1.
        let golden: [([Double], SIMD3<Double>)] = [
            ([0, 0, 0, 0], SIMD3(0.92, -0.033, 0.3585)),
            ([0.5, -0.3, 0, 0], SIMD3(0.7574544652475371, -0.4514025599097365, 0.10139742020463466)),
            ([-1.2, 0.9, 0, 0], SIMD3(0.24483849482945275, 0.5386915127905737, 1.0399944113759105)),
        ]
        for (q, expected) in golden {
            #expect(distance(fk.position(q), expected) < 1e-12, "q = \(q): \(fk.position(q)) vs \(expected)")
        }
    }

    @Test func so101ZeroPoseMatchesTheURDFChain() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        let zero = [Double](repeating: 0, count: 6)
        let dh = robot.forwardKinematics.position(zero)
        let urdf = so101URDF.position(Array(zero.prefix(5)))
        // Golden value from a separate numpy evaluation of the same URDF: (0.391361470, -9.21206e-06, 0.226469710) m.
        #expect(distance(urdf, SIMD3(0.391361470, -9.21206311e-06, 0.226469710)) < 1e-8, "\(urdf)")
        #expect(distance(dh, urdf) < 1e-6, "DH \(dh) vs URDF \(urdf)")
    }

    @Test func so101MatchesTheURDFChainEverywhere() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        var rng = RandomSource(seed: 11)
        var worst = 0.0
        for _ in 0..<200 {
            let q = robot.joints.map { rng.uniform($0.limitsRadians.lowerBound, $0.limitsRadians.upperBound) }
            worst = max(worst, distance(robot.forwardKinematics.position(q), so101URDF.position(Array(q.prefix(5)))))
        }
        // The YAML keeps 9 significant digits of each DH parameter: agreement to a micrometre.
        #expect(worst < 1e-6, "worst deviation \(worst) m")
        // The gripper does not move the tool point.
        let a = robot.forwardKinematics.position([0.2, 0.1, 0.3, 0.4, 0.5, 0])
        let b = robot.forwardKinematics.position([0.2, 0.1, 0.3, 0.4, 0.5, 1.2])
        #expect(a == b)  // exact: the gripper angle is never read
    }

    @Test func kochMatchesTheURDFChain() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/koch"))
        let zero = robot.forwardKinematics.position([0, 0, 0, 0, 0, 0])
        #expect(distance(zero, SIMD3(-0.000564, -0.155606, 0.055233)) < 1e-6, "\(zero)")
        var rng = RandomSource(seed: 12)
        var worst = 0.0
        for _ in 0..<200 {
            let q = robot.joints.map { rng.uniform($0.limitsRadians.lowerBound, $0.limitsRadians.upperBound) }
            worst = max(worst, distance(robot.forwardKinematics.position(q), kochURDF.position(Array(q.prefix(5)))))
        }
        #expect(worst < 1e-6, "worst deviation \(worst) m")
    }

    @Test func jacobianMatchesFiniteDifferences() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        guard case .denavitHartenberg(let dh) = robot.kinematics else {
            Issue.record("so101 should use DH kinematics")
            return
        }
        let q = [0.3, -0.4, 0.7, 0.2, -0.6, 0.1]
        let analytic = dh.jacobian(q)
        var qq = q
        let h = 1e-6
        for j in 0..<q.count {
            qq[j] = q[j] + h
            let p = dh.position(qq)
            qq[j] = q[j] - h
            let m = dh.position(qq)
            qq[j] = q[j]
            let numeric = (p - m) / (2 * h)
            #expect(distance(analytic[j], numeric) < 1e-8, "joint \(j): \(analytic[j]) vs \(numeric)")
        }
        #expect(analytic[5] == .zero)  // the gripper has no link
    }

    @Test func rigidTransformBasics() {
        let t = RigidTransform(xyz: SIMD3(1, 2, 3), rollPitchYaw: SIMD3(0, 0, .pi / 2))
        #expect(distance(t.apply(SIMD3(1, 0, 0)), SIMD3(1, 3, 3)) < 1e-15)
        let r = RigidTransform(rotationAbout: SIMD3(0, 0, 1), angle: .pi / 2)
        #expect(distance(r.rotate(SIMD3(1, 0, 0)), SIMD3(0, 1, 0)) < 1e-15)
        let composed = t * r
        #expect(distance(composed.apply(SIMD3(1, 0, 0)), SIMD3(0, 2, 3)) < 1e-15)
    }
}
