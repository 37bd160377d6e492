import EngramTestSupport
import Foundation
import ServoBus
import Testing
@testable import Robot

private func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
}

private let miniCalibration = """
    robot: mini
    joints:
      - {name: pan, id: 1, homing_offset: -100, direction: normal, range_min: 1000, range_max: 3000}
      - {name: lift, id: 2, homing_offset: 250, direction: reversed, range_min: 1200, range_max: 2900}
    """

private func expectCalibrationError(_ text: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let c = try Calibration.parse(text, file: "cal.yaml")
        Issue.record("expected an error, loaded \(c.robot)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.description == expected, sourceLocation: sourceLocation)
    }
}

@Suite struct CalibrationTests {
    @Test func shippedCalibrationsLoadAndFitTheirRobots() throws {
        for arm in ["so101", "koch"] {
            let calibration = try Calibration.load(fromFileAt: repositoryFile("Calibration/\(arm).yaml"))
            let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/\(arm)"))
            #expect(calibration.robot == arm)
            #expect(calibration.joints.count == 6)
            #expect(calibration.mismatch(with: robot) == nil)
        }
        let koch = try Calibration.load(fromFileAt: repositoryFile("Calibration/koch.yaml"))
        #expect(koch.joint(named: "shoulder_lift")?.direction == .reversed)
    }

    @Test func mismatchWithDescriptionIsExplained() throws {
        let calibration = try Calibration.load(fromFileAt: repositoryFile("Calibration/koch.yaml"))
        let so101 = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        #expect(calibration.mismatch(with: so101) == "calibration is for robot 'koch', but the description is 'so101'; pass the matching --calibration file")
        var renamed = calibration
        renamed.robot = "so101"
        renamed.joints[2].servoID = 9
        #expect(renamed.mismatch(with: so101) == "joint 'elbow_flex': calibration says servo id 9, the description says 3; fix one of them")
    }

    @Test func knownConversions() throws {
        let c = JointCalibration(name: "j", servoID: 1, homingOffsetTicks: 1390, rangeMinTicks: 0, rangeMaxTicks: 4095)
        #expect(c.radians(fromTicks: 2047 + 1390) == 0)  // exact: zero ticks from home
        #expect(isClose(c.radians(fromTicks: 2047 + 1390 + 1024), .pi / 2, absolute: 1e-15))
        #expect(isClose(c.radians(fromTicks: 2047 + 1390 - 512), -.pi / 4, absolute: 1e-15))
        // Wrap-around: raw 100 with offset 1390 is calibrated (100 − 1390) mod 4096 = 2806.
        #expect(c.calibratedTicks(fromRawTicks: 100) == 2806)
        #expect(isClose(c.radians(fromTicks: 100), Double(2806 - 2047) * 2 * .pi / 4096, absolute: 1e-15))
        let r = JointCalibration(name: "j", servoID: 1, homingOffsetTicks: -1023, direction: .reversed, rangeMinTicks: 0, rangeMaxTicks: 4095)
        #expect(isClose(r.radians(fromTicks: 2047 - 1023 + 1024), -.pi / 2, absolute: 1e-15))
        #expect(r.ticks(fromRadians: .pi / 2) == 2047 - 1023 - 1024)
        #expect(isClose(r.radiansPerSecond(fromTicksPerSecond: 4096), -2 * .pi, absolute: 1e-12))
    }

    @Test func ticksToRadiansRoundTripsForEveryTick() {
        for offset in [-2048, -1023, 0, 1, 1390, 2048] {
            for direction in DriveDirection.allCases {
                let c = JointCalibration(name: "j", servoID: 1, homingOffsetTicks: offset, direction: direction, rangeMinTicks: 0, rangeMaxTicks: 4095)
                var failures = 0
                for raw in 0..<4096 where c.ticks(fromRadians: c.radians(fromTicks: raw)) != raw {
                    failures += 1
                }
                #expect(failures == 0, "offset \(offset), \(direction): \(failures) ticks did not round-trip")
            }
        }
    }

    @Test func radiansToTicksRoundTripsWithinHalfATick() {
        let halfTick = JointCalibration.radiansPerTick / 2
        for offset in [-1500, 0, 977] {
            for direction in DriveDirection.allCases {
                let c = JointCalibration(name: "j", servoID: 1, homingOffsetTicks: offset, direction: direction, rangeMinTicks: 0, rangeMaxTicks: 4095)
                var worst = 0.0
                var q = -3.0
                while q <= 3.0 {
                    worst = max(worst, abs(c.radians(fromTicks: c.ticks(fromRadians: q)) - q))
                    q += 0.000_37
                }
                #expect(worst <= halfTick + 1e-12, "offset \(offset), \(direction): worst \(worst) rad")
            }
        }
    }

