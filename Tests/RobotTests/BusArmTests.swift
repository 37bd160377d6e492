import EngramTestSupport
import Foundation
import ServoBus
import Testing
@testable import Robot

/// A robot's emulated bus served on one end of an in-process byte pipe, and a bus on the other end.
final class EmulatedRig {
    let robot: RobotDescription
    let emulator: ServoEmulator
    let thread: EmulatorThread
    let bus: ServoBus

    /// With a `calibration`, the servos hold its offsets in their Homing_Offset registers (a calibrated arm).
    init(robot: RobotDescription, calibration: Calibration? = nil, faults: FaultPlan = FaultPlan(), retry: RetryPolicy = RetryPolicy()) throws {
        self.robot = robot
        emulator = try ServoEmulator.simulating(robot, calibration: calibration, faults: faults)
        let (servoEnd, hostEnd) = try BytePipe.makePair()
        thread = emulator.start(serving: servoEnd)
        bus = ServoBus(transport: hostEnd, protocol: robot.bus!.protocol, servos: [], retryPolicy: retry)
    }

    /// Puts every servo's encoder at `raw` ticks (its reading with the Homing_Offset register at 0) as if
    /// moved by hand; the servo reports `raw` shifted by whatever offset its register holds.
    func place(raw: [Int]) {
        let sign = robot.bus!.protocol == .dynamixel2 ? 1 : -1  // Dynamixel Present = Actual + offset, Feetech − offset
        for (joint, tick) in zip(robot.joints, raw) {
            let id = UInt8(joint.servoID!)
            emulator.setValue(.presentPosition, tick + sign * (emulator.value(.homingOffset, of: id) ?? 0), of: id)
        }
    }

    deinit {
        thread.stop()
        bus.close()
    }
}

func shippedRobot(_ name: String) throws -> RobotDescription {
    try RobotDescription.load(fromFileAt: repositoryFile("Robots/\(name)"))
}

/// An SO-101 calibration with offsets of both signs and both directions; every joint but the gripper has
/// a range that crosses the encoder's 4095 → 0 wrap in raw ticks.
let so101Calibration = """
    robot: so101
    joints:
      - {name: shoulder_pan,  id: 1, homing_offset: -1023, direction: normal,   range_min: 758,  range_max: 3292}
      - {name: shoulder_lift, id: 2, homing_offset: 1390,  direction: reversed, range_min: 812,  range_max: 3210}
      - {name: elbow_flex,    id: 3, homing_offset: -1602, direction: normal,   range_min: 880,  range_max: 3080}
      - {name: wrist_flex,    id: 4, homing_offset: 975,   direction: reversed, range_min: 865,  range_max: 3175}
      - {name: wrist_roll,    id: 5, homing_offset: -355,  direction: normal,   range_min: 151,  range_max: 3917}
      - {name: gripper,       id: 6, homing_offset: 0,     direction: normal,   range_min: 1967, range_max: 3386}
    """

/// The same joints with offsets whose ranges stay inside 0…4095 in raw ticks: servos may keep their
/// Homing_Offset registers at 0 and let the host apply the offsets.
let so101HostOffsetCalibration = """
    robot: so101
    joints:
      - {name: shoulder_pan,  id: 1, homing_offset: -700, direction: normal,   range_min: 758,  range_max: 3292}
      - {name: shoulder_lift, id: 2, homing_offset: 800,  direction: reversed, range_min: 812,  range_max: 3210}
      - {name: elbow_flex,    id: 3, homing_offset: -850, direction: normal,   range_min: 880,  range_max: 3080}
      - {name: wrist_flex,    id: 4, homing_offset: 900,  direction: reversed, range_min: 865,  range_max: 3175}
      - {name: wrist_roll,    id: 5, homing_offset: -150, direction: normal,   range_min: 151,  range_max: 3917}
      - {name: gripper,       id: 6, homing_offset: 0,    direction: normal,   range_min: 1967, range_max: 3386}
    """

