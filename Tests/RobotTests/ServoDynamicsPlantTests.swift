import EngramTestSupport
import Foundation
import ServoBus
import Testing
@testable import Robot

/// `engram sim-serial --disturbance`'s plant against `SimulatedArm.disturbance`: driven with the same goals
/// at the emulator's instruction pattern (a read, then a write, per loop period), the emulated joint moves as
/// the simulated one does.
@Suite struct DisturbedServoPlantTests {
    /// Runs `ticks` loop ticks of a sinusoidal goal on joint 0 (and a slower one on joint 1) through both models
    /// and returns the largest position difference (ticks) and the largest disturbance effect (ticks: how
    /// far the disturbed simulated arm got from an undisturbed one).
    func compare(_ disturbance: ArmDisturbance, ticks: Int = 200) throws -> (difference: Double, effect: Double) {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
        let period = 1 / robot.controller.rateHz
        let arm = SimulatedArm(robot: robot), calm = SimulatedArm(robot: robot)
        arm.disturbance = disturbance
        _ = arm.setTorque(enabled: true); _ = calm.setTorque(enabled: true)
        // offsetTicks 1: the plant's clock starts at the torque write, one period before tick 0's read ends.
        let plant = DisturbedServoPlant(robot: robot, disturbance: disturbance, periodSeconds: period, offsetTicks: 1)
        let calibration = Calibration.uncalibrated(for: robot)
        var states = robot.joints.enumerated().map { k, j in
            var s = ServoPlantState(id: UInt8(j.servoID!), model: j.servoModel!, position: Double(calibration.joints[k].ticks(fromRadians: 0)))
            s.torqueEnabled = true
            return s
        }
        plant.advance(&states, by: 0.1 * period)  // the torque write
        var state = JointState(jointCount: robot.joints.count), calmState = state
        var worst = 0.0, effect = 0.0
        for k in 0..<ticks {
            let time = Double(k) * period
            _ = arm.read(into: &state, time: time, period: period)
            _ = calm.read(into: &calmState, time: time, period: period)
            plant.advance(&states, by: 0.999 * period)  // the read of tick k
            #expect(plant.currentTick == k)
            for j in 0..<2 {
                let simulated = Double(calibration.joints[j].ticks(fromRadians: state.positions[j]))
                worst = max(worst, abs(states[j].position.rounded() - simulated))
                effect = max(effect, abs(state.positions[j] - calmState.positions[j]) / JointCalibration.radiansPerTick)
            }
            let goals = [0.6 * sin(2 * Double.pi * time), 0.3 * sin(Double.pi * time), 0, 0]
            _ = arm.write(goals: goals, time: time, period: period)
            _ = calm.write(goals: goals, time: time, period: period)
            for j in states.indices { states[j].goalPosition = Double(calibration.joints[j].ticks(fromRadians: goals[j])) }
            plant.advance(&states, by: 0.001 * period)  // the write of tick k
        }
        return (worst, effect)
    }

    @Test func pushPayloadAndLatencyMoveTheEmulatedJointAsTheSimulatedArm() throws {
        for disturbance in [ArmDisturbance.none, .push(joint: 0, offsetRadians: -0.25, startTick: 60, ticks: 40),
                            .payload(joint: 1, speedFactor: 0.3, startTick: 70, ticks: 50), .latency(extraTicks: 1, startTick: 60, ticks: 80)] {
            let (difference, effect) = try compare(disturbance)
            #expect(difference <= 2, "\(disturbance): emulated and simulated joints differ by \(difference) ticks")
            if disturbance != .none {
                #expect(effect > 10, "\(disturbance) should move the arm (\(effect) ticks)")
            }
        }
    }

    /// Before torque is switched on there is no window; the clock restarts at every torque-on.
    @Test func windowCountsFromTorqueOn() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
        let plant = DisturbedServoPlant(robot: robot, disturbance: .push(joint: 0, offsetRadians: 0.2, startTick: 0, ticks: 5),
                                        periodSeconds: 0.01, offsetTicks: 20)
        var states = robot.joints.map { ServoPlantState(id: UInt8($0.servoID!), model: $0.servoModel!, position: 2047) }
        plant.advance(&states, by: 1)
        #expect(plant.currentTick == nil && states[0].position == 2047)
        for i in states.indices { states[i].torqueEnabled = true }
        plant.advance(&states, by: 0.2)
        #expect(plant.currentTick == 0)
        let pushed = 2047 + 0.2 / JointCalibration.radiansPerTick
        #expect(abs(states[0].position - pushed) < 0.02 * (pushed - 2047), "settled at the push offset: \(states[0].position)")
        #expect(states[0].load < -0.5, "the servo pulls against the hand: load \(states[0].load)")
        for i in states.indices { states[i].torqueEnabled = false }
        plant.advance(&states, by: 0.5)
        for i in states.indices { states[i].torqueEnabled = true }
        plant.advance(&states, by: 0.05)
        #expect(plant.currentTick == -15)
    }
}
