import Robot

/// How the loop keeps time.
public enum LoopPacing: Sendable, Equatable {
    /// Absolute deadlines on the monotonic clock (`MonotonicClock`, `clock_nanosleep(TIMER_ABSTIME)`): real arms.
    case realTime
    /// No sleeping: a `ManualClock` jumps one period per tick (simulated arms, experiments, tests).
    case simulated

    /// A new clock of this kind.
    public func makeClock() -> any LoopClock {
        switch self {
        case .realTime: return MonotonicClock()
        case .simulated: return ManualClock()
        }
    }
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

    /// Appends a tick while there is room (the log never reallocates during a run).
    mutating func append(time t: Double, measured m: [Double], goals g: [Double]) {
        guard time.count < time.capacity else { return }
        time.append(t)
        measured.append(contentsOf: m)
        goals.append(contentsOf: g)
    }

    /// Measured angle of joint `j` at tick `k`.
    public func measured(tick k: Int, joint j: Int) -> Double { measured[k * jointCount + j] }
    /// Goal of joint `j` at tick `k`.
    public func goal(tick k: Int, joint j: Int) -> Double { goals[k * jointCount + j] }
}

/// Where a run's time went, per tick, measured on the loop's clock (ros2_control's
/// `HardwareComponentCycleStatus` times `read` and `write` every cycle the same way).
public struct LoopTiming: Sendable, Equatable {
    /// Start-to-start time of consecutive ticks: the measured period (µs).
    public var period = DurationSummary()
    /// The arm's `read` (µs), every tick.
    public var read = DurationSummary()
    /// The policy and the safety envelope (µs), ticks with a good reading.
    public var update = DurationSummary()
    /// The arm's `write` (µs), ticks with a good reading.
    public var write = DurationSummary()

    /// Nothing measured.
    public init() {}
}

/// What a run did: ticks, timing, what the safety envelope did and why it stopped.
public struct ControlLoopResult: Sendable {
    /// Ticks executed.
    public var ticks: Int
    /// Loop rate (Hz).
    public var rateHz: Double
    /// Ticks that ran past their deadline.
    public var overruns: Int
    /// Whole periods skipped after overruns.
    public var missedCycles: Int
    /// Read → write latency percentiles (µs).
    public var latencyP50Microseconds: Double
    public var latencyP99Microseconds: Double
    public var latencyMaxMicroseconds: Double
    /// Measured period and read, update and write times per tick.
    public var timing: LoopTiming
    /// The safety envelope's counters.
    public var safety: SafetyReport
    /// Why the loop ended.
    public var stop: StopReason
    /// The in-memory log.
    public var log: RunLog

    /// `stop` as the command line prints it ("policy finished", "duration reached", "SIGINT: ...", a fault).
    public var stopReason: String { stop.description }
    /// True when the loop ended because something went wrong (watchdog, arm fault), not by plan.
    public var stoppedOnFault: Bool { stop.isFault }
}

/// The fixed-rate loop, ros2_control's shape: one tick is `read` → `update` (policy, then safety envelope)
/// → `write`, at absolute deadlines on one injected clock.
///
/// `ControlLoop` is handed an arm, a policy and a safety envelope; it constructs none of them and knows
/// no packet format. Per tick it allocates nothing (buffers are made before the first tick; the log and
/// the timing buffers are preallocated for the run's length). Each tick's time is measured on the clock
/// (seconds since the first tick) and passed, with the measured period, to the arm and the policy, which
/// never read a clock themselves; after an overrun the loop skips the missed cycles instead of bursting, and
/// the next tick sees the late time. A failed read sends no goal that tick (the servos keep the last safe
/// goal) and counts towards the envelope's watchdog. A reading the envelope refuses as implausible, or an
/// arm that deactivates (a servo in hardware alarm), stops the run at once with the envelope's configured
/// action (hold or torque off), and the stop reason names the joint, the servo, the value and the bound.
/// The start pose is the second of two plausible readings that agree, and the arm is activated (torque on)
/// holding the envelope's goal, not a raw reading; at the end it stays active holding the last goal (the
/// next run, or the arm's owner, takes over), unless the stop's action switched torque off. SIGINT and
/// SIGTERM, when blocked with `SignalMonitor.block()`, end the run after the current tick.
public struct ControlLoop {
    /// Loop rate (Hz).
    public let rateHz: Double
    /// How time is kept.
    public let pacing: LoopPacing
    /// The clock every tick is paced and timed on.
    public let clock: any LoopClock
    /// Stop after this long (s); nil runs until the policy finishes or a signal arrives.
    public let duration: Double?
    /// Optional recorder: each tick appends time, measured positions and goals.
    public var recorder: TrajectoryRecorder?
    /// Poll SIGINT/SIGTERM each tick.
    public var watchSignals: Bool