@Suite struct BusArmTests {
    @Test func readsAndWritesThroughTheCalibrationOnFeetech() throws {
        let robot = try shippedRobot("so101")
        let calibration = try Calibration.parse(so101HostOffsetCalibration, file: "so101.yaml")
        #expect(calibration.joints.allSatisfy { !$0.rangeCrossesRawWrap })
        let rig = try EmulatedRig(robot: robot)
        let arm = try BusArm(robot: robot, calibration: calibration, bus: rig.bus)
        #expect(arm.servoAppliesOffset == [Bool](repeating: false, count: 6))
        // Raw readings of both signs of offset and direction: angles follow the calibration's formula.
        let raw = [1024, 3437, 445, 3022, 1692, 2500]
        rig.place(raw: raw)
        var state = JointState(jointCount: 6)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)
        for k in 0..<6 {
            let expected = calibration.joints[k].radians(fromTicks: raw[k])
            #expect(abs(state.positions[k] - expected) < 1e-12, "joint \(k): \(state.positions[k]) vs \(expected)")
        }
        // Goals (rad) → Goal_Position register (raw ticks), both directions and offsets, and back.
        let goals = [0.3, -0.4, 0.5, -0.2, 1.0, 0.1]
        #expect(arm.setTorque(enabled: true) == .ok)
        #expect(arm.write(goals: goals, time: 0.01, period: 0.01) == .ok)
        _ = arm.read(into: &state, time: 0.02, period: 0.01)  // the write has no reply; a read orders it
        for k in 0..<6 {
            let register = try #require(rig.emulator.value(.goalPosition, of: UInt8(k + 1)))
            #expect(register == calibration.joints[k].ticks(fromRadians: goals[k]))
            let back = calibration.joints[k].radians(fromTicks: register)
            #expect(abs(back - goals[k]) <= JointCalibration.radiansPerTick / 2 + 1e-12)
        }
    }

    /// A range that crosses the raw wrap with the register at 0 would send the servo the long way round:
    /// refused with the first such joint, its raw span and the fix.
    @Test func wrappingRangeWithoutTheServoOffsetIsRefused() throws {
        let robot = try shippedRobot("so101")
        let calibration = try Calibration.parse(so101Calibration, file: "so101.yaml")
        #expect(calibration.joints.map(\.rangeCrossesRawWrap) == [true, true, true, true, true, false])
        #expect(calibration.joints[1].rawRangeTicks == 2202...4600)
        let rig = try EmulatedRig(robot: robot)
        do {
            _ = try BusArm(robot: robot, calibration: calibration, bus: rig.bus)
            Issue.record("expected the wrapping range to be refused")
        } catch {
            #expect(error.description.hasPrefix("joint 'shoulder_pan' (servo 1): its range 758...3292 with homing_offset -1023 spans raw ticks -265...2269, across the encoder's 4095 → 0 wrap"), "\(error)")
            #expect(error.description.hasSuffix("run `engram calibrate` (it writes the offset into the servo) or write Homing_Offset -1023 into it"), "\(error)")
        }
    }

    /// The same calibration on an arm whose servos hold the offsets (as `engram calibrate`, LeRobot and
    /// `sim-serial` leave them): readings and goals are calibrated ticks, and a goal whose raw image lies past
    /// the wrap moves the servo the short way.
    @Test func wrappingRangeWorksWhenTheServosHoldTheOffsets() throws {
        let robot = try shippedRobot("so101")
        let calibration = try Calibration.parse(so101Calibration, file: "so101.yaml")
        let rig = try EmulatedRig(robot: robot, calibration: calibration)
        let arm = try BusArm(robot: robot, calibration: calibration, bus: rig.bus)
        // The gripper's offset is 0: its register reads 0, the host's conversion is the identity.
        #expect(arm.servoAppliesOffset == [true, true, true, true, true, false])
        for (k, joint) in calibration.joints.enumerated() {
            #expect(rig.emulator.value(.homingOffset, of: UInt8(k + 1)) == joint.homingOffsetTicks)  // Feetech: as is
        }
        var state = JointState(jointCount: 6)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)
        for (k, joint) in robot.joints.enumerated() {
            #expect(abs(state.positions[k] - joint.homeRadians) <= JointCalibration.radiansPerTick / 2 + 1e-12, "\(joint.name)")
        }
        // shoulder_lift (reversed): calibrated 2800 is raw 4190, past the wrap (raw 94 for a servo without the offset).
        let lift = calibration.joints[1]
        let goal = lift.radians(fromCalibratedTicks: 2800)
        #expect(lift.ticks(fromRadians: goal) == 94)
        let startActual = try #require(rig.emulator.plantState(of: 2)).position
        #expect(arm.setTorque(enabled: true) == .ok)
        var goals = state.positions
        goals[1] = goal
        for tick in 1...60 {
            #expect(arm.write(goals: goals, time: Double(tick) * 0.01, period: 0.01) == .ok)
            _ = arm.read(into: &state, time: Double(tick) * 0.01, period: 0.01)
            usleep(2_000)
        }
        #expect(rig.emulator.value(.goalPosition, of: 2) == 2800)
        // The encoder moved up from its start towards raw 4190, never down towards 94.
        let actual = try #require(rig.emulator.plantState(of: 2)).position
        #expect(actual > startActual + 50, "encoder \(startActual) → \(actual)")
    }

    @Test func servoThatAppliesTheOffsetReadsCalibratedTicksOnDynamixel() throws {
        let robot = try shippedRobot("koch")
        let calibration = try Calibration.load(fromFileAt: repositoryFile("Calibration/koch.yaml"))
        let rig = try EmulatedRig(robot: robot)
        // The servos whose ranges cross the raw wrap hold LeRobot's register value (Dynamixel: −homing_offset);
        // the others hold 0 and the host applies their offsets.
        #expect(calibration.joints.map(\.rangeCrossesRawWrap) == [true, true, false, true, false, false])
        for (k, joint) in calibration.joints.enumerated() where joint.rangeCrossesRawWrap {
            rig.emulator.setValue(.homingOffset, joint.servoHomingOffsetRegister(for: .dynamixel2), of: UInt8(k + 1))
        }
        let first = calibration.joints[0]
        let arm = try BusArm(robot: robot, calibration: calibration, bus: rig.bus)
        #expect(arm.servoAppliesOffset == [true, true, false, true, false, false])
        rig.emulator.setValue(.presentPosition, 2500, of: 1)
        var state = JointState(jointCount: 6)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)
        let present = try #require(rig.emulator.value(.presentPosition, of: 1))
        #expect(abs(state.positions[0] - first.radians(fromCalibratedTicks: present)) < 1e-12)
        // The same pose read through the raw path gives the same angle: the servo did what the host would.
        #expect(abs(state.positions[0] - first.radians(fromTicks: present - first.servoHomingOffsetRegister(for: .dynamixel2))) < 1e-12)
        // A register holding neither 0 nor the calibration's value is refused with the joint named.
        rig.emulator.setValue(.homingOffset, 77, of: 2)
        #expect(throws: BusArmError.self) { _ = try BusArm(robot: robot, calibration: calibration, bus: rig.bus) }
        do { _ = try BusArm(robot: robot, calibration: calibration, bus: rig.bus) } catch {
            #expect(error.description.contains("joint 'shoulder_lift' (servo 2) has Homing_Offset 77"))
        }
    }

    @Test func torqueOnHoldsThePresentPose() throws {
        let robot = try shippedRobot("scorbot-er7")
        let rig = try EmulatedRig(robot: robot)
        let arm = try BusArm(robot: robot, calibration: .uncalibrated(for: robot), bus: rig.bus)
        rig.place(raw: [1500, 2600, 2047, 3000])
        #expect(arm.setTorque(enabled: true) == .ok)
        #expect(arm.isTorqueEnabled)
        var state = JointState(jointCount: 4)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)  // sync writes have no reply; a read orders them
        for (k, raw) in [1500, 2600, 2047, 3000].enumerated() {
            #expect(rig.emulator.value(.goalPosition, of: UInt8(k + 1)) == raw)
            #expect(rig.emulator.value(.torqueEnable, of: UInt8(k + 1)) == 1)
            // Return_Delay_Time was set to 0 at connect (torque was off).
            #expect(rig.emulator.value(.returnDelayTime, of: UInt8(k + 1)) == 0)
        }
        #expect(arm.setTorque(enabled: false) == .ok)
        #expect(arm.read(into: &state, time: 0.01, period: 0.01) == .ok)
        #expect(rig.emulator.value(.torqueEnable, of: 1) == 0)
    }

    @Test func busFaultsNameTheJointAndServo() throws {
        let robot = try shippedRobot("scorbot-er7")
        let rig = try EmulatedRig(robot: robot)
        let arm = try BusArm(robot: robot, calibration: .uncalibrated(for: robot), bus: rig.bus)
        rig.emulator.setFaults(ServoFaults(silent: true), for: 3)
        var state = JointState(jointCount: 4)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .error)
        let fault = try #require(arm.lastFault)
        #expect(fault.description.contains("joint 'elbow'"), "\(fault)")
        #expect(fault.description.contains("servo 3"), "\(fault)")
        rig.emulator.setFaults(.none, for: 3)
        #expect(arm.read(into: &state, time: 0.01, period: 0.01) == .ok)
        #expect(arm.lastFault == nil)
        // Goals that are not finite never reach the bus.
        #expect(arm.write(goals: [0, .nan, 0, 0], time: 0, period: 0.01) == .error)
        #expect(arm.lastFault == .nonFiniteGoal(joint: "shoulder"))
        #expect(arm.write(goals: [0, 0], time: 0, period: 0.01) == .error)
        arm.close()
        #expect(arm.read(into: &state, time: 0.02, period: 0.01) == .deactivate)
    }

    @Test func wrongServoModelIsRefused() throws {
        let robot = try shippedRobot("koch")
        var scorbotLike = robot
        scorbotLike.joints[2].servoModel = .xl430W250  // the emulator serves an XL330 there
        let rig = try EmulatedRig(robot: robot)
        let calibration = try Calibration.load(fromFileAt: repositoryFile("Calibration/koch.yaml"))
        do {
            _ = try BusArm(robot: scorbotLike, calibration: calibration, bus: rig.bus)
            Issue.record("expected a model mismatch")
        } catch {
            #expect(error.description == "joint 'elbow_flex' (servo 3) is a xl330-m288, robot.yaml says xl430-w250; fix servo_model or the servo id")
        }
    }

    /// Malformed calibrations on their way to a bus arm: YAML problems carry file:line:column, mismatches
    /// with the robot name the joint and the fix.
    @Test(arguments: [
        ("robot: so101\njoints:\n  - {name: shoulder_pan, id: 1, homing_offset: 0, range_min: 900, range_max: 100}\n",
         "so101.yaml:3:"),
        ("robot: so101\njoints:\n  - {name: shoulder_pan, id: 1, homing_offset: 0, range_min: 0, range_max: 5000}\n",
         "so101.yaml:3:"),
        ("robot: so101\njoints:\n  - {name: shoulder_pan, id: 1, homing_offset: 3000, range_min: 0, range_max: 4095}\n",
         "so101.yaml:3:"),
        ("robot: so101\njoints:\n  - {name: shoulder_pan, id: 1, homing_offset: 0, direction: sideways, range_min: 0, range_max: 4095}\n",
         "so101.yaml:3:"),
        ("robot: so101\njoints:\n  - {name: shoulder_pan, id: 1, homing_offset: zero, range_min: 0, range_max: 4095}\n",
         "so101.yaml:3:"),
        ("robot: so101\njoints:\n  - {name: shoulder_pan, id: 1 homing_offset: 0}\n",
         "so101.yaml:3:"),
    ])
    func malformedCalibrationIsPositioned(text: String, prefix: String) {
        do {
            _ = try Calibration.parse(text, file: "so101.yaml")
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.description.hasPrefix(prefix), "\(error)")
            // file:line:column: the column follows the line.
            let parts = error.description.split(separator: ":")
            #expect(parts.count > 3 && Int(parts[1]) != nil && Int(parts[2]) != nil, "\(error)")
        }
    }

    @Test func calibrationThatDoesNotFitTheRobotIsRefusedByTheArm() throws {
        let robot = try shippedRobot("so101")
        let rig = try EmulatedRig(robot: robot)
        var wrongID = try Calibration.parse(so101Calibration, file: "so101.yaml")
        wrongID.joints[4].servoID = 9
        #expect(throws: BusArmError.self) { _ = try BusArm(robot: robot, calibration: wrongID, bus: rig.bus) }
        do { _ = try BusArm(robot: robot, calibration: wrongID, bus: rig.bus) } catch {
            #expect(error.description == "joint 'wrist_roll': calibration says servo id 9, the description says 5; fix one of them")
        }
        var missing = try Calibration.parse(so101Calibration, file: "so101.yaml")
        missing.joints.removeLast()
        do { _ = try BusArm(robot: robot, calibration: missing, bus: rig.bus); Issue.record("expected an error") } catch {
            #expect(error.description.contains("no entry for joint 'gripper'"))
        }
        let koch = try Calibration.load(fromFileAt: repositoryFile("Calibration/koch.yaml"))
        do { _ = try BusArm(robot: robot, calibration: koch, bus: rig.bus); Issue.record("expected an error") } catch {
            #expect(error.description.contains("calibration is for robot 'koch'"))
        }
    }

    @Test func shippedScorbotCalibrationIsTheIdentity() throws {
        let robot = try shippedRobot("scorbot-er7")
        let shipped = try Calibration.load(fromFileAt: repositoryFile("Calibration/scorbot-er7.yaml"))
        #expect(shipped == Calibration.uncalibrated(for: robot))
    }
}

