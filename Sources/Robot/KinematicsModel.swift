import Foundation
import Kinematics
import YAMLCoding

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