    /// A loop at `rateHz` on `clock` (default: a new clock of `pacing`'s kind).
    public init(rateHz: Double, pacing: LoopPacing, clock: (any LoopClock)? = nil, duration: Double? = nil, recorder: TrajectoryRecorder? = nil,
                watchSignals: Bool = true) {
        precondition(rateHz > 0, "rate must be positive")
        self.rateHz = rateHz
        self.pacing = pacing
        self.clock = clock ?? pacing.makeClock()
        self.duration = duration
        self.recorder = recorder
        self.watchSignals = watchSignals
    }

    /// Runs `policy` on `arm` through `envelope` until the policy finishes, the duration passes, a signal
    /// arrives, the watchdog trips or a reading is refused. The arm is activated once the first tick's
    /// reading has confirmed the start pose (until then it holds where it is, or stays limp).
    public func run<P: Policy>(arm: any Arm, policy: inout P, envelope: inout SafetyEnvelope, expectedTicks: Int = 10_000) -> ControlLoopResult {
        let maxTicks = duration.map { Int(($0 * rateHz).rounded()) } ?? Int.max
        var cycle = LoopCycle(jointCount: arm.jointCount, rateHz: rateHz, clock: clock, ticks: min(maxTicks, max(expectedTicks, 1)) + 1)
        envelope.forgetReadings()
        if let refused = cycle.readStartPose(arm, envelope: &envelope) { return cycle.finish(refused, envelope: &envelope) }
        envelope.begin(from: cycle.state.positions)
        policy.start(from: cycle.state.positions)
        cycle.begin()
        while cycle.tick < maxTicks {
            if watchSignals, let signal = SignalMonitor.pending() { return cycle.finish(.signal(signal), envelope: &envelope) }
            if let stop = runTick(arm: arm, policy: &policy, envelope: &envelope, cycle: &cycle) {
                return cycle.finish(stop, envelope: &envelope)
            }
            if cycle.tick < maxTicks { cycle.waitForNextTick() }
        }
        return cycle.finish(.durationReached, envelope: &envelope)
    }

    /// One tick: read, and on a good reading activate (once), update and write, then log and record.
    /// Returns why the loop stops, or nil to go on.
    func runTick<P: Policy>(arm: any Arm, policy: inout P, envelope: inout SafetyEnvelope, cycle: inout LoopCycle) -> StopReason? {
        cycle.beginTick()
        switch cycle.read(arm, envelope: &envelope) {
        case .stop(let reason): return reason
        case .skip: cycle.tick += 1; return nil
        case .good: break
        }
        if arm.lifecycleState != .active, arm.activate(holding: envelope.lastGoal) != .ok {
            return .activationFailed(arm.lastFault)
        }
        let status = cycle.update(&policy, envelope: &envelope)
        if let reason = cycle.write(arm) { return reason }
        if let reason = cycle.record(to: recorder) { return reason }
        cycle.tick += 1
        return status == .finished ? .policyFinished : nil
    }
}