@Suite struct ServoDynamicsPlantTests {
    /// The emulator's plant and `SimulatedArm` are the same servo model: same parameters per joint, and
    /// stepping both with the same goals gives the same shaft positions bit for bit.
    @Test func plantMatchesSimulatedArm() throws {
        let robot = try shippedRobot("so101")
        let arm = SimulatedArm(robot: robot)
        let plant = ServoDynamicsPlant(robot: robot)
        for (k, joint) in robot.joints.enumerated() {
            #expect(plant.servos[UInt8(joint.servoID!)] == arm.servos[k])
        }
        var states = robot.joints.map { j in
            var s = ServoPlantState(id: UInt8(j.servoID!), model: j.servoModel!, position: arm.states[0].positionTicks)
            s.torqueEnabled = true
            return s
        }
        #expect(arm.setTorque(enabled: true) == .ok)
        var jointState = JointState(jointCount: 6)
        let goals = [0.5, -0.3, 0.2, 0.1, -0.6, 0.4]
        _ = arm.write(goals: goals, time: 0, period: 0.01)
        for k in states.indices { states[k].goalPosition = Double(JointCalibration.homeTicks + Int((goals[k] / JointCalibration.radiansPerTick).rounded())) }
        for _ in 0..<30 {
            _ = arm.read(into: &jointState, time: 0, period: 0.01)
            plant.advance(&states, by: 0.01)
        }
        for k in states.indices {
            #expect(states[k].position == arm.states[k].positionTicks, "joint \(k)")
        }
    }
}
