import EngramTestSupport
import Foundation
import Testing
import YAMLCoding
import ServoBus
@testable import Robot

/// The repository's Robots/ and Calibration/ folders.
func repositoryFile(_ relative: String) -> String {
    SharedData.repositoryRoot + "/" + relative
}

/// Expects `text` (named `file`) to fail with exactly `expected`.
func expectDescriptionError(_ text: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let d = try RobotDescription.parse(text, file: "robot.yaml")
        Issue.record("expected an error, loaded \(d.name)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.description == expected, sourceLocation: sourceLocation)
    }
}

private let miniArm = """
    name: mini
    bus: {protocol: feetech-sts, baud: 1_000_000}
    joints:
      - {name: pan, servo_id: 1, servo_model: sts3215, limits_deg: [-90, 90], max_speed_deg_s: 120}
      - {name: lift, servo_id: 2, servo_model: sts3215, limits_deg: [-45, 60], home_deg: 10, max_speed_deg_s: 120}
    controller:
      driven_joints: [pan, lift]
    kinematics:
      type: dh
      links:
        - {joint: pan, a: 0, alpha_deg: 90, d: 0.1, theta_offset_deg: 0}
        - {joint: lift, a: 0.2, alpha_deg: 0, d: 0, theta_offset_deg: 0}
      tool: [0.05, 0, 0]
    """

@Suite struct RobotDescriptionTests {
    @Test func shippedRobotsLoad() throws {
        let scorbot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
        #expect(scorbot.name == "scorbot-er7")
        // The Scorbot has an emulator-only Dynamixel bus (the real ED-Scorbot is not a Dynamixel arm).
        #expect(scorbot.bus == BusDescription(protocol: .dynamixel2, baud: 1_000_000))
        #expect(scorbot.joints.map(\.name) == ["base", "shoulder", "elbow", "wrist"])
        #expect(scorbot.joints[0].limitsDegrees == -130...130)
        #expect(scorbot.joints[1].limitsDegrees == -70...70)
        #expect(scorbot.drivenJointIndices == [0, 1])
        #expect(scorbot.controller.rateHz == 100)

        let so101 = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101/robot.yaml"))
        #expect(so101.bus == BusDescription(protocol: .feetechSTS, baud: 1_000_000))
        #expect(so101.joints.map(\.name) == ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"])
        #expect(so101.joints.allSatisfy { $0.servoModel == .sts3215 })
        #expect(so101.joints.map(\.servoID) == [1, 2, 3, 4, 5, 6])
        #expect(so101.forwardKinematics.jointCount == 6)

        let koch = try RobotDescription.load(fromFileAt: repositoryFile("Robots/koch/robot.yaml"))
        #expect(koch.bus == BusDescription(protocol: .dynamixel2, baud: 1_000_000))
        #expect(koch.joints.map(\.servoModel) == [.xl430W250, .xl430W250, .xl330M288, .xl330M288, .xl330M288, .xl330M288])
        #expect(koch.drivenJointIndices == [0, 1])
    }

    @Test func defaultsAndUnits() throws {
        let d = try RobotDescription.parse(miniArm, file: "robot.yaml")
        #expect(d.controller.rateHz == 100)
        #expect(d.joints[0].homeDegrees == 0)
        #expect(isClose(d.joints[1].homeRadians, 10 * .pi / 180, absolute: 1e-15))
        #expect(isClose(d.joints[1].limitsRadians.upperBound, .pi / 3, absolute: 1e-15))
        #expect(isClose(d.joints[0].maxSpeedRadiansPerSecond, 2 * .pi / 3, absolute: 1e-15))
        // FK of the two-link chain: pan turns the arm about z; at zero the arm lies along x at height d.
        let p = d.forwardKinematics.position([0, 0])
        #expect(isClose(p.x, 0.25, absolute: 1e-12) && isClose(p.y, 0, absolute: 1e-12) && isClose(p.z, 0.1, absolute: 1e-12))
        let q = d.forwardKinematics.position([.pi / 2, .pi / 2])
        #expect(isClose(q.x, 0, absolute: 1e-12) && isClose(q.y, 0, absolute: 1e-12) && isClose(q.z, 0.35, absolute: 1e-12))
    }

