import Robot

/// How the loop keeps time.
public enum LoopPacing: Sendable, Equatable {
    /// Absolute deadlines on the monotonic clock (`clock_nanosleep(TIMER_ABSTIME)`): real arms.
    case realTime
    /// No sleeping: simulated time advances one period per tick (simulated arms, experiments, tests).
    case simulated
}

/// A log of one run kept in memory, preallocated for the expected number of ticks.
public struct RunLog: Sendable {
    /// Loop time of each tick (s).
    public private(set) var time: [Double] = []
    /// Measured joint angles, `jointCount` per tick (rad).
    public private(set) var measured: [Double] = []
    /// Goals sent after the safety envelope, `jointCount` per tick (rad).
    public private(set) var goals: [Double] = []
    /// Joints per tick.
    public let jointCount: Int

    /// Room for `ticks` ticks of `jointCount` joints, allocated once.
    public init(jointCount: Int, ticks: Int) {
        self.jointCount = jointCount
        time.reserveCapacity(ticks)
        measured.reserveCapacity(ticks * jointCount)
        goals.reserveCapacity(ticks * jointCount)
    }

    /// Number of ticks logged.
    public var count: Int { time.count }

    mutating func append(time t: Double, measured m: [Double], goals g: [Double]) {
        time.append(t)
        measured.append(contentsOf: m)
        goals.append(contentsOf: g)
    }

    /// Measured angle of joint `j` at tick `k`.
    public func measured(tick k: Int, joint j: Int) -> Double { measured[k * jointCount + j] }
    /// Goal of joint `j` at tick `k`.
    public func goal(tick k: Int, joint j: Int) -> Double { goals[k * jointCount + j] }
}

/// What a run did: ticks, timing and what the safety envelope did.
public struct ControlLoopResult: Sendable {
    /// Ticks executed.
    public var ticks: Int
    /// Loop rate (Hz).
    public var rateHz: Double
    /// Ticks that ran past their deadline (real-time pacing only).
    public var overruns: Int
    /// Whole periods skipped after overruns.
    public var missedCycles: Int
    /// Read → write latency percentiles (µs).
    public var latencyP50Microseconds: Double
    public var latencyP99Microseconds: Double
    public var latencyMaxMicroseconds: Double
    /// The safety envelope's counters and why the run stopped.
    public var safety: SafetyReport
    /// Why the loop ended: "policy finished", "duration reached", "SIGINT", a watchdog or arm fault.
    public var stopReason: String
    /// True when the loop ended because something went wrong (watchdog, arm fault), not by plan.
    public var stoppedOnFault: Bool
    /// The in-memory log.
    public var log: RunLog
}

/// The fixed-rate loop: one tick is read → policy → safety envelope → write.
///
/// `ControlLoop` is handed an arm, a policy and a safety envelope; it constructs none of them and knows
/// no packet format. Per tick it allocates nothing (buffers are made before the first tick; the log and
/// the latency buffer are preallocated for the run's length). A failed read sends no goal that tick (the
/// servos keep the last safe goal) and counts towards the envelope's watchdog. A reading the envelope
/// refuses as implausible, or an arm that deactivates (a servo in hardware alarm), stops the run at once
/// with the envelope's configured action (hold or torque off), and the stop reason names the joint, the
/// servo, the value and the bound. The start pose is the second of two plausible readings that agree, and
/// torque goes on holding the envelope's goal, not a raw reading. SIGINT and SIGTERM, when blocked with
/// `SignalMonitor.block()`, end the run after the current tick, holding the last goal.
public struct ControlLoop {
    /// Loop rate (Hz).
    public let rateHz: Double
    /// How time is kept.
    public let pacing: LoopPacing
    /// Stop after this long (s); nil runs until the policy finishes or a signal arrives.
    public let duration: Double?
    /// Optional recorder: each tick appends time, measured positions and goals.
    public var recorder: TrajectoryRecorder?
    /// Poll SIGINT/SIGTERM each tick.
    public var watchSignals: Bool

    public init(rateHz: Double, pacing: LoopPacing, duration: Double? = nil, recorder: TrajectoryRecorder? = nil, watchSignals: Bool = true) {
        precondition(rateHz > 0, "rate must be positive")
        self.rateHz = rateHz
        self.pacing = pacing
        self.duration = duration
        self.recorder = recorder
        self.watchSignals = watchSignals
    }

