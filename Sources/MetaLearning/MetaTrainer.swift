import Adaptation
@preconcurrency import Foundation
import Spiking
import Tensors

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Settings of a meta-training run.
public struct MetaTrainingConfiguration: Sendable {
    /// The model.
    public var architecture = MetaArchitecture()
    /// Inner-loop switches (PCM model, rounding).
    public var options = MetaGradientOptions()
    /// Further inner-loop settings that take turns with `options` over a batch's tasks (task b runs under
    /// `optionSets[b % optionSets.count]`); empty for a single-setting run.
    public var mixedOptions: [MetaGradientOptions] = []
    /// `options` followed by `mixedOptions`.
    public var optionSets: [MetaGradientOptions] { [options] + mixedOptions }
    /// Tasks per meta-batch (90).
    public var batchSize = 90
    /// Worker threads (all cores by default).
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The ranks of a data-parallel run (`engram-cluster`), which share each batch's tasks; nil for one
    /// process. With a group the result does not depend on the number of ranks or threads.
    public var group: RankGroup? = nil
    /// Seed of the task and noise streams.
    public var seed: UInt64 = 0
    /// The optimizer and its schedule.
    public var adam = Adam()
    /// The command line that started the run, recorded in checkpoints.
    public var command = ""
    /// The commands of the earlier sittings whose weights this run continues (from the checkpoint it resumed
    /// or started from), oldest first; checkpoints record them followed by `command`.
    public var history: [String] = []
    /// Fold the weights into a running mean every this many iterations (stochastic weight averaging); nil
    /// keeps no mean (a mean already in the state is carried over unchanged).
    public var averageEvery: Int? = nil
    /// The robot trained for (its name), recorded in checkpoints so that deployment can refuse another arm.
    public var robot: String? = nil
    /// The mean covers iterations from this one on: a mean in the state that started earlier, or with
    /// another `averageEvery`, is restarted.
    public var averageFrom = 0

    /// The paper's settings.
    public init() {}
}

/// What a checkpoint stores besides the weights, so that a resumed run reproduces the uninterrupted one:
/// the iteration counter, Adam's state and the seed (iteration i draws its tasks and noise from
/// `RandomSource(seed:).derived(i)`, so the stream position is the iteration).
public struct MetaTrainingState: Sendable, Equatable {
    /// Iterations completed.
    public var iteration: Int
    /// Adam moments and step.
    public var adam: AdamState
    /// Seed of the run.
    public var seed: UInt64
    /// The running mean of the weights, when the run keeps one.
    public var average: WeightAverage? = nil
}

/// A running mean of the weights over snapshots taken every `every` iterations (stochastic weight
/// averaging): Adam's iterates wander around a minimum and their mean is less noisy than the last one.
/// Whether it is also better is for `engram evaluate --baseline` to say.
public struct WeightAverage: Sendable, Equatable {
    /// Iterations between snapshots.
    public var every: Int
    /// Iteration of the first snapshot.
    public var first: Int
    /// Iteration of the last snapshot.
    public var last: Int
    /// Snapshots in the mean.
    public var count: Int
    /// The mean, flat in the order of `FlatParameters`.
    public var mean: [Float]

    /// A mean of one snapshot, `weights`, taken at `iteration`.
    public init(every: Int, iteration: Int, weights: [Float]) {
        self.every = every
        first = iteration
        last = iteration
        count = 1
        mean = weights
    }

    /// Folds in the snapshot `weights` (as many values as `mean`) taken at `iteration`.
    public mutating func add(_ weights: UnsafePointer<Float>, iteration: Int) {
        count += 1
        last = iteration
        let w = 1 / Float(count)
        mean.withUnsafeMutableBufferPointer { m in
            for i in m.indices { m[i] += (weights[i] - m[i]) * w }
        }
    }

    /// What the mean covers, for metadata and messages.
    public var summary: String { "mean of \(count) snapshots every \(every) iterations, iterations \(first)–\(last)" }
}

