import Tensors

/// An arm in simulation: one `ServoDynamics` plant per joint, read through a 4096-tick encoder, with optional
/// seeded measurement noise and latency. Deterministic under its seed.
///
/// Time advances in `read`: each call integrates the plants over `period` seconds, then samples. Goals
/// from `write` are rounded to whole ticks, as a bus would send them. Joint angle 0 is calibrated tick 2047
/// (`JointCalibration.homeTicks`), so the simulated encoder readings look like a calibrated real arm's.
/// `disturbance` pushes a joint, loads it or delays the bus for a window of loop ticks.
public final class SimulatedArm: Arm {
    /// Settings of the simulation.
    public struct Configuration: Sendable {
        /// Position gain of every servo (1/s).
        public var positionGainPerSecond: Double = 40
        /// Acceleration limit as a multiple of each joint's max speed (1/s): 10 reaches full speed in 0.1 s.
        public var accelerationPerSpeed: Double = 10
        /// Dead band (ticks).
        public var deadBandTicks: Double = 1
        /// Standard deviation of Gaussian measurement noise added before quantization (ticks); 0 = none.
        public var noiseStdTicks: Double = 0
        /// Cycles between a goal's `write` and the servo acting on it (0 = the next `read` already integrates it).
        public var goalLatencyCycles: Int = 0
        /// Cycles by which `read` reports an older measurement.
        public var readLatencyCycles: Int = 0
        /// Seed of the noise.
        public var seed: UInt64 = 0

        /// Defaults: no noise, no latency.
        public init() {}
    }

    /// The robot simulated.
    public let robot: RobotDescription
    /// Why the last call failed, if it did.
    public private(set) var lastFault: ArmFault?
    /// Where the arm is in its lifecycle: `.active` while the simulated servos hold their goals.
    public var lifecycleState: ArmLifecycleState { isClosed ? .finalized : (torqueOn ? .active : .inactive) }
    private var torqueOn = false

    /// The per-joint servo models (public so tests and tools can inspect or retune them).
    public private(set) var servos: [ServoDynamics]
    /// The per-joint plant states.
    public private(set) var states: [ServoDynamics.State]
    /// The configuration it was built with.
    public let configuration: Configuration

    private var goals: [Double]          // goal ticks acting now
    private var goalLine: [Double]       // ring of pending goals, (goalLatencyCycles + 1) × joints
    private var readLine: [Int]          // ring of past readings (ticks), (readLatencyCycles + 1) × joints
    private var readVelocityLine: [Double]
    private var goalCursor = 0, readCursor = 0
    private var latencyLine: [Double] = []    // ring of goals held back by a latency disturbance, extraTicks × joints
    private var latencyCursor = 0

    /// What happens to the arm during a trial (default `.none`, which leaves every reading bit-identical).
    ///
    /// The disturbance's clock is the control loop's tick: a `read` or `write` at loop time `time` with cycle
    /// `period` is tick k = round(time / period), the index under which `ControlLoop` logs it. The window
    /// `startTick ≤ k < endTick` therefore lines up with the run log, and it restarts with every loop run (each
    /// `ControlLoop.run` counts time from 0). A loop run that precedes the trial (`RunSession`'s approach to
    /// the start pose) sees the window too if it lasts past `startTick`; `DisturbanceEvaluation` teleports the
    /// arm to the start pose first, so its approach is a 0.2 s settle and never reaches a window.
    /// - push: in `read`, the joint's servo integrates towards (goal + offset) instead of the goal (a hand's
    ///   torque balanced by the servo's position error; see `ArmDisturbance.push`).
    /// - payload: in `read`, the joint's servo integrates with velocity limit and position gain × speedFactor.
    /// - latency: in `write`, a goal written at a tick inside the window acts `extraTicks` writes later (the
    ///   goal written that many writes before acts instead); from the first write after the window, goals act
    ///   as usual again (the held-back ones are dropped).
    /// Setting it rearms the push and refills the latency line with the goals acting now.
    public var disturbance: ArmDisturbance = .none {
        didSet { armDisturbance() }
    }
    private var random: RandomSource
    private var isClosed = false
    private let homeCalibration: [JointCalibration]

