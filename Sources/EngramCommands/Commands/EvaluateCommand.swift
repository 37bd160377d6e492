import Adaptation
@preconcurrency import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Control
import Kinematics
import MetaLearning
import PhaseChange
import Robot
import Spiking
import Tensors
import Trajectories

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

        Example: engram evaluate --checkpoint Robots/scorbot-er7/controller.safetensors --tasks 360

        With --baseline FILE the same tasks, with the same device noise, also run on that controller, and the \
        paired difference of the after-update losses is printed with its standard error: per-task losses are \
        very skewed, so two controllers are best compared on identical tasks.

        Example: engram evaluate --checkpoint mine.safetensors --baseline official.safetensors --tasks 2000 --seed 1

        With --disturbance none|push|payload|latency, each task runs through the real control path instead (one-shot \
        adaptation, then the trial in the control loop on the simulated arm of --robot, default scorbot-er7, with \
        the controller --checkpoint or the robot's controller.safetensors, or with --closed-loop its \
        controller-closed-loop.safetensors, --tasks default 180) on an arm that is \
        disturbed during a window sampled per task: push makes a driven joint settle 0.15-0.3 rad off its goal for 30-60 ticks, \
        payload slows one to 0.25-0.4 of its speed and gain, latency delays goals by one tick for 60-100 ticks. \
        Each task also runs undisturbed (same target, weights and device noise); the table gives the mean \
        end-effector error over the whole trial, before and during the window, after it and in the 10 ticks after it, with \
        and without the disturbance, how far the disturbed path was from the undisturbed one, and the mean \
        after-update loss. --pcm defaults to the model the controller \
        was trained with.

        Example: engram evaluate --disturbance push --robot scorbot-er7 --pcm paper --tasks 180

        With --whole-arm, the robot's whole-arm controller (controller.whole_arm in robot.yaml, or --checkpoint) \
        runs demonstration-like motions of every joint and the gripper (--tasks, default 20, 4 to 20 s, from the \
        evaluation generator, whose seeds meta-training never draws) through the control path on the simulated \
        arm, once without the update and once with one update per segment; it reports the mean joint RMS error \
        over all joints before and after, per joint, and the PCM devices and adaptation time per second of motion.

        Example: engram evaluate --whole-arm --robot so101 --pcm paper
        """
    static let checkpoint = Option<String>("--checkpoint", "file", "Controller checkpoint (safetensors)", required: true,
                                           defaultNote: "with --disturbance <robot dir>/controller.safetensors")
    static let disturbance = Option<ArmDisturbance.Kind>("--disturbance", "kind", "Run the control loop on a disturbed simulated arm and report tracking with and without")
    static let robot = CommonOptions.robot("Sample the task family on this robot's driven joints: a name from Robots/ or a folder with robot.yaml",
                                           defaultNote: "the paper's Scorbot; so101 with --whole-arm")
    static let tasks = Option<Int>("--tasks", "n", "Number of tasks to sample", in: 1...1_000_000, defaultNote: "360; 180 with --disturbance; 20 with --whole-arm")
    static let pcm = Option<SynapseMode>("--pcm", "model", "Trainee synapses: ideal weights (off) or a PCM model",
                                         defaultNote: "off; with --disturbance or --whole-arm the model the controller was trained with")
    static let quantize = Option<Switch>("--quantize", "on|off", "Round the update to 1/16 of w_max", defaultNote: "on with PCM")
    static let drift = Option<Switch>("--drift", "on|off", "PCM conductance drift (with --pcm only)").defaulting(to: .on)
    static let seed = CommonOptions.seed("Seed for tasks and device noise")
    static let threads = CommonOptions.threads
    static let baseline = Option<String>("--baseline", "file", "Also run this controller on the same tasks and print the paired difference")
    static let wholeArm = Flag("--whole-arm", "Evaluate the robot's whole-arm controller on --tasks demonstration-like motions of every joint, 4-20 s, each run on the simulated arm without and with the one-shot updates")
    static let writeDemos = Option<String>("--write-demos", "dir", "With --whole-arm: write the demonstrations as CSV files to this folder instead (for 'engram run --port')")
    static let json = CommonOptions.json

    static let options: [OptionSpec] = [checkpoint.spec] + RobotFiles.loopOptions
        + [disturbance.spec, robot.spec, tasks.spec, pcm.spec, quantize.spec, drift.spec, seed.spec, threads.spec, baseline.spec,
           wholeArm.spec, writeDemos.spec, json.spec]

    /// `--disturbance` and `--whole-arm` evaluate something else than the one-shot adaptation, with options of their own.
    static let modes = [
        CommandMode(option: "--disturbance", takes: ["--robot", "--checkpoint", "--closed-loop", "--open-loop", "--tasks", "--pcm", "--quantize",
                                                     "--seed", "--threads", "--json"],
                    refusals: ["--drift": "--drift applies to the adaptation-only evaluation; with --disturbance the PCM model drifts as in engram run",
                               "--baseline": "--baseline compares one-shot adaptations; with --disturbance the open-loop controller is the baseline already"]),
        CommandMode(option: "--whole-arm", takes: ["--robot", "--checkpoint", "--tasks", "--pcm", "--seed", "--threads", "--write-demos", "--json"]),
    ]

    static let rules: [OptionRule] = [
        .requires("--closed-loop", anyOf: ["--disturbance"], message: "--closed-loop and --open-loop pick a robot's shipped controller for --disturbance; without it give --checkpoint <file>"),
        .requires("--open-loop", anyOf: ["--disturbance"], message: "--closed-loop and --open-loop pick a robot's shipped controller for --disturbance; without it give --checkpoint <file>"),
        .requires("--write-demos", anyOf: ["--whole-arm"], message: "--write-demos writes the demonstrations of --whole-arm; it needs --whole-arm"),
    ]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        if arguments[Self.wholeArm] { return try runWholeArm(arguments) }
        if let kind = arguments[Self.disturbance] {
            if arguments.group != nil {
                throw UsageError("--disturbance runs the control loop on one machine; use engram evaluate --disturbance (engram-cluster evaluate shares the one-shot evaluation)")
            }
            return try runDisturbance(kind, arguments)
        }
        let checkpointPath = try arguments.required(Self.checkpoint)
        let checkpoint = try AdaptationSetup.loadCheckpoint(checkpointPath)
        let tasks = arguments[Self.tasks] ?? 360
        let seed = arguments[Self.seed]
        let threads = arguments[Self.threads]
        let pcm = arguments[Self.pcm]?.rawValue ?? "off"
        let quantize = (arguments[Self.quantize] ?? (pcm == "off" ? .off : .on)).isOn
        let base = RandomSource(seed: seed)
        let drift = arguments[Self.drift].isOn
        let baselinePath = arguments[Self.baseline]
        let baseline = try baselinePath.map { try AdaptationSetup.loadCheckpoint($0) }
        let share = arguments.group?.share(of: tasks) ?? 0..<tasks
        let progress = ProgressLine(total: baseline == nil ? share.count : 2 * share.count, label: "tasks")
        func evaluate<K: ForwardKinematics>(_ family: TaskFamily<K>, name: String) throws -> ([AdaptationResult], [AdaptationResult]?) {
            var controllers = [(checkpointPath, checkpoint)]
            if let baselinePath, let baseline { controllers.append((baselinePath, baseline)) }
            for (path, c) in controllers {
                guard family.steps == c.architecture.steps, family.drivenJoints.count == c.architecture.outputs else {
                    throw RuntimeError("\(path): the controller runs \(c.architecture.steps) steps with \(c.architecture.outputs) outputs; the \(name) task family needs \(family.steps) steps and \(family.drivenJoints.count) outputs")
                }
            }
            let job: @Sendable (Int) -> (TargetTrajectory, RandomSource) = { i in
                var taskRNG = base.derived(UInt64(2 * i))
                return (family.sample(&taskRNG), base.derived(UInt64(2 * i + 1)))
            }
            // An engram-cluster rank runs its fixed share of the tasks; the ranks exchange the results.
            let first = share.lowerBound
            let mine: @Sendable (Int) -> (TargetTrajectory, RandomSource) = { job(first + $0) }
            let results = try AdaptationSetup.run(checkpoint: checkpoint, pcm: pcm, quantize: quantize, drift: drift, family: family,
                                                  count: share.count, threads: threads, progress: progress.report, mine)
            let reference = try baseline.map { b in
                try AdaptationSetup.run(checkpoint: b, pcm: pcm, quantize: quantize, drift: drift, family: family,
                                        count: share.count, threads: threads, progress: { progress.report(share.count + $0) }, mine)
            }
            guard let group = arguments.group else { return (results, reference) }
            return (AdaptationSetup.gather(results, share: share, of: tasks, group: group),
                    reference.map { AdaptationSetup.gather($0, share: share, of: tasks, group: group) })
        }
        let results: [AdaptationResult], baselineResults: [AdaptationResult]?
        if let robotPath = arguments[Self.robot]?.directory {
            // The same task family on another robot's driven joints, limits and kinematics.
            let robot = try RobotFiles.loadRobot(robotPath)
            (results, baselineResults) = try evaluate(RunSession.taskFamily(for: robot, steps: checkpoint.architecture.steps), name: robot.name)
        } else {
            (results, baselineResults) = try evaluate(TaskFamily<ScorbotKinematics>.paperScorbot, name: "Scorbot")
        }
        progress.finish()
        let s = AdaptationSummary(results)
        let paired = baselineResults.map { PairedDifference(results.map(\.lossAfter.total), $0.map(\.lossAfter.total)) }
        if arguments[Self.json] {
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
            var all = object
            if let p = paired {
                all["baseline"] = baselinePath!
                all["baseline_mean_loss_after"] = p.baselineMean
                all["paired_difference"] = p.mean
                all["paired_difference_sem"] = p.standardError
                all["fraction_better"] = p.fractionBetter
            }
            try JSONOutput.print(all)
        } else {
            print("tasks                 \(s.tasks)   (pcm \(pcm)\(pcm != "off" && !drift ? " without drift" : ""), quantize \(quantize ? "on" : "off"), seed \(seed))")
            print("loss before update    \(fmt(s.meanLossBefore))")
            print("loss after update     \(fmt(s.meanLossAfter)) ± \(fmt(s.standardErrorLossAfter)) (s.e.m.), median \(fmt(s.medianLossAfter))")
            print("  MSE ω / MSE xyz     \(fmt(s.meanVelocityAfter)) / \(fmt(s.meanEndEffectorAfter)); mean end-effector error \(fmt(s.meanEndEffectorErrorAfter)) m")
            print("weights changed       W_in \(pct(s.meanChangedInput)), W_rec \(pct(s.meanChangedRecurrent))")
            print("firing rate trainee   \(fmt(s.traineeRateHz.mean)) Hz (sd \(fmt(s.traineeRateHz.std)) over tasks)")
            print("firing rate LSG       \(fmt(s.lsgRateHz.mean)) Hz (sd \(fmt(s.lsgRateHz.std)) over tasks)")
            if let p = paired {
                print("baseline              \(fmt(p.baselineMean)) after update (\(baselinePath!), same tasks and noise)")
                print("difference            \(fmt(p.mean)) ± \(fmt(p.standardError)) (paired s.e.m.; negative: this one is better), better on \(pct(p.fractionBetter)) of tasks")
            }
        }
        return 0
    }

    /// The paired difference of per-task values a − b: its mean and standard error, and how often a < b.
    struct PairedDifference {
        var mean: Double, standardError: Double, baselineMean: Double, fractionBetter: Double

        init(_ a: [Double], _ b: [Double]) {
            precondition(a.count == b.count && !a.isEmpty)
            let d = zip(a, b).map { $0 - $1 }
            let n = Double(d.count)
            let m = d.reduce(0, +) / n
            mean = m
            let variance = d.count > 1 ? d.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1) : 0
            standardError = (variance / n).squareRoot()
            baselineMean = b.reduce(0, +) / n
            fractionBetter = Double(d.filter { $0 < 0 }.count) / n
        }
    }

    /// `--disturbance`: the control loop on a disturbed simulated arm, with and without the disturbance.
    static func runDisturbance(_ kind: ArmDisturbance.Kind, _ arguments: ParsedArguments) throws -> Int32 {
        let robotPath = arguments[Self.robot]?.directory ?? ResourceLocator.robotDirectory("scorbot-er7") ?? "Robots/scorbot-er7"
        let robot = try RobotFiles.loadRobot(robotPath)
        let checkpoint = try RobotFiles.loadController(arguments[Self.checkpoint], robotPath: robotPath, robot: robot,
                                                       loop: RobotFiles.controllerLoop(arguments))
        let tasks = arguments[Self.tasks] ?? 180
        let threads = arguments[Self.threads]
        var settings = RunSettings()
        settings.pcm = arguments[Self.pcm] ?? SynapseMode.trainedFor(checkpoint)
        settings.quantize = arguments[Self.quantize]?.isOn
        settings.seed = arguments[Self.seed]
        settings.rateHz = robot.controller.rateHz
        let evaluation: DisturbanceEvaluation
        do {
            evaluation = try DisturbanceEvaluation(robot: robot, checkpoint: checkpoint, kind: kind, tasks: tasks, settings: settings)
        } catch {
            throw RuntimeError("\(arguments[Self.checkpoint] ?? robotPath): \(error.description)")
        }
        let progress = ProgressLine(total: tasks, label: "tasks")
        let (s, _) = evaluation.run(threads: threads, progress: progress.report)
        progress.finish()
        func windows(_ w: WindowedTrackingError) -> [String: Any] {
            ["ee_whole_mm": w.wholeMillimetres, "ee_before_mm": w.beforeMillimetres, "ee_during_mm": w.duringMillimetres, "ee_after_mm": w.afterMillimetres,
             "ee_settling_mm": w.settlingMillimetres]
        }
        if arguments[Self.json] {
            var object: [String: Any] = [
                "disturbance": kind.rawValue, "tasks": s.tasks, "robot": robot.name, "pcm": settings.pcm.rawValue,
                "quantize": settings.quantize ?? (settings.pcm != .off), "seed": settings.seed,
                "with": windows(s.disturbed), "without": windows(s.undisturbed), "deviation": windows(s.deviation),
                "sem_after_with_mm": s.afterStandardError.disturbed, "sem_after_without_mm": s.afterStandardError.undisturbed,
                "settling_ticks": DisturbanceEvaluation.settlingTicks, "unfinished_runs": s.unfinishedRuns,
            ]
            if let loss = s.meanLossAfter { object["mean_loss_after"] = loss }
            object["arm_loss_without"] = s.undisturbedArmLoss
            try JSONOutput.print(object)
        } else {
            let quantized = settings.quantize ?? (settings.pcm != .off)
            print("disturbance \(kind.rawValue) on \(robot.name): \(s.tasks) tasks (pcm \(settings.pcm.rawValue), quantize \(quantized ? "on" : "off"), seed \(settings.seed))")
            if let loss = s.meanLossAfter { print("mean loss after update  \(fmt(loss))   (trial 2 of the adaptation, perfect arm)") }
            print("loss on the arm          \(fmt(s.undisturbedArmLoss))   (undisturbed run: the arm's velocity and end effector)")
            print("end-effector error (mm)      whole    before    during     after   first \(DisturbanceEvaluation.settlingTicks) after")
            func row(_ label: String, _ w: WindowedTrackingError) {
                print(label.padding(toLength: 26, withPad: " ", startingAt: 0)
                      + [w.wholeMillimetres, w.beforeMillimetres, w.duringMillimetres, w.afterMillimetres, w.settlingMillimetres]
                        .map { String(format: "%10.2f", $0) }.joined())
            }
            if kind != .none { row("  with \(kind.rawValue)", s.disturbed) }
            row(kind == .none ? "  none (push windows)" : "  without (none)", s.undisturbed)
            if kind != .none { row("  with vs without (path)", s.deviation) }
            if kind != .none {
                print("after-window error: \(String(format: "%.2f", s.disturbed.afterMillimetres)) ± \(String(format: "%.2f", s.afterStandardError.disturbed)) mm with, \(String(format: "%.2f", s.undisturbed.afterMillimetres)) ± \(String(format: "%.2f", s.afterStandardError.undisturbed)) mm without (s.e.m.)")
            }
            if s.unfinishedRuns > 0 { print("warning: \(s.unfinishedRuns) run(s) stopped before the end of the trial") }
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
    static func run<K: ForwardKinematics>(checkpoint: ControllerCheckpoint, pcm: String, quantize: Bool, drift: Bool, family: TaskFamily<K>,
                    count: Int, threads: Int, progress: (@Sendable (Int) -> Void)? = nil,
                    _ job: @escaping @Sendable (Int) -> (TargetTrajectory, RandomSource)) throws -> [AdaptationResult] {
        try runKeeping(checkpoint: checkpoint, pcm: pcm, quantize: quantize, drift: drift, family: family, count: count, threads: threads,
                       keepAdapted: false, progress: progress, job).map { $0.0 }
    }

    /// Like `run`, also returning each task's adapted weights when `keepAdapted`.
    static func runKeeping<K: ForwardKinematics>(checkpoint: ControllerCheckpoint, pcm: String, quantize: Bool, drift: Bool, family: TaskFamily<K>,
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

    /// Every rank's results in task order, from this rank's `results` for the tasks of `share` (one
    /// `sum` over fixed slots, exact). The trial outputs stay behind (empty): the summaries do not use them.
    static func gather(_ results: [AdaptationResult], share: Range<Int>, of count: Int, group: RankGroup) -> [AdaptationResult] {
        let width = 12
        var slots = [Double](repeating: 0, count: count * width)
        for (i, r) in results.enumerated() {
            let row = (share.lowerBound + i) * width
            for (k, l) in [r.lossBefore, r.lossAfter].enumerated() {
                slots[row + 4 * k ..< row + 4 * k + 4] = [l.total, l.velocity, l.endEffector, l.meanEndEffectorError]
            }
            slots[row + 8 ..< row + 12] = [r.changedInput, r.changedRecurrent, r.traineeRateHz, r.lsgRateHz]
        }
        group.gather(&slots)
        return (0..<count).map { t in
            let v = slots[t * width ..< (t + 1) * width].map { $0 }
            func loss(_ k: Int) -> TrajectoryLossValue {
                TrajectoryLossValue(total: v[4 * k], velocity: v[4 * k + 1], endEffector: v[4 * k + 2], meanEndEffectorError: v[4 * k + 3])
            }
            return AdaptationResult(lossBefore: loss(0), lossAfter: loss(1), changedInput: v[8], changedRecurrent: v[9],
                                    traineeRateHz: v[10], lsgRateHz: v[11], outputBefore: [], outputAfter: [])
        }
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
