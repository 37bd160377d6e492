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
    static let targetCode = Option<JointTargetSettings.Code>("--target-code", "code", "With --whole-arm, for a new run: how the LSG hears each joint's angle: binary (the paper's bits) or gray (the Gray code of the same value: one channel changes at a time)")
        .defaulting(to: .binary)
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
        task.spec, robot.spec, iterations.spec, batch.spec, pcm.spec, quantize.spec, initial.spec, wholeArm.spec, segmentSteps.spec, targetCode.spec,
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
        .requires("--target-code", anyOf: ["--whole-arm"], message: "--target-code sets a whole-arm controller's code; it needs --whole-arm"),
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
        try family.fit(&configuration)
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