    /// A simulated `robot`, at rest at its home pose with torque off.
    public init(robot: RobotDescription, configuration: Configuration = Configuration()) {
        self.robot = robot
        self.configuration = configuration
        homeCalibration = robot.joints.enumerated().map { i, j in
            JointCalibration(name: j.name, servoID: j.servoID ?? i + 1, homingOffsetTicks: 0, rangeMinTicks: 0, rangeMaxTicks: 4095)
        }
        servos = robot.joints.map { joint in
            let vmax = joint.maxSpeedRadiansPerSecond / JointCalibration.radiansPerTick
            return ServoDynamics(parameters: .init(
                positionGainPerSecond: configuration.positionGainPerSecond,
                maxVelocityTicksPerSecond: vmax,
                maxAccelerationTicksPerSecondSquared: vmax * configuration.accelerationPerSpeed,
                deadBandTicks: configuration.deadBandTicks))
        }
        let home = zip(robot.joints, homeCalibration).map { joint, cal in
            Double(JointCalibration.homeTicks) + joint.homeRadians * cal.direction.sign / JointCalibration.radiansPerTick
        }
        states = home.map { ServoDynamics.State(positionTicks: $0) }
        goals = home
        goalLine = [Double]((0...max(0, configuration.goalLatencyCycles)).flatMap { _ in home })
        let firstReading = home.map { ServoDynamics.encoderTicks(atPosition: $0) }
        readLine = [Int]((0...max(0, configuration.readLatencyCycles)).flatMap { _ in firstReading })
        readVelocityLine = [Double](repeating: 0, count: readLine.count)
        random = RandomSource(seed: configuration.seed)
    }

    /// Integrates the servos over `period` seconds, then reports the (possibly delayed, noisy) encoder readings.
    public func read(into state: inout JointState, time: Double, period: Double) -> ArmStatus {
        guard !isClosed else { return fail(.closed, .deactivate) }
        let n = servos.count
        precondition(state.positions.count == n && state.velocities.count == n, "JointState sized for another robot")
        if disturbance == .none {
            for j in 0..<n {
                servos[j].step(&states[j], goalTicks: goals[j], duration: period, torqueEnabled: torqueOn)
            }
        } else {
            stepDisturbed(tick: Self.tick(time: time, period: period), period: period)
        }
        // Record this cycle's measurement in the read delay line, then report the oldest one.
        let slots = readLine.count / max(n, 1)
        let base = readCursor * n
        for j in 0..<n {
            var x = states[j].positionTicks
            if configuration.noiseStdTicks > 0 { x += configuration.noiseStdTicks * random.normal() }
            readLine[base + j] = ServoDynamics.encoderTicks(atPosition: x)
            readVelocityLine[base + j] = states[j].velocityTicksPerSecond
        }
        readCursor = (readCursor + 1) % slots
        let oldest = readCursor * n
        for j in 0..<n {
            let cal = homeCalibration[j]
            state.positions[j] = cal.radians(fromCalibratedTicks: readLine[oldest + j])
            state.velocities[j] = cal.radiansPerSecond(fromTicksPerSecond: readVelocityLine[oldest + j])
        }
        state.time = time
        lastFault = nil
        return .ok
    }

    /// Queues goals (rad), rounded to whole ticks; they act after `goalLatencyCycles` further writes.
    /// Only an active arm takes goals (a well-formed goal to an inactive arm is `.error`, `.notActive`).
    public func write(goals newGoals: [Double], time: Double, period: Double) -> ArmStatus {
        guard !isClosed else { return fail(.closed, .deactivate) }
        let n = servos.count
        guard newGoals.count == n else { return fail(.goalCount(expected: n, found: newGoals.count), .error) }
        for j in 0..<n where !newGoals[j].isFinite {
            return fail(.nonFiniteGoal(joint: robot.joints[j].name), .error)
        }
        guard torqueOn else { return fail(.notActive(lifecycleState), .error) }
        let slots = goalLine.count / max(n, 1)
        let base = goalCursor * n
        for j in 0..<n {
            goalLine[base + j] = Double(homeCalibration[j].calibratedTicks(fromRadians: newGoals[j]))
        }
        goalCursor = (goalCursor + 1) % slots
        let active = goalCursor * n  // the oldest pending goal takes effect
        for j in 0..<n { goals[j] = goalLine[active + j] }
        if case .latency(let extra, _, _) = disturbance, extra > 0 {
            // The line always records the goal that would act now; inside the window the one from `extra` writes ago acts.
            let delayed = disturbance.isActive(atTick: Self.tick(time: time, period: period))
            let base = latencyCursor * n
            for j in 0..<n {
                let held = latencyLine[base + j]
                latencyLine[base + j] = goals[j]
                if delayed { goals[j] = held }
            }
            latencyCursor = (latencyCursor + 1) % extra
        }
        lastFault = nil
        return .ok
    }

    /// The loop tick of a call at `time` with cycle `period`.
    @inline(__always)
    static func tick(time: Double, period: Double) -> Int {
        let k = (time / period).rounded()
        guard period > 0, abs(k) < 0x1p52 else { return 0 }
        return Int(k)
    }

