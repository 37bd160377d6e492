import Foundation
import Adaptation
import Robot
import Tensors
import Trajectories

/// Mean end-effector error of a run over the parts of its trial (mm).
public struct WindowedTrackingError: Sendable, Equatable {
    /// Over every step of the trial.
    public var wholeMillimetres: Double
    /// Over the steps measured before the disturbance window.
    public var beforeMillimetres: Double
    /// Over the steps measured inside the disturbance window.
    public var duringMillimetres: Double
    /// Over the steps measured from the window's end tick to the end of the trial.
    public var afterMillimetres: Double
    /// Over the first `DisturbanceEvaluation.settlingTicks` steps after the window (how fast the arm recovers).
    public var settlingMillimetres: Double

    /// An error from its parts.
    public init(wholeMillimetres: Double, beforeMillimetres: Double, duringMillimetres: Double, afterMillimetres: Double,
                settlingMillimetres: Double) {
        self.wholeMillimetres = wholeMillimetres
        self.beforeMillimetres = beforeMillimetres
        self.duringMillimetres = duringMillimetres
        self.afterMillimetres = afterMillimetres
        self.settlingMillimetres = settlingMillimetres
    }

    /// Whether every part is a finite number.
    public var isFinite: Bool {
        wholeMillimetres.isFinite && beforeMillimetres.isFinite && duringMillimetres.isFinite && afterMillimetres.isFinite && settlingMillimetres.isFinite
    }
}

/// One task of a disturbance evaluation: the same adapted controller run once with and once without the
/// task's disturbance.
public struct DisturbanceTaskResult: Sendable {
    /// The disturbance of this task (its window is also the window of the undisturbed run's figures).
    public var disturbance: ArmDisturbance
    /// Loss of the adaptation's second trial (after the one-shot update), when it adapted.
    public var lossAfter: Double?
    /// Tracking of the disturbed run.
    public var disturbed: WindowedTrackingError
    /// Tracking of the undisturbed run (same target, weights and device noise).
    public var undisturbed: WindowedTrackingError
    /// How far the disturbed arm's end effector was from the undisturbed arm's at the same step (mm), over the
    /// same parts of the trial: the disturbance's own effect, whatever the tracking error.
    public var deviation: WindowedTrackingError
    /// Runs (of the two) that did not finish their trial (a safety stop).
    public var unfinishedRuns: Int
    /// The paper's loss of the undisturbed run scored on the arm: 0.5·MSE of the arm's measured joint velocity
    /// against the target's plus 0.5·MSE of its end effector (`DisturbanceEvaluation.armLoss`).
    public var undisturbedArmLoss: Double = .nan
}

/// Means over the tasks of an evaluation.
public struct DisturbanceSummary: Sendable {
    /// The disturbance kind evaluated.
    public var kind: ArmDisturbance.Kind
    /// Number of tasks.
    public var tasks: Int
    /// Mean after-update loss over the tasks that adapted (nil when none did).
    public var meanLossAfter: Double?
    /// Means of the disturbed runs' errors.
    public var disturbed: WindowedTrackingError
    /// Means of the undisturbed runs' errors over the same windows.
    public var undisturbed: WindowedTrackingError
    /// Means of the distance between the disturbed and undisturbed end effectors.
    public var deviation: WindowedTrackingError
    /// Standard errors of the means of the disturbed and undisturbed after-window errors (mm).
    public var afterStandardError: (disturbed: Double, undisturbed: Double)
    /// Runs that did not finish their trial.
    public var unfinishedRuns: Int
    /// Mean of the undisturbed runs' loss on the arm.
    public var undisturbedArmLoss: Double

