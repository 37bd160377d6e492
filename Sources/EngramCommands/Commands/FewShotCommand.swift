#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Perception
import Tensors

/// `engram fewshot`: few-shot accuracy of a CNN checkpoint on Omniglot (published PNGs, Lake's runs, or
/// IDX), ideal or on PCM crossbars.
enum FewShotCommand: EngramCommand {
    static let name = "fewshot"
    static let abstract = "Measure N-way K-shot accuracy of the perception CNN (MAML readout adaptation)"
    static let discussion = """
    Samples episodes (N classes without replacement, K support and Q query images per class, all \
    different drawers), adapts the readout on the support set with --inner-steps SGD steps (lr 0.1), \
    and reports query accuracy after every step. --data takes Omniglot as its authors publish it \
    (images_background.zip, images_evaluation.zip, or the folders they unpack to: \
    alphabet/character/NNNN_XX.png; several joined by commas), or an IDX prefix (PREFIX-images-idx3-ubyte, \
    PREFIX-labels-idx1-int16, PREFIX-classes.tsv). PNGs are resized to 28×28 as the paper's pipeline does \
    (bilinear, no antialiasing) and given the ink polarity the checkpoint was trained on.

    With --runs, Lake's one-shot benchmark (all_runs.zip or its folder: runNN/training, runNN/test, \
    runNN/class_labels.txt) is scored: the accuracy of every run and overall: 20-way 1-shot within an \
    alphabet, the readout adapted on each run's 20 training images. Default checkpoint for --runs: \
    Models/omniglot-20way-1shot.safetensors. 'engram fewshot-runs' builds runs in this layout.

    With --support/--query (IDX) the split is fixed and every class in it is used (--ways must match). \
    The official weights expect dark ink on white: pass --invert with the shipped Omniglot IDX files. \
    With --pcm the convolutions run on PCM crossbars split at 256 rows and the readout on its own \
    crossbar, updated by stochastic rounding to 1/16 steps that re-program only the changed devices.

    Examples: engram fewshot --data images_evaluation.zip --ways 5 --shots 5 --pcm paper
              engram fewshot --runs all_runs.zip --pcm paper --json
    """
    static let data = Option<String>("--data", "dir|zip|prefix", "Omniglot folder or zip as published (a,b for several), or IDX prefix")
    static let runs = Option<String>("--runs", "dir|zip", "Lake's one-shot runs (all_runs folder or all_runs.zip)")
    static let synthetic = Flag("--synthetic", "Sample from synthetic stroke glyphs (8 alphabets × 20 characters × 20 drawers, --seed) instead of --data")
    static let support = Option<String>("--support", "prefix", "Fixed IDX support set (with --query)")
    static let query = Option<String>("--query", "prefix", "Fixed IDX query set (with --support)")
    static let ways = Option<Int>("--ways", "n", "Classes per episode (N)", in: 2...1000, required: true)
    static let shots = Option<Int>("--shots", "k", "Support images per class (K)", in: 1...1000, required: true)
    static let queries = Option<Int>("--queries", "q", "Query images per class", in: 1...1000).defaulting(to: 5)
    static let episodes = Option<Int>("--episodes", "e", "Episodes to average over; with --runs, repeats of every run", in: 1...10_000_000,
                                      defaultNote: "1000; 1 with --support or --runs")
    static let checkpoint = Option<String>("--checkpoint", "file", "Network weights",
                                           defaultNote: "Models/omniglot-fewshot.safetensors; with --runs Models/omniglot-20way-1shot.safetensors")
    static let pcm = Option<WeightMode>("--pcm", "mode", "Weights on PCM crossbars").defaulting(to: .off)
    static let innerSteps = Option<Int>("--inner-steps", "k", "SGD steps on the readout", in: 0...1000).defaulting(to: 4)
    static let innerLearningRate = Option<Double>("--inner-lr", "rate", "Inner learning rate", in: 0...100).defaulting(to: 0.1)
    static let invert = Flag("--invert", "IDX data: use 1 − pixel (dark ink on white, as the official weights expect)")
    static let alphabets = Option<String>("--alphabets", "a,b", "Only classes of these alphabets (PNG folders, or IDX with PREFIX-classes.tsv)")
    static let seed = CommonOptions.seed("Random seed")
    static let threads = Option<Int>("--threads", "t", "Worker threads", in: 1...64).defaulting(to: 2)
    static let json = CommonOptions.json

