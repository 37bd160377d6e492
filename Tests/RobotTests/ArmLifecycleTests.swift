import EngramTestSupport
import Foundation
import ServoBus
import Testing
@testable import Robot

/// The arm lifecycle (ros2_control's: inactive → active → inactive, finalized by close): goals only reach an
/// active arm, and a transition from the wrong state is an error naming both.
@Suite struct ArmLifecycleTests {
    @Test func simulatedArmFollowsTheLifecycle() throws {
        let arm = SimulatedArm(robot: try shippedRobot("so101"))
        let hold = [Double](repeating: 0, count: 6)
        var state = JointState(jointCount: 6)
        // A new arm is configured and readable, torque off.
        #expect(arm.lifecycleState == .inactive)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)
        // A goal before activation is refused.
        #expect(arm.write(goals: hold, time: 0, period: 0.01) == .error)
        #expect(arm.lastFault == .notActive(.inactive))
        #expect(arm.lastFault?.description == "goals sent to an arm that is inactive; activate it first (torque on)")
        // Deactivating an inactive arm is an error.
        #expect(arm.deactivate() == .error)
        #expect(arm.lastFault == .invalidTransition(.deactivate, from: .inactive))
        // Activate once; twice is an error.
        #expect(arm.activate() == .ok)
        #expect(arm.lifecycleState == .active && arm.isTorqueEnabled)
        #expect(arm.activate() == .error)
        #expect(arm.lastFault == .invalidTransition(.activate, from: .active))
        #expect(arm.lastFault?.description == "cannot activate an arm that is active")
        #expect(arm.activate(holding: hold) == .error)
        #expect(arm.write(goals: hold, time: 0.01, period: 0.01) == .ok)
        // Back to inactive: goals are refused again.
        #expect(arm.deactivate() == .ok)
        #expect(arm.lifecycleState == .inactive)
        #expect(arm.write(goals: hold, time: 0.02, period: 0.01) == .error)
        // The torque switch is idempotent where the transitions are not.
        #expect(arm.setTorque(enabled: false) == .ok)
        #expect(arm.setTorque(enabled: true) == .ok)
        #expect(arm.setTorque(enabled: true) == .ok)
        #expect(arm.lifecycleState == .active)
        // Closed: finalized, every call deactivates.
        arm.close()
        #expect(arm.lifecycleState == .finalized)
        #expect(arm.activate() == .deactivate)
        #expect(arm.deactivate() == .deactivate)
        #expect(arm.write(goals: hold, time: 0.03, period: 0.01) == .deactivate)
        #expect(arm.lastFault == .closed)
    }

    /// Malformed goals are refused as such in any state, before the lifecycle is looked at.
    @Test func malformedGoalsAreNamedBeforeTheLifecycle() throws {
        let arm = SimulatedArm(robot: try shippedRobot("so101"))
        #expect(arm.write(goals: [0, 0], time: 0, period: 0.01) == .error)
        #expect(arm.lastFault == .goalCount(expected: 6, found: 2))
    }

    @Test func busArmFollowsTheLifecycle() throws {
        let robot = try shippedRobot("scorbot-er7")
        let rig = try EmulatedRig(robot: robot)
        let arm = try BusArm(robot: robot, calibration: .uncalibrated(for: robot), bus: rig.bus)
        rig.place(raw: [1500, 2600, 2047, 3000])
        var state = JointState(jointCount: 4)
        #expect(arm.lifecycleState == .inactive)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)
        // A goal before activation never reaches the bus.
        #expect(arm.write(goals: [0.1, 0, 0, 0], time: 0, period: 0.01) == .error)
        #expect(arm.lastFault == .notActive(.inactive))
        #expect(arm.read(into: &state, time: 0.01, period: 0.01) == .ok)  // orders any write before the check
        #expect(rig.emulator.value(.torqueEnable, of: 1) == 0)
        #expect(arm.deactivate() == .error)
        #expect(arm.lastFault == .invalidTransition(.deactivate, from: .inactive))
        // Activation holding given goals writes them, then torque.
        #expect(arm.activate(holding: [0, 0, 0, 0]) == .ok)
        #expect(arm.lifecycleState == .active)
        #expect(arm.activate(holding: [0, 0, 0, 0]) == .error)
        #expect(arm.lastFault == .invalidTransition(.activate, from: .active))
        #expect(arm.activate() == .error)
        #expect(arm.write(goals: [0.1, 0, 0, 0], time: 0.02, period: 0.01) == .ok)
        #expect(arm.read(into: &state, time: 0.03, period: 0.01) == .ok)
        #expect(rig.emulator.value(.torqueEnable, of: 1) == 1)
        #expect(rig.emulator.value(.goalPosition, of: 1) == arm.goalTicks(joint: 0, radians: 0.1))
        #expect(arm.deactivate() == .ok)
        #expect(arm.read(into: &state, time: 0.04, period: 0.01) == .ok)
        #expect(rig.emulator.value(.torqueEnable, of: 1) == 0)
        #expect(arm.lifecycleState == .inactive)
        arm.close()
        #expect(arm.lifecycleState == .finalized)
        #expect(arm.activate() == .deactivate)
    }
}