    /// Means of `results`.
    public init(kind: ArmDisturbance.Kind, results: [DisturbanceTaskResult]) {
        self.kind = kind
        tasks = results.count
        let losses = results.compactMap(\.lossAfter)
        meanLossAfter = losses.isEmpty ? nil : losses.reduce(0, +) / Double(losses.count)
        func mean(_ part: (DisturbanceTaskResult) -> WindowedTrackingError) -> WindowedTrackingError {
            let n = Double(max(results.count, 1))
            return WindowedTrackingError(
                wholeMillimetres: results.reduce(0) { $0 + part($1).wholeMillimetres } / n,
                beforeMillimetres: results.reduce(0) { $0 + part($1).beforeMillimetres } / n,
                duringMillimetres: results.reduce(0) { $0 + part($1).duringMillimetres } / n,
                afterMillimetres: results.reduce(0) { $0 + part($1).afterMillimetres } / n,
                settlingMillimetres: results.reduce(0) { $0 + part($1).settlingMillimetres } / n)
        }
        disturbed = mean(\.disturbed)
        undisturbed = mean(\.undisturbed)
        deviation = mean(\.deviation)
        func standardError(_ values: [Double]) -> Double {
            guard values.count > 1 else { return 0 }
            let m = values.reduce(0, +) / Double(values.count)
            let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)
            return (variance / Double(values.count)).squareRoot()
        }
        afterStandardError = (standardError(results.map(\.disturbed.afterMillimetres)),
                              standardError(results.map(\.undisturbed.afterMillimetres)))
        unfinishedRuns = results.reduce(0) { $0 + $1.unfinishedRuns }
        undisturbedArmLoss = results.reduce(0) { $0 + $1.undisturbedArmLoss } / Double(max(results.count, 1))
    }
}

/// `engram evaluate --disturbance`: how well a controller tracks when something happens to the arm.
///
/// For each of `tasks` targets sampled (seeded) from the robot's task family, the controller is adapted
/// in one shot and run through the real control path — `RunSession` (adaptation on the demonstration,
/// approach, then the trial in the `ControlLoop` behind the safety envelope) — on a `SimulatedArm`
/// carrying a disturbance sampled for the task (`ArmDisturbance.random`, on one of the driven joints), and
/// again on an undisturbed arm with the same target, adapted weights and device noise. The arm is
/// teleported to the trial's start pose first, so the approach is a 0.2 s settle that ends long before any
/// disturbance window (windows start at loop tick 60 or later) and the trial's loop ticks are the
/// disturbance's clock. Step k of the trial is measured at loop tick k + 1 (`RunSession.trackingError`); it
/// counts as during the disturbance when that tick is in the window and as after it from `endTick` on.
///
/// Seeds: task i's target comes from `RandomSource(seed).derived(3i)`, its disturbance from `derived(3i + 1)`
/// and its device seed from `derived(3i + 2)`, so every kind is evaluated on the same targets and devices.
/// For `.none` the windows are those a push would have had (`derived(3i + 1)` drawn as a push), so the
/// during/after columns of a `none` evaluation cover comparable stretches of the trial.
public struct DisturbanceEvaluation: Sendable {
    /// The robot (its driven joints, limits, kinematics and task family).
    public let robot: RobotDescription
    /// The controller.
    public let checkpoint: ControllerCheckpoint
    /// What to do to the arm.
    public let kind: ArmDisturbance.Kind
    /// Number of tasks.
    public let tasks: Int
    /// Synapses, quantization and the base seed (`settings.seed`); pacing is simulated.
    public let settings: RunSettings
    /// The simulated arm's servo settings.
    public var armConfiguration = SimulatedArm.Configuration()

    /// Steps right after a window whose error `WindowedTrackingError.settlingMillimetres` averages.
    public static let settlingTicks = 10

    /// An evaluation of `kind` over `tasks` tasks; throws when the controller does not fit the robot.
    public init(robot: RobotDescription, checkpoint: ControllerCheckpoint, kind: ArmDisturbance.Kind, tasks: Int,
                settings: RunSettings) throws(RunSessionError) {
        guard tasks > 0 else { throw RunSessionError("give at least one task") }
        var run = settings
        run.pacing = .simulated
        run.watchSignals = false
        run.duration = nil
        self.robot = robot
        self.checkpoint = checkpoint
        self.kind = kind
        self.tasks = tasks
        self.settings = run
        // Fails here, once, when the controller does not fit the robot.
        _ = try RunSession(robot: robot, calibration: nil, checkpoint: checkpoint, target: task(0).target, settings: run)
    }

