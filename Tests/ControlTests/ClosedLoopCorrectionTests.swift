import EngramTestSupport
import Foundation
import MetaLearning
import Robot
import Spiking
import Tensors
import Testing
@testable import Control

/// The sign of the closed-loop controller's correction: while a push holds a driven joint off its goal by
/// +δ, the network, which hears the error (command − measured), commands that joint back, towards the
/// target: its output ω for the pushed joint, minus the output of the same task undisturbed, has the sign
/// of −δ on average over the window. The open-loop controller, which hears only the clock, does not react
/// at all (the difference is exactly zero).
@Suite struct ClosedLoopCorrectionTests {
    /// Mean over the push windows of (ω_pushed − ω_undisturbed) · sign(δ) for the pushed joint, over `tasks` tasks.
    func reaction(checkpointFile: String, tasks: Int, afterWindow: Bool = false) throws -> Double {
        let robot = try RobotDescription.load(fromFileAt: SharedData.repositoryRoot + "/Robots/scorbot-er7")
        let checkpoint = try ControllerCheckpoint(contentsOfFile: SharedData.repositoryRoot + "/Robots/scorbot-er7/" + checkpointFile)
        var settings = RunSettings()
        settings.pcm = .paper
        settings.pacing = .simulated
        settings.watchSignals = false
        var sum = 0.0, count = 0
        for i in 0..<tasks {
            let (target, push, seed) = DisturbanceEvaluation.task(i, kind: .push, robot: robot, steps: checkpoint.architecture.steps, seed: 0)
            guard case .push(let joint, let offset, let start, let ticks) = push else { continue }
            settings.seed = seed
            let session = try RunSession(robot: robot, calibration: nil, checkpoint: checkpoint, target: target, settings: settings)
            func outputs(_ d: ArmDisturbance) -> [Float] {
                let arm = SimulatedArm(robot: robot)
                arm.teleport(to: session.startPose)
                arm.disturbance = d
                return session.run(on: arm).networkOutputs
            }
            let pushed = outputs(push), free = outputs(.none)
            let k = checkpoint.architecture.outputs
            let output = robot.drivenJointIndices.firstIndex(of: joint)!
            // Network step s is taken at trial tick s; the window covers ticks start..<start+ticks.
            let range = afterWindow ? (start + ticks)..<min(start + ticks + 20, pushed.count / k) : start..<min(start + ticks, pushed.count / k)
            for s in range {
                sum += Double(pushed[s * k + output] - free[s * k + output]) * (offset > 0 ? 1 : -1)
                count += 1
            }
        }
        return sum / Double(max(count, 1))
    }

    /// The shipped closed-loop controllers do not do this yet: they follow the push (their reaction has the
    /// sign of +δ, during the window and in the 20 ticks after it), which is why a push leaves them further
    /// off their undisturbed path than the open-loop controller (see the notes of session 2). Kept as a known
    /// issue so the test reports when a controller gets it right.
    @Test func closedLoopControllerPullsAPushedJointBack() throws {
        let during = try reaction(checkpointFile: "controller-closed-loop.safetensors", tasks: 12)
        let after = try reaction(checkpointFile: "controller-closed-loop.safetensors", tasks: 12, afterWindow: true)
        #expect(during != 0 && after != 0, "the closed-loop controller hears the arm: its outputs change under a push")
        withKnownIssue("the shipped closed-loop controller follows a push instead of pulling the joint back") {
            #expect(during < 0, "mean reaction during the push \(during) rad/s: the network must command the pushed joint back")
            #expect(after < 0, "mean reaction after the push \(after) rad/s")
        }
    }

    @Test func openLoopControllerDoesNotReact() throws {
        let reaction = try reaction(checkpointFile: "controller.safetensors", tasks: 3)
        #expect(reaction == 0)
    }
}
