#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Perception
import Tensors

/// `engram fewshot-train`: second-order MAML meta-training of the perception CNN.
enum FewShotTrainCommand: EngramCommand {
    static let name = "fewshot-train"
    static let abstract = "Meta-train the perception CNN with second-order MAML"
    static let discussion = """
    The data (--data) is Omniglot as its authors publish it (images_background.zip or its folder, \
    alphabet/character/NNNN_XX.png, resized as the paper's pipeline does; several joined by commas) or \
    an IDX prefix. Each iteration samples --meta-batch tasks (N-way K-shot with Q queries per class, each class rotated \
    by a random multiple of 90°), adapts the readout with the inner loop, and moves the conv kernels and \
    the initial readout with Adam (1e-3) along the exact second-order gradient of the query loss. \
    Writes --out (weights with the official names: conv1..conv4 HWIO, readout) and --out.state (Adam \
    moments, random state) every --checkpoint-every iterations; --resume continues from them. \
    The loss log (--log, default OUT-loss.tsv) has iteration, loss, accuracy, seconds and, every \
    --validate-every iterations, accuracy on the held-out alphabets (--validate-alphabets, default: every \
    alphabet not in --alphabets) in the --pcm mode (the meta-gradient itself is always ideal).

    Example (5-way 5-shot, the paper's task): engram fewshot-train --data images_background.zip \
    --iterations 30000 --out my-5way.safetensors

    Example (20-way 1-shot, Lake's task): engram fewshot-train --data images_background.zip --ways 20 \
    --shots 1 --queries 1 --meta-batch 16 --threads 1 --iterations 10000 --out my-20way-1shot.safetensors
    """
    static let data = Option<String>("--data", "dir|zip|prefix", "Omniglot folder or zip as published (a,b for several), or IDX prefix")
    static let synthetic = Flag("--synthetic", "Train on synthetic stroke glyphs (alphabets synthetic-0..7) instead of --data")
    static let alphabets = Option<String>("--alphabets", "a,b", "Train on these alphabets only (PNG folders, or IDX with PREFIX-classes.tsv)")
    static let validateAlphabets = Option<String>("--validate-alphabets", "a,b", "Held-out alphabets for validation", defaultNote: "the others")
    static let iterations = Option<Int>("--iterations", "n", "Outer steps to reach", in: 1...10_000_000, required: true)
    static let pcm = Option<WeightMode>("--pcm", "mode", "Weights mode for validation").defaulting(to: .off)
    static let out = CommonOptions.out("file", "Checkpoint to write (safetensors)", required: true)
    static let resume = Flag("--resume", "Continue from --out and --out.state")
    static let metaBatch = Option<Int>("--meta-batch", "b", "Tasks per outer step", in: 1...4096).defaulting(to: 32)
    static let ways = Option<Int>("--ways", "n", "Classes per task", in: 2...1000).defaulting(to: 5)
    static let shots = Option<Int>("--shots", "k", "Support images per class", in: 1...1000).defaulting(to: 5)
    static let queries = Option<Int>("--queries", "q", "Query images per class", in: 1...1000).defaulting(to: 5)
    static let innerSteps = Option<Int>("--inner-steps", "k", "Inner SGD steps", in: 0...100).defaulting(to: 4)
    static let learningRate = Option<Double>("--learning-rate", "rate", "Adam learning rate", in: 0...1).defaulting(to: 1e-3)
    static let channels = Option<Int>("--channels", "c", "Conv channels of a new network", in: 1...1024).defaulting(to: 56)
    static let invert = Flag("--invert", "Train on 1 − pixel (IDX: dark ink on white; PNG: bright ink on dark)")
    static let noRotate = Flag("--no-rotate", "No 90° rotation augmentation")
    static let checkpointEvery = Option<Int>("--checkpoint-every", "n", "Iterations between checkpoints", in: 1...1_000_000).defaulting(to: 100)
    static let validateEvery = Option<Int>("--validate-every", "n", "Iterations between validations (0 = never)", in: 0...1_000_000).defaulting(to: 250)
    static let validateEpisodes = Option<Int>("--validate-episodes", "e", "Episodes per validation", in: 1...1_000_000).defaulting(to: 200)
    static let log = Option<String>("--log", "file", "Loss log", defaultNote: "OUT without .safetensors + -loss.tsv")
    static let seed = CommonOptions.seed("Random seed")
    static let threads = Option<Int>("--threads", "t", "Worker threads", in: 1...64).defaulting(to: 2)

