@preconcurrency import Foundation
import MetaLearning
import Tensors

/// Peak resident set size of this process so far, in MiB (getrusage ru_maxrss, KiB on Linux).
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Seconds per meta-iteration at batch 90 (forward and backward separately, then the Adam update), with
/// the paper's architecture and random initial weights, on 2 threads (or `ENGRAM_BENCH_THREADS`), plus peak RSS.
func runMetaLearningBenchmarks() {
    let threads = ProcessInfo.processInfo.environment["ENGRAM_BENCH_THREADS"].flatMap(Int.init) ?? 2
    let repeats = ProcessInfo.processInfo.environment["ENGRAM_BENCH_REPEATS"].flatMap(Int.init) ?? 3
    for (label, pcm, quantize) in [("ideal", MetaPCMMode.off, false), ("pcm_paper", MetaPCMMode.paper, true)] {
        var configuration = MetaTrainingConfiguration()
        configuration.batchSize = 90
        configuration.threads = threads
        configuration.options.pcm = pcm
        configuration.options.quantizeUpdate = quantize
        var rng = RandomSource(seed: 7)
        let initial = MetaParameters<Float>(randomFor: configuration.architecture, rng: &rng)
        let trainer = MetaTrainer(configuration: configuration, sampler: TaskFamily.paperScorbot, initial: initial)
        trainer.step()  // warm-up
        var forward: [Double] = [], backward: [Double] = [], total: [Double] = []
        var rates = (0.0, 0.0)
        for _ in 0..<repeats {
            let r = trainer.step()
            forward.append(r.batch.forwardSeconds)
            backward.append(r.batch.backwardSeconds)
            total.append(r.seconds)
            rates = (r.batch.traineeRateHz, r.batch.lsgRateHz)
        }
        emit("meta_iteration_batch90_\(label)", [
            "median_us": quantile(total, 0.5) * 1e6,
            "seconds_per_iteration": quantile(total, 0.5),
            "forward_s": quantile(forward, 0.5), "backward_s": quantile(backward, 0.5),
            "threads": threads, "repeats": repeats,
            "trainee_rate_hz": rates.0, "lsg_rate_hz": rates.1,
            "peak_rss_mib": peakResidentMiB(),
            "note": "random initial weights; rates affect sparsity",
        ])
    }
}