    static let options: [OptionSpec] = [
        data.spec, runs.spec, synthetic.spec, support.spec, query.spec, ways.spec, shots.spec, queries.spec, episodes.spec,
        checkpoint.spec, pcm.spec, innerSteps.spec, innerLearningRate.spec, invert.spec, alphabets.spec, seed.spec, threads.spec, json.spec,
    ]

    /// Lake's runs fix the classes and images: `--runs` takes none of the episode options.
    static let modes: [CommandMode] = {
        let why = "does not apply to --runs: Lake's runs fix the classes and images (and the ink follows the checkpoint)"
        return [CommandMode(option: "--runs", takes: ["--episodes", "--checkpoint", "--pcm", "--inner-steps", "--inner-lr", "--seed", "--threads", "--json"],
                            refusals: Dictionary(uniqueKeysWithValues: ["--ways", "--shots", "--queries", "--alphabets", "--invert"].map { ($0, "\($0) \(why)") })
                                .merging(["--data", "--synthetic", "--support", "--query"].map { ($0, "\($0) and --runs exclude each other; use one") }) { a, _ in a })]
    }()

    static let rules: [OptionRule] = [
        .oneOf(["--data", "--synthetic", "--support"], message: "missing --data <dir|zip|prefix> (or --runs <dir|zip>, --support/--query, --synthetic); see 'engram help fewshot'"),
        .requires("--support", anyOf: ["--query"], message: "--support needs --query <prefix>"),
        .requires("--query", anyOf: ["--support"], message: "--query needs --support <prefix>"),
    ]

