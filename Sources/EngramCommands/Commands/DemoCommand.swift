import Foundation
import Adaptation
import Control
import MetaLearning
import PhaseChange
import Robot
import ServoBus
import Spiking
import Tensors
import Trajectories

/// `engram demo`: the main job on the embedded default.
enum DemoCommand: EngramCommand {
    static let name = "demo"
    static let abstract = "One-shot learning on a simulated arm behind a serial port: before, one update, after"
    static let discussion = """
        Starts an emulated servo bus for the robot on a pseudo-terminal (the robot's real protocol, the
        servo model of the simulated arm), opens it like a real arm, and loads the robot's shipped
        controller. It draws a fresh target from the robot's task family (or reads --target), runs the
        controller as loaded and measures the tracking error, adapts it with ONE natural e-prop update
        written to the changed devices of the PCM crossbar, runs it again through the same serial stack
        and measures again. It prints both errors, the PCM programming and writes a plot.

        Example: engram demo --robot so101 --seed 3 --plot demo.svg
        """
    static let checkpoint = Option<String>("--checkpoint", "file", "Controller", defaultNote: "Robots/<robot>/controller.safetensors")
    static let target = Option<String>("--target", "csv", "Target trajectory", defaultNote: "a fresh task-family sample")
    static let pcm = Option<SynapseMode>("--pcm", "model", "Trainee synapses: ideal weights (off) or a PCM model",
                                         defaultNote: "the model the controller was meta-trained with, else physical")
    static let seed = CommonOptions.seed("Seed of the target and the device noise", default: 1)
    static let plot = Option<String>("--plot", "svg", "Where to write the plot").defaulting(to: "engram-demo.svg")
    static let json = CommonOptions.json

    static let options: [OptionSpec] = [ArmConnection.robot.spec, checkpoint.spec] + RobotFiles.loopOptions
        + [target.spec, pcm.spec, seed.spec, plot.spec, json.spec]
    static let rules = RobotFiles.loopRules

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let seed = arguments[Self.seed]
        let json = arguments[Self.json]
        let (robot, robotDir) = try ArmConnection.loadRobot(arguments)
        let loop = RobotFiles.controllerLoop(arguments)
        if arguments[Self.checkpoint] == nil, loop == nil, let wholeArm = robot.controller.wholeArm,
           arguments[Self.target].map({ WholeArm.coversEveryJoint(fileAt: $0, robot: robot) }) ?? true {
            return try runWholeArm(arguments, robot: robot, robotDir: robotDir, controller: wholeArm, seed: seed, json: json)
        }
        let checkpointPath = try controllerPath(arguments[Self.checkpoint], robot: robot, robotDir: robotDir, loop: loop)
        let checkpoint = try AdaptationSetup.loadCheckpoint(checkpointPath)
        let steps = checkpoint.architecture.steps
        let target: TargetTrajectory
        var targetText: String
        if let path = arguments[Self.target] {
            do { target = try RunSession.loadTarget(fromFileAt: path, robot: robot, steps: steps) } catch { throw RuntimeError("\(error)") }
            targetText = path
        } else {
            var rng = RandomSource(seed: seed)
            target = RunSession.taskFamily(for: robot, steps: steps).sample(&rng)
            targetText = "a fresh sample of the task family (seed \(seed))"
        }
        let settings = demoSettings(arguments, robot: robot, checkpoint: checkpoint, seed: seed)
        let plotPath = arguments[Self.plot]
        let say: (String) -> Void = { if !json { print($0) } }

        let bus = try EmulatedArm(robot: robot, robotDir: robotDir, seed: seed)
        defer { bus.close() }
        let (arm, pty, calibration) = (bus.arm, bus.pty, bus.calibration)
        let servoModels = Set(robot.joints.compactMap { $0.servoModel?.rawValue }).sorted().joined(separator: ", ")
        say("Engram demo: one-shot learning on \(robot.name)")
        say("  arm         emulated \(robot.bus.map { $0.protocol.rawValue } ?? "") bus on \(pty.path) (\(robot.joints.count) × \(servoModels)), driven through BusArm")
        say("  controller  \(checkpointPath)")
        say("  target      \(targetText): \(String(format: "%.2f", Double(steps) * RunSession.stepSeconds)) s of \(robot.controller.drivenJoints.joined(separator: " and "))")

