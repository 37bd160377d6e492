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
    static let options: [OptionSpec] = [
        .value("--data", "dir|zip|prefix", "Omniglot folder or zip as published (a,b for several), or IDX prefix"),
        .value("--runs", "dir|zip", "Lake's one-shot runs (all_runs folder or all_runs.zip)"),
        .flag("--synthetic", "sample from synthetic stroke glyphs (8 alphabets × 20 characters × 20 drawers, --seed) instead of --data"),
        .value("--support", "prefix", "fixed IDX support set (with --query)"),
        .value("--query", "prefix", "fixed IDX query set (with --support)"),
        .value("--ways", "n", "classes per episode (N)"),
        .value("--shots", "k", "support images per class (K)"),
        .value("--queries", "q", "query images per class (default 5)"),
        .value("--episodes", "e", "episodes to average over (default 1000; 1 with --support; with --runs, repeats of every run)"),
        .value("--checkpoint", "file", "network weights (default Models/omniglot-fewshot.safetensors; with --runs Models/omniglot-20way-1shot.safetensors)"),
        .value("--pcm", "mode", "weights on PCM crossbars (default off)", choices: WeightMode.allCases.map(\.rawValue)),
        .value("--inner-steps", "k", "SGD steps on the readout (default 4)"),
        .value("--inner-lr", "rate", "inner learning rate (default 0.1)"),
        .flag("--invert", "IDX data: use 1 − pixel (dark ink on white, as the official weights expect)"),
        .value("--alphabets", "a,b", "only classes of these alphabets (PNG folders, or IDX with PREFIX-classes.tsv)"),
        .value("--seed", "s", "random seed (default 0)"),
        .value("--threads", "t", "worker threads (default 2)"),
        .flag("--json", "print one JSON object"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let sources = ["--data", "--runs", "--synthetic", "--support"].filter { arguments.has($0) }
        guard sources.count <= 1 else {
            throw UsageError("\(sources.joined(separator: " and ")) exclude each other; use one")
        }
        let steps = try arguments.int("--inner-steps", default: 4, in: 0...1000)!
        let lr = try arguments.double("--inner-lr", default: 0.1, in: 0...100)!
        let seed = try arguments.seed()
        let threads = try arguments.int("--threads", default: 2, in: 1...64)!
        let mode = WeightMode(rawValue: arguments.choice("--pcm", default: "off"))!
        let runs = arguments.string("--runs")
        let checkpoint = arguments.string("--checkpoint") ?? (runs == nil ? shippedCheckpoint() : shippedCheckpoint(oneShot: true))
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
                for o in ["--ways", "--shots", "--queries", "--alphabets", "--invert"] where arguments.has(o) {
                    throw UsageError("\(o) does not apply to --runs: Lake's runs fix the classes and images (and the ink follows the checkpoint)")
                }
                let set = try OneShotRun.read(runs, imageSize: model.architecture.imageSize, invert: brightInk)
                let repeats = try arguments.int("--episodes", default: 1, in: 1...100_000)!
                let total = set.count * repeats
                let result = evaluator.evaluate(count: total, seed: seed, progress: { progress.update($0, of: total) }) { i, _ in
                    set[i % set.count].episode
                }
                progress.finish()
                printRuns(set, result, repeats: repeats, mode: mode, json: arguments.has("--json"))
                return 0
            }
            let ways = try arguments.int("--ways", in: 2...1000) ?? { throw UsageError("missing --ways <n>: classes per episode; see 'engram help fewshot'") }()
            let shots = try arguments.int("--shots", in: 1...1000) ?? { throw UsageError("missing --shots <k>: support images per class; see 'engram help fewshot'") }()
            let queries = try arguments.int("--queries", default: 5, in: 1...1000)!
            let result: FewShotEvaluation
            if let data = arguments.string("--data") ?? (arguments.has("--synthetic") ? "synthetic" : nil) {
                var set: FewShotDataset
                if arguments.has("--synthetic") {
                    set = syntheticGlyphs(seed: seed, invert: arguments.has("--invert"))
                } else if isPublishedOmniglot(data) {
                    guard !arguments.has("--invert") else {
                        throw UsageError("--invert applies to IDX data; published PNGs get the ink polarity the checkpoint was trained on")
                    }
                    set = try readFewShotData(data, invert: brightInk, imageSize: model.architecture.imageSize)
                } else {
                    set = try readFewShotData(data, invert: arguments.has("--invert"))
                }
                if let a = arguments.string("--alphabets") { set = try set.filtered(alphabets: splitList(a)) }
                guard set.imageSize == model.architecture.imageSize else {
                    throw RuntimeError("\(data): images are \(set.imageSize)×\(set.imageSize), the network takes \(model.architecture.imageSize)×\(model.architecture.imageSize)")
                }
                let sampler = try EpisodeSampler(dataset: set, ways: ways, shots: shots, queries: queries)
                let episodes = try arguments.int("--episodes", default: 1000, in: 1...10_000_000)!
                result = evaluator.evaluate(count: episodes, seed: seed, progress: { progress.update($0, of: episodes) }) { _, rng in
                    sampler.sample(rng: &rng)
                }
            } else if let s = arguments.string("--support") {
                guard let q = arguments.string("--query") else { throw UsageError("--support needs --query <prefix>") }
                let invert = arguments.has("--invert")
                var support = try FewShotDataset(prefix: s, invert: invert)
                var query = try FewShotDataset(prefix: q, invert: invert)
                if let a = arguments.string("--alphabets") {
                    support = try support.filtered(alphabets: splitList(a))
                    query = try query.filtered(alphabets: splitList(a))
                }
                let episode = try EpisodeSampler.fixed(support: support, query: query, shots: shots)
                guard episode.ways == ways else {
                    throw UsageError("--ways \(ways): the fixed support set has \(episode.ways) classes; pass --ways \(episode.ways)")
                }
                let episodes = try arguments.int("--episodes", default: 1, in: 1...1_000_000)!
                result = evaluator.evaluate(count: episodes, seed: seed, progress: { progress.update($0, of: episodes) }) { _, _ in episode }
            } else {
                throw UsageError("missing --data <dir|zip|prefix> (or --runs <dir|zip>, --support/--query, --synthetic); see 'engram help fewshot'")
            }
            progress.finish()
            if arguments.has("--json") {
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