/// One iteration's figures.
public struct MetaIterationReport: Sendable {
    /// 1-based index of the iteration just done.
    public var iteration: Int
    /// The batch's objective and its parts.
    public var batch: MetaBatchResult
    /// Learning rate of this update.
    public var learningRate: Double
    /// Wall time of the whole iteration, s.
    public var seconds: Double
}

/// Meta-training: samples a batch of tasks, evaluates the meta-objective and its exact gradient on all
/// cores, and applies Adam with the paper's schedule. Checkpoints hold weights, Adam state and seed.
public final class MetaTrainer: @unchecked Sendable {
    /// The run's settings.
    public let configuration: MetaTrainingConfiguration
    /// The task family.
    public let sampler: any MetaTaskSampler
    /// Current weights.
    public let parameters: FlatParameters<Float>
    /// Iteration counter, Adam state, seed.
    public private(set) var state: MetaTrainingState
    let evaluator: MetaBatchEvaluator<Float>
    let gradient: FlatParameters<Float>

    /// A trainer starting from `initial` weights (or resuming with `state`).
    public init(configuration: MetaTrainingConfiguration, sampler: any MetaTaskSampler, initial: MetaParameters<Float>, state: MetaTrainingState? = nil) {
        self.configuration = configuration
        self.sampler = sampler
        parameters = FlatParameters(initial, architecture: configuration.architecture)
        self.state = state ?? MetaTrainingState(iteration: 0, adam: AdamState(count: parameters.count), seed: configuration.seed)
        precondition(self.state.adam.firstMoment.count == parameters.count, "Adam state does not match the parameters")
        evaluator = MetaBatchEvaluator(architecture: configuration.architecture, optionSets: configuration.optionSets, tasks: sampler,
                                       batchSize: configuration.batchSize, threads: configuration.threads, group: configuration.group)
        gradient = FlatParameters(zerosFor: configuration.architecture)
    }

    /// The tasks and noise seed of iteration `index` (0-based), a pure function of the seed and index.
    public func batch(forIteration index: Int) -> (tasks: [MetaTaskTarget], noiseSeed: UInt64) {
        var rng = RandomSource(seed: state.seed).derived(UInt64(index))
        let tasks = (0..<configuration.batchSize).map { _ in sampler.sampleTarget(&rng) }
        return (tasks, rng.next())
    }