        SignalMonitor.block()
        // Before: the controller as loaded, measured against the target.
        var beforeSettings = settings
        beforeSettings.adapt = false
        let before: RunOutcome
        let after: RunOutcome
        do {
            before = try RunSession(robot: robot, calibration: calibration, checkpoint: checkpoint, target: target, settings: beforeSettings).run(on: arm)
            after = try RunSession(robot: robot, calibration: calibration, checkpoint: checkpoint, target: target, settings: settings).run(on: arm)
        } catch {
            throw RuntimeError("\(error)")
        }
        for outcome in [before, after] where outcome.loop.stoppedOnFault {
            throw RuntimeError("the run stopped: \(outcome.loop.stopReason)")
        }
        guard let tb = before.tracking, let ta = after.tracking, let adaptation = after.adaptation else {
            throw RuntimeError("the runs ended before the trial (\(before.loop.stopReason); \(after.loop.stopReason))")
        }
        let updateDevices = (after.programming?.devicesProgrammed ?? 0) - (before.programming?.devicesProgrammed ?? 0)
        let updatePulses = (after.programming?.pulses ?? 0) - (before.programming?.pulses ?? 0)
        let f1 = { (x: Double) in String(format: "%.1f", x) }
        let f2 = { (x: Double) in String(format: "%.2f", x) }
        say("  before      joint RMS \(f2(tb.jointRMSDegrees))°, end effector mean \(f1(tb.endEffectorMeanMillimetres)) mm")
        var update = "  update      one e-prop update: loss \(String(format: "%.4f", adaptation.lossBefore.total)) → \(String(format: "%.4f", adaptation.lossAfter.total)); "
        update += "W_in \(f1(100 * adaptation.changedInput)) %, W_rec \(f1(100 * adaptation.changedRecurrent)) % changed"
        if settings.pcm != .off { update += "; \(updateDevices) PCM devices programmed, \(updatePulses) pulses (\(settings.pcm.rawValue) model)" }
        say(update)
        let ratio = tb.endEffectorMeanMillimetres / max(ta.endEffectorMeanMillimetres, 1e-9)
        say("  after       joint RMS \(f2(ta.jointRMSDegrees))°, end effector mean \(f1(ta.endEffectorMeanMillimetres)) mm (\(String(format: "%.1f", ratio))× smaller)")

