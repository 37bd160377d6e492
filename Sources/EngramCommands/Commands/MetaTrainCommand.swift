import Adaptation
@preconcurrency import Foundation
import Control
import Kinematics
import Robot
import MetaLearning
import Spiking
import Tensors

/// `engram meta-train`: meta-trains a controller (the LSG and the trainee's initial weights) by exact
/// BPTT through the one-shot natural e-prop inner loop, with Adam and checkpoints.
enum MetaTrainCommand: EngramCommand {
    static let name = "meta-train"
    static let abstract = "Meta-train a controller (trainee initial weights and learning-signal generator)"
    static let discussion = """
        Each iteration samples --batch tasks from the task family, runs the inner loop (trial 1, learning-signal \
        generator, one e-prop update, trial 2) for each on all cores, and follows the exact gradient of the \
        after-update loss plus the firing-rate regularisers with Adam (learning rate 1.5e-3 × 0.99 every 500 \
        iterations). --pcm paper puts the official PCM noise model in the inner loop, --pcm physical PhaseChange's \
        physical model with drift compensation on the device clock of 'engram adapt' (hardware-aware training; \
        device effects are constants in the gradient, read noise and ADC/DAC are left out); --quantize rounds the update to 1/16 (default: on with \
        PCM, off without). A list such as --pcm off,paper mixes the models over each batch (task b runs under the \
        b-th model in turn), so that one controller learns to adapt both with ideal weights and on PCM. Training starts from the paper's random initialisation, or from --init. A checkpoint \
        (weights, Adam state, iteration, seed, command) is written to --out every --checkpoint-every iterations \
        and at the end; --resume continues from --out, reproducing the uninterrupted run with the same \
        --threads. --iterations counts from the start of the run, so a resumed run stops at the same total. \
        --robot trains for any arm: the same task family on the robot's two driven joints, their limits and its forward kinematics. \
        --closed-loop (with --robot) trains a controller that also hears the arm: per driven joint the measured angle \
        and the tracking error, as spikes of input populations after the clock rows, with the robot's simulated servos \
        in the loop of trial 2 and a random disturbance per task (docs/closed-loop.md). With --init of an open-loop \
        controller the proprioceptive weights start at zero, so training starts from that controller's behaviour. \
        --average-every k also keeps a running mean of the weights, taken every k iterations from --average-from on \
        (stochastic weight averaging: Adam's iterates wander around a minimum, their mean sits nearer its centre); \
        --export-average ships it.
        Example: engram meta-train --task scorbot --iterations 2000 --batch 90 --out scorbot.safetensors --log curve.csv
        """
    static let options: [OptionSpec] = [
        .value("--task", "family", "task family", choices: ["scorbot"]),
        .value("--robot", "dir", "robot description directory: train for its driven joints and kinematics"),
        .value("--iterations", "n", "total meta-iterations of the run"),
        .value("--batch", "b", "tasks per meta-batch (default 90)"),
        .value("--pcm", "model", "PCM model in the inner loop: off, paper or physical; a list such as off,paper mixes them over each batch"),
        .value("--quantize", "on|off", "round the inner update to 1/16 (straight-through)", choices: ["on", "off"]),
        .value("--init", "checkpoint", "start from these weights instead of a random initialisation"),
        .flag("--whole-arm", "with --robot: train a whole-arm controller (one readout per joint, gripper included; joint-space target code; trials of 1.25 s that are segments of a demonstration; docs/whole-arm.md)"),
        .value("--segment-steps", "n", "with --whole-arm, for a new run: ticks per trial (segment) of the controller (default 125, 1.25 s at 100 Hz); the hand-over is a fifth of it"),
        .value("--target-code", "code", "with --whole-arm, for a new run: how the LSG hears each joint's angle: binary (the paper's bits, default) or gray (the Gray code of the same value: one channel changes at a time)", choices: JointTargetSettings.Code.allCases.map(\.rawValue)),
        .value("--inner-learning-rate", "eta", "with --whole-arm, for a new run: the e-prop update's learning rate η (default 1e-3; the paper's two-joint controllers use 1e-4)"),
        .flag("--closed-loop", "train a closed-loop controller (proprioceptive inputs, the simulated arm of --robot in trial 2; docs/closed-loop.md)"),
        .value("--disturbances", "kinds", "closed loop: disturbance kinds drawn per task, from none, push, payload, latency (default: all four)"),
        .value("--seed", "s", "seed of initialisation, tasks and noise (default 0)"),
        .value("--out", "file", "checkpoint to write (safetensors)", alias: "-o"),
        .flag("--resume", "continue the run stored in --out"),
        .value("--checkpoint-every", "k", "iterations between checkpoints (default 50)"),
        .value("--log", "file", "CSV file for the loss curve (appended on --resume)"),
        .value("--threads", "n", "worker threads (default: all cores)"),
        .value("--position-weight", "w", "weight of the position term in the task loss, 0.5·MSE(ω) + 0.5·w·MSE(xyz) (default 1, the paper's)"),
        .value("--after-disturbance-weight", "a", "with --closed-loop: the position term counts a times at the steps after a disturbance window ends (default 1)"),
        .value("--learning-rate", "lr", "Adam's base learning rate (default 1.5e-3, the paper's; ×0.99 every 500 iterations either way)"),
        .value("--average-every", "k", "also keep a running mean of the weights, folded in every k iterations (stochastic weight averaging; kept in --out across --resume; another k restarts it)"),
        .value("--average-from", "i", "with --average-every: the mean covers iterations from i on; an older mean is restarted (default 0)"),
        .value("--export", "file", "instead of training: write the weights of --out (no Adam state; a third of the size) to this file, to ship"),
        .value("--export-average", "file", "instead of training: write the running mean of the weights kept in --out (see --average-every) to this file"),
        .flag("--json", "print the final summary as one JSON object"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        if let export = arguments.string("--export") {
            // A shipping copy: the six weight tensors and the metadata (architecture, training command,
            // iteration), without the Adam moments and RNG state that only --resume needs.
            let source = try arguments.required("--out")
            var checkpoint = try loadController(try loadFile(source))
            checkpoint.metadata[MetaTrainer.Key.averageSpan] = nil  // the span of a mean this copy does not hold
            do { try checkpoint.write(toFile: export) } catch {
                throw RuntimeError("\(export): cannot write the checkpoint (\(error)); check the folder exists and is writable")
            }
            print("meta-train: wrote the weights of \(source) to \(export)")
            return 0
        }
        if let export = arguments.string("--export-average") {
            let source = try arguments.required("--out")
            let averaged: ControllerCheckpoint?
            do { averaged = try MetaTrainer.averagedController(in: try loadFile(source)) } catch let e as CheckpointError { throw RuntimeError(e.description) }
            guard let averaged else {
                throw RuntimeError("\(source): the run keeps no weight average; resume it with --average-every <k> to start one, or ship its weights with --export")
            }
            do { try averaged.write(toFile: export) } catch {
                throw RuntimeError("\(export): cannot write the checkpoint (\(error)); check the folder exists and is writable")
            }
            print("meta-train: wrote the \(averaged.metadata[MetaTrainer.Key.averaged] ?? "weight average") of \(source) to \(export)")
            return 0
        }
        if arguments.has("--robot") && arguments.has("--task") {
            throw UsageError("give --task scorbot or --robot <dir>, not both")
        }
        guard arguments.has("--task") || arguments.has("--robot") else {
            throw UsageError("missing --task <family> or --robot <dir>: what to train for; use --task scorbot (the paper's family) or --robot Robots/so101")
        }
        let iterations = try arguments.int("--iterations", in: 1...10_000_000)
        guard let iterations else { throw UsageError("missing --iterations <n>: total meta-iterations of the run") }
        let batch = try arguments.int("--batch", default: 90, in: 1...100_000)!
        let threads = try arguments.int("--threads", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256)!
        let every = try arguments.int("--checkpoint-every", default: 50, in: 1...10_000_000)!
        let seed = try arguments.seed()
        let out = try arguments.required("--out")
        let directory = (out as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !directory.isEmpty, !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw UsageError("--out <file>: the directory '\(directory)' does not exist; create it or choose another path")
        }
        let pcmNames = (arguments.string("--pcm") ?? "off").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var pcmModes: [MetaPCMMode] = []
        for name in pcmNames {
            guard let mode = MetaPCMMode(rawValue: name) else {
                throw UsageError("--pcm: '\(name)' is not a PCM model; use off, paper or physical, or a comma-separated list of them such as off,paper")
            }
            pcmModes.append(mode)
        }
        guard pcmModes.count <= batch else {
            throw UsageError("--pcm: \(pcmModes.count) models for a batch of \(batch) tasks; give at most --batch models")
        }
        let quantizeChoice = arguments.string("--quantize")

        // The paper's Scorbot family, or the same family (Brownian velocities, Hann smoothing, limits) on
        // the driven joints of any robot description, through its forward kinematics.
        var family: any MetaTaskSampler = TaskFamily<ScorbotKinematics>.paperScorbot
        var familySteps = 0, familyOutputs = 0
        var familyName = "scorbot"
        var closedLoopArm: ClosedLoopArm? = nil
        var proprioception: ProprioceptionSettings? = nil
        var wholeArm: ControllerArchitecture? = nil
        if let robotPath = arguments.string("--robot") {
            let dir = ResourceLocator.robotDirectory(robotPath) ?? robotPath
            let robot = try RobotFiles.loadRobot(dir)
            let f = RunSession.taskFamily(for: robot)
            if arguments.has("--whole-arm") {
                if arguments.has("--closed-loop") { throw UsageError("--whole-arm and --closed-loop: a whole-arm controller is open-loop; choose one") }
                let w = WholeArm.taskFamily(for: robot)
                wholeArm = WholeArm.architecture(for: robot)
                family = w
                familySteps = w.steps
                familyOutputs = w.drivenJoints.count
                familyName = robot.name + " whole-arm"
            } else if arguments.has("--closed-loop") || arguments.has("--resume") {
                var kinds: [ArmDisturbance.Kind] = []
                for name in (arguments.string("--disturbances") ?? "none,push,payload,latency").split(separator: ",") {
                    guard let kind = ArmDisturbance.Kind(rawValue: String(name)) else {
                        throw UsageError("--disturbances: '\(name)' is not a disturbance; use a list of none, push, payload, latency")
                    }
                    kinds.append(kind)
                }
                closedLoopArm = SimulatedArmPlant.trainingArm(robot: robot, kinds: kinds, steps: f.steps)
                proprioception = ProprioceptionSettings(jointRanges: f.jointLimits)
            }
            if wholeArm == nil {
                family = f
                familySteps = f.steps
                familyOutputs = f.drivenJoints.count
                familyName = robot.name
            }
        } else {
            if arguments.has("--whole-arm") { throw UsageError("--whole-arm needs --robot <dir>: the arm whose joints the controller drives") }
            if arguments.has("--closed-loop") {
                throw UsageError("--closed-loop needs --robot <dir>: the arm whose simulated servos are in the loop (e.g. --robot Robots/scorbot-er7)")
            }
            guard arguments.string("--task") == "scorbot" else {
                throw UsageError("--task <family>: '\(arguments.string("--task") ?? "")' is not a task family; use scorbot, or --robot <dir> for another arm")
            }
            let f = TaskFamily<ScorbotKinematics>.paperScorbot
            family = f
            familySteps = f.steps
            familyOutputs = f.drivenJoints.count
        }
        var configuration = MetaTrainingConfiguration()
        configuration.batchSize = batch
        configuration.threads = threads
        configuration.seed = seed
        let optionSets = pcmModes.map { mode -> MetaGradientOptions in
            var o = MetaGradientOptions()
            o.pcm = mode
            o.quantizeUpdate = (quantizeChoice ?? (mode == .off ? "off" : "on")) == "on"
            return o
        }
        configuration.options = optionSets[0]
        configuration.mixedOptions = Array(optionSets.dropFirst())
        configuration.group = arguments.group
        configuration.command = ([arguments.program] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        configuration.robot = familyName == "scorbot" ? "scorbot-er7" : familyName.replacingOccurrences(of: " whole-arm", with: "")
        if wholeArm != nil {
            // Joint errors in rad² are small against velocity errors in (rad/s)²: weigh positions up.
            configuration.options.positionWeight = 20
            for i in configuration.mixedOptions.indices { configuration.mixedOptions[i].positionWeight = 20 }
        }
        if let text = arguments.string("--position-weight") {
            guard let w = Double(text), w > 0, w.isFinite else {
                throw UsageError("--position-weight: '\(text)' is not a weight; give a positive number, e.g. 10")
            }
            configuration.options.positionWeight = w
            for i in configuration.mixedOptions.indices { configuration.mixedOptions[i].positionWeight = w }
        }
        if let text = arguments.string("--after-disturbance-weight") {
            guard arguments.has("--closed-loop") else {
                throw UsageError("--after-disturbance-weight weighs recovery from the arm's disturbances; it needs --closed-loop")
            }
            guard let a = Double(text), a >= 1, a.isFinite else {
                throw UsageError("--after-disturbance-weight: '\(text)' is not a weight; give a number of at least 1, e.g. 3")
            }
            configuration.options.afterDisturbanceWeight = a
            for i in configuration.mixedOptions.indices { configuration.mixedOptions[i].afterDisturbanceWeight = a }
        }
        if let text = arguments.string("--learning-rate") {
            guard let lr = Double(text), lr > 0, lr < 1 else {
                throw UsageError("--learning-rate: '\(text)' is not a learning rate; give a number between 0 and 1, e.g. 5e-4")
            }
            configuration.adam.learningRate = lr
        }
        configuration.averageEvery = try arguments.int("--average-every", in: 1...10_000_000)
        if let from = try arguments.int("--average-from", in: 0...100_000_000) {
            guard configuration.averageEvery != nil else {
                throw UsageError("--average-from sets where the weight average starts; it needs --average-every <k>")
            }
            configuration.averageFrom = from
        }

        var initial: MetaParameters<Float>
        var state: MetaTrainingState? = nil
        if arguments.has("--resume") {
            guard FileManager.default.fileExists(atPath: out) else {
                throw RuntimeError("\(out): no checkpoint to resume; run without --resume to start, or point --out at the run's checkpoint")
            }
            let file = try loadFile(out)
            let checkpoint = try loadController(file)
            configuration.architecture = try architecture(of: checkpoint, path: out)
            configuration.history = MetaTrainer.history(in: checkpoint.metadata)
            initial = MetaParameters(checkpoint.weights)
            do {
                state = try MetaTrainer.trainingState(in: file, parameterCount: initial.count)
            } catch let e as CheckpointError { throw RuntimeError(e.description) }
            guard let s = state else {
                throw RuntimeError("\(out): has weights but no training state (not written by meta-train); use --init \(out) to start a new run from it")
            }
            configuration.seed = s.seed
            if let b = file.metadata[MetaTrainer.Key.batch], b != String(batch) {
                FileHandle.standardError.write(Data("meta-train: note: the run was started with --batch \(b), continuing with \(batch)\n".utf8))
            }
        } else if let initPath = arguments.string("--init") {
            let checkpoint = try loadController(try loadFile(initPath))
            configuration.architecture = try architecture(of: checkpoint, path: initPath)
            configuration.history = MetaTrainer.history(in: checkpoint.metadata)
            initial = MetaParameters(checkpoint.weights)
            if arguments.has("--closed-loop") {
                if let had = configuration.architecture.proprioception {
                    guard had == proprioception else {
                        throw RuntimeError("\(initPath): its proprioceptive inputs (\(had.jointRanges)) differ from this robot's driven joints (\(proprioception!.jointRanges)); start from an open-loop controller or one of this robot")
                    }
                } else {
                    // Warm start from an open-loop controller: the proprioceptive rows of W_in start at zero.
                    let clockWeights = initial[.traineeInput]
                    configuration.architecture.proprioception = proprioception
                    initial.tensors[MetaParameterName.traineeInput.index] = clockWeights
                        + [Float](repeating: 0, count: proprioception!.rowCount * configuration.architecture.traineeNeurons)
                }
            }
        } else {
            configuration.architecture.proprioception = arguments.has("--closed-loop") ? proprioception : nil
            if var wholeArm {
                wholeArm.innerLearningRate = 1e-3
                if let n = try arguments.int("--segment-steps", in: 10...1000) {
                    wholeArm = .wholeArm(jointLimits: wholeArm.jointTarget!.jointRanges.map { $0[0]...$0[1] }, steps: n, handOverSteps: n / 5)
                    wholeArm.innerLearningRate = 1e-3
                }
                if let name = arguments.string("--target-code"), let code = JointTargetSettings.Code(rawValue: name) {
                    wholeArm.jointTarget!.code = code
                }
                if let text = arguments.string("--inner-learning-rate") {
                    guard let eta = Double(text), eta > 0, eta < 1 else {
                        throw UsageError("--inner-learning-rate: '\(text)' is not a learning rate; give a number between 0 and 1, e.g. 1e-3")
                    }
                    wholeArm.innerLearningRate = eta
                }
                configuration.architecture = MetaArchitecture(wholeArm)
            }
            var rng = RandomSource(seed: seed).derived(0x1417)
            initial = MetaParameters(randomFor: configuration.architecture, rng: &rng)
        }
        if wholeArm != nil, configuration.architecture.steps != familySteps, let robotPath = arguments.string("--robot") {
            // A whole-arm run trains on segments as long as its controller's trial (--segment-steps, or the checkpoint's).
            let robot = try RobotFiles.loadRobot(ResourceLocator.robotDirectory(robotPath) ?? robotPath)
            family = WholeArm.taskFamily(for: robot, steps: configuration.architecture.steps)
            familySteps = configuration.architecture.steps
        }
        guard familySteps == configuration.architecture.steps, familyOutputs == configuration.architecture.outputs else {
            throw RuntimeError("the controller runs \(configuration.architecture.steps) steps with \(configuration.architecture.outputs) outputs; the \(familyName) task family needs \(familySteps) and \(familyOutputs)")
        }

        if configuration.architecture.proprioception != nil {
            guard let arm = closedLoopArm else {
                throw UsageError("this is a closed-loop controller: give --robot <dir>, the arm whose simulated servos are in the loop")
            }
            configuration.options.closedLoop = arm
            for i in configuration.mixedOptions.indices { configuration.mixedOptions[i].closedLoop = arm }
        }
        let trainer = MetaTrainer(configuration: configuration, sampler: family, initial: initial, state: state)
        if trainer.state.iteration >= iterations {
            print("meta-train: \(out) is already at iteration \(trainer.state.iteration) ≥ --iterations \(iterations); nothing to do")
            return 0
        }
        let log: MetaTrainingLog?
        do {
            log = try (arguments.isRoot ? arguments.string("--log") : nil).map { try MetaTrainingLog(path: $0, append: arguments.has("--resume"), resumedAt: trainer.state.iteration, settings: pcmNames) }
        } catch let e as CheckpointError { throw RuntimeError(e.description) }

        var progress = MetaTrainingProgress(total: iterations)
        let start = Date()
        var last: MetaIterationReport? = nil
        // Only rank 0 of a cluster job writes the checkpoint (atomically), and notes it for the message
        // engram-cluster prints when the job is ended from outside.
        func save() throws {
            guard arguments.isRoot else { return }
            do { try trainer.writeCheckpoint(to: out) } catch {
                progress.finish()
                throw RuntimeError("\(out): cannot write the checkpoint (\(error)); check the directory and free space")
            }
            ClusterJobState.shared.checkpointWritten(out, iteration: trainer.state.iteration)
        }
        // Ctrl-C (SIGINT) or SIGTERM: finish the iteration, write the checkpoint, stop (exit 130). A second
        // signal kills at once (the last checkpoint stays intact: it is written by rename). A cluster job
        // leaves signals to engram-cluster: its ranks cannot finish an iteration once one of them is gone.
        let stop = MetaTrainingStopRequest()
        let signals = arguments.group == nil ? [SIGINT, SIGTERM] : []
        for sig in signals { signal(sig, SIG_IGN) }
        let sources = signals.map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                stop.request()
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        while trainer.state.iteration < iterations {
            if stop.isRequested {
                progress.finish()
                try save()
                FileHandle.standardError.write(Data("meta-train: stopped at iteration \(trainer.state.iteration); checkpoint \(out); continue with --resume\n".utf8))
                return 130
            }
            let report = trainer.step()
            guard report.batch.loss.isFinite else {
                progress.finish()
                throw RuntimeError("meta-train: the loss became \(report.batch.loss) at iteration \(report.iteration); the last checkpoint in \(out) is intact — lower the learning rate or restart from it")
            }
            log?.append(report)
            progress.update(report)
            last = report
            if report.iteration % every == 0 || report.iteration == iterations { try save() }
        }
        progress.finish()
        if let last, arguments.has("--json") {
            let b = last.batch
            var object: [String: Any] = [
                "iteration": last.iteration, "loss": b.loss, "task_loss": b.taskLoss,
                "mse_vel": b.velocityError, "mse_xyz": b.positionError,
                "trainee_rate_hz": b.traineeRateHz, "lsg_rate_hz": b.lsgRateHz,
                "session_seconds": Date().timeIntervalSince(start), "checkpoint": out,
            ]
            if let a = trainer.state.average { object["weight_average"] = a.summary }
            try JSONOutput.print(object)
        } else if let last {
            let b = last.batch
            print(String(format: "meta-train: iteration %d, loss %.5f (task %.5f), rates %.1f/%.1f Hz, %.1f s this session; checkpoint %@",
                         last.iteration, b.loss, b.taskLoss, b.traineeRateHz, b.lsgRateHz, Date().timeIntervalSince(start), out))
            if let a = trainer.state.average { print("meta-train: weight average: \(a.summary); ship it with --export-average") }
        }
        return 0
    }

    static func loadFile(_ path: String) throws -> SafeTensors {
        do { return try SafeTensors(contentsOfFile: path) } catch let e as SafeTensors.Error { throw RuntimeError(e.description) }
    }

    static func loadController(_ file: SafeTensors) throws -> ControllerCheckpoint {
        do { return try ControllerCheckpoint(file) } catch let e as CheckpointError { throw RuntimeError(e.description) }
    }

    static func architecture(of checkpoint: ControllerCheckpoint, path: String) throws -> MetaArchitecture {
        if let why = MetaArchitecture.unsupportedDifference(in: checkpoint.architecture) { throw RuntimeError("\(path): \(why)") }
        return MetaArchitecture(checkpoint.architecture)
    }
}

/// Set from a signal handler, read by the training loop between iterations.
final class MetaTrainingStopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false

    /// Asks the loop to stop after the current iteration.
    func request() { lock.lock(); requested = true; lock.unlock() }

    /// Whether a stop was asked for.
    var isRequested: Bool { lock.lock(); defer { lock.unlock() }; return requested }
}
