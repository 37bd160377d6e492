import Dispatch
import Foundation
import Tensors

/// The meta-objective of a batch of tasks and its gradient.
public struct MetaBatchResult: Sendable {
    /// Total objective: mean task loss + both rate regularisers.
    public var loss: Double
    /// Mean after-update task loss (0.5·MSE(ω) + 0.5·MSE(xyz) on trial 2).
    public var taskLoss: Double
    /// Mean MSE of the velocities and of the positions on trial 2.
    public var velocityError: Double, positionError: Double
    /// λ Σ (rate − f₀)² of the trainee and of the LSG.
    public var traineeRegularizer: Double, lsgRegularizer: Double
    /// Mean firing rates, Hz (trainee over both trials).
    public var traineeRateHz: Double, lsgRateHz: Double
    /// Mean fraction of W_in and W_rec entries changed by the update.
    public var changedInput: Double, changedRecurrent: Double
    /// Per-task losses, in task order.
    public var taskLosses: [Double]
    /// Wall time of the forward and backward phases, s.
    public var forwardSeconds: Double, backwardSeconds: Double
    /// Mean after-update task loss of the tasks run under each inner-loop setting, in `optionSets` order
    /// (one entry for a single-setting batch).
    public var taskLossByOptions: [Double] = []
}

/// Evaluates the meta-objective of a batch of tasks and its exact gradient, with the tasks split
/// over `threads` worker threads (static assignment: worker w takes tasks w, w + threads, ...; the
/// workers' gradients are summed in worker order, so a run is deterministic for a given thread count).
///
/// Two phases: every task's forward pass (recorded on its own tape), then the batch-mean firing rates
/// that the regulariser needs (λ Σ_n (mean_{b,t} z − f₀)², as the official code), then every backward pass.
///
/// A batch can mix inner-loop settings (for example ideal weights and the paper's PCM model, so that one
/// controller learns to adapt under both): task b runs under `optionSets[b % optionSets.count]`, and the
/// backward pass never puts tasks of different settings in one block.
///
/// Data-parallel (`group` set, e.g. the MPI ranks of `engram-cluster`): the batch is cut into canonical
/// blocks (`MetaBatchLayout.canonicalBlocks`), each rank takes a fixed contiguous run of them and runs only their tasks,
/// the per-task figures and spike counts are exchanged in fixed slots, and the gradient is the
/// `ReproducibleSum` of the blocks' gradients. The result is then bit-identical for any number of ranks
/// and threads (it differs from the group-less evaluation in the last bits of the gradient).
public final class MetaBatchEvaluator<S: MetaScalar>: @unchecked Sendable {
    /// The model's sizes and constants.
    public let architecture: MetaArchitecture
    /// Switches of the inner loop (the first of `optionSets`).
    public var options: MetaGradientOptions { optionSets[0] }
    /// The inner-loop settings the batch's tasks take in turn.
    public let optionSets: [MetaGradientOptions]
    /// Tasks per batch.
    public let batchSize: Int
    /// Worker threads.
    public let threads: Int
    /// The ranks that share each batch; nil when this process evaluates it alone.
    public let group: RankGroup?
    /// The tasks this process runs, ascending (every task without a group).
    public let localTasks: [Int]
    /// This rank's canonical blocks (task indices), with a group.
    let localBlocks: [[Int]]
    /// Canonical blocks in the whole batch.
    let totalBlocks: Int
    let engines: [MetaGradientEngine<S>]
    /// One tape per local task, in `localTasks` order.
    let tapes: [MetaTaskTape<S>]
    let workers: [MetaGradientWorker<S>]
    let blockGradients: [FlatParameters<S>]
    let traineeCoefficients: ScratchBuffer<S>
    let lsgCoefficients: ScratchBuffer<S>

    /// Buffers for `batchSize` tasks and `threads` workers (allocated once, reused every call).
    public convenience init(architecture: MetaArchitecture, options: MetaGradientOptions, tasks sampler: any MetaTaskSampler,
                            batchSize: Int, threads: Int) {
        self.init(architecture: architecture, optionSets: [options], tasks: sampler, batchSize: batchSize, threads: threads)
    }

