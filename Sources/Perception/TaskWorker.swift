import Dispatch
import Tensors

/// One thread's scratch for few-shot work: two feature tapes (support and query) reused across tasks.
final class TaskWorker: @unchecked Sendable {
    let support: FeatureTape
    let query: FeatureTape

    init(architecture: CNNArchitecture) {
        support = FeatureTape(architecture: architecture)
        query = FeatureTape(architecture: architecture)
    }

    /// Features of `pixels` (`batch` images) through `multiplier`, using `tape`.
    static func features<M: ConvolutionMultiplier>(_ tape: FeatureTape, pixels: [Float], batch: Int,
                                                   multiplier: inout M) -> [Float] {
        pixels.withUnsafeBufferPointer { p in tape.forward(images: p.baseAddress!, batch: batch, multiplier: &multiplier) }
        return Array(tape.features.prefix(batch * tape.architecture.channels))
    }

    /// The query loss, accuracy and flat meta-gradient (conv1..convL, readout) of one task.
    func metaGradient(model: FewShotCNN, episode: Episode, inner: InnerLoop) -> (loss: Float, accuracy: Float, gradient: [Float]) {
        var dense = DenseConvolutions(weights: model.convolutions)
        let c = model.architecture.channels
        let fs = TaskWorker.features(support, pixels: episode.supportPixels, batch: episode.supportLabels.count, multiplier: &dense)
        let fq = TaskWorker.features(query, pixels: episode.queryPixels, batch: episode.queryLabels.count, multiplier: &dense)
        let task = ReadoutLearning.metaGradient(support: fs, supportLabels: episode.supportLabels, query: fq,
                                                queryLabels: episode.queryLabels, initial: model.readout.storage,
                                                channels: c, ways: model.ways, inner: inner)
        var grads = model.convolutions.map { Matrix(rows: $0.rows, columns: $0.columns) }
        task.supportFeatures.withUnsafeBufferPointer { support.backward(featureGradient: $0.baseAddress!, weights: model.convolutions, gradients: &grads) }
        task.queryFeatures.withUnsafeBufferPointer { query.backward(featureGradient: $0.baseAddress!, weights: model.convolutions, gradients: &grads) }
        return (task.loss, task.accuracy, grads.flatMap(\.storage) + task.readout)
    }
}

/// Runs `count` independent jobs on `threads` threads; job `i` runs on thread `i % threads`, and the
/// results come back in job order, so the outcome does not depend on scheduling.
func runInParallel<T>(count: Int, threads: Int, _ job: (_ thread: Int, _ index: Int) -> T) -> [T] {
    let t = max(1, min(threads, count))
    if t == 1 { return (0..<count).map { job(0, $0) } }
    let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    slots.initialize(repeating: nil)
    defer { slots.deinitialize(); slots.deallocate() }
    withoutActuallyEscaping(job) { job in
        // The slots are disjoint per thread and `job` only touches state owned by its thread's worker.
        let shared = UncheckedSendable(value: (slots, job))
        DispatchQueue.concurrentPerform(iterations: t) { thread in
            let (slots, job) = shared.value
            var i = thread
            while i < count {
                slots[i] = job(thread, i)
                i += t
            }
        }
    }
    return slots.map { $0! }
}

/// Hands a value to `concurrentPerform` whose thread safety the caller guarantees.
struct UncheckedSendable<T>: @unchecked Sendable { let value: T }
