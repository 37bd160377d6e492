import Adaptation
import Control
import Foundation
import MetaLearning
import Robot
import ServoBus
import Tensors
#if canImport(Glibc)
@preconcurrency import Glibc
import Trajectories
#endif

/// `engram run`: the spiking controller on an arm (over a serial port, or simulated), optionally adapted
/// once to a target, with tracking error and loop timing.
enum RunCommand: EngramCommand {
    static let name = "run"
    static let abstract = "Run the spiking controller on an arm (serial port or --sim), adapting once to --target"
    static let discussion = """
        Loads the robot (--robot: a name such as so101, or a folder DIR with robot.yaml), its calibration (--calibration, default \
        Calibration/<robot>.yaml) and its controller (--checkpoint, default DIR/controller.safetensors, or with \
        --closed-loop, or 'loop: closed-loop' under controller: in robot.yaml, DIR/controller-closed-loop.safetensors: \
        a controller that also hears each driven joint's measured angle and tracking error). With \
        --target CSV (249 rows of the driven joints' angles; the format is in 'engram help adapt') the controller first adapts \
        in one shot: trial, learning signals, one natural e-prop update written to the PCM crossbar's changed \
        devices. Then each tick of the loop reads the arm, steps the trainee once on its clock input, integrates \
        its ω outputs as 10 ms of robot time into goals of the driven joints, passes them through the safety \
        envelope (limits, speed, ease-in, watchdog) and writes them. The trial (249 steps) ends the run; the arm \
        holds its last goal.

        --sim runs the simulated arm with simulated time (fast; PCM drift on simulated seconds); --port PATH \
        runs in real time on a servo bus (PCM drift on wall-clock seconds since programming), e.g. the port \
        printed by 'engram sim-serial --robot DIR'. Tracking error: the pose measured one period after each step \
        against the target (joint RMS in degrees over the driven joints, end-effector mean in mm by the robot's \
        kinematics); without --target, against the controller's own goals.

        Example: engram run --robot scorbot-er7 --sim --target reach.csv --json
        """
    static let robot = CommonOptions.robot(required: true)
    static let calibration = Option<String>("--calibration", "file", "Calibration YAML", defaultNote: "Calibration/<robot>.yaml")
    static let checkpoint = RobotFiles.checkpoint
    static let target = Option<String>("--target", "csv", "Target trajectory to adapt to once and to track")
    static let task = Option<Int>("--task", "i", "Instead of --target: task i of 'engram evaluate --disturbance <kind> --seed <s>' (its target, device seed and window)",
                                  in: 0...1_000_000)
    static let disturbance = Option<ArmDisturbance.Kind>("--disturbance", "kind",
        "With --task: the disturbance kind; --sim disturbs the simulated arm, --port expects 'engram sim-serial --disturbance <kind> --seed <s> --task <i>'")
    static let adapt = Option<Switch>("--adapt", "on|off", "With --target: adapt once before running; off tracks the unadapted controller").defaulting(to: .on)
    static let pcm = Option<SynapseMode>("--pcm", "model", "Trainee synapses: ideal weights (off) or a PCM model",
                                         defaultNote: "the model the controller was meta-trained with, else physical")
    static let quantize = Option<Switch>("--quantize", "on|off", "Round the update to 1/16 of w_max", defaultNote: "on with PCM")
    static let rate = Option<Double>("--rate", "hz", "Loop rate", in: 1...10_000, defaultNote: "the robot's, 100")
    static let duration = Option<Double>("--duration", "s", "Stop after this many seconds", in: 0.001...86_400, defaultNote: "the whole trial")
    static let record = Option<String>("--record", "csv", "Write measured positions and goals per tick")
    static let plot = Option<String>("--plot", "svg", "Write target against actual as SVG")
    static let watchdog = Option<WatchdogAction>("--watchdog", "action", "What to do after repeated failed reads").defaulting(to: .hold)
    static let realtime = Flag("--realtime", "Ask for SCHED_FIFO priority and locked memory (warns when not permitted)")
    static let seed = CommonOptions.seed("Seed of the device noise")
    static let json = CommonOptions.json