        // The plot: target, before and after (measured).
        var series = RunCommand.plotSeries(outcome: before, robot: robot, target: target).filter { $0.role != .goal }
        if let i = series.firstIndex(where: { $0.role == .measured }) {
            series[i].label = "measured before the update"
            series[i].role = .before
        }
        var afterSeries = RunCommand.plotSeries(outcome: after, robot: robot, target: nil).filter { $0.role == .measured }
        for i in afterSeries.indices { afterSeries[i].label = "measured after one update" }
        series += afterSeries
        let svg = TrajectoryPlot.svg(series, title: "engram demo: \(robot.name), one e-prop update (seed \(seed))")
        do { try svg.write(toFile: plotPath, atomically: true, encoding: .utf8) } catch {
            throw RuntimeError("\(plotPath): cannot write the plot (\(error.localizedDescription))")
        }
        say("  plot        \(plotPath)")
        if json {
            let object: [String: Any] = [
                "robot": robot.name, "seed": Int(seed), "pcm": settings.pcm.rawValue, "checkpoint": checkpointPath,
                "before": ["joint_rms_deg": tb.jointRMSDegrees, "ee_mean_mm": tb.endEffectorMeanMillimetres],
                "after": ["joint_rms_deg": ta.jointRMSDegrees, "ee_mean_mm": ta.endEffectorMeanMillimetres],
                "update": ["loss_before": adaptation.lossBefore.total, "loss_after": adaptation.lossAfter.total,
                           "changed_in": adaptation.changedInput, "changed_rec": adaptation.changedRecurrent,
                           "devices_programmed": updateDevices, "pulses": updatePulses],
                "plot": plotPath,
            ]
            try JSONOutput.print(object)
        } else {
            let other = robot.name == "so101" ? ("koch", "a Koch arm (Dynamixel XL430/XL330 bus)") : ("so101", "an SO-101 (Feetech STS3215 bus)")
            print("""

                Try next (engram is not on your PATH: run it through swift from this folder):
                  swift run -c release engram demo --robot \(other.0)   the same on \(other.1)
                  swift run -c release engram sim-serial --robot \(robotDir)   a virtual arm on a port; then
                  swift run -c release engram run --robot \(robotDir) --port /dev/pts/N --plot run.svg
                  swift run -c release engram record --robot Robots/so101 --port /dev/ttyACM0 --out wave.csv   teach a real arm by hand
                  swift run -c release engram help   everything else
                """)
        }
        return 0
    }

    /// How the demo runs: the robot's rate in real time through the emulated bus, the PCM model the controller
    /// was trained for (or --pcm), seed `seed`.
    static func demoSettings(_ arguments: ParsedArguments, robot: RobotDescription, checkpoint: ControllerCheckpoint, seed: UInt64) -> RunSettings {
        var settings = RunSettings()
        settings.rateHz = robot.controller.rateHz
        settings.pcm = arguments[Self.pcm] ?? SynapseMode.trainedFor(checkpoint)
        settings.seed = seed
        settings.pacing = .realTime
        // The emulator is a thread of this process: on a busy machine it can miss a few ticks in a row.
        // The envelope holds the last goal meanwhile and the controller's clock waits, so be patient
        // (half a second) before calling it a fault.
        settings.failedReadBudget = 50
        return settings
    }

    /// The robot on an emulated bus behind a pseudo-terminal, served by a thread of this process, opened like a
    /// real arm; with the robot's shipped calibration (checked against the description), else the identity.
    final class EmulatedArm {
        let calibration: Calibration
        let pty: PseudoTerminal
        let arm: BusArm
        private let server: EmulatorThread

        init(robot: RobotDescription, robotDir: String, seed: UInt64) throws {
            calibration = try RobotFiles.loadCalibration(ResourceLocator.find("Calibration/\(robot.name).yaml"), robotPath: robotDir,
                                                         robot: robot, required: false) ?? Calibration.uncalibrated(for: robot)
            let emulator: ServoEmulator
            do {
                emulator = try ServoEmulator.simulating(robot, calibration: calibration, seed: seed)
                pty = try PseudoTerminal()
            } catch {
                throw RuntimeError("could not start the emulated arm: \(error)")
            }
            server = emulator.start(serving: pty.master)
            do { arm = try BusArm.open(robot: robot, calibration: calibration, port: pty.path) } catch {
                _ = server.stop()
                throw RuntimeError("could not open the emulated arm on \(pty.path): \(error)")
            }
        }

        func close() {
            arm.close()
            _ = server.stop()
        }
    }

    /// The controller to use: --checkpoint, else the robot's shipped one; for the Scorbot without a
    /// shipped one, an error that says where the paper's official weights are.
    static func controllerPath(_ given: String?, robot: RobotDescription, robotDir: String, loop: ControllerLoop? = nil) throws -> String {
        if let given { return given }
        let shipped = RobotFiles.shippedControllerPath(robotPath: robotDir, robot: robot, loop: loop)
        if FileManager.default.fileExists(atPath: shipped) { return shipped }
        if (loop ?? robot.controller.loop) == .closedLoop {
            throw RuntimeError(RobotFiles.missingControllerMessage(shipped, robotPath: robotDir, robot: robot, loop: loop))
        }
        throw RuntimeError("\(shipped): no shipped controller for \(robot.name) yet; pass --checkpoint <file> (for the Scorbot: ../shared/reference/robot-l2l-official.safetensors) or meta-train one with 'engram meta-train'")
    }
}