    @Test func rangeInRadians() throws {
        let calibration = try Calibration.parse(miniCalibration, file: "cal.yaml")
        let lift = try #require(calibration.joint(named: "lift"))
        // Reversed: the tick range [1200, 2900] maps to [−(2900 − 2047), −(1200 − 2047)] ticks.
        #expect(isClose(lift.rangeRadians.lowerBound, -853 * JointCalibration.radiansPerTick, absolute: 1e-15))
        #expect(isClose(lift.rangeRadians.upperBound, 847 * JointCalibration.radiansPerTick, absolute: 1e-15))
    }

    @Test func yamlTextRoundTrips() throws {
        let calibration = try Calibration.load(fromFileAt: repositoryFile("Calibration/koch.yaml"))
        let text = calibration.yamlText(comment: "written by a test\nsecond line")
        #expect(text.hasPrefix("# written by a test\n# second line\nrobot: koch\njoints:\n"))
        #expect(try Calibration.parse(text, file: "again.yaml") == calibration)
    }

    // MARK: LeRobot import

    @Test func importsLeRobotFeetechCalibration() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        let imported = try Calibration(importingLeRobotFileAt: fixture("lerobot-so101-follower.json"), for: robot)
        // Feetech offsets keep their sign: the fixture holds the same numbers as Calibration/so101.yaml.
        #expect(imported == (try Calibration.load(fromFileAt: repositoryFile("Calibration/so101.yaml"))))
    }

    @Test func importsLeRobotDynamixelCalibrationWithFlippedOffsets() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/koch"))
        let imported = try Calibration(importingLeRobotFileAt: fixture("lerobot-koch-follower.json"), for: robot)
        // Dynamixel: Present = Actual + offset in LeRobot, so offsets are negated; drive_mode 1 → reversed.
        #expect(imported == (try Calibration.load(fromFileAt: repositoryFile("Calibration/koch.yaml"))))
        #expect(imported.joints.map(\.name) == robot.joints.map(\.name))
        // Writing the register back gives LeRobot's number again.
        #expect(imported.joints[0].servoHomingOffsetRegister(for: .dynamixel2) == 1024)
        #expect(imported.joints[0].servoHomingOffsetRegister(for: .feetechSTS) == -1024)
    }

    @Test func importErrorsNameTheProblem() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        func message(_ json: String) -> String {
            do {
                _ = try Calibration(importingLeRobotJSON: Data(json.utf8), for: robot, file: "cal.json")
                return "no error"
            } catch {
                return error.description
            }
        }
        #expect(message("[1, 2]") == "cal.json: expected a JSON object keyed by motor name, as LeRobot writes it")
        #expect(message("{") .hasPrefix("cal.json: not valid JSON"))
        let full = try String(contentsOfFile: fixture("lerobot-so101-follower.json"), encoding: .utf8)
        #expect(message(full.replacingOccurrences(of: "\"elbow_flex\"", with: "\"elbow\"")) ==
            "cal.json: no motor 'elbow_flex'; did you mean 'elbow'? (the file has: elbow, gripper, shoulder_lift, shoulder_pan, wrist_flex, wrist_roll)")
        #expect(message(full.replacingOccurrences(of: "\"id\": 3", with: "\"id\": 7")) ==
            "cal.json: elbow_flex has id 7, the robot description says 3; fix one of them")
        #expect(message(full.replacingOccurrences(of: "\"range_max\": 3080", with: "\"range_max\": 5000")) ==
            "cal.json: elbow_flex range [880, 5000] is not within 0...4095 with min < max; recalibrate")
        #expect(message(full.replacingOccurrences(of: "\"drive_mode\": 0, \"homing_offset\": 975", with: "\"homing_offset\": 975")) ==
            "cal.json: wrist_flex.drive_mode is missing or not an integer")
    }

    // MARK: Malformed calibration YAML

    @Test func malformedCalibrations() {
        expectCalibrationError(miniCalibration.replacingOccurrences(of: "direction: reversed", with: "direction: reverse"),
            "cal.yaml:4:56: joints[1].direction: invalid value 'reverse'; did you mean 'reversed'? (allowed: normal, reversed)")
        expectCalibrationError(miniCalibration.replacingOccurrences(of: "range_max: 2900", with: "range_max: 1100"),
            "cal.yaml:4:94: joints[1].range_max: range_max (1100) must be greater than range_min (1200); swap them or recalibrate")
        expectCalibrationError(miniCalibration.replacingOccurrences(of: "range_max: 3000", with: "range_max: 4096"),
            "cal.yaml:3:92: joints[0].range_max: 4096 is outside the encoder's 0...4095 ticks")
        expectCalibrationError(miniCalibration.replacingOccurrences(of: "id: 2", with: "id: 1"),
            "cal.yaml:4:22: joints[1].id: servo id 1 appears twice; every joint has its own servo")
        expectCalibrationError(miniCalibration.replacingOccurrences(of: "homing_offset: 250", with: "homing_offset: 3000"),
            "cal.yaml:4:40: joints[1].homing_offset: homing offset 3000 is more than half a turn (±2048 ticks)")
        expectCalibrationError(miniCalibration.replacingOccurrences(of: "homing_offset: 250", with: "homing: 250"),
            "cal.yaml:4:5: joints[1]: missing key 'homing_offset' (found 'homing': did you mean 'homing_offset'?)")
        expectCalibrationError(miniCalibration.replacingOccurrences(of: "id: 2", with: "id: two"),
            "cal.yaml:4:22: joints[1].id: expected an integer, found 'two'")
    }
}