    static let options: [OptionSpec] = [robot.spec, CommonOptions.port.spec, CommonOptions.sim.spec, calibration.spec, checkpoint.spec]
        + RobotFiles.loopOptions + [target.spec, task.spec, disturbance.spec, adapt.spec, pcm.spec, quantize.spec, rate.spec,
                                    duration.spec, record.spec, plot.spec, watchdog.spec, realtime.spec, seed.spec, json.spec]
    static let rules: [OptionRule] = [
        .oneOf(["--port", "--sim"], message: "missing --port <path> or --sim: where the arm is (a serial port, e.g. from 'engram sim-serial --robot <robot>', or the simulated arm)"),
        .exclusive(["--task", "--target"], message: "--task <i> brings its own target; drop --target"),
        .requires("--disturbance", anyOf: ["--task"], message: "--disturbance <kind> goes with --task <i>: which task of 'engram evaluate --disturbance <kind>' to reproduce"),
        .requires("--task", anyOf: ["--disturbance"], message: "--task <i> goes with --disturbance <kind> (none, push, payload or latency)"),
    ] + RobotFiles.loopRules

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let robotPath = try arguments.required(Self.robot).directory
        let robot = try RobotFiles.loadRobot(robotPath)
        let port = arguments[CommonOptions.port]
        let simulated = arguments[CommonOptions.sim]
        let calibration = try RobotFiles.loadCalibration(arguments[Self.calibration], robotPath: robotPath, robot: robot, required: port != nil)
        let rate = arguments[Self.rate] ?? robot.controller.rateHz
        let loop = RobotFiles.controllerLoop(arguments)
        let checkpoint = try RobotFiles.loadController(arguments[Self.checkpoint], robotPath: robotPath, robot: robot, loop: loop,
                                                       wholeArmTarget: loop == nil ? arguments[Self.target] : nil)
        let steps = checkpoint.architecture.steps
        var target: TargetTrajectory? = nil
        if let path = arguments[Self.target] {
            do {
                if checkpoint.architecture.jointTarget != nil {
                    target = try WholeArm.loadTarget(fromFileAt: path, robot: robot, calibration: calibration, rateHz: rate).trajectory
                } else {
                    target = try RunSession.loadTarget(fromFileAt: path, robot: robot, steps: steps)
                }
            } catch { throw RuntimeError(error.description) }
        }
        // --task: reproduce one task of `engram evaluate --disturbance` (same target, device seed and window).
        var evaluationTask: (index: Int, kind: ArmDisturbance.Kind, disturbance: ArmDisturbance)? = nil
        var taskSeed: UInt64? = nil
        if let kind = arguments[Self.disturbance], let index = arguments[Self.task] {
            let task = DisturbanceEvaluation.task(index, kind: kind, robot: robot, steps: steps, seed: arguments[Self.seed])
            target = task.target
            taskSeed = task.seed
            evaluationTask = (index, kind, task.disturbance)
        }
        var settings = RunSettings()
        settings.rateHz = rate
        settings.duration = arguments[Self.duration]
        settings.pcm = arguments[Self.pcm] ?? SynapseMode.trainedFor(checkpoint)
        settings.quantize = arguments[Self.quantize]?.isOn
        settings.seed = taskSeed ?? arguments[Self.seed]
        settings.adapt = arguments[Self.adapt].isOn
        settings.pacing = simulated ? .simulated : .realTime
        settings.watchdogAction = arguments[Self.watchdog]
        settings.requestRealTime = arguments[Self.realtime]
        let json = arguments[Self.json]
        let session: RunSession
        do {
            session = try RunSession(robot: robot, calibration: calibration, checkpoint: checkpoint, target: target, settings: settings)
        } catch {
            throw RuntimeError(error.description)
        }

        SignalMonitor.block()