    @Test func encodesAndDecodesBack() throws {
        let so101 = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        let json = try JSONEncoder().encode(so101)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["name"] as? String == "so101")
        // JSON is YAML: decode the encoding again and compare kinematics at a pose.
        let again = try YAMLDecoder().decode(RobotDescription.self, from: String(decoding: json, as: UTF8.self))
        let q = [0.3, -0.2, 0.5, 0.1, -0.4, 0]
        let a = so101.forwardKinematics.position(q), b = again.forwardKinematics.position(q)
        #expect(distance(a, b) < 1e-9, "\(a) vs \(b)")
    }

    // MARK: Malformed variants: each error names file:line:column and the key path.

    @Test func badProtocolListsChoices() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "feetech-sts", with: "feetech"),
            "robot.yaml:2:17: bus.protocol: invalid value 'feetech'; did you mean 'feetech-sts'? (allowed: dynamixel2, feetech-sts)")
    }

    @Test func limitsWithThreeNumbers() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "[-45, 60]", with: "[-45, 0, 60]"),
            "robot.yaml:5:65: joints[1].limits_deg: expected 2 numbers [min, max], found 3")
    }

    @Test func limitsReversed() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "[-90, 90]", with: "[90, -90]"),
            "robot.yaml:4:64: joints[0].limits_deg: expected [min, max] with min <= max, found [90.0, -90.0]; swap them")
    }

    @Test func homeOutsideLimits() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "home_deg: 10", with: "home_deg: 70"),
            "robot.yaml:5:86: joints[1].home_deg: home 70.0° lies outside the limits [-45.0, 60.0]; move it inside")
    }

    @Test func duplicateServoID() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "servo_id: 2", with: "servo_id: 1"),
            "robot.yaml:5:28: joints[1].servo_id: servo id 1 is used twice (also joints[0]); give every servo its own id")
    }

    @Test func servoModelOnTheWrongBus() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "servo_id: 2, servo_model: sts3215", with: "servo_id: 2, servo_model: xl430-w250"),
            "robot.yaml:5:44: joints[1].servo_model: servo model xl430-w250 speaks dynamixel2, but the bus is feetech-sts")
    }

    @Test func unknownServoModel() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "servo_id: 2, servo_model: sts3215", with: "servo_id: 2, servo_model: sts3250"),
            "robot.yaml:5:44: joints[1].servo_model: invalid value 'sts3250'; did you mean 'sts3215'? (allowed: xl330-m077, xl330-m288, xl430-w250, sts3215)")
    }

    @Test func drivenJointThatDoesNotExist() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "[pan, lift]", with: "[pan, lfit]"),
            "robot.yaml:7:24: controller.driven_joints[1]: unknown joint 'lfit'; did you mean 'lift'? (joints: pan, lift)")
    }

    @Test func missingDrivenJoints() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "controller:\n  driven_joints: [pan, lift]\n", with: ""),
            "robot.yaml:1:1: controller: controller.driven_joints is missing or empty; name the joints the controller drives (the paper drives two)")
    }

    @Test func misspelledKey() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "max_speed_deg_s: 120}\n  - {name: lift", with: "max_speed_deg: 120}\n  - {name: lift"),
            "robot.yaml:4:5: joints[0]: missing key 'max_speed_deg_s' (found 'max_speed_deg': did you mean 'max_speed_deg_s'?)")
        expectDescriptionError(miniArm + "\nrate_hz: 50\n",
            "robot.yaml:14:1: rate_hz: unknown key 'rate_hz'; remove it or check the spelling")
    }

    @Test func kinematicsLinkWithUnknownJoint() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "{joint: lift", with: "{joint: elbow"),
            "robot.yaml:12:15: kinematics.links[1].joint: unknown joint 'elbow' (joints: pan, lift)")
    }

    @Test func badKinematicsType() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "type: dh", with: "type: urdf"),
            "robot.yaml:9:9: kinematics.type: invalid value 'urdf' (allowed: scorbot, dh)")
    }

    @Test func missingBaud() {
        expectDescriptionError(miniArm.replacingOccurrences(of: ", baud: 1_000_000", with: ""),
            "robot.yaml:2:6: bus: missing key 'baud'; add it")
    }

    @Test func syntaxError() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "joints:\n", with: "joints:\n - oops: [\n"),
            "robot.yaml:5:3: joints[0].oops[0]: YAML syntax error: did not find expected node content (while parsing a flow node at line 5, column 3)")
    }

    @Test func missingFile() {
        do {
            _ = try RobotDescription.load(fromFileAt: "/nonexistent/robot")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/robot: cannot read the file: no such file")
        }
    }
}

/// Largest component of |a − b| (m).
func distance(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double {
    let d = a - b
    return max(abs(d.x), abs(d.y), abs(d.z))
}

/// `controller.loop`: which shipped controller runs by default.
@Suite struct ControllerLoopSettingTests {
    @Test func defaultsToOpenLoopAndParsesClosedLoop() throws {
        #expect(try RobotDescription.parse(miniArm, file: "robot.yaml").controller.loop == .openLoop)
        let closed = miniArm.replacingOccurrences(of: "driven_joints: [pan, lift]", with: "driven_joints: [pan, lift]\n  loop: closed-loop")
        let d = try RobotDescription.parse(closed, file: "robot.yaml")
        #expect(d.controller.loop == .closedLoop)
        #expect(d.controller.loop.checkpointFileName == "controller-closed-loop.safetensors")
        #expect(ControllerLoop.openLoop.checkpointFileName == "controller.safetensors")
    }

    @Test func unknownLoopIsAnErrorAtItsLine() {
        let bad = miniArm.replacingOccurrences(of: "driven_joints: [pan, lift]", with: "driven_joints: [pan, lift]\n  loop: closed")
        do {
            _ = try RobotDescription.parse(bad, file: "robot.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "robot.yaml:8:9: controller.loop: invalid value 'closed'; did you mean 'closed-loop'? (allowed: open-loop, closed-loop)")
        }
    }

    /// Issue 19 item 8: `max_speed_deg_s: 1e308` switched the speed limit off, and limits could be ±1e308.
    @Test func speedAndLimitsAreBounded() {
        expectDescriptionError(miniArm.replacingOccurrences(of: "max_speed_deg_s: 120}", with: "max_speed_deg_s: 1e308}"),
            "robot.yaml:4:92: joints[0].max_speed_deg_s: max speed 1e+308 must be in (0, 3600] degrees per second (hobby and industrial servos turn at most a few hundred); a larger value would switch the speed limit off")
        expectDescriptionError(miniArm.replacingOccurrences(of: "limits_deg: [-90, 90]", with: "limits_deg: [-1e308, 90]"),
            "robot.yaml:4:64: joints[0].limits_deg: limits [-1e+308, 90.0] leave ±3600° (ten turns), beyond any joint Engram drives; give the joint's real range in degrees")
    }
}