    /// Runs `policy` on `arm` through `envelope` until the policy finishes, the duration passes, a signal
    /// arrives, the watchdog trips or a reading is refused. Torque is switched on once the first tick's
    /// reading has confirmed the start pose (the arm holds where it is first).
    public func run<P: Policy>(arm: any Arm, policy: inout P, envelope: inout SafetyEnvelope, expectedTicks: Int = 10_000) -> ControlLoopResult {
        let n = arm.jointCount
        let period = 1 / rateHz
        var state = JointState(jointCount: n)
        var goals = [Double](repeating: 0, count: n)
        var recordRow = [Double](repeating: 0, count: 2 * n)
        let maxTicks = duration.map { Int(($0 * rateHz).rounded()) } ?? Int.max
        var log = RunLog(jointCount: n, ticks: min(maxTicks, max(expectedTicks, 1)) + 1)
        var stats = TickStatistics(capacity: min(maxTicks, max(expectedTicks, 1)) + 1)
        var pacer = LoopPacer(rateHz: rateHz)
        var stopReason = "policy finished"
        var stoppedOnFault = false

        // Start: read the pose (a few tries). It must be plausible, and it is confirmed by the first tick's
        // reading before torque goes on (one wrong reading must not become the pose); torque then goes on
        // holding the envelope's goal, never a raw reading.
        func refuse(_ why: String) -> ControlLoopResult {
            envelope.stop(why)
            return ControlLoopResult(ticks: 0, rateHz: rateHz, overruns: 0, missedCycles: 0, latencyP50Microseconds: 0,
                                     latencyP99Microseconds: 0, latencyMaxMicroseconds: 0, safety: envelope.report,
                                     stopReason: why, stoppedOnFault: true, log: log)
        }
        envelope.forgetReadings()
        var started = false
        for _ in 0..<5 {
            let status = arm.read(into: &state, time: 0, period: period)
            if status == .ok { started = true; break }
            if status == .deactivate { break }
        }
        guard started else { return refuse("could not read the arm's pose at start: \(arm.lastFault?.description ?? "no reply")") }
        var lastGoodRead = LoopPacer.now()
        if let refused = envelope.checkReading(state.positions, elapsed: 0) ?? envelope.startRefusal(state.positions) {
            return refuse("refused the pose at start: \(refused.description(robot: arm.robot)); torque left \(arm.isTorqueEnabled ? "as it was" : "off")")
        }
        envelope.begin(from: state.positions)
        policy.start(from: state.positions)
        pacer.restart()
        var tick = 0
        var lastGoodTime = 0.0
        while tick < maxTicks {
            if watchSignals, let signal = SignalMonitor.pending() {
                stopReason = "\(signal): stopped, holding the last goal"
                break
            }
            let time = Double(tick) * period
            let t0 = LoopPacer.now()
            let read = arm.read(into: &state, time: time, period: period)
            if read == .deactivate {
                stopReason = "\(arm.lastFault?.description ?? "arm deactivated"); action: \(act(envelope.watchdogAction, on: arm))"
                stoppedOnFault = true
                break
            } else if read != .ok {
                let why = arm.lastFault?.description ?? "read failed"
                if let action = envelope.readFailed(why) {
                    _ = act(action, on: arm)
                    stopReason = envelope.report.stopReason ?? why
                    stoppedOnFault = true
                    break
                }
            } else if let refused = envelope.checkReading(state.positions, elapsed: max(time - lastGoodTime, Double(t0 &- lastGoodRead) * 1e-9)) {
                stopReason = "implausible reading: \(refused.description(robot: arm.robot)); action: \(act(envelope.watchdogAction, on: arm))"
                stoppedOnFault = true
                break
            } else {
                lastGoodTime = time
                lastGoodRead = t0
                envelope.readSucceeded()
                // The start pose is confirmed now: switch torque on holding the envelope's goal.
                if !arm.isTorqueEnabled, arm.enableTorque(holding: envelope.lastGoal) != .ok {
                    stopReason = "could not switch torque on: \(arm.lastFault?.description ?? "unknown")"
                    stoppedOnFault = true
                    break
                }
                let status = policy.goals(tick: tick, time: time, measured: state.positions, into: &goals)
                envelope.filter(&goals)
                let w = arm.write(goals: goals, time: time, period: period)
                stats.record(nanoseconds: LoopPacer.now() &- t0)
                if w == .deactivate {
                    stopReason = "arm deactivated: \(arm.lastFault?.description ?? "unknown")"
                    stoppedOnFault = true
                    break
                }
                if log.count < log.time.capacity { log.append(time: time, measured: state.positions, goals: goals) }
                if let recorder {
                    for j in 0..<n { recordRow[j] = state.positions[j]; recordRow[n + j] = goals[j] }
                    do { try recorder.append(time: time, values: recordRow) } catch {
                        stopReason = "recording failed: \(error)"
                        stoppedOnFault = true
                        break
                    }
                }
                if status == .finished { stopReason = "policy finished"; tick += 1; break }
            }
            tick += 1
            if tick >= maxTicks { stopReason = "duration reached"; break }
            if pacing == .realTime { pacer.waitForNextTick() }
        }
        envelope.stop(stopReason)
        return ControlLoopResult(
            ticks: tick, rateHz: rateHz, overruns: pacer.overruns, missedCycles: pacer.missedCycles,
            latencyP50Microseconds: stats.percentile(0.5), latencyP99Microseconds: stats.percentile(0.99),
            latencyMaxMicroseconds: stats.maxMicroseconds, safety: envelope.report, stopReason: stopReason,
            stoppedOnFault: stoppedOnFault, log: log)
    }

    /// Carries out `action` after a fault: torque off on every servo, or nothing (the servos keep the last
    /// safe goal); returns what was done, for the stop reason.
    private func act(_ action: WatchdogAction, on arm: any Arm) -> String {
        switch action {
        case .hold:
            return arm.isTorqueEnabled ? "hold (the servos keep the last safe goal)" : "hold (torque was never switched on)"
        case .torqueOff:
            return arm.setTorque(enabled: false) == .ok ? "torque-off (torque switched off)" : "torque-off (failed: \(arm.lastFault?.description ?? "unknown"))"
        }
    }
}