    /// Runs one meta-iteration: batch, objective, gradient, Adam update.
    @discardableResult
    public func step() -> MetaIterationReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let (tasks, noiseSeed) = batch(forIteration: state.iteration)
        let result = evaluator.evaluate(parameters, tasks: tasks, noiseSeed: noiseSeed, gradient: gradient)
        let lr = configuration.adam.learningRate(atStep: state.adam.step)
        configuration.adam.update(parameters.storage, gradient: gradient.storage, count: parameters.count, state: &state.adam)
        state.iteration += 1
        if let every = configuration.averageEvery, state.iteration >= configuration.averageFrom, state.iteration % every == 0 {
            if var a = state.average, a.every == every, a.first >= configuration.averageFrom {
                a.add(parameters.storage, iteration: state.iteration)
                state.average = a
            } else {
                state.average = WeightAverage(every: every, iteration: state.iteration,
                                              weights: Array(UnsafeBufferPointer(start: parameters.storage, count: parameters.count)))
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return MetaIterationReport(iteration: state.iteration, batch: result, learningRate: lr, seconds: seconds)
    }

    // MARK: Checkpoints

    /// Metadata keys of the training state.
    /// The robot a checkpoint was meta-trained for: `engram.training.robot`, or for files older than that key
    /// the last path component of `--robot` in the training command (`scorbot-er7` for `--task scorbot`); nil
    /// when neither says.
    public static func trainedRobot(in metadata: [String: String]) -> String? {
        if let name = metadata[Key.robot] { return name }
        guard let command = metadata[Key.command] else { return nil }
        let words = command.split(separator: " ").map(String.init)
        if let i = words.firstIndex(of: "--robot"), i + 1 < words.count {
            let path = words[i + 1].hasSuffix("/") ? String(words[i + 1].dropLast()) : words[i + 1]
            let last = (path as NSString).lastPathComponent
            return last == "robot.yaml" ? ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent : last
        }
        if let i = words.firstIndex(of: "--task"), i + 1 < words.count, words[i + 1] == "scorbot" { return "scorbot-er7" }
        return nil
    }

    public enum Key {
        /// Iterations completed.
        public static let iteration = "engram.training.iteration"
        /// Seed of the run.
        public static let seed = "engram.training.seed"
        /// Adam updates applied.
        public static let adamStep = "engram.training.adam_step"
        /// Tasks per meta-batch.
        public static let batch = "engram.training.batch"
        /// PCM model in the loop (off, paper, physical; a comma-separated list for a mixed run, e.g. "off,paper").
        public static let pcm = "engram.training.pcm"
        /// 1/16 rounding of the update (on, off).
        public static let quantize = "engram.training.quantize"
        /// The command line that started the run.
        public static let command = "engram.training.command"
        /// Every command that trained these weights, one per line, oldest first (across --init and --resume).
        public static let history = "engram.training.history"
        /// The name of the robot the controller was trained for (robot.yaml's `name`; `scorbot-er7` for the
        /// paper's family).
        public static let robot = "engram.training.robot"
        /// The arm in the loop of a closed-loop run.
        public static let closedLoop = "engram.training.closed_loop"
        /// Worker threads (gradient sums depend on it in the last bits, unless the run has `ranks`).
        public static let threads = "engram.training.threads"
        /// Ranks of a data-parallel run (engram-cluster), whose reproducible gradient sum makes the result
        /// independent of ranks and threads.
        public static let ranks = "engram.training.ranks"
        /// Tensor: Adam's first moments, flat.
        public static let firstMoment = "engram.adam.m"
        /// Tensor: Adam's second moments, flat.
        public static let secondMoment = "engram.adam.v"
        /// Tensor: the run's root generator state (iteration i uses its derived(i) stream).
        public static let randomState = "engram.training.rng"
        /// Tensor: the running mean of the weights, flat (runs with an average only).
        public static let average = "engram.average"
        /// The mean's snapshot spacing, first and last iteration and count ("every first last count").
        public static let averageSpan = "engram.training.average"
        /// In a controller written by `averagedController(in:)`: what its weights are the mean of.
        public static let averaged = "engram.training.averaged"
    }

    /// The weights under the official tensor names, the architecture, the training command, and the
    /// training state (Adam moments as extra tensors; iteration, seed and settings in the metadata).
    public func checkpoint(extraMetadata: [String: String] = [:]) -> SafeTensors {
        let a = configuration.architecture
        var metadata = extraMetadata
        metadata[Key.iteration] = String(state.iteration)
        metadata[Key.seed] = String(state.seed)
        metadata[Key.adamStep] = String(state.adam.step)
        metadata[Key.batch] = String(configuration.batchSize)
        metadata[Key.pcm] = configuration.optionSets.map(\.pcm.rawValue).joined(separator: ",")
        metadata[Key.quantize] = configuration.optionSets.map { $0.quantizeUpdate ? "on" : "off" }.joined(separator: ",")
        metadata[Key.threads] = String(configuration.threads)
        if let group = configuration.group { metadata[Key.ranks] = String(group.size) }
        metadata[Key.command] = configuration.command
        metadata[Key.history] = (configuration.history + [configuration.command]).joined(separator: "\n")
        if let arm = configuration.options.closedLoop { metadata[Key.closedLoop] = arm.label }
        if let robot = configuration.robot { metadata[Key.robot] = robot }
        let controller = ControllerCheckpoint(architecture: a.controller, weights: parameters.parameters.controllerWeights(a), metadata: metadata)
        var file = controller.safeTensors()
        file.set(Key.firstMoment, floats: state.adam.firstMoment, shape: [state.adam.firstMoment.count])
        file.set(Key.secondMoment, floats: state.adam.secondMoment, shape: [state.adam.secondMoment.count])
        file.set(Key.randomState, uint64s: RandomSource(seed: state.seed).stateWords, shape: [4])
        if let a = state.average {
            file.set(Key.average, floats: a.mean, shape: [a.mean.count])
            file.metadata[Key.averageSpan] = "\(a.every) \(a.first) \(a.last) \(a.count)"
        }
        return file
    }

    /// Writes `checkpoint()` to `path` atomically (temporary file, then rename).
    public func writeCheckpoint(to path: String) throws {
        let temporary = path + ".partial"
        try checkpoint().write(toFile: temporary)
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }

    /// The training commands recorded in a checkpoint's metadata, oldest first: its history, or else its
    /// single command; empty for a checkpoint not written by meta-train.
    public static func history(in metadata: [String: String]) -> [String] {
        if let h = metadata[Key.history], !h.isEmpty { return h.split(separator: "\n").map(String.init) }
        if let c = metadata[Key.command], !c.isEmpty { return [c] }
        return []
    }

    /// The training state stored in a checkpoint written by `checkpoint()`, or nil when the file has none
    /// (a plain controller checkpoint). Throws when it is present but damaged.
    public static func trainingState(in file: SafeTensors, parameterCount: Int) throws -> MetaTrainingState? {
        guard let iterationText = file.metadata[Key.iteration] else { return nil }
        func fail(_ what: String) -> CheckpointError {
            CheckpointError(source: file.source, message: "\(what); the training state is damaged, start again without --resume or from --init")
        }
        guard let iteration = Int(iterationText), iteration >= 0 else { throw fail("\(Key.iteration) '\(iterationText)' is not a count") }
        guard let seed = file.metadata[Key.seed].flatMap(UInt64.init) else { throw fail("\(Key.seed) is missing or not a number") }
        guard let step = file.metadata[Key.adamStep].flatMap(Int.init) else { throw fail("\(Key.adamStep) is missing or not a number") }
        guard file.tensors[Key.firstMoment] != nil || file.tensors[Key.secondMoment] != nil else {
            throw CheckpointError(source: file.source, message: "holds a run's weights but no Adam state: it is a shipping copy (meta-train --export); resume the run's own checkpoint, or start a new run from this one with --init")
        }
        let m = try file.floats(Key.firstMoment), v = try file.floats(Key.secondMoment)
        guard m.count == parameterCount, v.count == parameterCount else {
            throw fail("Adam moments have \(m.count)/\(v.count) entries, the architecture has \(parameterCount) weights")
        }
        var adam = AdamState(count: parameterCount)
        adam.firstMoment = m
        adam.secondMoment = v
        adam.step = step
        var state = MetaTrainingState(iteration: iteration, adam: adam, seed: seed)
        if let span = file.metadata[Key.averageSpan] {
            let numbers = span.split(separator: " ").compactMap { Int($0) }
            guard numbers.count == 4, numbers[0] > 0, numbers[3] > 0 else { throw fail("\(Key.averageSpan) '\(span)' is not 'every first last count'") }
            let mean = try file.floats(Key.average)
            guard mean.count == parameterCount else { throw fail("the weight average has \(mean.count) entries, the architecture has \(parameterCount) weights") }
            var a = WeightAverage(every: numbers[0], iteration: numbers[1], weights: mean)
            a.last = numbers[2]
            a.count = numbers[3]
            state.average = a
        }
        return state
    }

    /// The running mean of the weights kept by a run with `averageEvery`, as a controller checkpoint (the
    /// run's architecture and metadata, plus `Key.averaged` saying what was averaged); nil when the run kept
    /// no mean. Throws when the file is not a controller checkpoint or its training state is damaged.
    public static func averagedController(in file: SafeTensors) throws -> ControllerCheckpoint? {
        guard file.metadata[Key.averageSpan] != nil else { return nil }
        var controller = try ControllerCheckpoint(file)
        let architecture = MetaArchitecture(controller.architecture)
        let flat = FlatParameters<Float>(zerosFor: architecture)
        guard let state = try trainingState(in: file, parameterCount: flat.count), let average = state.average else { return nil }
        average.mean.withUnsafeBufferPointer { flat.storage.update(from: $0.baseAddress!, count: flat.count) }
        controller.weights = flat.parameters.controllerWeights(architecture)
        controller.metadata[Key.averaged] = average.summary
        controller.metadata[Key.averageSpan] = nil
        return controller
    }
}

/// The one-line progress display of meta-training on a terminal (stderr), redrawn in place; silent
/// when stderr is not a terminal.
public struct MetaTrainingProgress {
    /// Whether stderr is a terminal.
    public let enabled: Bool
    let total: Int
    var recentSeconds: [Double] = []

