import Adaptation
@preconcurrency import Foundation
import Control
import Kinematics
import Robot
import MetaLearning
import Spiking
import Tensors

/// The steps of a training run of `engram meta-train`, in order: the request (typed values checked
/// together), the task family, the trainer's configuration, the starting point and the loop.
extension MetaTrainCommand {
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
        var targetCode: JointTargetSettings.Code
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
            targetCode = arguments[MetaTrainCommand.targetCode]
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

        /// Fits the family to the controller the run starts from: a whole-arm run trains on segments as long
        /// as its controller's trial (--segment-steps, or the checkpoint's); any other family must match the
        /// controller's steps and outputs as it is; a closed-loop controller gets the robot's simulated arm.
        mutating func fit(_ configuration: inout MetaTrainingConfiguration) throws {
            let architecture = configuration.architecture
            if wholeArm != nil, architecture.steps != steps, let robot {
                sampler = WholeArm.taskFamily(for: robot, steps: architecture.steps)
                steps = architecture.steps
            }
            guard steps == architecture.steps, outputs == architecture.outputs else {
                throw RuntimeError("the controller runs \(architecture.steps) steps with \(architecture.outputs) outputs; the \(name) task family needs \(steps) and \(outputs)")
            }
            if architecture.proprioception != nil {
                guard let arm = closedLoopArm else {
                    throw UsageError("this is a closed-loop controller: give --robot <dir>, the arm whose simulated servos are in the loop")
                }
                configuration.options.closedLoop = arm
                for i in configuration.mixedOptions.indices { configuration.mixedOptions[i].closedLoop = arm }
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
            wholeArm.jointTarget?.code = request.targetCode
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
}