    static let options: [OptionSpec] = [
        data.spec, synthetic.spec, alphabets.spec, validateAlphabets.spec, iterations.spec, pcm.spec, out.spec, resume.spec,
        metaBatch.spec, ways.spec, shots.spec, queries.spec, innerSteps.spec, learningRate.spec, channels.spec, invert.spec,
        noRotate.spec, checkpointEvery.spec, validateEvery.spec, validateEpisodes.spec, log.spec, seed.spec, threads.spec,
    ]
    static let rules: [OptionRule] = [
        .oneOf(["--data", "--synthetic"], message: "give one of --data <prefix> or --synthetic; see 'engram help fewshot-train'"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let out = try arguments.required(Self.out)
        let iterations = try arguments.required(Self.iterations)
        var settings = MetaTrainingSettings()
        settings.metaBatch = arguments[Self.metaBatch]
        settings.ways = arguments[Self.ways]
        settings.shots = arguments[Self.shots]
        settings.queries = arguments[Self.queries]
        settings.inner.steps = arguments[Self.innerSteps]
        settings.outerLearningRate = Float(arguments[Self.learningRate])
        settings.rotate = !arguments[Self.noRotate]
        settings.threads = arguments[Self.threads]
        let channels = arguments[Self.channels]
        let checkpointEvery = arguments[Self.checkpointEvery]
        let validateEvery = arguments[Self.validateEvery]
        let validateEpisodes = arguments[Self.validateEpisodes]
        let seed = arguments[Self.seed]
        let mode = arguments[Self.pcm]
        let invert = arguments[Self.invert]
        let logPath = arguments[Self.log] ?? (out.hasSuffix(".safetensors") ? String(out.dropLast(12)) : out) + "-loss.tsv"
        let statePath = out + ".state"

        var train: FewShotDataset
        var validation: FewShotDataset?
        var brightInk = true
        let trainAlphabets = arguments[Self.alphabets].map(splitList) ?? []
        do {
            let all = try arguments[Self.data].map { try readFewShotData($0, invert: invert) }
                ?? syntheticGlyphs(seed: seed, invert: invert)
            // The IDX export and the synthetic glyphs have bright ink on dark; the paper's pipeline dark ink on white.
            brightInk = isPublishedOmniglot(arguments[Self.data] ?? "") ? invert : !invert
            train = trainAlphabets.isEmpty ? all : try all.filtered(alphabets: trainAlphabets)
            if let v = arguments[Self.validateAlphabets] {
                validation = try all.filtered(alphabets: splitList(v))
            } else if !trainAlphabets.isEmpty {
                validation = try all.filtered(alphabets: trainAlphabets, keep: false)
            }
            if validation?.classes.count ?? 0 < settings.ways { validation = nil }
        } catch let e as IDXError {
            throw RuntimeError(e.description)
        }
        let model = FewShotCNN(architecture: CNNArchitecture(imageSize: train.imageSize, channels: channels),
                               ways: settings.ways, seed: seed)
        let trainer: MetaTrainer
        do { trainer = try MetaTrainer(model: model, dataset: train, settings: settings, seed: seed &+ 1, group: arguments.group) } catch let e as IDXError {
            throw RuntimeError(e.description)
        }
        if arguments[Self.resume] {
            guard FileManager.default.fileExists(atPath: statePath) else {
                throw RuntimeError("\(statePath): no training state to resume; run once without --resume")
            }
            do { try trainer.restore(try SafeTensors(contentsOfFile: statePath), path: statePath) } catch {
                throw RuntimeError("\(error)")
            }
        } else if arguments.isRoot, FileManager.default.fileExists(atPath: logPath) {
            try? FileManager.default.removeItem(atPath: logPath)
        }
        // Only rank 0 of an engram-cluster job writes the log and the checkpoints, and validates.
        guard let log = openLog(arguments.isRoot ? logPath : "/dev/null") else { throw RuntimeError("\(logPath): cannot open the loss log for writing; check the folder exists") }
        defer { fclose(log) }
        if ftell(log) == 0 { fputs("iteration\tloss\taccuracy\tseconds\tvalidation_accuracy\n", log) }

        let metadata: [String: String] = [
            "alphabets": trainAlphabets.joined(separator: ","), "ink": brightInk ? "bright" : "dark",
            "data": arguments[Self.data].map { splitList($0).map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ",") } ?? "synthetic",
            "seed": String(seed), "meta_batch": String(settings.metaBatch),
        ]
        func save() throws {
            guard arguments.isRoot else { return }
            var file = trainer.model.safeTensors(metadata: metadata.merging(["iteration": String(trainer.iteration)]) { $1 })
            file.metadata["iteration"] = String(trainer.iteration)
            try writeAtomically(file, to: out)
            try writeAtomically(trainer.trainingState(), to: statePath)
            ClusterJobState.shared.checkpointWritten(out, iteration: trainer.iteration)
        }
        func validate() -> FewShotEvaluation? {
            guard arguments.isRoot, let validation, let sampler = try? EpisodeSampler(dataset: validation, ways: settings.ways, shots: settings.shots, queries: settings.queries) else { return nil }
            let evaluator = FewShotEvaluator(model: trainer.model, inner: settings.inner, mode: mode, threads: settings.threads)
            return evaluator.evaluate(count: validateEpisodes, seed: 12_345) { _, rng in sampler.sample(rng: &rng) }
        }

        let progress = TerminalProgress(label: "fewshot-train")
        let start = Date()
        var recentLoss: Float = 0, recentAccuracy: Float = 0
        if trainer.iteration >= iterations { print("already at iteration \(trainer.iteration) ≥ --iterations \(iterations)") }
        while trainer.iteration < iterations {
            let (loss, accuracy) = trainer.step()
            recentLoss = trainer.iteration == 1 ? loss : 0.95 * recentLoss + 0.05 * loss
            recentAccuracy = trainer.iteration == 1 ? accuracy : 0.95 * recentAccuracy + 0.05 * accuracy
            var validationText = ""
            if validateEvery > 0, trainer.iteration % validateEvery == 0 || trainer.iteration == iterations, let v = validate() {
                validationText = String(format: "%.4f", v.accuracy)
            }
            let seconds = Date().timeIntervalSince(start)
            fputs(String(format: "%d\t%.5f\t%.4f\t%.1f\t%@\n", trainer.iteration, loss, accuracy, seconds, validationText), log)
            fflush(log)
            if trainer.iteration % checkpointEvery == 0 || trainer.iteration == iterations {
                do { try save() } catch { throw RuntimeError("\(out): cannot write the checkpoint (\(error))") }
            }
            progress.update(trainer.iteration, of: iterations,
                            detail: String(format: "loss %.3f acc %.1f%%%@", recentLoss, 100 * recentAccuracy,
                                           validationText.isEmpty ? "" : " held-out \(validationText)"))
        }
        progress.finish()
        if let v = validate() {
            print(String(format: "iteration %d: held-out %d-way %d-shot accuracy %.2f%% ± %.2f (%@)", trainer.iteration,
                         settings.ways, settings.shots, 100 * v.accuracy, 100 * v.ci95, mode.rawValue))
        }
        print("wrote \(out) (and \(statePath), log \(logPath))")
        return 0
    }

    static func openLog(_ path: String) -> UnsafeMutablePointer<FILE>? { fopen(path, "a") }

    static func writeAtomically(_ file: SafeTensors, to path: String) throws {
        let temporary = path + ".partial"
        try file.write(toFile: temporary)
        guard rename(temporary, path) == 0 else { throw RuntimeError("cannot rename \(temporary) to \(path)") }
    }
}
