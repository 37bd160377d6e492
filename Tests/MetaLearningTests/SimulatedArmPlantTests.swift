import EngramTestSupport
import Foundation
import MetaLearning
import Tensors
import Testing
@testable import Robot

/// The plant of closed-loop meta-training is the simulated arm, driven in the control loop's order.
@Suite struct SimulatedArmPlantTests {
    let robot: RobotDescription

    init() throws {
        robot = try RobotDescription.load(fromFileAt: SharedData.repositoryRoot + "/Robots/scorbot-er7")
    }

    /// Runs `ticks` ticks commanding `goal` to both driven joints; returns the measured angles per tick.
    func drive(_ plant: SimulatedArmPlant, start: [Double], goal: [Double], ticks: Int) -> [[Double]] {
        plant.start(angles: start)
        var angles = [Double](repeating: 0, count: start.count)
        var out: [[Double]] = []
        for t in 0..<ticks {
            plant.measure(tick: t, into: &angles)
            out.append(angles)
            plant.command(tick: t, goals: goal)
        }
        return out
    }

    /// Without disturbance the driven joints start where asked and move to a goal with the servo's lag.
    @Test func followsGoalsWithLag() {
        let plant = SimulatedArmPlant(robot: robot, disturbance: .none)
        let path = drive(plant, start: [0.1, -0.2], goal: [0.3, 0.0], ticks: 60)
        #expect(abs(path[0][0] - 0.1) < 0.002 && abs(path[0][1] + 0.2) < 0.002, "start \(path[0])")
        #expect(path[2][0] > 0.1 && path[2][0] < 0.3, "moving after two ticks: \(path[2][0])")
        #expect(abs(path[59][0] - 0.3) < 0.003 && abs(path[59][1]) < 0.003, "settled: \(path[59])")
    }

    /// A push holds a driven joint off its goal during the window, as on `SimulatedArm`, and says so to the
    /// backward pass (`goalShift`, for the tick a measurement integrates).
    @Test func pushHoldsTheJointOffItsGoal() {
        let joint = robot.drivenJointIndices[0]
        let plant = SimulatedArmPlant(robot: robot, disturbance: .push(joint: joint, offsetRadians: 0.2, startTick: 20, ticks: 20))
        let path = drive(plant, start: [0, 0], goal: [0, 0], ticks: 60)
        #expect(abs(path[10][0]) < 0.002)
        #expect(abs(path[38][0] - 0.2) < 0.003, "settled at +0.2 rad during the window: \(path[38][0])")
        #expect(abs(path[59][0]) < 0.01, "back at the goal after the window: \(path[59][0])")
        // A second trial on the same plant sees the push again.
        let again = drive(plant, start: [0, 0], goal: [0, 0], ticks: 39)
        #expect(abs(again[38][0] - 0.2) < 0.003)
        // A goal at −0.2 rad holds it at 0 against the push.
        let resisted = drive(plant, start: [0, 0], goal: [-0.2, 0], ticks: 39)
        #expect(abs(resisted[38][0]) < 0.003, "resisted: \(resisted[38][0])")
        #expect((0..<60).map { plant.goalShift(tick: $0, output: 0) } == (0..<60).map { (20..<40).contains($0) ? 0.2 : 0 })
        #expect((0..<60).allSatisfy { plant.goalShift(tick: $0, output: 1) == 0 })
    }

    /// The loss does not score the arm's velocity while a push moves it (the window and the servo's catch-up
    /// after it); every other tick, and every tick of the other disturbances, is scored.
    @Test func pushTicksAreNotScoredAsTheControllersVelocity() {
        let joint = robot.drivenJointIndices[0]
        let pushed = SimulatedArmPlant(robot: robot, disturbance: .push(joint: joint, offsetRadians: 0.2, startTick: 20, ticks: 20))
        let unscored = (0..<100).filter { !pushed.scoresVelocity(tick: $0) }
        #expect(unscored == Array(19..<(39 + SimulatedArmPlant.pushRecoveryTicks)))
        let slowed = SimulatedArmPlant(robot: robot, disturbance: .payload(joint: joint, speedFactor: 0.3, startTick: 20, ticks: 20))
        #expect((0..<100).allSatisfy { slowed.scoresVelocity(tick: $0) })
    }
}
