import Foundation
import Tensors

/// Few-shot accuracy over many episodes, with a 95% confidence interval.
public struct FewShotEvaluation: Sendable, Equatable {
    /// Mean query accuracy after the last inner step.
    public var accuracy: Double
    /// Half-width of the 95% confidence interval of `accuracy` (1.96 standard errors over episodes).
    public var ci95: Double
    /// Mean query accuracy after 0, 1, …, K inner steps.
    public var perStepAccuracy: [Double]
    /// Episodes run.
    public var episodes: Int
    /// Readout devices (differential pairs) re-programmed by the inner updates, summed over episodes.
    /// In ideal mode: readout weights the updates changed.
    public var devicesProgrammed: Int

    /// The JSON object of `engram fewshot --json`.
    public var json: String {
        func f(_ x: Double) -> String { String(format: "%.6f", x) }
        return "{\"accuracy\": \(f(accuracy)), \"ci95\": \(f(ci95)), \"per_step_accuracy\": [\(perStepAccuracy.map(f).joined(separator: ", "))], \"episodes\": \(episodes), \"devices_programmed\": \(devicesProgrammed)}"
    }
}

/// How the network's weights are held during evaluation.
public enum WeightMode: String, Sendable, CaseIterable {
    /// Dense float matrices (ideal).
    case off
    /// PCM crossbars with the official code's device model (paper-model.md §4.2).
    case paper
    /// PCM crossbars with the physically consistent (aihwkit-like) device model.
    case physical
}

/// Runs few-shot episodes: features through the CNN, the readout adapted on the support set with the
/// inner loop, accuracy on the query set after every step.
public struct FewShotEvaluator: Sendable {
    /// The trained network; its readout is widened or narrowed to each episode's ways (`withWays`).
    public var model: FewShotCNN
    /// Inner-loop settings.
    public var inner: InnerLoop
    /// Ideal or PCM.
    public var mode: WeightMode
    /// Worker threads over episodes.
    public var threads: Int

    /// An evaluator.
    public init(model: FewShotCNN, inner: InnerLoop = InnerLoop(), mode: WeightMode = .off, threads: Int = 2) {
        self.model = model
        self.inner = inner
        self.mode = mode
        self.threads = threads
    }

    /// Runs `count` episodes; episode `i` comes from `episode(i, &rng)` with an independent stream
    /// derived from `seed`, so the result does not depend on the thread count.
    public func evaluate(count: Int, seed: UInt64, progress: ((Int) -> Void)? = nil,
                         episode: @escaping @Sendable (Int, inout RandomSource) -> Episode) -> FewShotEvaluation {
        let base = RandomSource(seed: seed)
        let workers = (0..<max(1, threads)).map { _ in EpisodeRunner(model: model, inner: inner, mode: mode, seed: seed) }
        let done = UncheckedSendable(value: DoneCounter())
        let results = runInParallel(count: count, threads: workers.count) { thread, i -> (steps: [Float], devices: Int) in
            var rng = base.derived(UInt64(i))
            let e = episode(i, &rng)
            let r = workers[thread].run(e, rng: &rng)
            if let progress, thread == 0 { progress(done.value.add(workers.count)) }
            return r
        }
        return FewShotEvaluator.summarize(results)
    }

    static func summarize(_ results: [(steps: [Float], devices: Int)]) -> FewShotEvaluation {
        let k = results.first?.steps.count ?? 0
        var perStep = [Double](repeating: 0, count: k)
        var finals: [Double] = []
        var devices = 0
        for r in results {
            for s in 0..<k { perStep[s] += Double(r.steps[s]) / Double(results.count) }
            finals.append(Double(r.steps[k - 1]))
            devices += r.devices
        }
        let mean = finals.reduce(0, +) / Double(max(finals.count, 1))
        let variance = finals.count > 1 ? finals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(finals.count - 1) : 0
        return FewShotEvaluation(accuracy: mean, ci95: 1.96 * (variance / Double(max(finals.count, 1))).squareRoot(),
                                 perStepAccuracy: perStep, episodes: results.count, devicesProgrammed: devices)
    }
}

final class DoneCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) -> Int { lock.lock(); defer { lock.unlock() }; n += k; return n }
}

/// One thread's episode machinery (tapes, and in PCM mode its copy of the programmed crossbars).
final class EpisodeRunner: @unchecked Sendable {
    let model: FewShotCNN
    let inner: InnerLoop
    let mode: WeightMode
    let worker: TaskWorker

    init(model: FewShotCNN, inner: InnerLoop, mode: WeightMode, seed: UInt64) {
        self.model = model
        self.inner = inner
        self.mode = mode
        worker = TaskWorker(architecture: model.architecture)
    }

    /// Query accuracy after each of 0...K inner steps, and the devices the updates re-programmed.
    func run(_ episode: Episode, rng: inout RandomSource) -> (steps: [Float], devices: Int) {
        let net = model.withWays(episode.ways)
        let c = net.architecture.channels
        var dense = DenseConvolutions(weights: net.convolutions)
        let fs = TaskWorker.features(worker.support, pixels: episode.supportPixels, batch: episode.supportLabels.count, multiplier: &dense)
        let fq = TaskWorker.features(worker.query, pixels: episode.queryPixels, batch: episode.queryLabels.count, multiplier: &dense)
        let trace = ReadoutLearning.adapt(support: fs, labels: episode.supportLabels, initial: net.readout.storage,
                                          channels: c, ways: episode.ways, inner: inner)
        var steps: [Float] = []
        var p: [Float] = []
        var devices = 0
        for (k, w) in trace.weights.enumerated() {
            let (_, correct) = ReadoutLearning.probabilities(features: fq, weights: w, labels: episode.queryLabels,
                                                             channels: c, ways: episode.ways, into: &p)
            steps.append(Float(correct) / Float(episode.queryLabels.count))
            if k > 0 { devices += zip(w, trace.weights[k - 1]).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) } }
        }
        return (steps, devices)
    }
}