    /// `--episodes`, at most `limit` here (the modes allow different counts), else `fallback`.
    static func episodeCount(_ arguments: ParsedArguments, default fallback: Int, limit: Int) throws -> Int {
        let n = arguments[Self.episodes] ?? fallback
        guard n <= limit else { throw UsageError("--episodes <e>: \(n) is out of range; use 1...\(limit)") }
        return n
    }

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let steps = arguments[Self.innerSteps]
        let lr = arguments[Self.innerLearningRate]
        let seed = arguments[Self.seed]
        let threads = arguments[Self.threads]
        let mode = arguments[Self.pcm]
        let runs = arguments[Self.runs]
        let checkpoint = arguments[Self.checkpoint] ?? (runs == nil ? shippedCheckpoint() : shippedCheckpoint(oneShot: true))
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw RuntimeError("\(checkpoint): no such checkpoint; pass --checkpoint FILE (e.g. the official omniglot-maml-official.safetensors or one written by 'engram fewshot-train')")
        }
        let model: FewShotCNN
        let brightInk: Bool
        do {
            model = try FewShotCNN(checkpoint: checkpoint)
            brightInk = trainedOnBrightInk((try? SafeTensors(contentsOfFile: checkpoint))?.metadata ?? [:])
        } catch { throw RuntimeError("\(error)") }
        let evaluator = FewShotEvaluator(model: model, inner: InnerLoop(steps: steps, learningRate: Float(lr)),
                                         mode: mode, threads: threads)
        let progress = TerminalProgress(label: "fewshot")
        do {
            if let runs {
                let set = try OneShotRun.read(runs, imageSize: model.architecture.imageSize, invert: brightInk)
                let repeats = try episodeCount(arguments, default: 1, limit: 100_000)
                let total = set.count * repeats
                let result = evaluator.evaluate(count: total, seed: seed, progress: { progress.update($0, of: total) }) { i, _ in
                    set[i % set.count].episode
                }
                progress.finish()
                printRuns(set, result, repeats: repeats, mode: mode, json: arguments[Self.json])
                return 0
            }
            let ways = try arguments.required(Self.ways)
            let shots = try arguments.required(Self.shots)
            let queries = arguments[Self.queries]
            let result: FewShotEvaluation
            if let data = arguments[Self.data] ?? (arguments[Self.synthetic] ? "synthetic" : nil) {
                var set: FewShotDataset
                if arguments[Self.synthetic] {
                    set = syntheticGlyphs(seed: seed, invert: arguments[Self.invert])
                } else if isPublishedOmniglot(data) {
                    guard !arguments[Self.invert] else {
                        throw UsageError("--invert applies to IDX data; published PNGs get the ink polarity the checkpoint was trained on")
                    }
                    set = try readFewShotData(data, invert: brightInk, imageSize: model.architecture.imageSize)
                } else {
                    set = try readFewShotData(data, invert: arguments[Self.invert])
                }
                if let a = arguments[Self.alphabets] { set = try set.filtered(alphabets: splitList(a)) }
                guard set.imageSize == model.architecture.imageSize else {
                    throw RuntimeError("\(data): images are \(set.imageSize)×\(set.imageSize), the network takes \(model.architecture.imageSize)×\(model.architecture.imageSize)")
                }
                let sampler = try EpisodeSampler(dataset: set, ways: ways, shots: shots, queries: queries)
                let episodes = try episodeCount(arguments, default: 1000, limit: 10_000_000)
                result = evaluator.evaluate(count: episodes, seed: seed, progress: { progress.update($0, of: episodes) }) { _, rng in
                    sampler.sample(rng: &rng)
                }
            } else if let s = arguments[Self.support], let q = arguments[Self.query] {
                let invert = arguments[Self.invert]
                var support = try FewShotDataset(prefix: s, invert: invert)
                var query = try FewShotDataset(prefix: q, invert: invert)
                if let a = arguments[Self.alphabets] {
                    support = try support.filtered(alphabets: splitList(a))
                    query = try query.filtered(alphabets: splitList(a))
                }
                let episode = try EpisodeSampler.fixed(support: support, query: query, shots: shots)
                guard episode.ways == ways else {
                    throw UsageError("--ways \(ways): the fixed support set has \(episode.ways) classes; pass --ways \(episode.ways)")
                }
                let episodes = try episodeCount(arguments, default: 1, limit: 1_000_000)
                result = evaluator.evaluate(count: episodes, seed: seed, progress: { progress.update($0, of: episodes) }) { _, _ in episode }
            } else {
                throw UsageError("missing --data <dir|zip|prefix> (or --runs <dir|zip>, --support/--query, --synthetic); see 'engram help fewshot'")
            }
            progress.finish()
            if arguments[Self.json] {
                print(result.json)
            } else {
                print(String(format: "%d-way %d-shot, %d episodes, pcm %@: accuracy %.2f%% ± %.2f (95%% CI)",
                             ways, shots, result.episodes, mode.rawValue, 100 * result.accuracy, 100 * result.ci95))
                print("per inner step: " + result.perStepAccuracy.map { String(format: "%.2f%%", 100 * $0) }.joined(separator: " → "))
                print("readout devices re-programmed: \(result.devicesProgrammed)")
            }
        } catch let e as IDXError {
            // Errors about an argument (--ways, --shots, --alphabets, ...) are usage errors (exit 2); errors in
            // the files are runtime errors (exit 1).
            if e.path.hasPrefix("--") { throw UsageError(e.description) }
            throw RuntimeError(e.description)
        }
        return 0
    }

    /// Per-run and overall accuracy of Lake's runs (`result` holds `repeats` passes over `runs`).
    static func printRuns(_ runs: [OneShotRun], _ result: FewShotEvaluation, repeats: Int, mode: WeightMode, json: Bool) {
        let perRun = runs.indices.map { r in
            stride(from: r, to: result.episodeAccuracy.count, by: runs.count).map { result.episodeAccuracy[$0] }.reduce(0, +) / Double(repeats)
        }
        // The interval is over runs (repeats of a run share its images; ideal repeats are identical).
        let mean = perRun.reduce(0, +) / Double(max(perRun.count, 1))
        let variance = perRun.count > 1 ? perRun.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(perRun.count - 1) : 0
        let ci95 = 1.96 * (variance / Double(max(perRun.count, 1))).squareRoot()
        if json {
            let items = zip(runs, perRun).map { String(format: "{\"run\": \"%@\", \"ways\": %d, \"accuracy\": %.6f}", $0.name, $0.episode.ways, $1) }
            print(String(format: "{\"accuracy\": %.6f, \"error_rate\": %.6f, \"ci95\": %.6f, \"pcm\": \"%@\", \"repeats\": %d, \"runs\": [%@]}",
                         mean, 1 - mean, ci95, mode.rawValue, repeats, items.joined(separator: ", ")))
            return
        }
        for (run, accuracy) in zip(runs, perRun) {
            print(String(format: "%@  %d-way 1-shot  accuracy %6.2f%%", run.name, run.episode.ways, 100 * accuracy))
        }
        print(String(format: "overall: %d runs%@, pcm %@: accuracy %.2f%% ± %.2f (95%% CI over runs), error rate %.2f%%", runs.count,
                     repeats > 1 ? " × \(repeats) repeats" : "", mode.rawValue, 100 * mean, 100 * ci95, 100 * (1 - mean)))
    }
}