    /// `read`'s integration under a disturbance at loop tick `tick`.
    private func stepDisturbed(tick: Int, period: Double) {
        let active = disturbance.isActive(atTick: tick)
        for j in 0..<servos.count {
            switch disturbance {
            case .push(let joint, let offset, _, _) where joint == j && active:
                let offsetTicks = offset * homeCalibration[j].direction.sign / JointCalibration.radiansPerTick
                servos[j].step(&states[j], goalTicks: goals[j] + offsetTicks, duration: period, torqueEnabled: torqueOn)
            case .payload(let joint, let factor, _, _) where joint == j && active:
                var loaded = servos[j]
                loaded.parameters.positionGainPerSecond *= factor
                loaded.parameters.maxVelocityTicksPerSecond *= factor
                loaded.step(&states[j], goalTicks: goals[j], duration: period, torqueEnabled: torqueOn)
            default:
                servos[j].step(&states[j], goalTicks: goals[j], duration: period, torqueEnabled: torqueOn)
            }
        }
    }

    /// Resets the disturbance's state: no push anchor yet, a latency line full of the goals acting now.
    private func armDisturbance() {
        switch disturbance {
        case .none: break
        case .push(let joint, let offset, let start, let ticks):
            precondition(servos.indices.contains(joint), "push on joint \(joint); the arm has joints 0..<\(servos.count)")
            precondition(offset.isFinite && start >= 0 && ticks >= 0, "push needs a finite offset and a window at ticks ≥ 0")
        case .payload(let joint, let factor, let start, let ticks):
            precondition(servos.indices.contains(joint), "payload on joint \(joint); the arm has joints 0..<\(servos.count)")
            precondition(factor > 0 && factor.isFinite && start >= 0 && ticks >= 0, "payload needs a speed factor > 0 and a window at ticks ≥ 0")
        case .latency(let extra, let start, let ticks):
            precondition(extra >= 0 && start >= 0 && ticks >= 0, "latency needs extraTicks ≥ 0 and a window at ticks ≥ 0")
        }
        latencyCursor = 0
        if case .latency(let extra, _, _) = disturbance, extra > 0 {
            precondition(extra <= 1_000, "latency disturbance of \(extra) ticks; use at most 1000")
            latencyLine = [Double]((0..<extra).flatMap { _ in goals })
        } else {
            latencyLine = []
        }
    }

    /// Sets every held-back goal of joint `j` to `ticks` (the arm holds a new pose).
    private func refillLatencyLine(joint j: Int, ticks: Double) {
        var k = j
        while k < latencyLine.count {
            latencyLine[k] = ticks
            k += servos.count
        }
    }

    /// Torque on, holding the present position: every pending and active goal becomes it.
    public func activate() -> ArmStatus {
        guard !isClosed else { return fail(.closed, .deactivate) }
        guard !torqueOn else { return fail(.invalidTransition(.activate, from: lifecycleState), .error) }
        let n = servos.count
        for j in 0..<n {
            let here = states[j].positionTicks.rounded()
            goals[j] = here
            var k = j
            while k < goalLine.count {
                goalLine[k] = here
                k += n
            }
            refillLatencyLine(joint: j, ticks: here)
        }
        torqueOn = true
        lastFault = nil
        return .ok
    }

    /// Torque off: the servos stop where they are.
    public func deactivate() -> ArmStatus {
        guard !isClosed else { return fail(.closed, .deactivate) }
        guard torqueOn else { return fail(.invalidTransition(.deactivate, from: lifecycleState), .error) }
        torqueOn = false
        lastFault = nil
        return .ok
    }

    /// Torque off; later calls return `.deactivate`.
    public func close() {
        torqueOn = false
        isClosed = true
    }

    /// Moves every joint instantly to `positions` (rad) at rest, e.g. to start an experiment from a pose.
    public func teleport(to positions: [Double]) {
        precondition(positions.count == servos.count)
        for j in 0..<servos.count {
            let t = Double(homeCalibration[j].calibratedTicks(fromRadians: positions[j]))
            states[j] = ServoDynamics.State(positionTicks: t)
            goals[j] = t
            var k = j
            while k < goalLine.count {
                goalLine[k] = t
                k += servos.count
            }
            refillLatencyLine(joint: j, ticks: t)
            var r = j
            while r < readLine.count {
                readLine[r] = ServoDynamics.encoderTicks(atPosition: t)
                readVelocityLine[r] = 0
                r += servos.count
            }
        }
    }

    private func fail(_ fault: ArmFault, _ status: ArmStatus) -> ArmStatus {
        lastFault = fault
        return status
    }
}