@Suite struct JointLimitTests {
    @Test func limitsIntersectDescriptionAndCalibration() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
        let calibration = try Calibration.load(fromFileAt: repositoryFile("Calibration/so101.yaml"))
        let limits = robot.jointLimitsRadians(calibration: calibration)
        let plain = robot.jointLimitsRadians()
        for j in robot.joints.indices {
            let range = calibration.joints[j].rangeRadians
            #expect(limits[j].lowerBound == max(plain[j].lowerBound, range.lowerBound))
            #expect(limits[j].upperBound == min(plain[j].upperBound, range.upperBound))
        }
        // shoulder_pan: description ±110°, calibrated [758, 3292] ticks = [−113.3°, 109.4°] → [−110°, 109.4°].
        #expect(isClose(limits[0].lowerBound * 180 / .pi, -110, absolute: 1e-12))
        #expect(isClose(limits[0].upperBound * 180 / .pi, Double(3292 - 2047) * 360 / 4096, absolute: 1e-12))
    }

    @Test func uncalibratedCoversTheDescribedLimits() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
        let calibration = Calibration.uncalibrated(for: robot)
        #expect(calibration.mismatch(with: robot) == nil)
        #expect(calibration.joints.map(\.servoID) == [1, 2, 3, 4])
        let base = calibration.joints[0]
        #expect(base.rangeMinTicks == 2047 - 1479 && base.rangeMaxTicks == 2047 + 1479)  // 130° = 1479.1 ticks
        #expect(base.radians(fromTicks: 2047) == 0)
        // Round trip through YAML text.
        #expect(try Calibration.parse(calibration.yamlText(), file: "u.yaml") == calibration)
    }

    /// Issue 19 item 8: a calibration naming a joint the robot does not have was accepted.
    @Test func calibrationWithAJointTheRobotLacksIsRefused() throws {
        let robot = try RobotDescription.parse("""
            name: two
            joints:
              - {name: a, limits_deg: [-90, 90], max_speed_deg_s: 90}
              - {name: b, limits_deg: [-90, 90], max_speed_deg_s: 90}
            controller: {driven_joints: [a, b]}
            kinematics:
              type: dh
              links:
                - {joint: a, a: 0, alpha_deg: 90, d: 0.1, theta_offset_deg: 0}
                - {joint: b, a: 0.2, alpha_deg: 0, d: 0, theta_offset_deg: 0}
            """, file: "robot.yaml")
        let calibration = try Calibration.parse("""
            robot: two
            joints:
              - {name: a, id: 1, homing_offset: 0, direction: normal, range_min: 0, range_max: 4095}
              - {name: b, id: 2, homing_offset: 0, direction: normal, range_min: 0, range_max: 4095}
              - {name: elbow, id: 3, homing_offset: 0, direction: normal, range_min: 0, range_max: 4095}
            """, file: "two.yaml")
        #expect(calibration.mismatch(with: robot) == "joints[2]: calibration names joint 'elbow', which two does not have (joints: a, b); remove the entry or pass the matching --calibration file")
    }
}
