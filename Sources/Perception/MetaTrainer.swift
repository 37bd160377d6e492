import Foundation
import Tensors

/// Meta-training settings (paper-model.md §3.3 defaults).
public struct MetaTrainingSettings: Sendable, Equatable {
    /// Classes per task.
    public var ways = 5
    /// Support images per class.
    public var shots = 5
    /// Query images per class.
    public var queries = 5
    /// Tasks per outer step (the paper: 32).
    public var metaBatch = 32
    /// The inner loop (4 steps, learning rate 0.1).
    public var inner = InnerLoop()
    /// Adam learning rate (1e-3, no decay).
    public var outerLearningRate: Float = 1e-3
    /// Rotate each task's classes by random multiples of 90°.
    public var rotate = true
    /// Worker threads over the tasks of a meta-batch.
    public var threads = 2

    /// The paper's settings.
    public init() {}
}

/// Second-order MAML on the few-shot CNN: every outer step samples `metaBatch` tasks, adapts the readout
/// of each with the inner loop, and moves every weight (conv kernels and initial readout) with Adam
/// along the exact gradient of the post-adaptation query loss.
public final class MetaTrainer {
    /// The network being trained.
    public private(set) var model: FewShotCNN
    /// The settings.
    public let settings: MetaTrainingSettings
    /// Outer steps done.
    public private(set) var iteration = 0
    let sampler: EpisodeSampler
    var rng: RandomSource
    var firstMoment: [Float]
    var secondMoment: [Float]
    let workers: [TaskWorker]
    /// The ranks of a data-parallel run (`engram-cluster fewshot-train`), nil for one process. Every rank
    /// samples the whole meta-batch and runs its fixed share of the tasks; the gradient is a
    /// `ReproducibleSum`, so the run does not depend on the number of ranks or threads.
    public let group: RankGroup?

    /// A trainer from an initial model; tasks come from `dataset`.
    public init(model: FewShotCNN, dataset: FewShotDataset, settings: MetaTrainingSettings, seed: UInt64, group: RankGroup? = nil) throws {
        self.group = group
        precondition(model.ways == settings.ways, "model readout width must equal the task ways")
        self.model = model
        self.settings = settings
        sampler = try EpisodeSampler(dataset: dataset, ways: settings.ways, shots: settings.shots,
                                     queries: settings.queries, rotate: settings.rotate)
        rng = RandomSource(seed: seed)
        let n = model.architecture.parameterCount(ways: model.ways)
        firstMoment = [Float](repeating: 0, count: n)
        secondMoment = [Float](repeating: 0, count: n)
        workers = (0..<max(1, settings.threads)).map { _ in TaskWorker(architecture: model.architecture) }
    }

    /// One outer step; returns the mean query loss and accuracy after adaptation over the meta-batch.
    @discardableResult
    public func step() -> (loss: Float, accuracy: Float) {
        var episodes: [Episode] = []
        for _ in 0..<settings.metaBatch { episodes.append(sampler.sample(rng: &rng)) }
        let model = self.model
        let inner = settings.inner
        if let group { return distributedStep(episodes, group: group) }
        let results = runInParallel(count: episodes.count, threads: workers.count) { thread, i in
            workers[thread].metaGradient(model: model, episode: episodes[i], inner: inner)
        }
        var gradient = [Float](repeating: 0, count: firstMoment.count)
        var loss: Float = 0, accuracy: Float = 0
        let scale = 1 / Float(results.count)
        for r in results {
            loss += r.loss * scale
            accuracy += r.accuracy * scale
            for i in gradient.indices { gradient[i] += r.gradient[i] * scale }
        }
        applyAdam(gradient)
        return (loss, accuracy)
    }

