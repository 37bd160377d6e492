import EngramTestSupport
import Foundation
import Tensors
import Testing
@testable import MetaLearning

/// The data-parallel evaluation (`group` set): the same objective and gradient bits on any number of
/// ranks and threads, and the group-less result to float rounding.
@Suite struct MetaBatchDataParallelTests {
    @Test func ranksAndThreadsGiveIdenticalBits() {
        let a = tinyArchitecture()
        let sampler = tinySampler()
        let batch = 20  // settings of 10 tasks each: blocks of 8, 2, 8, 2
        let tasks = tinyTasks(a, count: batch, seed: 9)
        var paper = MetaGradientOptions()
        paper.pcm = .paper
        paper.quantizeUpdate = true
        let optionSets = [MetaGradientOptions(), paper]
        let base = FlatParameters(tinyParameters(a, seed: 1).converted(to: Float.self), architecture: a)
        func run(ranks: Int, threads: Int) -> (loss: Double, taskLosses: [Double], gradient: [Float]) {
            InProcessRanks(size: ranks).run { group in
                let ev = MetaBatchEvaluator<Float>(architecture: a, optionSets: optionSets, tasks: sampler, batchSize: batch,
                                                   threads: threads, group: group)
                let g = FlatParameters<Float>(zerosFor: a)
                let r = ev.evaluate(base, tasks: tasks, noiseSeed: 5, gradient: g)
                return (r.loss, r.taskLosses, Array(UnsafeBufferPointer(start: g.storage, count: g.count)))
            }[0]
        }
        let reference = run(ranks: 1, threads: 1)
        for (ranks, threads) in [(1, 3), (2, 1), (3, 1), (3, 2), (5, 1)] {
            let r = run(ranks: ranks, threads: threads)
            #expect(r.loss == reference.loss && r.taskLosses == reference.taskLosses, "\(ranks) ranks × \(threads) threads: objective")
            let differing = zip(r.gradient, reference.gradient).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(ranks) ranks × \(threads) threads: \(differing) gradient entries differ in their bits")
        }
        let alone = MetaBatchEvaluator<Float>(architecture: a, optionSets: optionSets, tasks: sampler, batchSize: batch, threads: 2)
        let g = FlatParameters<Float>(zerosFor: a)
        #expect(alone.evaluate(base, tasks: tasks, noiseSeed: 5, gradient: g).loss == reference.loss)
        var maxDiff: Float = 0, maxAbs: Float = 0
        for i in reference.gradient.indices { maxDiff = max(maxDiff, abs(reference.gradient[i] - g.storage[i])); maxAbs = max(maxAbs, abs(g.storage[i])) }
        #expect(maxAbs > 0 && maxDiff <= 1e-5 * maxAbs, "group-less gradient differs by \(maxDiff) (max |g| \(maxAbs))")
    }
}