    /// A display for a run that ends at iteration `total`.
    public init(total: Int) {
        self.total = total
        enabled = isatty(2) != 0
    }

    /// Redraws the line after `report`.
    public mutating func update(_ report: MetaIterationReport) {
        guard enabled else { return }
        recentSeconds.append(report.seconds)
        if recentSeconds.count > 20 { recentSeconds.removeFirst() }
        let perIteration = recentSeconds.reduce(0, +) / Double(recentSeconds.count)
        let left = Double(total - report.iteration) * perIteration
        let b = report.batch
        let byOptions = b.taskLossByOptions.count > 1
            ? " [" + b.taskLossByOptions.map { String(format: "%.4f", $0) }.joined(separator: " ") + "]" : ""
        let line = String(format: "\r[%d/%d] loss %.4f (task %.4f%@) rates %.1f/%.1f Hz  %.2f it/s  %@ left  ",
                          report.iteration, total, b.loss, b.taskLoss, byOptions, b.traineeRateHz, b.lsgRateHz,
                          1 / perIteration, Self.duration(left))
        fputs(line, stderr)
        fflush(stderr)
    }

    /// Ends the line.
    public func finish() {
        guard enabled else { return }
        fputs("\n", stderr)
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

/// The CSV loss curve of a run: one row per iteration, appended and flushed as training goes.
public final class MetaTrainingLog {
    /// The header row (a mixed run appends one `task_loss_<model>` column per inner-loop setting).
    public static let header = "iteration,loss,task_loss,mse_velocity,mse_xyz,reg_trainee,reg_lsg,rate_trainee_hz,rate_lsg_hz,changed_in,changed_rec,learning_rate,forward_s,backward_s,iteration_s"
    let handle: FileHandle

    /// Opens `path`, writing the header when the file is new or `append` is false. When appending after a
    /// resume from iteration `resumedAt`, rows past it (written after the last checkpoint) are dropped.
    /// `settings` names the inner-loop settings of a mixed run (one extra column each).
    public init(path: String, append: Bool, resumedAt: Int? = nil, settings: [String] = []) throws {
        let header = settings.count > 1 ? Self.header + settings.map { ",task_loss_" + $0 }.joined() : Self.header
        let exists = FileManager.default.fileExists(atPath: path)
        if append, exists, let resumedAt, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let kept = text.split(separator: "\n", omittingEmptySubsequences: true).filter { line in
                guard let first = line.split(separator: ",").first, let i = Int(first) else { return true }
                return i <= resumedAt
            }
            try (kept.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        if !append || !exists {
            guard FileManager.default.createFile(atPath: path, contents: Data((header + "\n").utf8)) else {
                throw CheckpointError(source: path, message: "cannot create the log file; check the directory exists and is writable")
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw CheckpointError(source: path, message: "cannot open the log file for writing; check its permissions")
        }
        h.seekToEndOfFile()
        handle = h
    }

    /// Appends one row.
    public func append(_ r: MetaIterationReport) {
        let b = r.batch
        let fields: [Double] = [b.loss, b.taskLoss, b.velocityError, b.positionError, b.traineeRegularizer, b.lsgRegularizer,
                                b.traineeRateHz, b.lsgRateHz, b.changedInput, b.changedRecurrent, r.learningRate,
                                b.forwardSeconds, b.backwardSeconds, r.seconds]
            + (b.taskLossByOptions.count > 1 ? b.taskLossByOptions : [])
        let row = String(r.iteration) + "," + fields.map { String(format: "%.6g", $0) }.joined(separator: ",") + "\n"
        handle.write(Data(row.utf8))
    }

    deinit { try? handle.close() }
}
