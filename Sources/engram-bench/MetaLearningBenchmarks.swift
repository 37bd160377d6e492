import Adaptation
@preconcurrency import Foundation
import Kinematics
import MetaLearning
import Tensors

/// Peak resident set size of this process so far, in MiB (getrusage ru_maxrss, KiB on Linux).
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// CPU time of this process (all threads), s.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Seconds per meta-iteration at batch 90 with the paper's architecture on 2 threads (or
/// `ENGRAM_BENCH_THREADS`): the forward pass of all tasks (objective only) and the full evaluation with the
/// gradient, both in wall time and in CPU time of all threads (the CPU figures stay meaningful on a shared
/// machine), and peak RSS. Weights: the paper's random initialisation (the LSG then fires at about 40 Hz,
/// four times its trained rate: the slowest regime), or the checkpoint in `ENGRAM_BENCH_CHECKPOINT`.
/// `ENGRAM_BENCH_META_MODES` (comma list of ideal, pcm_paper, pcm_physical; default all) picks the modes.
/// `ENGRAM_BENCH_DUMP=/path.safetensors` writes the ideal evaluation as a reference for other
/// implementations (bench/pytorch): weights, the 90 tasks, per-task losses, regularisers and the gradient.
func runMetaLearningBenchmarks() {
    let environment = ProcessInfo.processInfo.environment
    let threads = environment["ENGRAM_BENCH_THREADS"].flatMap(Int.init) ?? 2
    let repeats = environment["ENGRAM_BENCH_REPEATS"].flatMap(Int.init) ?? 3
    let architecture = MetaArchitecture()
    var initial: MetaParameters<Float>
    var weightsLabel = "random_init"
    if let path = environment["ENGRAM_BENCH_CHECKPOINT"] {
        do {
            initial = MetaParameters(try ControllerCheckpoint(contentsOfFile: path).weights)
            weightsLabel = "checkpoint"
        } catch {
            FileHandle.standardError.write(Data("engram-bench: ENGRAM_BENCH_CHECKPOINT \(path): \(error)\n".utf8))
            return
        }
    } else {
        var rng = RandomSource(seed: 7)
        initial = MetaParameters<Float>(randomFor: architecture, rng: &rng)
    }
    let family = TaskFamily.paperScorbot
    var taskRNG = RandomSource(seed: 11)
    let tasks = (0..<90).map { _ in family.sampleTarget(&taskRNG) }
    let parameters = FlatParameters(initial, architecture: architecture)
    let gradient = FlatParameters<Float>(zerosFor: architecture)
    let modes = environment["ENGRAM_BENCH_META_MODES"].map { $0.split(separator: ",").map(String.init) }
    for (label, pcm, quantize) in [("ideal", MetaPCMMode.off, false), ("pcm_paper", MetaPCMMode.paper, true), ("pcm_physical", MetaPCMMode.physical, true)] {
        if let modes, !modes.contains(label) { continue }
        var options = MetaGradientOptions()
        options.pcm = pcm
        options.quantizeUpdate = quantize
        let evaluator = MetaBatchEvaluator<Float>(architecture: architecture, options: options, tasks: family, batchSize: 90, threads: threads)
        _ = evaluator.evaluate(parameters, tasks: tasks, noiseSeed: 1, gradient: gradient)  // warm-up
        var forwardWall: [Double] = [], forwardCPU: [Double] = [], totalWall: [Double] = [], totalCPU: [Double] = []
        var last: MetaBatchResult? = nil
        for _ in 0..<repeats {
            var c0 = processCPUSeconds()
            let f = evaluator.evaluate(parameters, tasks: tasks, noiseSeed: 1, gradient: nil)
            forwardCPU.append(processCPUSeconds() - c0)
            forwardWall.append(f.forwardSeconds)
            c0 = processCPUSeconds()
            let r = evaluator.evaluate(parameters, tasks: tasks, noiseSeed: 1, gradient: gradient)
            totalCPU.append(processCPUSeconds() - c0)
            totalWall.append(r.forwardSeconds + r.backwardSeconds)
            last = r
        }
        if label == "ideal", let path = environment["ENGRAM_BENCH_DUMP"], let r = last {
            do {
                try writeMetaReference(path: path, parameters: initial, architecture: architecture, tasks: tasks,
                                       family: family, result: r, gradient: gradient)
            } catch {
                FileHandle.standardError.write(Data("engram-bench: ENGRAM_BENCH_DUMP \(path): \(error)\n".utf8))
            }
        }
        let fw = quantile(forwardWall, 0.5), tw = quantile(totalWall, 0.5)
        let fc = quantile(forwardCPU, 0.5), tc = quantile(totalCPU, 0.5)
        emit("meta_iteration_batch90_\(label)", [
            "median_us": tw * 1e6, "forward_us": fw * 1e6, "backward_us": (tw - fw) * 1e6,
            "cpu_us": tc * 1e6, "forward_cpu_us": fc * 1e6, "backward_cpu_us": (tc - fc) * 1e6,
            "threads": threads, "repeats": repeats, "weights": weightsLabel,
            "trainee_rate_hz": last?.traineeRateHz ?? 0, "lsg_rate_hz": last?.lsgRateHz ?? 0,
            "peak_rss_mib": peakResidentMiB(),
            "note": "wall and CPU (all threads) time per iteration; backward = full evaluation minus forward",
        ])
    }
}

/// Writes one ideal batch evaluation for cross-checking another implementation: the six weights
/// (float32, checkpoint names), the tasks (`velocities` [B, T, outputs], `positions` [B, T, 3], float64),
/// `task_losses` [B], `trainee_regularizer`, `lsg_regularizer`, `loss` (float64 [1]) and the gradient of
/// the total objective as `grad.<name>` (float32). Metadata: driven joints, rest angles, rates.
func writeMetaReference(path: String, parameters: MetaParameters<Float>, architecture a: MetaArchitecture,
                        tasks: [MetaTaskTarget], family: TaskFamily<ScorbotKinematics>,
                        result r: MetaBatchResult, gradient: FlatParameters<Float>) throws {
    var file = SafeTensors()
    let g = gradient.parameters
    for name in MetaParameterName.allCases {
        let s = a.shape(of: name)
        file.set(name.rawValue, floats: parameters[name], shape: [s.rows, s.columns])
        file.set("grad." + name.rawValue, floats: g[name], shape: [s.rows, s.columns])
    }
    file.set("velocities", doubles: tasks.flatMap { $0.velocities }, shape: [tasks.count, a.steps, a.outputs])
    file.set("positions", doubles: tasks.flatMap { $0.positions }, shape: [tasks.count, a.steps, 3])
    file.set("task_losses", doubles: r.taskLosses, shape: [tasks.count])
    file.set("trainee_regularizer", doubles: [r.traineeRegularizer], shape: [1])
    file.set("lsg_regularizer", doubles: [r.lsgRegularizer], shape: [1])
    file.set("loss", doubles: [r.loss], shape: [1])
    file.metadata = [
        "driven_joints": family.drivenJoints.map(String.init).joined(separator: ","),
        "rest_angles": family.restAngles.map { String($0) }.joined(separator: ","),
        "trainee_rate_hz": String(r.traineeRateHz), "lsg_rate_hz": String(r.lsgRateHz),
        "options": "ideal (pcm off, no quantisation), heaviside, adaptiveThresholdSpikeGradient=false",
    ]
    try file.write(toFile: path)
}
