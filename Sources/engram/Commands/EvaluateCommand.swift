@preconcurrency import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import MetaLearning
import PhaseChange
import Spiking
import Tensors

/// `engram evaluate`: samples tasks from the paper's family and reports the population means of the
/// one-shot adaptation (loss before and after, weights changed, firing rates).
enum EvaluateCommand: EngramCommand {
    static let name = "evaluate"
    static let abstract = "Adapt a controller to N sampled tasks and report population means"
    static let discussion = """
        Samples --tasks target trajectories from the paper's Scorbot task family (Brownian angular velocities, \
        Hann smoothing, joint limits; seeded by --seed), runs the one-shot natural e-prop adaptation on each and \
        prints the mean loss before and after the update, the fraction of weights changed and the firing rates \
        with their spread. --pcm off runs ideal float weights; paper and physical run the trainee on an emulated \
        PCM crossbar. --quantize rounds the update to 1/16 (default: on with PCM, off without). Tasks run on \
        --threads threads; results do not depend on the thread count.
        Example: engram evaluate --checkpoint ../shared/reference/robot-l2l-official.safetensors --tasks 360
        """
    static let options: [OptionSpec] = [
        .value("--checkpoint", "file", "controller checkpoint (safetensors)"),
        .value("--tasks", "n", "number of tasks to sample (default 360)"),
        .value("--pcm", "model", "trainee synapses: off (ideal), paper or physical PCM", choices: ["off", "paper", "physical"]),
        .value("--quantize", "on|off", "round the update to 1/16 of w_max", choices: ["on", "off"]),
        .value("--drift", "on|off", "PCM conductance drift (default on; with --pcm only)", choices: ["on", "off"]),
        .value("--seed", "s", "seed for tasks and device noise (default 0)"),
        .value("--threads", "n", "worker threads (default: all cores)"),
        .flag("--json", "print one JSON object"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let checkpoint = try AdaptationSetup.loadCheckpoint(try arguments.required("--checkpoint"))
        let tasks = try arguments.int("--tasks", default: 360, in: 1...1_000_000)!
        let seed = try arguments.seed()
        let threads = try arguments.int("--threads", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256)!
        let pcm = arguments.choice("--pcm", default: "off")
        let quantize = arguments.choice("--quantize", default: pcm == "off" ? "off" : "on") == "on"
        let family = TaskFamily<ScorbotKinematics>.paperScorbot
        guard family.steps == checkpoint.architecture.steps, family.drivenJoints.count == checkpoint.architecture.outputs else {
            throw RuntimeError("\(try arguments.required("--checkpoint")): the controller runs \(checkpoint.architecture.steps) steps with \(checkpoint.architecture.outputs) outputs; the Scorbot task family needs \(family.steps) steps and \(family.drivenJoints.count) outputs")
        }
        let base = RandomSource(seed: seed)
        let drift = arguments.choice("--drift", default: "on") == "on"
        let progress = ProgressLine(total: tasks, label: "tasks")
        let results = try AdaptationSetup.run(checkpoint: checkpoint, pcm: pcm, quantize: quantize, drift: drift, family: family,
                                              count: tasks, threads: threads, progress: progress.report) { i in
            var taskRNG = base.derived(UInt64(2 * i))
            return (family.sample(&taskRNG), base.derived(UInt64(2 * i + 1)))
        }
        progress.finish()
        let s = AdaptationSummary(results)
        if arguments.has("--json") {
            let object: [String: Any] = [
                "tasks": s.tasks, "pcm": pcm, "quantize": quantize, "drift": pcm == "off" ? false : drift, "seed": seed,
                "mean_loss_before": s.meanLossBefore, "mean_loss_after": s.meanLossAfter,
                "sem_loss_after": s.standardErrorLossAfter, "median_loss_after": s.medianLossAfter,
                "mse_vel_after": s.meanVelocityAfter, "mse_xyz_after": s.meanEndEffectorAfter,
                "ee_error_after_m": s.meanEndEffectorErrorAfter,
                "changed_in": s.meanChangedInput, "changed_rec": s.meanChangedRecurrent,
                "trainee_rate_hz": s.traineeRateHz.mean, "trainee_rate_sd_hz": s.traineeRateHz.std,
                "lsg_rate_hz": s.lsgRateHz.mean, "lsg_rate_sd_hz": s.lsgRateHz.std,
            ]
            print(AdaptationSetup.json(object))
        } else {
            print("tasks                 \(s.tasks)   (pcm \(pcm)\(pcm != "off" && !drift ? " without drift" : ""), quantize \(quantize ? "on" : "off"), seed \(seed))")
            print("loss before update    \(fmt(s.meanLossBefore))")
            print("loss after update     \(fmt(s.meanLossAfter)) ± \(fmt(s.standardErrorLossAfter)) (s.e.m.), median \(fmt(s.medianLossAfter))")
            print("  MSE ω / MSE xyz     \(fmt(s.meanVelocityAfter)) / \(fmt(s.meanEndEffectorAfter)); mean end-effector error \(fmt(s.meanEndEffectorErrorAfter)) m")
            print("weights changed       W_in \(pct(s.meanChangedInput)), W_rec \(pct(s.meanChangedRecurrent))")
            print("firing rate trainee   \(fmt(s.traineeRateHz.mean)) Hz (sd \(fmt(s.traineeRateHz.std)) over tasks)")
            print("firing rate LSG       \(fmt(s.lsgRateHz.mean)) Hz (sd \(fmt(s.lsgRateHz.std)) over tasks)")
        }
        return 0
    }

    static func fmt(_ x: Double) -> String { String(format: "%.4g", x) }
    static func pct(_ x: Double) -> String { String(format: "%.1f %%", 100 * x) }
}

/// What `adapt` and `evaluate` share: loading a checkpoint and running adaptations on threads.
enum AdaptationSetup {
    /// Loads a controller checkpoint, turning file errors into one-line runtime errors.
    static func loadCheckpoint(_ path: String) throws -> ControllerCheckpoint {
        do {
            return try ControllerCheckpoint(contentsOfFile: path)
        } catch let e as CheckpointError {
            throw RuntimeError(e.description)
        } catch let e as SafeTensors.Error {
            throw RuntimeError(e.description)
        }
    }