/// What the loop does after a fault that stops it: the envelope's `WatchdogAction` carried out on `arm`.
/// Torque off deactivates an active arm; an arm this run never activated is made sure to be off (its servos
/// may still hold torque from a previous owner).
func respond(to action: WatchdogAction, on arm: any Arm) -> FaultResponse {
    switch action {
    case .hold:
        return .held(torqueWasOn: arm.lifecycleState == .active)
    case .torqueOff:
        let status = arm.lifecycleState == .active ? arm.deactivate() : arm.setTorque(enabled: false)
        return status == .ok ? .torqueSwitchedOff : .torqueOffFailed(arm.lastFault)
    }
}

/// The state one run of the loop carries from tick to tick (buffers, log, pacer, timing), made before the
/// first tick, and the steps of a tick over it.
struct LoopCycle {
    /// The arm's joint state, refilled by every read.
    var state: JointState
    /// The goals of this tick (rad).
    var goals: [Double]
    var log: RunLog
    var pacer: LoopPacer
    /// Ticks run so far (the policy's `tick`).
    var tick = 0
    /// This tick's time since the first tick (s) and the measured period since the previous tick (s).
    private(set) var time = 0.0
    private(set) var period: Double
    private let nominalPeriod: Double
    private let clock: any LoopClock
    private var origin: UInt64 = 0
    private var tickStart: UInt64 = 0
    private var previousTickStart: UInt64?
    private var lastGoodRead: UInt64 = 0
    private var recordRow: [Double]
    private var latency, periods, reads, updates, writes: TickStatistics
    private let rateHz: Double

    init(jointCount n: Int, rateHz: Double, clock: any LoopClock, ticks: Int) {
        state = JointState(jointCount: n)
        goals = [Double](repeating: 0, count: n)
        recordRow = [Double](repeating: 0, count: 2 * n)
        log = RunLog(jointCount: n, ticks: ticks)
        pacer = LoopPacer(rateHz: rateHz, clock: clock)
        nominalPeriod = 1 / rateHz
        period = nominalPeriod
        self.rateHz = rateHz
        self.clock = clock
        // Each made on its own (not copied from one another), so no buffer is copied on a tick's first write.
        latency = TickStatistics(capacity: ticks)
        periods = TickStatistics(capacity: ticks)
        reads = TickStatistics(capacity: ticks)
        updates = TickStatistics(capacity: ticks)
        writes = TickStatistics(capacity: ticks)
    }

    /// Loop seconds for `nanoseconds` on the clock: whole periods times the period plus the rest, so a
    /// simulated clock (whole periods only) gives exactly k · period, bit for bit the nominal time.
    private func seconds(_ nanoseconds: UInt64) -> Double {
        let p = pacer.periodNanoseconds
        return Double(nanoseconds / p) * nominalPeriod + Double(nanoseconds % p) * 1e-9
    }

    /// Reads the start pose (a few tries); it must be plausible. It is confirmed by the first tick's reading
    /// before the arm is activated (one wrong reading must not become the pose). Returns why the run
    /// cannot start, or nil.
    mutating func readStartPose(_ arm: any Arm, envelope: inout SafetyEnvelope) -> StopReason? {
        var started = false
        for _ in 0..<5 {
            let status = arm.read(into: &state, time: 0, period: nominalPeriod)
            if status == .ok { started = true; break }
            if status == .deactivate { break }
        }
        guard started else { return .startUnreadable(arm.lastFault) }
        lastGoodRead = clock.now()
        if let refused = envelope.checkReading(state.positions, elapsed: 0) ?? envelope.startRefusal(state.positions) {
            return .startRefused(RefusedReading(refused, robot: arm.robot), torqueWasOn: arm.lifecycleState == .active)
        }
        return nil
    }

    /// The first tick starts now: time 0.
    mutating func begin() {
        pacer.restart()
        origin = clock.now()
    }