    /// Task `i`: its target, its disturbance, and the seed of its device noise.
    public func task(_ i: Int) -> (target: TargetTrajectory, disturbance: ArmDisturbance, seed: UInt64) {
        Self.task(i, kind: kind, robot: robot, steps: checkpoint.architecture.steps, seed: settings.seed)
    }

    /// Task `i` of an evaluation of `kind` on `robot` with trials of `steps` steps and base seed `seed` (see the
    /// type's seeds), without a checkpoint: what `engram run --task` and `engram sim-serial --task` reproduce.
    public static func task(_ i: Int, kind: ArmDisturbance.Kind, robot: RobotDescription, steps: Int, seed: UInt64)
        -> (target: TargetTrajectory, disturbance: ArmDisturbance, seed: UInt64) {
        let root = RandomSource(seed: seed)
        var targetRNG = root.derived(UInt64(3 * i))
        let target = RunSession.taskFamily(for: robot, steps: steps).sample(&targetRNG)
        var disturbanceRNG = root.derived(UInt64(3 * i + 1))
        let disturbance = ArmDisturbance.random(kind: kind == .none ? .push : kind, joints: robot.drivenJointIndices,
                                                trialTicks: steps + 1, rng: &disturbanceRNG)
        var seedRNG = root.derived(UInt64(3 * i + 2))
        return (target, disturbance, seedRNG.next())
    }

    /// End-effector errors (mm) of a run's `log` against `target`, over the parts of the trial `window` marks.
    public static func windowedTracking(log: RunLog, robot: RobotDescription, target: TargetTrajectory, window: ArmDisturbance) -> WindowedTrackingError {
        let path = endEffectorPath(log: log, robot: robot, steps: target.steps)
        let errors = zip(path, target.endEffector).map { p, q in let d = p - q; return (d * d).sum().squareRoot() }
        return windowed(errors, window: window)
    }

    /// Runs task `i` with and without its disturbance.
    public func evaluate(task i: Int) -> DisturbanceTaskResult {
        let (target, sampled, seed) = task(i)
        var run = settings
        run.seed = seed
        // Checked in init: the same checkpoint and robot with a target of the family's shape.
        guard let session = try? RunSession(robot: robot, calibration: nil, checkpoint: checkpoint, target: target, settings: run) else {
            preconditionFailure("task \(i) does not fit the controller")
        }
        let window = sampled
        func runOnce(_ disturbance: ArmDisturbance) -> (path: [SIMD3<Double>], loss: Double?, finished: Bool, armLoss: Double) {
            let arm = SimulatedArm(robot: robot, configuration: armConfiguration)
            arm.teleport(to: session.startPose)
            arm.disturbance = disturbance
            let outcome = session.run(on: arm)
            let finished = outcome.loop.stop == .policyFinished
            return (Self.endEffectorPath(log: outcome.loop.log, robot: robot, steps: target.steps), outcome.adaptation?.lossAfter.total, finished,
                    Self.armLoss(log: outcome.loop.log, robot: robot, target: target))
        }
        func distances(_ a: [SIMD3<Double>], _ b: [SIMD3<Double>]) -> [Double] {
            zip(a, b).map { p, q in let d = p - q; return (d * d).sum().squareRoot() }
        }
        let disturbed = runOnce(kind == .none ? .none : sampled)
        let undisturbed = kind == .none ? disturbed : runOnce(.none)
        return DisturbanceTaskResult(
            disturbance: kind == .none ? .none : sampled, lossAfter: disturbed.loss,
            disturbed: Self.windowed(distances(disturbed.path, target.endEffector), window: window),
            undisturbed: Self.windowed(distances(undisturbed.path, target.endEffector), window: window),
            deviation: Self.windowed(distances(disturbed.path, undisturbed.path), window: window),
            unfinishedRuns: (disturbed.finished ? 0 : 1) + (undisturbed.finished ? 0 : 1),
            undisturbedArmLoss: undisturbed.armLoss)
    }

