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

        Example: engram meta-train --task scorbot --iterations 2000 --batch 90 -o scorbot.safetensors --log curve.csv
        """
    /// The task families `--task` names.
    enum FamilyName: String, ChoiceValue {
        /// The paper's Scorbot family (two driven joints).
        case scorbot
    }

    static let task = Option<FamilyName>("--task", "family", "Task family")
    static let robot = CommonOptions.robot("Train for this robot's driven joints and kinematics: a name from Robots/ or a folder with robot.yaml")
    static let iterations = Option<Int>("--iterations", "n", "Total meta-iterations of the run", in: 1...10_000_000, required: true)
    static let batch = Option<Int>("--batch", "b", "Tasks per meta-batch", in: 1...100_000).defaulting(to: 90)
    static let pcm = Option<CommaList<MetaPCMMode>>("--pcm", "model", "PCM model in the inner loop; a list such as off,paper mixes them over each batch")
        .defaulting(to: CommaList([.off]))
    static let quantize = Option<Switch>("--quantize", "on|off", "Round the inner update to 1/16 (straight-through)", defaultNote: "on with PCM, off without")
    static let initial = Option<String>("--init", "checkpoint", "Start from these weights instead of a random initialisation")
    static let wholeArm = Flag("--whole-arm", "With --robot: train a whole-arm controller (one readout per joint, gripper included; joint-space target code; trials that are segments of a demonstration; docs/whole-arm.md)")
    static let segmentSteps = Option<Int>("--segment-steps", "n", "With --whole-arm, for a new run: ticks per trial (segment) of the controller; the hand-over is a fifth of it",
                                          in: 10...1000, defaultNote: "125, 1.25 s at 100 Hz")
    static let innerLearningRate = Option<Double>("--inner-learning-rate", "eta", "With --whole-arm, for a new run: the e-prop update's learning rate η (the paper's two-joint controllers use 1e-4)") { eta in
        eta > 0 && eta < 1 ? nil : "'\(eta)' is not a learning rate; give a number between 0 and 1, e.g. 1e-3"
    }.defaulting(to: 1e-3, shown: "1e-3")
    static let closedLoop = Flag("--closed-loop", "Train a closed-loop controller (proprioceptive inputs, the simulated arm of --robot in trial 2; docs/closed-loop.md)")
    static let disturbances = Option<CommaList<ArmDisturbance.Kind>>("--disturbances", "kinds", "Closed loop: disturbance kinds drawn per task")
        .defaulting(to: CommaList(ArmDisturbance.Kind.allCases))
    static let seed = CommonOptions.seed("Seed of initialisation, tasks and noise")
    static let out = CommonOptions.out("file", "Checkpoint to write (safetensors); with --export or --export-average, the run's checkpoint to read", required: true)
    static let resume = Flag("--resume", "Continue the run stored in --out")
    static let checkpointEvery = Option<Int>("--checkpoint-every", "k", "Iterations between checkpoints", in: 1...10_000_000).defaulting(to: 50)
    static let log = Option<String>("--log", "file", "CSV file for the loss curve (appended on --resume)")
    static let threads = CommonOptions.threads
    static let positionWeight = Option<Double>("--position-weight", "w", "Weight of the position term in the task loss, 0.5·MSE(ω) + 0.5·w·MSE(xyz)",
                                               defaultNote: "1, the paper's; 20 with --whole-arm") { w in
        w > 0 ? nil : "'\(w)' is not a weight; give a positive number, e.g. 10"
    }
    static let afterDisturbanceWeight = Option<Double>("--after-disturbance-weight", "a", "With --closed-loop: the position term counts a times at the steps after a disturbance window ends",
                                                       defaultNote: "1") { a in
        a >= 1 ? nil : "'\(a)' is not a weight; give a number of at least 1, e.g. 3"
    }
    static let learningRate = Option<Double>("--learning-rate", "lr", "Adam's base learning rate (×0.99 every 500 iterations either way)",
                                             defaultNote: "1.5e-3, the paper's") { lr in
        lr > 0 && lr < 1 ? nil : "'\(lr)' is not a learning rate; give a number between 0 and 1, e.g. 5e-4"
    }
    static let averageEvery = Option<Int>("--average-every", "k", "Also keep a running mean of the weights, folded in every k iterations (stochastic weight averaging; kept in --out across --resume; another k restarts it)",
                                          in: 1...10_000_000)
    static let averageFrom = Option<Int>("--average-from", "i", "With --average-every: the mean covers iterations from i on; an older mean is restarted",
                                         in: 0...100_000_000, defaultNote: "0")
    static let export = Option<String>("--export", "file", "Write the weights of --out (no Adam state; a third of the size) to this file, to ship")
    static let exportAverage = Option<String>("--export-average", "file", "Write the running mean of the weights kept in --out (see --average-every) to this file")
    static let json = Flag("--json", "Print the final summary as one JSON object")

    static let options: [OptionSpec] = [
        task.spec, robot.spec, iterations.spec, batch.spec, pcm.spec, quantize.spec, initial.spec, wholeArm.spec, segmentSteps.spec,
        innerLearningRate.spec, closedLoop.spec, disturbances.spec, seed.spec, out.spec, resume.spec, checkpointEvery.spec, log.spec,
        threads.spec, positionWeight.spec, afterDisturbanceWeight.spec, learningRate.spec, averageEvery.spec, averageFrom.spec,
        export.spec, exportAverage.spec, json.spec,
    ]

    static let modes = [
        CommandMode(option: "--export", takes: ["--out"], requires: ["--out"]),
        CommandMode(option: "--export-average", takes: ["--out"], requires: ["--out"]),
    ]

    static let rules: [OptionRule] = [
        .oneOf(["--task", "--robot"], message: "missing --task <family> or --robot <name|dir>: what to train for; use --task scorbot (the paper's family) or --robot so101"),
        .requires("--whole-arm", anyOf: ["--robot"], message: "--whole-arm needs --robot <name|dir>: the arm whose joints the controller drives"),
        .requires("--closed-loop", anyOf: ["--robot"], message: "--closed-loop needs --robot <name|dir>: the arm whose simulated servos are in the loop (e.g. --robot scorbot-er7)"),
        .exclusive(["--whole-arm", "--closed-loop"], message: "--whole-arm and --closed-loop: a whole-arm controller is open-loop; choose one"),
        .requires("--segment-steps", anyOf: ["--whole-arm"], message: "--segment-steps sets a whole-arm controller's trial; it needs --whole-arm"),
        .requires("--inner-learning-rate", anyOf: ["--whole-arm"], message: "--inner-learning-rate sets a whole-arm controller's update; it needs --whole-arm"),
        .requires("--after-disturbance-weight", anyOf: ["--closed-loop"], message: "--after-disturbance-weight weighs recovery from the arm's disturbances; it needs --closed-loop"),
        .requires("--average-from", anyOf: ["--average-every"], message: "--average-from sets where the weight average starts; it needs --average-every <k>"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        if let ship = arguments[Self.export] { return try exportWeights(of: try arguments.required(Self.out), to: ship) }
        if let ship = arguments[Self.exportAverage] { return try exportAverage(of: try arguments.required(Self.out), to: ship) }
        let request = try Request(arguments)
        var family = try TrainingFamily(request)
        var configuration = configuration(request, family: family)
        let (initial, state) = try startingPoint(request, family: family, configuration: &configuration)
        try family.fit(configuration.architecture, request: request)
        if configuration.architecture.proprioception != nil {
            guard let arm = family.closedLoopArm else {
                throw UsageError("this is a closed-loop controller: give --robot <dir>, the arm whose simulated servos are in the loop")
            }
            configuration.options.closedLoop = arm
            for i in configuration.mixedOptions.indices { configuration.mixedOptions[i].closedLoop = arm }
        }
        let trainer = MetaTrainer(configuration: configuration, sampler: family.sampler, initial: initial, state: state)
        return try train(trainer, request)
    }

    // MARK: Modes

    /// `--export`: a shipping copy, the six weight tensors and the metadata (architecture, training
    /// command, iteration), without the Adam moments and RNG state that only --resume needs.
    static func exportWeights(of source: String, to export: String) throws -> Int32 {
        var checkpoint = try loadController(try loadFile(source))
        checkpoint.metadata[MetaTrainer.Key.averageSpan] = nil  // the span of a mean this copy does not hold
        do { try checkpoint.write(toFile: export) } catch {
            throw RuntimeError("\(export): cannot write the checkpoint (\(error)); check the folder exists and is writable")
        }
        print("meta-train: wrote the weights of \(source) to \(export)")
        return 0
    }

    /// `--export-average`: the running mean of the weights kept in the run's checkpoint.
    static func exportAverage(of source: String, to export: String) throws -> Int32 {
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

    // MARK: Step 1, the request: typed values checked together, before any file is read

    /// What a training run was asked for, checked as a whole (usage errors only; nothing is loaded).
    struct Request {
        var robot: RobotReference?
        var iterations: Int
        var batch: Int
        var threads: Int
        var checkpointEvery: Int
        var seed: UInt64
        var out: String
        var pcmModes: [MetaPCMMode]
        var quantize: Switch?
        var wholeArm: Bool
        var closedLoop: Bool
        var resume: Bool
        var initPath: String?
        var disturbances: [ArmDisturbance.Kind]
        var segmentSteps: Int?
        var innerLearningRate: Double
        var positionWeight: Double?
        var afterDisturbanceWeight: Double?
        var learningRate: Double?
        var averageEvery: Int?
        var averageFrom: Int?
        var log: String?
        var json: Bool
        var arguments: ParsedArguments

        init(_ arguments: ParsedArguments) throws {
            self.arguments = arguments
            robot = arguments[MetaTrainCommand.robot]
            iterations = try arguments.required(MetaTrainCommand.iterations)
            batch = arguments[MetaTrainCommand.batch]
            threads = arguments[MetaTrainCommand.threads]
            checkpointEvery = arguments[MetaTrainCommand.checkpointEvery]
            seed = arguments[MetaTrainCommand.seed]
            out = try arguments.required(MetaTrainCommand.out)
            let directory = (out as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            if !directory.isEmpty, !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue) {
                throw UsageError("--out <file>: the directory '\(directory)' does not exist; create it or choose another path")
            }
            pcmModes = arguments[MetaTrainCommand.pcm].elements
            guard pcmModes.count <= batch else {
                throw UsageError("--pcm: \(pcmModes.count) models for a batch of \(batch) tasks; give at most --batch models")
            }
            quantize = arguments[MetaTrainCommand.quantize]
            wholeArm = arguments[MetaTrainCommand.wholeArm]
            closedLoop = arguments[MetaTrainCommand.closedLoop]
            resume = arguments[MetaTrainCommand.resume]
            initPath = arguments[MetaTrainCommand.initial]
            disturbances = arguments[MetaTrainCommand.disturbances].elements
            segmentSteps = arguments[MetaTrainCommand.segmentSteps]
            innerLearningRate = arguments[MetaTrainCommand.innerLearningRate]
            positionWeight = arguments[MetaTrainCommand.positionWeight]
            afterDisturbanceWeight = arguments[MetaTrainCommand.afterDisturbanceWeight]
            learningRate = arguments[MetaTrainCommand.learningRate]
            averageEvery = arguments[MetaTrainCommand.averageEvery]
            averageFrom = arguments[MetaTrainCommand.averageFrom]
            log = arguments[MetaTrainCommand.log]
            json = arguments[MetaTrainCommand.json]
        }

        /// The words of `--pcm`, for the log's settings column.
        var pcmNames: [String] { pcmModes.map(\.rawValue) }
    }

    // MARK: Step 2, the task family

    /// The paper's Scorbot family, or the same family (Brownian velocities, Hann smoothing, limits) on
    /// the driven joints of any robot description, through its forward kinematics; with the closed loop's
    /// simulated arm or the whole-arm architecture when asked for.
    struct TrainingFamily {
        var sampler: any MetaTaskSampler
        var steps: Int
        var outputs: Int
        var name: String
        var robot: RobotDescription? = nil
        var closedLoopArm: ClosedLoopArm? = nil
        var proprioception: ProprioceptionSettings? = nil
        var wholeArm: ControllerArchitecture? = nil

        init(_ request: Request) throws {
            guard let reference = request.robot else {
                let f = TaskFamily<ScorbotKinematics>.paperScorbot
                (sampler, steps, outputs, name) = (f, f.steps, f.drivenJoints.count, "scorbot")
                return
            }
            let robot = try RobotFiles.loadRobot(reference.directory)
            self.robot = robot
            if request.wholeArm {
                let w = WholeArm.taskFamily(for: robot)
                wholeArm = WholeArm.architecture(for: robot)
                (sampler, steps, outputs, name) = (w, w.steps, w.drivenJoints.count, robot.name + " whole-arm")
                return
            }
            let f = RunSession.taskFamily(for: robot)
            if request.closedLoop || request.resume {
                closedLoopArm = SimulatedArmPlant.trainingArm(robot: robot, kinds: request.disturbances, steps: f.steps)
                proprioception = ProprioceptionSettings(jointRanges: f.jointLimits)
            }
            (sampler, steps, outputs, name) = (f, f.steps, f.drivenJoints.count, robot.name)
        }

        /// The robot's name as the checkpoint records it.
        var robotName: String { robot?.name ?? "scorbot-er7" }

        /// A whole-arm run trains on segments as long as its controller's trial (--segment-steps, or the
        /// checkpoint's); any other family must match the controller's steps and outputs as it is.
        mutating func fit(_ architecture: MetaArchitecture, request: Request) throws {
            if wholeArm != nil, architecture.steps != steps, let robot {
                sampler = WholeArm.taskFamily(for: robot, steps: architecture.steps)
                steps = architecture.steps
            }
            guard steps == architecture.steps, outputs == architecture.outputs else {
                throw RuntimeError("the controller runs \(architecture.steps) steps with \(architecture.outputs) outputs; the \(name) task family needs \(steps) and \(outputs)")
            }
        }
    }

    // MARK: Step 3, the configuration

    /// The trainer's configuration from the request: batch, threads, seed, the inner loop's PCM models,
    /// the loss weights, Adam's learning rate and the weight average.
    static func configuration(_ request: Request, family: TrainingFamily) -> MetaTrainingConfiguration {
        var configuration = MetaTrainingConfiguration()
        configuration.batchSize = request.batch
        configuration.threads = request.threads
        configuration.seed = request.seed
        let optionSets = request.pcmModes.map { mode -> MetaGradientOptions in
            var o = MetaGradientOptions()
            o.pcm = mode
            o.quantizeUpdate = (request.quantize ?? (mode == .off ? .off : .on)).isOn
            return o
        }
        configuration.options = optionSets[0]
        configuration.mixedOptions = Array(optionSets.dropFirst())
        configuration.group = request.arguments.group
        configuration.command = ([request.arguments.program] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        configuration.robot = family.robotName
        func setAll(_ change: (inout MetaGradientOptions) -> Void) {
            change(&configuration.options)
            for i in configuration.mixedOptions.indices { change(&configuration.mixedOptions[i]) }
        }
        // Joint errors in rad² are small against velocity errors in (rad/s)²: weigh positions up.
        if family.wholeArm != nil { setAll { $0.positionWeight = 20 } }
        if let w = request.positionWeight { setAll { $0.positionWeight = w } }
        if let a = request.afterDisturbanceWeight { setAll { $0.afterDisturbanceWeight = a } }
        if let lr = request.learningRate { configuration.adam.learningRate = lr }
        configuration.averageEvery = request.averageEvery
        if let from = request.averageFrom { configuration.averageFrom = from }
        return configuration
    }

    // MARK: Step 4, the starting point

    /// The weights (and, on --resume, the training state) the run starts from: the checkpoint in --out,
    /// the weights of --init, or the paper's random initialisation. Sets the architecture (and history) in
    /// `configuration` to the start's.
    static func startingPoint(_ request: Request, family: TrainingFamily,
                              configuration: inout MetaTrainingConfiguration) throws -> (MetaParameters<Float>, MetaTrainingState?) {
        let out = request.out
        if request.resume {
            guard FileManager.default.fileExists(atPath: out) else {
                throw RuntimeError("\(out): no checkpoint to resume; run without --resume to start, or point --out at the run's checkpoint")
            }
            let file = try loadFile(out)
            let checkpoint = try loadController(file)
            configuration.architecture = try architecture(of: checkpoint, path: out)
            configuration.history = MetaTrainer.history(in: checkpoint.metadata)
            let initial = MetaParameters(checkpoint.weights)
            let state: MetaTrainingState?
            do {
                state = try MetaTrainer.trainingState(in: file, parameterCount: initial.count)
            } catch let e as CheckpointError { throw RuntimeError(e.description) }
            guard let state else {
                throw RuntimeError("\(out): has weights but no training state (not written by meta-train); use --init \(out) to start a new run from it")
            }
            configuration.seed = state.seed
            if let b = file.metadata[MetaTrainer.Key.batch], b != String(request.batch) {
                FileHandle.standardError.write(Data("meta-train: note: the run was started with --batch \(b), continuing with \(request.batch)\n".utf8))
            }
            return (initial, state)
        }
        if let initPath = request.initPath {
            let checkpoint = try loadController(try loadFile(initPath))
            configuration.architecture = try architecture(of: checkpoint, path: initPath)
            configuration.history = MetaTrainer.history(in: checkpoint.metadata)
            var initial = MetaParameters(checkpoint.weights)
            if request.closedLoop, let proprioception = family.proprioception {
                if let had = configuration.architecture.proprioception {
                    guard had == proprioception else {
                        throw RuntimeError("\(initPath): its proprioceptive inputs (\(had.jointRanges)) differ from this robot's driven joints (\(proprioception.jointRanges)); start from an open-loop controller or one of this robot")
                    }
                } else {
                    // Warm start from an open-loop controller: the proprioceptive rows of W_in start at zero.
                    let clockWeights = initial[.traineeInput]
                    configuration.architecture.proprioception = proprioception
                    initial.tensors[MetaParameterName.traineeInput.index] = clockWeights
                        + [Float](repeating: 0, count: proprioception.rowCount * configuration.architecture.traineeNeurons)
                }
            }
            return (initial, nil)
        }
        configuration.architecture.proprioception = request.closedLoop ? family.proprioception : nil
        if var wholeArm = family.wholeArm {
            if let n = request.segmentSteps, let jointTarget = wholeArm.jointTarget {
                wholeArm = .wholeArm(jointLimits: jointTarget.jointRanges.map { $0[0]...$0[1] }, steps: n, handOverSteps: n / 5)
            }
            wholeArm.innerLearningRate = request.innerLearningRate
            configuration.architecture = MetaArchitecture(wholeArm)
        }
        var rng = RandomSource(seed: request.seed).derived(0x1417)
        return (MetaParameters(randomFor: configuration.architecture, rng: &rng), nil)
    }

    // MARK: Step 5, the loop

    /// Steps `trainer` to `--iterations`, writing the log and checkpoints, stopping cleanly on a signal;
    /// prints the summary.
    static func train(_ trainer: MetaTrainer, _ request: Request) throws -> Int32 {
        let (out, iterations, arguments) = (request.out, request.iterations, request.arguments)
        if trainer.state.iteration >= iterations {
            print("meta-train: \(out) is already at iteration \(trainer.state.iteration) ≥ --iterations \(iterations); nothing to do")
            return 0
        }
        let log: MetaTrainingLog?
        do {
            log = try (arguments.isRoot ? request.log : nil).map { try MetaTrainingLog(path: $0, append: request.resume, resumedAt: trainer.state.iteration, settings: request.pcmNames) }
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
            if report.iteration % request.checkpointEvery == 0 || report.iteration == iterations { try save() }
        }
        progress.finish()
        if let last, request.json {
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
