#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Perception
import Tensors

/// `engram fewshot`: few-shot accuracy of a CNN checkpoint on IDX data, ideal or on PCM crossbars.
enum FewShotCommand: EngramCommand {
    static let name = "fewshot"
    static let abstract = "Measure N-way K-shot accuracy of the perception CNN (MAML readout adaptation)"
    static let discussion = """
    Samples episodes (N classes without replacement, K support and Q query images per class, all \
    different drawers), adapts the readout on the support set with --inner-steps SGD steps (lr 0.1), \
    and reports query accuracy after every step. PREFIX names PREFIX-images-idx3-ubyte and \
    PREFIX-labels-idx1-int16 (PREFIX-classes.tsv, when present, gives the alphabets for --alphabets). \
    With --support/--query the split is fixed and every class in it is used (--ways must match).

    The official weights (omniglot-maml-official.safetensors) expect dark ink on white: pass --invert \
    with the shipped Omniglot IDX files. With --pcm the convolutions run on PCM crossbars split at 256 \
    rows and the readout on its own crossbar, updated by stochastic rounding to 1/16 steps that \
    re-program only the changed devices.

    Example: engram fewshot --data ../shared/data/omniglot/background --ways 5 --shots 5 \
    --checkpoint ../shared/reference/omniglot-maml-official.safetensors --invert --pcm paper --json
    """
    static let options: [OptionSpec] = [
        .value("--data", "prefix", "IDX data to sample episodes from"),
        .flag("--synthetic", "sample from synthetic stroke glyphs (8 alphabets × 20 characters × 20 drawers, --seed) instead of --data"),
        .value("--support", "prefix", "fixed support set (with --query)"),
        .value("--query", "prefix", "fixed query set (with --support)"),
        .value("--ways", "n", "classes per episode (N)"),
        .value("--shots", "k", "support images per class (K)"),
        .value("--queries", "q", "query images per class (default 5)"),
        .value("--episodes", "e", "episodes to average over (default 1000; 1 with --support)"),
        .value("--checkpoint", "file", "network weights (default Models/omniglot-fewshot.safetensors)"),
        .value("--pcm", "mode", "weights on PCM crossbars (default off)", choices: WeightMode.allCases.map(\.rawValue)),
        .value("--inner-steps", "k", "SGD steps on the readout (default 4)"),
        .value("--inner-lr", "rate", "inner learning rate (default 0.1)"),
        .flag("--invert", "use 1 − pixel (dark ink on white, as the official weights expect)"),
        .value("--alphabets", "a,b", "only classes of these alphabets (needs PREFIX-classes.tsv)"),
        .value("--seed", "s", "random seed (default 0)"),
        .value("--threads", "t", "worker threads (default 2)"),
        .flag("--json", "print one JSON object"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let ways = try arguments.int("--ways", in: 2...1000) ?? { throw UsageError("missing --ways <n>: classes per episode; see 'engram help fewshot'") }()
        let shots = try arguments.int("--shots", in: 1...1000) ?? { throw UsageError("missing --shots <k>: support images per class; see 'engram help fewshot'") }()
        let queries = try arguments.int("--queries", default: 5, in: 1...1000)!
        let steps = try arguments.int("--inner-steps", default: 4, in: 0...1000)!
        let lr = try arguments.double("--inner-lr", default: 0.1, in: 0...100)!
        let seed = try arguments.seed()
        let threads = try arguments.int("--threads", default: 2, in: 1...64)!
        let mode = WeightMode(rawValue: arguments.choice("--pcm", default: "off"))!
        let invert = arguments.has("--invert")
        let checkpoint = arguments.string("--checkpoint") ?? shippedCheckpoint()
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            throw RuntimeError("\(checkpoint): no such checkpoint; pass --checkpoint FILE (e.g. the official omniglot-maml-official.safetensors or one written by 'engram fewshot-train')")
        }
        let model: FewShotCNN
        do { model = try FewShotCNN(checkpoint: checkpoint) } catch { throw RuntimeError("\(error)") }
        let evaluator = FewShotEvaluator(model: model, inner: InnerLoop(steps: steps, learningRate: Float(lr)),
                                         mode: mode, threads: threads)
        let progress = TerminalProgress(label: "fewshot")
        let result: FewShotEvaluation
        do {
            if arguments.has("--data") || arguments.has("--synthetic") {
                guard !arguments.has("--support"), !arguments.has("--query"), !(arguments.has("--data") && arguments.has("--synthetic")) else {
                    throw UsageError("--data, --synthetic and --support/--query exclude each other; use one")
                }
                let data = arguments.string("--data") ?? "synthetic"
                var set = try arguments.string("--data").map { try FewShotDataset(prefix: $0, invert: invert) }
                    ?? syntheticGlyphs(seed: seed, invert: invert)
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
                throw UsageError("missing --data <prefix> (or --support <prefix> --query <prefix>); see 'engram help fewshot'")
            }
        } catch let e as IDXError {
            // Errors about an argument (--ways, --shots, --alphabets, ...) are usage errors (exit 2); errors in
            // the files are runtime errors (exit 1).
            if e.path.hasPrefix("--") { throw UsageError(e.description) }
            throw RuntimeError(e.description)
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
        return 0
    }
}

/// The shipped checkpoint: Models/omniglot-fewshot.safetensors in the working directory or in the
/// repository the executable was built in.
func shippedCheckpoint() -> String {
    let relative = "Models/omniglot-fewshot.safetensors"
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
