import EngramTestSupport
import Foundation
import Adaptation
import Robot
import Spiking
import Tensors
import Testing
@testable import Control

/// The sign of the closed-loop controller's correction. A push makes a driven joint's servo settle δ off its
/// goal (`ArmDisturbance.push`, compliant); the network, which hears the measured angle and the error
/// (command − measured), should move the goal back: its output ω for the pushed joint, minus the output of the
/// same task undisturbed, has the sign of −δ on average over the window, and the pushed joint ends up nearer
/// its undisturbed path than under the open-loop controller, which hears only the clock and does not react
/// at all (the difference is exactly zero).
@Suite struct ClosedLoopCorrectionTests {
    /// Over `tasks` push tasks: the mean over the windows of (ω_pushed − ω_undisturbed) · sign(δ) for the pushed
    /// joint, and the mean |q_pushed − q_undisturbed| of that joint over the second half of each window (rad).
    func reaction(checkpointFile: String, tasks: Int) throws -> (reaction: Double, deviation: Double) {
        let robot = try RobotDescription.load(fromFileAt: SharedData.repositoryRoot + "/Robots/scorbot-er7")
        let checkpoint = try ControllerCheckpoint(contentsOfFile: SharedData.repositoryRoot + "/Robots/scorbot-er7/" + checkpointFile)
        var settings = RunSettings()
        settings.pcm = .paper
        settings.pacing = .simulated
        settings.watchSignals = false
        var sum = 0.0, count = 0, deviation = 0.0, deviationCount = 0
        for i in 0..<tasks {
            let (target, push, seed) = DisturbanceEvaluation.task(i, kind: .push, robot: robot, steps: checkpoint.architecture.steps, seed: 0)
            guard case .push(let joint, let offset, let start, let ticks) = push else { continue }
            settings.seed = seed
            let session = try RunSession(robot: robot, calibration: nil, checkpoint: checkpoint, target: target, settings: settings)
            func run(_ d: ArmDisturbance) -> RunOutcome {
                let arm = SimulatedArm(robot: robot)
                arm.teleport(to: session.startPose)
                arm.disturbance = d
                return session.run(on: arm)
            }
            let pushed = run(push), free = run(.none)
            let k = checkpoint.architecture.outputs
            let output = robot.drivenJointIndices.firstIndex(of: joint)!
            // Network step s is taken at trial tick s; the window covers ticks start..<start+ticks.
            for s in start..<min(start + ticks, pushed.networkOutputs.count / k) {
                sum += Double(pushed.networkOutputs[s * k + output] - free.networkOutputs[s * k + output]) * (offset > 0 ? 1 : -1)
                count += 1
            }
            let log = (pushed.loop.log, free.loop.log)
            for s in (start + ticks / 2)..<min(start + ticks, log.0.count, log.1.count) {
                deviation += abs(log.0.measured(tick: s, joint: joint) - log.1.measured(tick: s, joint: joint))
                deviationCount += 1
            }
        }
        return (sum / Double(max(count, 1)), deviation / Double(max(deviationCount, 1)))
    }

    /// The shipped controller (session 4, trained under the compliant push): reaction −0.062 rad/s over 12
    /// tasks, pushed joint 0.203 rad off its path in the second half of the window against 0.221 with the
    /// shipped open-loop controller (0.222 with session 1's); session 3's: −0.079 rad/s, 0.197 rad.
    /// The controllers of session 2, trained under a hard hold, followed the push (+0.083 rad/s).
    @Test func closedLoopControllerPullsAPushedJointBack() throws {
        let closed = try reaction(checkpointFile: "controller-closed-loop.safetensors", tasks: 12)
        let open = try reaction(checkpointFile: "controller.safetensors", tasks: 12)
        #expect(closed.reaction != 0, "the closed-loop controller hears the arm: its outputs change under a push")
        #expect(open.deviation > 0.1, "a push of 0.15-0.3 rad moves the joint of the open-loop controller (\(open.deviation) rad)")
        #expect(closed.reaction < 0, "mean reaction during the push \(closed.reaction) rad/s: the network must command the pushed joint back")
        #expect(closed.deviation < open.deviation, "the pushed joint stays \(closed.deviation) rad off its path, \(open.deviation) open loop")
    }

    @Test func openLoopControllerDoesNotReact() throws {
        let open = try reaction(checkpointFile: "controller.safetensors", tasks: 3)
        #expect(open.reaction == 0)
    }
}
