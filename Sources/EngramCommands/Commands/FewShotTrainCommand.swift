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
    static let options: [OptionSpec] = [
        .value("--data", "dir|zip|prefix", "Omniglot folder or zip as published (a,b for several), or IDX prefix"),
        .flag("--synthetic", "train on synthetic stroke glyphs (alphabets synthetic-0..7) instead of --data"),
        .value("--alphabets", "a,b", "train on these alphabets only (PNG folders, or IDX with PREFIX-classes.tsv)"),
        .value("--validate-alphabets", "a,b", "held-out alphabets for validation (default: the others)"),
        .value("--iterations", "n", "outer steps to reach"),
        .value("--pcm", "mode", "weights mode for validation (default off)", choices: WeightMode.allCases.map(\.rawValue)),
        .value("--out", "file", "checkpoint to write (safetensors)"),
        .flag("--resume", "continue from --out and --out.state"),
        .value("--meta-batch", "b", "tasks per outer step (default 32)"),
        .value("--ways", "n", "classes per task (default 5)"),
        .value("--shots", "k", "support images per class (default 5)"),
        .value("--queries", "q", "query images per class (default 5)"),
        .value("--inner-steps", "k", "inner SGD steps (default 4)"),
        .value("--learning-rate", "rate", "Adam learning rate (default 0.001)"),
        .value("--channels", "c", "conv channels of a new network (default 56)"),
        .flag("--invert", "train on 1 − pixel (IDX: dark ink on white; PNG: bright ink on dark)"),
        .flag("--no-rotate", "no 90° rotation augmentation"),
        .value("--checkpoint-every", "n", "iterations between checkpoints (default 100)"),
        .value("--validate-every", "n", "iterations between validations (default 250; 0 = never)"),
        .value("--validate-episodes", "e", "episodes per validation (default 200)"),
        .value("--log", "file", "loss log (default OUT without .safetensors + -loss.tsv)"),
        .value("--seed", "s", "random seed (default 0)"),
        .value("--threads", "t", "worker threads (default 2)"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        guard arguments.has("--data") != arguments.has("--synthetic") else {
            throw UsageError("give one of --data <prefix> or --synthetic; see 'engram help fewshot-train'")
        }
        let out = try arguments.required("--out")
        let iterations = try arguments.int("--iterations", in: 1...10_000_000) ?? { throw UsageError("missing --iterations <n>: outer steps to reach; see 'engram help fewshot-train'") }()
        var settings = MetaTrainingSettings()
        settings.metaBatch = try arguments.int("--meta-batch", default: 32, in: 1...4096)!
        settings.ways = try arguments.int("--ways", default: 5, in: 2...1000)!
        settings.shots = try arguments.int("--shots", default: 5, in: 1...1000)!
        settings.queries = try arguments.int("--queries", default: 5, in: 1...1000)!
        settings.inner.steps = try arguments.int("--inner-steps", default: 4, in: 0...100)!
        settings.outerLearningRate = Float(try arguments.double("--learning-rate", default: 1e-3, in: 0...1)!)
        settings.rotate = !arguments.has("--no-rotate")
        settings.threads = try arguments.int("--threads", default: 2, in: 1...64)!
        let channels = try arguments.int("--channels", default: 56, in: 1...1024)!
        let checkpointEvery = try arguments.int("--checkpoint-every", default: 100, in: 1...1_000_000)!
        let validateEvery = try arguments.int("--validate-every", default: 250, in: 0...1_000_000)!
        let validateEpisodes = try arguments.int("--validate-episodes", default: 200, in: 1...1_000_000)!
        let seed = try arguments.seed()
        let mode = WeightMode(rawValue: arguments.choice("--pcm", default: "off"))!
        let invert = arguments.has("--invert")
        let logPath = arguments.string("--log") ?? (out.hasSuffix(".safetensors") ? String(out.dropLast(12)) : out) + "-loss.tsv"
        let statePath = out + ".state"

        var train: FewShotDataset
        var validation: FewShotDataset?
        var brightInk = true
        let trainAlphabets = arguments.string("--alphabets").map(splitList) ?? []
        do {
            let all = try arguments.string("--data").map { try readFewShotData($0, invert: invert) }
                ?? syntheticGlyphs(seed: seed, invert: invert)
            // The IDX export and the synthetic glyphs have bright ink on dark; the paper's pipeline dark ink on white.
            brightInk = isPublishedOmniglot(arguments.string("--data") ?? "") ? invert : !invert
            train = trainAlphabets.isEmpty ? all : try all.filtered(alphabets: trainAlphabets)
            if let v = arguments.string("--validate-alphabets") {
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
        if arguments.has("--resume") {
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
            "data": arguments.string("--data").map { splitList($0).map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ",") } ?? "synthetic",
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