    /// Buffers for `batchSize` tasks that take the settings of `optionSets` in turn; with a `group`, for
    /// this rank's share of them.
    public init(architecture: MetaArchitecture, optionSets: [MetaGradientOptions], tasks sampler: any MetaTaskSampler,
                batchSize: Int, threads: Int, group: RankGroup? = nil) {
        precondition(batchSize > 0 && threads > 0)
        precondition(!optionSets.isEmpty && optionSets.count <= batchSize, "1 to batchSize inner-loop settings")
        self.architecture = architecture
        self.optionSets = optionSets
        self.batchSize = batchSize
        self.threads = min(threads, batchSize)
        self.group = group
        let workerBlock = 8
        if let group {
            let all = MetaBatchLayout.canonicalBlocks(batchSize: batchSize, settings: optionSets.count, blockSize: workerBlock)
            totalBlocks = all.count
            localBlocks = Array(all[group.share(of: all.count)])
            localTasks = localBlocks.flatMap { $0 }.sorted()
        } else {
            totalBlocks = 0
            localBlocks = []
            localTasks = Array(0..<batchSize)
        }
        engines = optionSets.map {
            MetaGradientEngine(architecture: architecture, options: $0, kinematics: sampler.anyKinematics,
                               drivenJoints: sampler.drivenJoints, restAngles: sampler.restAngles)
        }
        tapes = localTasks.map { _ in MetaTaskTape(architecture: architecture) }
        workers = (0..<min(threads, batchSize)).map { _ in MetaGradientWorker(architecture: architecture, blockSize: workerBlock) }
        blockGradients = localBlocks.map { _ in FlatParameters(zerosFor: architecture) }
        traineeCoefficients = ScratchBuffer(count: architecture.traineeNeurons, zero: 0)
        lsgCoefficients = ScratchBuffer(count: architecture.lsgNeurons, zero: 0)
    }