        let arm: any Arm
        var busArm: BusArm? = nil
        if let port, let calibration {
            let bus: BusArm
            do {
                bus = try BusArm.open(robot: robot, calibration: calibration, port: port)
            } catch {
                throw RuntimeError(error.description)
            }
            busArm = bus
            arm = bus
        } else {
            let simulated = SimulatedArm(robot: robot)
            if let evaluationTask {
                // As `engram evaluate --disturbance`: the arm starts at the trial's start pose, disturbed.
                simulated.teleport(to: session.startPose)
                if evaluationTask.kind != .none { simulated.disturbance = evaluationTask.disturbance }
            }
            arm = simulated
        }
        var recorder: TrajectoryRecorder? = nil
        if let path = arguments[Self.record] {
            let names = robot.joints.map(\.name)
            let metadata: [(String, String)] = [
                ("robot", robot.name), ("calibration", arguments[Self.calibration] ?? (calibration == nil ? "none" : "default")),
                ("rate_hz", RobotFiles.number(settings.rateHz)), ("start", ISO8601DateFormatter().string(from: Date())),
                ("source", port.map { "engram run --port \($0)" } ?? "engram run --sim"),
            ]
            do {
                recorder = try TrajectoryRecorder(path: path, columns: names.map { $0 + ".pos" } + names.map { $0 + ".goal" }, metadata: metadata)
            } catch {
                busArm?.disconnect(keepingTorque: true)
                throw RuntimeError("\(error)")
            }
        }
        let outcome = session.run(on: arm, recorder: recorder)
        for warning in outcome.realTimeWarnings { printError("warning: \(warning)") }
        recorder?.close()
        busArm?.disconnect(keepingTorque: arm.isTorqueEnabled)
        let rss = RealTimeScheduling.peakResidentBytes()