    /// Stamps the tick: its time since the first tick and the period since the previous one, measured.
    mutating func beginTick() {
        tickStart = clock.now()
        time = seconds(tickStart &- origin)
        if let previous = previousTickStart {
            period = seconds(tickStart &- previous)
            periods.record(nanoseconds: tickStart &- previous)
        }
        previousTickStart = tickStart
    }

    /// What a tick's read gave.
    enum ReadOutcome {
        /// A plausible reading: go on to update and write.
        case good
        /// A failed read within the watchdog's budget: no goal this tick.
        case skip
        /// The run stops.
        case stop(StopReason)
    }

    /// Reads the arm and passes the reading through the envelope's plausibility check and watchdog.
    mutating func read(_ arm: any Arm, envelope: inout SafetyEnvelope) -> ReadOutcome {
        let status = arm.read(into: &state, time: time, period: period)
        reads.record(nanoseconds: clock.now() &- tickStart)
        switch status {
        case .deactivate:
            return .stop(.armDeactivated(arm.lastFault, response: respond(to: envelope.watchdogAction, on: arm)))
        case .error:
            let why = arm.lastFault?.description ?? "read failed"
            guard let action = envelope.readFailed(why) else { return .skip }
            _ = respond(to: action, on: arm)
            return .stop(.watchdog(failedReads: envelope.consecutiveFailedReads, lastFault: why, action: action))
        case .ok:
            if let refused = envelope.checkReading(state.positions, elapsed: seconds(tickStart &- lastGoodRead)) {
                return .stop(.implausibleReading(RefusedReading(refused, robot: arm.robot), response: respond(to: envelope.watchdogAction, on: arm)))
            }
            lastGoodRead = tickStart
            envelope.readSucceeded()
            return .good
        }
    }

    /// The policy's goals for this tick, made safe by the envelope.
    mutating func update<P: Policy>(_ policy: inout P, envelope: inout SafetyEnvelope) -> PolicyStatus {
        let started = clock.now()
        let status = policy.goals(tick: tick, time: time, measured: state.positions, into: &goals)
        envelope.filter(&goals)
        updates.record(nanoseconds: clock.now() &- started)
        return status
    }

    /// Sends the goals and logs the tick; stops when the arm deactivates.
    mutating func write(_ arm: any Arm) -> StopReason? {
        let started = clock.now()
        let status = arm.write(goals: goals, time: time, period: period)
        let done = clock.now()
        writes.record(nanoseconds: done &- started)
        latency.record(nanoseconds: done &- tickStart)
        if status == .deactivate { return .writeDeactivated(arm.lastFault) }
        log.append(time: time, measured: state.positions, goals: goals)
        return nil
    }

    /// Appends the tick (measured positions, then goals) to `recorder`.
    mutating func record(to recorder: TrajectoryRecorder?) -> StopReason? {
        guard let recorder else { return nil }
        do { try recorder.record(time: time, measured: state.positions, goals: goals) } catch {
            return .recordingFailed("\(error)")
        }
        return nil
    }

    /// Sleeps to the next deadline (or, after an overrun, skips the missed cycles).
    mutating func waitForNextTick() { pacer.waitForNextTick() }

    /// The run's result, stopped for `stop` (which the envelope's report keeps too).
    func finish(_ stop: StopReason, envelope: inout SafetyEnvelope) -> ControlLoopResult {
        envelope.stop(stop.description)
        var timing = LoopTiming()
        timing.period = periods.summary
        timing.read = reads.summary
        timing.update = updates.summary
        timing.write = writes.summary
        return ControlLoopResult(
            ticks: tick, rateHz: rateHz, overruns: pacer.overruns, missedCycles: pacer.missedCycles,
            latencyP50Microseconds: latency.percentile(0.5), latencyP99Microseconds: latency.percentile(0.99),
            latencyMaxMicroseconds: latency.maxMicroseconds, timing: timing, safety: envelope.report, stop: stop, log: log)
    }
}