/// Whether `--data` names Omniglot as published (folders or zip files) rather than an IDX prefix.
func isPublishedOmniglot(_ data: String) -> Bool {
    splitList(data).allSatisfy { FileManager.default.fileExists(atPath: $0) }
}

/// The data `--data` names: Omniglot as published (folders or zips, comma-separated; `invert` gives
/// bright ink), else IDX files `PREFIX-images-idx3-ubyte`… (`invert` gives dark ink). A name that is
/// neither is one error naming both readings.
func readFewShotData(_ data: String, invert: Bool, imageSize: Int = 28) throws -> FewShotDataset {
    if isPublishedOmniglot(data) { return try FewShotDataset(omniglot: splitList(data), imageSize: imageSize, invert: invert) }
    guard !data.contains(","), FileManager.default.fileExists(atPath: data + "-images-idx3-ubyte") else {
        let missing = splitList(data).first { !FileManager.default.fileExists(atPath: $0) } ?? data
        throw RuntimeError("\(missing): no such folder or zip file, nor IDX files \(missing)-images-idx3-ubyte; pass Omniglot as published (images_background.zip or the folder it unpacks to) or an IDX prefix")
    }
    return try FewShotDataset(prefix: data, invert: invert)
}

/// Whether a checkpoint's network was trained on bright ink on a dark ground: the `ink` metadata that
/// fewshot-train writes; for older checkpoints `inverted` (0: trained on the bright-ink IDX export);
/// none (the official weights): dark ink on white, as the paper's pipeline gives.
func trainedOnBrightInk(_ metadata: [String: String]) -> Bool {
    if let ink = metadata["ink"] { return ink == "bright" }
    if let inverted = metadata["inverted"] { return inverted == "0" }
    return false
}

/// The shipped checkpoint (the 5-way 5-shot one, or with `oneShot` the 20-way 1-shot one) in the working directory or in the
/// repository the executable was built in.
func shippedCheckpoint(oneShot: Bool = false) -> String {
    let relative = oneShot ? "Models/omniglot-20way-1shot.safetensors" : "Models/omniglot-fewshot.safetensors"
    return ResourceLocator.find(relative) ?? relative
}

/// The synthetic stand-in for Omniglot: 8 alphabets × 20 characters × 20 drawers of stroke glyphs
/// (bright ink on dark, like the shipped IDX files; `invert` flips it).
func syntheticGlyphs(seed: UInt64, invert: Bool) -> FewShotDataset {
    var set = StrokeGlyphs().dataset(alphabets: 8, characters: 20, drawers: 20, seed: seed)
    if invert { set.pixels = set.pixels.map { 1 - $0 } }
    return set
}

/// Splits `A,B,C` into names.
func splitList(_ s: String) -> [String] {
    s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// A one-line progress display on stderr, shown only when stderr is a terminal.
final class TerminalProgress: @unchecked Sendable {
    let label: String
    let enabled = isatty(2) != 0
    private let lock = NSLock()
    private var lastDraw = Date.distantPast

    init(label: String) { self.label = label }

    /// Redraws `label done/total` at most ten times a second.
    func update(_ done: Int, of total: Int, detail: String = "") {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || done >= total else { return }
        lastDraw = now
        fputs("\r\(label) \(min(done, total))/\(total) \(detail)\u{1B}[K", stderr)
    }

    /// Clears the line.
    func finish() {
        guard enabled else { return }
        fputs("\r\u{1B}[K", stderr)
    }
}