        if let plotPath = arguments[Self.plot] {
            let svg = TrajectoryPlot.svg(plotSeries(outcome: outcome, robot: robot, target: target), title: "engram run: \(robot.name)")
            do { try svg.write(toFile: plotPath, atomically: true, encoding: .utf8) } catch {
                throw RuntimeError("\(plotPath): cannot write the plot (\(error.localizedDescription)); check the folder exists")
            }
        }
        var windowed: WindowedTrackingError? = nil
        if let evaluationTask, let target {
            windowed = DisturbanceEvaluation.windowedTracking(log: outcome.loop.log, robot: robot, target: target, window: evaluationTask.disturbance)
        }
        if json {
            var object = report(outcome, session: session, rss: rss)
            if let evaluationTask, let w = windowed {
                object["disturbance"] = ["kind": evaluationTask.kind.rawValue, "task": evaluationTask.index, "window": evaluationTask.disturbance.description,
                                         "applied_by": port == nil ? "simulated arm" : "sim-serial (expected)",
                                         "ee_whole_mm": w.wholeMillimetres, "ee_before_mm": w.beforeMillimetres, "ee_during_mm": w.duringMillimetres,
                                         "ee_after_mm": w.afterMillimetres, "ee_settling_mm": w.settlingMillimetres] as [String: Any]
            }
            if let stats = busArm?.bus.statistics {
                object["bus"] = ["packets_sent": stats.packetsSent, "replies": stats.repliesReceived, "retries": stats.retries,
                                 "timeouts": stats.timeouts, "rejected_packets": stats.rejectedPackets]
            }
            try JSONOutput.print(object)
        } else {
            printText(outcome, session: session, rss: rss)
            if let evaluationTask, let w = windowed {
                let applied = port == nil ? "on the simulated arm" : "expected from 'engram sim-serial --disturbance \(evaluationTask.kind.rawValue) --task \(evaluationTask.index)'"
                print("disturbance      task \(evaluationTask.index): \(evaluationTask.kind == .none ? "none (push window \(evaluationTask.disturbance))" : evaluationTask.disturbance.description), \(applied)")
                print("windows (mm)     end effector whole \(String(format: "%.2f", w.wholeMillimetres)), before \(String(format: "%.2f", w.beforeMillimetres)), during \(String(format: "%.2f", w.duringMillimetres)), after \(String(format: "%.2f", w.afterMillimetres)), first \(DisturbanceEvaluation.settlingTicks) after \(String(format: "%.2f", w.settlingMillimetres))")
            }
        }
        if outcome.loop.stoppedOnFault {
            printError("run stopped: \(outcome.loop.stopReason)")
            return 1
        }
        return 0
    }

    /// The JSON object `--json` prints.
    static func report(_ outcome: RunOutcome, session: RunSession, rss: Int) -> [String: Any] {
        let loop = outcome.loop
        var tracking: [String: Any] = [:]
        if let t = outcome.tracking {
            tracking = ["reference": t.reference, "joint_rms_deg": t.jointRMSDegrees, "ee_mean_mm": t.endEffectorMeanMillimetres,
                        "ee_max_mm": t.endEffectorMaxMillimetres, "samples": t.samples,
                        "per_joint_rms_deg": Dictionary(uniqueKeysWithValues: zip(session.drivenIndices.map { session.robot.joints[$0].name }, t.perJointRMSDegrees))]
        }
        var safety = loop.safetyJSON
        safety["watchdog"] = session.settings.watchdogAction.rawValue
        var object: [String: Any] = [
            "robot": session.robot.name,
            "pcm": session.settings.pcm.rawValue,
            "seed": session.settings.seed,
            "tracking": tracking,
            "timing": timing(loop, simulated: session.settings.pacing == .simulated),
            "safety": safety,
            "rss_mb": Double(rss) / 1_048_576,
        ]
        if let a = outcome.adaptation {
            object["adaptation"] = ["loss_before": a.lossBefore.total, "loss_after": a.lossAfter.total,
                                    "changed_in": a.changedInput, "changed_rec": a.changedRecurrent,
                                    "quantized": session.quantizesUpdate] as [String: Any]
        }
        if let w = outcome.segmented {
            object["adaptation"] = ["segments": w.layout.count, "segment_ticks": w.layout.steps, "hand_over_ticks": w.layout.handOver,
                                    "joint_rms_deg_before": w.jointRMSDegreesBefore, "joint_rms_deg_after": w.jointRMSDegreesAfter,
                                    "loss_before": w.segments.map(\.lossBefore.total).reduce(0, +) / Double(max(w.segments.count, 1)),
                                    "loss_after": w.segments.map(\.lossAfter.total).reduce(0, +) / Double(max(w.segments.count, 1)),
                                    "quantized": session.quantizesUpdate, "note": "joint RMS of the adaptation's own trials (no arm)"] as [String: Any]
        }
        if let p = outcome.programming {
            object["pcm_programming"] = ["devices_programmed": p.devicesProgrammed, "pulses": p.pulses]
        }
        return object
    }

    /// The loop's timing for --json: the clock it ran on, and only for real-time runs (in simulated time they
    /// measure nothing about an arm) overruns, read→write latency, and the measured period and read, update
    /// and write times per tick.
    static func timing(_ loop: ControlLoopResult, simulated: Bool) -> [String: Any] {
        var t: [String: Any] = ["clock": simulated ? "simulated" : "real", "rate_hz": loop.rateHz, "ticks": loop.ticks]
        guard !simulated else { return t }
        t["overruns"] = loop.overruns
        t["missed_cycles"] = loop.missedCycles
        t["latency_us"] = ["p50": loop.latencyP50Microseconds, "p99": loop.latencyP99Microseconds, "max": loop.latencyMaxMicroseconds]
        let summaries = [("period_us", loop.timing.period), ("read_us", loop.timing.read), ("update_us", loop.timing.update), ("write_us", loop.timing.write)]
        for (key, d) in summaries {
            t[key] = ["p50": d.p50Microseconds, "p99": d.p99Microseconds, "max": d.maxMicroseconds, "mean": d.meanMicroseconds]
        }
        return t
    }

    static func printText(_ outcome: RunOutcome, session: RunSession, rss: Int) {
        let loop = outcome.loop
        let f = { (x: Double) in String(format: "%.3g", x) }
        if let a = outcome.adaptation {
            print("adaptation       loss \(f(a.lossBefore.total)) → \(f(a.lossAfter.total)) (one e-prop update; W_in \(String(format: "%.1f", 100 * a.changedInput)) %, W_rec \(String(format: "%.1f", 100 * a.changedRecurrent)) % changed)")
        }
 if let w = outcome.segmented {
            print("adaptation       whole arm, \(w.layout.count) segments of \(w.layout.steps) ticks (hand-over \(w.layout.handOver)), one e-prop update each; trials without the arm: joint RMS \(String(format: "%.2f", w.jointRMSDegreesBefore))° → \(String(format: "%.2f", w.jointRMSDegreesAfter))°")
        }
        if let p = outcome.programming {
            print("PCM              \(session.settings.pcm.rawValue): \(p.devicesProgrammed) devices programmed, \(p.pulses) pulses")
        }
        if session.target == nil {
            print("motion           the controller's own (no --target): the motion it plays before any update; --target FILE teaches it another with one update")
        }
        if let t = outcome.tracking {
            print("tracking         vs \(t.reference): joint RMS \(String(format: "%.2f", t.jointRMSDegrees))°, end effector mean \(String(format: "%.1f", t.endEffectorMeanMillimetres)) mm (max \(String(format: "%.1f", t.endEffectorMaxMillimetres)) mm) over \(t.samples) steps")
        }
        if session.settings.pacing == .simulated {
            print("loop             \(loop.ticks) ticks at \(RobotFiles.number(loop.rateHz)) Hz in simulated time (\(String(format: "%.2f", Double(loop.ticks) / loop.rateHz)) s simulated, run as fast as the CPU goes; loop timing is measured on real arms, --port)")
        } else {
            print("loop             \(loop.ticks) ticks at \(RobotFiles.number(loop.rateHz)) Hz in real time, \(loop.overruns) overruns; read→write p50 \(f(loop.latencyP50Microseconds)) µs, p99 \(f(loop.latencyP99Microseconds)) µs, max \(f(loop.latencyMaxMicroseconds)) µs")
        }
        let s = loop.safety
        print("safety           \(s.clampedToLimits) clamped, \(s.rateLimited) rate-limited, \(s.rejectedNonFinite) non-finite, \(s.failedReads) failed reads, \(s.rejectedReadings) readings refused; \(loop.stopReason)")
        print("memory           peak RSS \(String(format: "%.1f", Double(rss) / 1_048_576)) MB")
    }

    /// Target, measured and commanded (goal) series for `TrajectoryPlot`, each with its end-effector path.
    static func plotSeries(outcome: RunOutcome, robot: RobotDescription, target: TargetTrajectory?) -> [PlotSeries] {
        let log = outcome.loop.log
        let names = robot.joints.map(\.name)
        let fk = robot.forwardKinematics
        let period = 1 / outcome.loop.rateHz
        var series: [PlotSeries] = []
        let driven = target.map { $0.joints == names.count } == true ? Array(names.indices) : robot.drivenJointIndices
        if let target {
            let time = (0..<target.steps).map { Double($0 + 1) * period }
            let joints = driven.enumerated().map { m, j in (name: names[j], radians: (0..<target.steps).map { target.angles[$0 * target.joints + m] }) }
            series.append(PlotSeries(label: "target", time: time, joints: joints, endEffector: target.endEffector, role: .target))
        }
        let ticks = log.count
        let time = (0..<ticks).map { log.time[$0] }
        let measured = driven.map { j in (name: names[j], radians: (0..<ticks).map { log.measured(tick: $0, joint: j) }) }
        let path = (0..<ticks).map { k in fk.position((0..<names.count).map { log.measured(tick: k, joint: $0) }) }
        series.append(PlotSeries(label: "measured", time: time, joints: measured, endEffector: path, role: .measured))
        let goals = driven.map { j in (name: names[j], radians: (0..<ticks).map { log.goal(tick: $0, joint: j) }) }
        let goalPath = (0..<ticks).map { k in fk.position((0..<names.count).map { log.goal(tick: k, joint: $0) }) }
        series.append(PlotSeries(label: "goal (commanded, after the safety envelope)", time: time, joints: goals, endEffector: goalPath, role: .goal))
        return series
    }
}