    /// The paper's loss scored on what the arm did: 0.5·mean over steps and driven joints of (arm velocity −
    /// target ω)² + 0.5·mean over steps and coordinates of (end effector − target)², with the arm velocity of
    /// step k = (q(tick k+1) − q(tick k)) / Δt from the measured angles and the end effector of step k from
    /// tick k + 1. This is the loss closed-loop meta-training minimises (docs/closed-loop.md), so the same
    /// number compares an open-loop and a closed-loop controller on the same arm. NaN for a short log.
    public static func armLoss(log: RunLog, robot: RobotDescription, target: TargetTrajectory) -> Double {
        let steps = target.steps, driven = robot.drivenJointIndices, k = driven.count
        guard log.count > steps else { return .nan }
        let path = endEffectorPath(log: log, robot: robot, steps: steps)
        var velocity = 0.0, position = 0.0
        for s in 0..<steps {
            for (o, j) in driven.enumerated() {
                let v = (log.measured(tick: s + 1, joint: j) - log.measured(tick: s, joint: j)) / RunSession.stepSeconds
                let d = v - target.angularVelocity[s * k + o]
                velocity += d * d
            }
            let e = path[s] - target.endEffector[s]
            position += (e * e).sum()
        }
        return 0.5 * velocity / Double(steps * k) + 0.5 * position / Double(steps * 3)
    }

    /// Every task on `threads` threads (results in task order, independent of the thread count).
    public func run(threads: Int, progress: (@Sendable (Int) -> Void)? = nil) -> (summary: DisturbanceSummary, results: [DisturbanceTaskResult]) {
        let results = ParallelJobs.run(count: tasks, threads: threads, progress: progress, makeWorker: { () }) { _, i in
            evaluate(task: i)
        }
        return (DisturbanceSummary(kind: kind, results: results), results)
    }

    /// The end effector (m) at each trial step k: the forward kinematics of the pose measured at log tick
    /// k + 1 (all joints), the pose `RunSession.trackingError` compares with target step k; as many of the
    /// `steps` steps as the log covers.
    public static func endEffectorPath(log: RunLog, robot: RobotDescription, steps: Int) -> [SIMD3<Double>] {
        let samples = min(steps, log.count - 1)
        guard samples > 0 else { return [] }
        let fk = robot.forwardKinematics
        var measured = [Double](repeating: 0, count: robot.joints.count)
        var out = [SIMD3<Double>](repeating: .zero, count: samples)
        for k in 0..<samples {
            for j in 0..<robot.joints.count { measured[j] = log.measured(tick: k + 1, joint: j) }
            out[k] = fk.position(measured)
        }
        return out
    }

    /// Means (mm) of per-step errors `errors` (m, step k measured at tick k + 1) over the whole trial, before
    /// the window of `window`, inside it, after its end, and over the first `settlingTicks` steps after its end. A part with
    /// no steps (a window past the run's end) is NaN.
    public static func windowed(_ errors: [Double], window: ArmDisturbance) -> WindowedTrackingError {
        var sums = (whole: 0.0, before: 0.0, during: 0.0, after: 0.0, settling: 0.0)
        var counts = (whole: 0, before: 0, during: 0, after: 0, settling: 0)
        for (k, e) in errors.enumerated() {
            let tick = k + 1
            sums.whole += e; counts.whole += 1
            if tick < window.startTick { sums.before += e; counts.before += 1 }
            if window.isActive(atTick: tick) { sums.during += e; counts.during += 1 }
            if tick >= window.endTick {
                sums.after += e; counts.after += 1
                if tick < window.endTick + settlingTicks { sums.settling += e; counts.settling += 1 }
            }
        }
        func mm(_ s: Double, _ n: Int) -> Double { n > 0 ? 1000 * s / Double(n) : .nan }
        return WindowedTrackingError(wholeMillimetres: mm(sums.whole, counts.whole), beforeMillimetres: mm(sums.before, counts.before),
                                     duringMillimetres: mm(sums.during, counts.during),
                                     afterMillimetres: mm(sums.after, counts.after), settlingMillimetres: mm(sums.settling, counts.settling))
    }
}
