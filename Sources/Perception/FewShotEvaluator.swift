import Foundation
import PhaseChange
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
    /// Query accuracy of each episode after the last inner step, in episode order.
    public var episodeAccuracy: [Double] = []

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
                                 perStepAccuracy: perStep, episodes: results.count, devicesProgrammed: devices,
                                 episodeAccuracy: finals)
    }
}

final class DoneCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) -> Int { lock.lock(); defer { lock.unlock() }; n += k; return n }
}

/// How a PCM evaluation maps the network onto crossbars, and when things happen.
public struct PCMEvaluationSettings: Sendable {
    /// Device model of the convolution crossbars.
    public var convolutions: PCMParameters
    /// Device model of the readout crossbar.
    public var readout: PCMParameters
    /// Program each layer as W / max|W| and scale outputs back digitally (see `CrossbarConvolutions`).
    public var scaleToRange: Bool
    /// When the convolutions are programmed (once per run), seconds.
    public var convolutionProgrammingTime: Double = 0
    /// When each episode's readout is programmed and every read and update of the episode happens, seconds.
    public var episodeTime: Double = 30

    /// The settings of a mode: `paper` follows the official code (raw weights clipped to [−1, 1]; read-noise
    /// factor of the √½ variant on the convolutions and 4.24 on the dense readout); `physical` uses the
    /// aihwkit-like model with range scaling. Nil for `off`.
    public init?(mode: WeightMode) {
        switch mode {
        case .off:
            return nil
        case .paper:
            var conv = PCMParameters.paper
            conv.paperReadNoiseFactor = PCMParameters.paperRobotReadNoiseFactor
            var head = PCMParameters.paper
            head.paperReadNoiseFactor = PCMParameters.paperCNNReadNoiseFactor
            convolutions = conv
            readout = head
            scaleToRange = false
        case .physical:
            convolutions = .physical
            readout = .physical
            scaleToRange = true
        }
    }
}

/// One thread's episode machinery (tapes, and in PCM mode its copy of the programmed crossbars).
final class EpisodeRunner: @unchecked Sendable {
    let model: FewShotCNN
    let inner: InnerLoop
    let pcm: PCMEvaluationSettings?
    let worker: TaskWorker
    var crossbars: CrossbarConvolutions?

    /// In PCM mode the convolutions are programmed from `seed`, so every thread holds the same devices.
    init(model: FewShotCNN, inner: InnerLoop, mode: WeightMode, seed: UInt64) {
        self.model = model
        self.inner = inner
        pcm = PCMEvaluationSettings(mode: mode)
        worker = TaskWorker(architecture: model.architecture)
        if let pcm {
            var rng = RandomSource(seed: seed ^ 0x5043_4D5F_4348_4950)
            crossbars = CrossbarConvolutions(weights: model.convolutions, parameters: pcm.convolutions,
                                             scaleToRange: pcm.scaleToRange, programmingTime: pcm.convolutionProgrammingTime,
                                             readTime: pcm.episodeTime, rng: &rng)
        }
    }

    /// Query accuracy after each of 0...K inner steps, and the devices the updates re-programmed.
    func run(_ episode: Episode, rng: inout RandomSource) -> (steps: [Float], devices: Int) {
        let net = model.withWays(episode.ways)
        let c = net.architecture.channels
        let nq = episode.queryLabels.count
        func accuracy(_ probabilitiesOrLogits: [Float]) -> Float {
            var correct = 0
            for b in 0..<nq {
                var best = 0
                for n in 1..<episode.ways where probabilitiesOrLogits[b * episode.ways + n] > probabilitiesOrLogits[b * episode.ways + best] { best = n }
                if best == episode.queryLabels[b] { correct += 1 }
            }
            return Float(correct) / Float(nq)
        }
        if let pcm, var conv = crossbars {
            conv.rng = rng.derived(1)
            let fs = TaskWorker.features(worker.support, pixels: episode.supportPixels, batch: episode.supportLabels.count, multiplier: &conv)
            let fq = TaskWorker.features(worker.query, pixels: episode.queryPixels, batch: nq, multiplier: &conv)
            var readout = CrossbarReadout(initial: net.readout, parameters: pcm.readout, scaleToRange: pcm.scaleToRange,
                                          time: pcm.episodeTime, rng: &rng)
            var steps = [accuracy(readout.logits(fq, batch: nq, rng: &rng))]
            var devices = 0
            for _ in 0..<inner.steps {
                devices += readout.sgdStep(features: fs, labels: episode.supportLabels, rate: inner.learningRate, rng: &rng)
                steps.append(accuracy(readout.logits(fq, batch: nq, rng: &rng)))
            }
            return (steps, devices)
        }
        var dense = DenseConvolutions(weights: net.convolutions)
        let fs = TaskWorker.features(worker.support, pixels: episode.supportPixels, batch: episode.supportLabels.count, multiplier: &dense)
        let fq = TaskWorker.features(worker.query, pixels: episode.queryPixels, batch: nq, multiplier: &dense)
        let trace = ReadoutLearning.adapt(support: fs, labels: episode.supportLabels, initial: net.readout.storage,
                                          channels: c, ways: episode.ways, inner: inner)
        var steps: [Float] = []
        var p: [Float] = []
        var devices = 0
        for (k, w) in trace.weights.enumerated() {
            _ = ReadoutLearning.probabilities(features: fq, weights: w, labels: episode.queryLabels,
                                              channels: c, ways: episode.ways, into: &p)
            steps.append(accuracy(p))
            if k > 0 { devices += zip(w, trace.weights[k - 1]).reduce(0) { $0 + ($1.0 != $1.1 ? 1 : 0) } }
        }
        return (steps, devices)
    }
}