    /// The objective for `tasks` (exactly `batchSize` of them) at `parameters`; when `gradient` is given,
    /// it is overwritten with ∂objective/∂parameters. PCM noise of task b comes from
    /// `RandomSource(seed: noiseSeed).derived(b)`.
    public func evaluate(_ parameters: FlatParameters<S>, tasks: [MetaTaskTarget], noiseSeed: UInt64,
                         gradient: FlatParameters<S>?) -> MetaBatchResult {
        precondition(tasks.count == batchSize, "\(tasks.count) tasks for a batch of \(batchSize)")
        let a = architecture
        let engines = self.engines, tapes = self.tapes
        let threads = self.threads, batch = batchSize, settings = engines.count
        let noiseRoot = RandomSource(seed: noiseSeed)
        let local = localTasks
        let t0 = DispatchTime.now().uptimeNanoseconds
        runParallel(threads) { w in
            var j = w
            while j < local.count {
                let b = local[j]
                var rng = noiseRoot.derived(UInt64(b))
                engines[b % settings].forward(tapes[j], parameters: parameters, target: tasks[b], rng: &rng)
                j += threads
            }
        }
        let t1 = DispatchTime.now().uptimeNanoseconds

        // Per-task figures and spike counts in fixed slots (exchanged between ranks with a group).
        let n = a.traineeNeurons, nl = a.lsgNeurons
        let width = MetaBatchLayout.Slot.spikes + n + nl
        var slots = [Double](repeating: 0, count: batch * width)
        for (j, b) in local.enumerated() {
            let tape = tapes[j], row = b * width
            slots[row + MetaBatchLayout.Slot.loss] = tape.loss
            slots[row + MetaBatchLayout.Slot.velocity] = tape.velocityError
            slots[row + MetaBatchLayout.Slot.position] = tape.positionError
            slots[row + MetaBatchLayout.Slot.changedInput] = Double(tape.changedInput)
            slots[row + MetaBatchLayout.Slot.changedRecurrent] = Double(tape.changedRecurrent)
            for k in 0..<n { slots[row + MetaBatchLayout.Slot.spikes + k] = Double(tape.traineeSpikeTotals[k]) }
            for k in 0..<nl { slots[row + MetaBatchLayout.Slot.spikes + n + k] = Double(tape.lsgSpikeTotals[k]) }
        }
        group?.gather(&slots)

        // Batch-mean rates and the regulariser.
        let traineeSamples = Double(batch * 2 * a.steps), lsgSamples = Double(batch * a.steps)
        var traineeReg = 0.0, lsgReg = 0.0, traineeMean = 0.0, lsgMean = 0.0
        let lambda = a.rateRegularization
        for j in 0..<n {
            var s = 0.0
            for b in 0..<batch { s += slots[b * width + MetaBatchLayout.Slot.spikes + j] }
            let rate = s / traineeSamples
            traineeMean += rate
            let d = rate - a.traineeTargetRateHz / 1000
            traineeReg += lambda * d * d
            traineeCoefficients[j] = S(2 * lambda * d / traineeSamples)
        }
        for j in 0..<nl {
            var s = 0.0
            for b in 0..<batch { s += slots[b * width + MetaBatchLayout.Slot.spikes + n + j] }
            let rate = s / lsgSamples
            lsgMean += rate
            let d = rate - a.lsgTargetRateHz / 1000
            lsgReg += lambda * d * d
            lsgCoefficients[j] = S(2 * lambda * d / lsgSamples)
        }
        let losses = (0..<batch).map { slots[$0 * width + MetaBatchLayout.Slot.loss] }
        let taskLoss = losses.reduce(0, +) / Double(batch)

        var t2 = t1
        if let gradient {
            let workers = self.workers
            let tcBuffer = traineeCoefficients, lcBuffer = lsgCoefficients
            let scale = S(1) / S(batch)
            if let group {
                // Canonical blocks, each into its own gradient, then the exact sum over all ranks' blocks.
                let blocks = localBlocks, blockGradients = self.blockGradients
                let tapeOf = Dictionary(uniqueKeysWithValues: local.enumerated().map { ($1, tapes[$0]) })
                runParallel(threads) { w in
                    let worker = workers[w]
                    let tc = UnsafePointer(tcBuffer.pointer), lc = UnsafePointer(lcBuffer.pointer)
                    var k = w
                    while k < blocks.count {
                        worker.gradient.zero()
                        engines[blocks[k][0] % settings].backward(blocks[k].map { tapeOf[$0]! }, parameters: parameters, worker: worker,
                                                                  lossScale: scale, traineeRateCoefficients: tc, lsgRateCoefficients: lc)
                        blockGradients[k].storage.update(from: worker.gradient.storage, count: gradient.count)
                        k += threads
                    }
                }
                ReproducibleSum.sum(blockGradients.map { UnsafePointer($0.storage) }, count: gradient.count, totalTerms: totalBlocks,
                                    group: group, threads: threads, into: gradient.storage)
            } else {
                runParallel(threads) { w in
                    let worker = workers[w]
                    let tc = UnsafePointer(tcBuffer.pointer), lc = UnsafePointer(lcBuffer.pointer)
                    worker.gradient.zero()
                    for setting in 0..<settings {
                        let mine = stride(from: w, to: batch, by: threads).filter { $0 % settings == setting }
                        var start = 0
                        while start < mine.count {
                            let block = mine[start..<min(start + worker.blockSize, mine.count)].map { tapes[$0] }
                            engines[setting].backward(block, parameters: parameters, worker: worker, lossScale: scale,
                                                      traineeRateCoefficients: tc, lsgRateCoefficients: lc)
                            start += worker.blockSize
                        }
                    }
                }
                gradient.zero()
                for worker in workers { gradient.add(worker.gradient) }
            }
            // The recurrent diagonals are masked in the forward pass: their gradient is zero.
            let lr = gradient.pointer(.lsgRecurrent), tr = gradient.pointer(.traineeRecurrent)
            for i in 0..<nl { lr[i * nl + i] = 0 }
            for i in 0..<n { tr[i * n + i] = 0 }
            t2 = DispatchTime.now().uptimeNanoseconds
        }
        let mean = { (slot: Int) in (0..<batch).reduce(0.0) { $0 + slots[$1 * width + slot] } / Double(batch) }
        let byOptions = (0..<settings).map { setting -> Double in
            let mine = stride(from: setting, to: batch, by: settings).map { losses[$0] }
            return mine.reduce(0, +) / Double(mine.count)
        }
        return MetaBatchResult(
            loss: taskLoss + traineeReg + lsgReg, taskLoss: taskLoss,
            velocityError: mean(MetaBatchLayout.Slot.velocity), positionError: mean(MetaBatchLayout.Slot.position),
            traineeRegularizer: traineeReg, lsgRegularizer: lsgReg,
            traineeRateHz: traineeMean / Double(n) * 1000, lsgRateHz: lsgMean / Double(nl) * 1000,
            changedInput: mean(MetaBatchLayout.Slot.changedInput) / Double(a.traineeInputs * n),
            changedRecurrent: mean(MetaBatchLayout.Slot.changedRecurrent) / Double(n * (n - 1)),
            taskLosses: losses,
            forwardSeconds: Double(t1 - t0) / 1e9, backwardSeconds: Double(t2 - t1) / 1e9,
            taskLossByOptions: byOptions)
    }

    private func runParallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        if count == 1 { body(0); return }
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }
}

/// How a batch is laid out for data-parallel evaluation: its canonical blocks and the columns of the
/// per-task figures the ranks exchange.
public enum MetaBatchLayout {
    /// The blocks a data-parallel batch is cut into, independent of ranks and threads: for each inner-loop
    /// setting s in turn, its tasks (b ≡ s mod settings) in order, `blockSize` at a time.
    public static func canonicalBlocks(batchSize: Int, settings: Int, blockSize: Int) -> [[Int]] {
        (0..<settings).flatMap { s -> [[Int]] in
            let mine = Array(stride(from: s, to: batchSize, by: settings))
            return stride(from: 0, to: mine.count, by: blockSize).map { Array(mine[$0..<min($0 + blockSize, mine.count)]) }
        }
    }

    /// Columns of a task's row of figures: five scalars, then the trainee's and the LSG's spike totals.
    enum Slot {
        static let loss = 0, velocity = 1, position = 2, changedInput = 3, changedRecurrent = 4, spikes = 5
    }

}