    /// `step` over the ranks of `group`: this rank's share of `episodes`, the per-task loss and accuracy
    /// exchanged in fixed slots, the gradient summed reproducibly.
    func distributedStep(_ episodes: [Episode], group: RankGroup) -> (loss: Float, accuracy: Float) {
        let model = self.model, inner = settings.inner
        let share = group.share(of: episodes.count)
        let results = runInParallel(count: share.count, threads: workers.count) { thread, i in
            workers[thread].metaGradient(model: model, episode: episodes[share.lowerBound + i], inner: inner)
        }
        var slots = [Double](repeating: 0, count: 2 * episodes.count)
        for (i, r) in results.enumerated() {
            slots[2 * (share.lowerBound + i)] = Double(r.loss)
            slots[2 * (share.lowerBound + i) + 1] = Double(r.accuracy)
        }
        group.gather(&slots)
        let n = firstMoment.count
        var terms = [Float](repeating: 0, count: Swift.max(1, results.count * n))
        for (i, r) in results.enumerated() { terms.replaceSubrange(i * n ..< (i + 1) * n, with: r.gradient) }
        var gradient = [Float](repeating: 0, count: n)
        terms.withUnsafeBufferPointer { t in
            gradient.withUnsafeMutableBufferPointer { g in
                ReproducibleSum.sum((0..<results.count).map { t.baseAddress! + $0 * n }, count: n, totalTerms: episodes.count,
                                    group: group, threads: workers.count, into: g.baseAddress!)
            }
        }
        var loss: Float = 0, accuracy: Float = 0
        let scale = 1 / Float(episodes.count)
        for t in 0..<episodes.count {
            loss += Float(slots[2 * t]) * scale
            accuracy += Float(slots[2 * t + 1]) * scale
        }
        for i in gradient.indices { gradient[i] *= scale }
        applyAdam(gradient)
        return (loss, accuracy)
    }

    func applyAdam(_ g: [Float]) {
        iteration += 1
        let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7
        let t = Float(iteration)
        let lr = settings.outerLearningRate * (1 - powf(beta2, t)).squareRoot() / (1 - powf(beta1, t))
        var p = model.flatParameters
        for i in p.indices {
            firstMoment[i] = beta1 * firstMoment[i] + (1 - beta1) * g[i]
            secondMoment[i] = beta2 * secondMoment[i] + (1 - beta2) * g[i] * g[i]
            p[i] -= lr * firstMoment[i] / (secondMoment[i].squareRoot() + epsilon)
        }
        model.setFlatParameters(p)
    }

    /// Everything needed to resume: weights (official names), Adam moments, generator state, step.
    public func trainingState() -> SafeTensors {
        var file = model.safeTensors(metadata: ["iteration": String(iteration), "format": "engram-fewshot-training-state"])
        file.set("adam_m", floats: firstMoment, shape: [firstMoment.count])
        file.set("adam_v", floats: secondMoment, shape: [secondMoment.count])
        file.set("rng_state", uint64s: rng.stateWords, shape: [4])
        return file
    }

    /// Restores a state written by `trainingState()`.
    public func restore(_ file: SafeTensors, path: String) throws {
        let restored = try FewShotCNN(safeTensors: file, path: path, imageSize: model.architecture.imageSize)
        guard restored.architecture == model.architecture, restored.ways == model.ways else {
            throw CheckpointError(path: path, message: "the saved network's shape differs from this run's; resume with the same --ways")
        }
        guard let it = file.metadata["iteration"].flatMap(Int.init) else {
            throw CheckpointError(path: path, message: "no 'iteration' metadata; this is not a training state written by fewshot-train")
        }
        let m = try file.floats("adam_m"), v = try file.floats("adam_v")
        let words = try file.integers("rng_state").map { UInt64(bitPattern: $0) }
        guard m.count == firstMoment.count, v.count == secondMoment.count, words.count == 4 else {
            throw CheckpointError(path: path, message: "optimizer state has the wrong size")
        }
        model = restored
        firstMoment = m
        secondMoment = v
        rng = RandomSource(state: words)
        iteration = it
    }
}