    /// Adapts to `count` targets (made by `job(i)` with their noise streams) on `threads` threads.
    static func run(checkpoint: ControllerCheckpoint, pcm: String, quantize: Bool, drift: Bool, family: TaskFamily<ScorbotKinematics>,
                    count: Int, threads: Int, progress: (@Sendable (Int) -> Void)? = nil,
                    _ job: @escaping @Sendable (Int) -> (TargetTrajectory, RandomSource)) throws -> [AdaptationResult] {
        try runKeeping(checkpoint: checkpoint, pcm: pcm, quantize: quantize, drift: drift, family: family, count: count, threads: threads,
                       keepAdapted: false, progress: progress, job).map { $0.0 }
    }

    /// Like `run`, also returning each task's adapted weights when `keepAdapted`.
    static func runKeeping(checkpoint: ControllerCheckpoint, pcm: String, quantize: Bool, drift: Bool, family: TaskFamily<ScorbotKinematics>,
                           count: Int, threads: Int, keepAdapted: Bool, progress: (@Sendable (Int) -> Void)? = nil,
                           _ job: @escaping @Sendable (Int) -> (TargetTrajectory, RandomSource)) throws -> [(AdaptationResult, ControllerWeights?)] {
        let loss = TrajectoryLoss(family: family)
        let a = checkpoint.architecture, w = checkpoint.weights
        switch pcm {
        case "off":
            return ParallelJobs.run(count: count, threads: threads, progress: progress, makeWorker: {
                OneShotAdaptation(architecture: a, weights: w, loss: loss, quantize: quantize)
            }) { adapter, i in
                var (target, rng) = job(i)
                let result = adapter.adapt(to: target, rng: &rng)
                return (result, keepAdapted ? adapter.adaptedWeights() : nil)
            }
        default:
            var chosen = PCMParameters(kind: pcm == "paper" ? .paper : .physical)
            chosen.drift = drift
            let parameters = chosen
            return ParallelJobs.run(count: count, threads: threads, progress: progress, makeWorker: {
                OneShotAdaptation(architecture: a, weights: w, loss: loss, quantize: quantize) {
                    Crossbar(rows: $0, columns: $1, parameters: parameters)
                }
            }) { adapter, i in
                var (target, rng) = job(i)
                let result = adapter.adapt(to: target, rng: &rng)
                return (result, keepAdapted ? adapter.adaptedWeights() : nil)
            }
        }
    }

    /// Renders a JSON object with sorted keys.
    static func json(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A `k/N` progress line on stderr while a terminal is attached; silent in pipes.
final class ProgressLine: Sendable {
    let total: Int
    let label: String
    let enabled: Bool

    init(total: Int, label: String) {
        self.total = total
        self.label = label
        enabled = isatty(2) != 0 && total >= 20
    }

    /// Reports `done` finished jobs (throttled to every 1 %).
    var report: @Sendable (Int) -> Void {
        { [self] done in
            guard enabled, done == total || done % max(1, total / 100) == 0 else { return }
            fputs("\r\(done)/\(total) \(label)", stderr)
        }
    }

    /// Clears the line.
    func finish() { if enabled { fputs("\r\u{1B}[K", stderr) } }
}
