import ServoBus
import Synchronization

extension ServoDynamics {
    /// The servo model `SimulatedArm` gives `joint` under `configuration`: the configured position gain and
    /// dead band, the joint's max speed as velocity limit and `accelerationPerSpeed` times it as acceleration
    /// limit, all in ticks (4096 per revolution).
    public init(simulating joint: JointDescription, configuration: SimulatedArm.Configuration = SimulatedArm.Configuration()) {
        let vmax = joint.maxSpeedRadiansPerSecond / JointCalibration.radiansPerTick
        self.init(parameters: Parameters(
            positionGainPerSecond: configuration.positionGainPerSecond,
            maxVelocityTicksPerSecond: vmax,
            maxAccelerationTicksPerSecondSquared: vmax * configuration.accelerationPerSpeed,
            deadBandTicks: configuration.deadBandTicks))
    }
}

/// The servo emulator's plant with one `ServoDynamics` per servo, tuned per joint exactly as `SimulatedArm`
/// tunes its servos, so `engram sim-serial --robot DIR` moves like `engram run --sim` (the serial path adds
/// bus latency, not different dynamics). Servos the robot does not name use `fallback`.
public struct ServoDynamicsPlant: ServoPlant {
    /// Servo model per bus id.
    public var servos: [UInt8: ServoDynamics]
    /// The model of any other servo.
    public var fallback: ServoDynamics

    /// A plant for `robot`'s servos (ids from the description, or 1, 2, … when it has none).
    public init(robot: RobotDescription, configuration: SimulatedArm.Configuration = SimulatedArm.Configuration()) {
        var servos: [UInt8: ServoDynamics] = [:]
        for (k, joint) in robot.joints.enumerated() {
            servos[UInt8(clamping: joint.servoID ?? k + 1)] = ServoDynamics(simulating: joint, configuration: configuration)
        }
        self.servos = servos
        fallback = ServoDynamics()
    }

    /// Steps every servo by `seconds` with its own model; load is the position loop's push in −1…1, as in
    /// `ServoDynamics.advance(_:by:)`.
    public func advance(_ states: inout [ServoPlantState], by seconds: Double) {
        guard seconds > 0 else { return }
        for i in states.indices {
            Self.step(&states[i], model: servos[states[i].id] ?? fallback, goal: states[i].goalPosition, by: seconds)
        }
    }

    /// Steps one servo by `seconds` towards `goal` (actual ticks) with `model`, and sets its load. A hand
    /// pushing with `pushTicks` makes it settle at goal + pushTicks; the load is still its own position error's.
    static func step(_ s: inout ServoPlantState, model: ServoDynamics, goal: Double, pushTicks: Double = 0, by seconds: Double) {
        var state = ServoDynamics.State(positionTicks: s.position, velocityTicksPerSecond: s.velocity)
        model.step(&state, goalTicks: goal + pushTicks, duration: seconds, torqueEnabled: s.torqueEnabled)
        s.position = state.positionTicks
        s.velocity = state.velocityTicksPerSecond
        if s.torqueEnabled {
            let p = model.parameters
            let error = goal - state.positionTicks.rounded()
            let push = abs(error) <= p.deadBandTicks ? 0 : p.positionGainPerSecond * error / p.maxVelocityTicksPerSecond
            s.load = min(max(push, -1), 1)
        } else {
            s.load = 0
        }
    }
}

/// `ServoDynamicsPlant` with an `ArmDisturbance`, so `engram sim-serial --disturbance` disturbs the emulated
/// servos as `SimulatedArm.disturbance` disturbs the simulated arm, and `engram run --port` against it sees
/// what `engram run --sim` / `engram evaluate --disturbance` see in process.
///
/// The window's clock is the emulator's own tick: the plant counts time (the sum of the `advance` steps, i.e.
/// the emulator's monotonic clock) from the moment torque is switched on (the first `advance` that sees a
/// servo with torque on after none had it; `engram run` switches torque on as its approach to the start pose
/// begins, and a new `run` against a restarted sim-serial arms the window again), in periods of
/// `periodSeconds` (the robot's loop period), and subtracts `offsetTicks`:
///
///     tick = round((t − t_torque) / period) − offsetTicks
///
/// How it lines up with the controller's ticks: `engram run` reads at tick j of its approach at
/// t_torque + j·period; when the arm already rests at the trial's start pose (every task-family target starts
/// at home, where sim-serial starts) the approach is its 0.2 s settle, ticks 0…20, and the trial's loop starts
/// right after approach tick 20, so trial tick k is read at ≈ t_torque + (20 + k)·period (plus the
/// microseconds of two bus transactions): with `offsetTicks` 20 the plant's tick is the trial's tick k, the
/// `time / period` that `SimulatedArm` sees. Each `advance` (the emulator advances before answering every
/// instruction) is disturbed by the tick it ends at, so the read of tick k integrates the last period under
/// tick k's state, as `SimulatedArm.read` does. The alignment holds while the run keeps its pace (a
/// real-time loop that overruns by half a period shifts it by a tick).
///
/// Per kind, as `SimulatedArm`:
/// - push: the joint's servo settles at its goal + offset (a hand's torque balanced by its position error);
/// - payload: the joint's servo steps with position gain and velocity limit × speedFactor;
/// - latency: the goal written during tick k inside the window acts `extraTicks` ticks late (the servos
///   integrate the goal that was in force `extraTicks` ticks earlier); from the first write after the
///   window goals act as usual again.
public final class DisturbedServoPlant: ServoPlant {
    /// The undisturbed servo models.
    public let base: ServoDynamicsPlant
    /// What happens (joint indices among the robot's joints).
    public let disturbance: ArmDisturbance
    /// Bus id of each robot joint (index = joint index).
    public let jointIDs: [UInt8]
    /// Per joint, +1 or −1: how an angle offset maps to actual ticks (the calibration's direction).
    public let directionSigns: [Double]
    /// The loop period (s) the window counts in.
    public let periodSeconds: Double
    /// Ticks subtracted from the emulator's tick count since torque-on (20: `engram run`'s approach settle).
    public let offsetTicks: Int

    private struct Clock {
        var elapsed = 0.0
        var torqueOrigin: Double? = nil
        var torqueWasOn = false
        /// Goals in force at the first step of each of the last ticks, ring of (extraTicks + 1) × servos.
        var goalRing: [Double] = []
        var lastTick = Int.min
    }
    private let clock: Mutex<Clock>

    /// A plant for `robot` (joint i is servo `robot.joints[i].servoID`, or i + 1) disturbed by `disturbance`;
    /// `calibration` gives the turning directions (default: the identity calibration's, all normal).
    public init(robot: RobotDescription, calibration: Calibration? = nil, configuration: SimulatedArm.Configuration = SimulatedArm.Configuration(),
                disturbance: ArmDisturbance, periodSeconds: Double, offsetTicks: Int = 20) {
        precondition(periodSeconds > 0 && periodSeconds.isFinite, "the period must be positive")
        base = ServoDynamicsPlant(robot: robot, configuration: configuration)
        self.disturbance = disturbance
        jointIDs = robot.joints.enumerated().map { k, j in UInt8(clamping: j.servoID ?? k + 1) }
        directionSigns = robot.joints.map { j in calibration?.joint(named: j.name)?.direction.sign ?? 1 }
        self.periodSeconds = periodSeconds
        self.offsetTicks = offsetTicks
        switch disturbance {
        case .push(let joint, _, _, _), .payload(let joint, _, _, _):
            precondition(jointIDs.indices.contains(joint), "disturbance on joint \(joint); the robot has joints 0..<\(jointIDs.count)")
        default: break
        }
        clock = Mutex(Clock())
    }

    /// The window's tick at emulator time `elapsed` (s since the plant's first step), nil before torque-on.
    public func tick(atElapsed elapsed: Double, torqueOrigin: Double?) -> Int? {
        guard let origin = torqueOrigin else { return nil }
        let k = ((elapsed - origin) / periodSeconds).rounded()
        guard abs(k) < 0x1p52 else { return nil }
        return Int(k) - offsetTicks
    }

    /// The window's tick now (nil before torque has been switched on).
    public var currentTick: Int? {
        clock.withLock { c in tick(atElapsed: c.elapsed, torqueOrigin: c.torqueOrigin) }
    }

    /// Steps every servo by `seconds`, disturbed as the window's tick at the end of the step says.
    public func advance(_ states: inout [ServoPlantState], by seconds: Double) {
        guard seconds > 0 else { return }
        clock.withLock { c in
            let before = c.elapsed
            c.elapsed += seconds
            let on = states.contains { $0.torqueEnabled }
            if on && !c.torqueWasOn {
                c.torqueOrigin = before
                c.goalRing = []
                c.lastTick = Int.min
            }
            c.torqueWasOn = on
            guard disturbance != .none, let tick = tick(atElapsed: c.elapsed, torqueOrigin: c.torqueOrigin) else {
                base.advance(&states, by: seconds)
                return
            }
            let active = disturbance.isActive(atTick: tick)
            switch disturbance {
            case .none:
                base.advance(&states, by: seconds)
            case .push(let joint, let offset, _, _):
                // The hand's torque balances `offset` of position error: the servo settles that far off its goal.
                let id = jointIDs[joint]
                for i in states.indices {
                    let shift = states[i].id == id && active ? offset * directionSigns[joint] / JointCalibration.radiansPerTick : 0
                    ServoDynamicsPlant.step(&states[i], model: base.servos[states[i].id] ?? base.fallback, goal: states[i].goalPosition, pushTicks: shift, by: seconds)
                }
            case .payload(let joint, let factor, _, _):
                let id = jointIDs[joint]
                for i in states.indices {
                    var model = base.servos[states[i].id] ?? base.fallback
                    if states[i].id == id && active {
                        model.parameters.positionGainPerSecond *= factor
                        model.parameters.maxVelocityTicksPerSecond *= factor
                    }
                    ServoDynamicsPlant.step(&states[i], model: model, goal: states[i].goalPosition, by: seconds)
                }
            case .latency(let extra, _, _):
                // Ring slot t mod (extra + 1) holds the goals in force at tick t's first step (the goals written
                // during tick t − 1). Inside the window the servos act on the goals written `extra` ticks earlier.
                let n = states.count, slots = extra + 1
                if c.goalRing.count != slots * n {
                    c.goalRing = [Double]((0..<slots).flatMap { _ in states.map(\.goalPosition) })
                    c.lastTick = tick - 1
                }
                if tick > c.lastTick {
                    // Ticks without an instruction (a missed cycle) keep the goals then in force.
                    var t = max(c.lastTick + 1, tick - slots + 1)
                    while t <= tick {
                        let slot = ((t % slots) + slots) % slots
                        for i in 0..<n { c.goalRing[slot * n + i] = states[i].goalPosition }
                        t += 1
                    }
                    c.lastTick = tick
                }
                let delayed = extra > 0 && disturbance.isActive(atTick: tick - 1)
                let slot = (((tick - extra) % slots) + slots) % slots
                for i in 0..<n {
                    let goal = delayed ? c.goalRing[slot * n + i] : states[i].goalPosition
                    ServoDynamicsPlant.step(&states[i], model: base.servos[states[i].id] ?? base.fallback, goal: goal, by: seconds)
                }
            }
        }
    }
}

extension ServoEmulator {
    /// An emulator of `robot`'s bus: its servo ids and models, its protocol, the `ServoDynamicsPlant`, and
    /// every servo resting at the joint's home angle as `calibration` maps it (by default the identity
    /// calibration `Calibration.uncalibrated(for:)`: angle 0 = tick 2047). Like an arm calibrated by
    /// `engram calibrate` or LeRobot, each servo holds the calibration's offset in its Homing_Offset register
    /// (in its protocol's sign convention), so it reports calibrated ticks and the encoder's raw frame is
    /// the calibration's `raw` one. Throws `BusArmError` for a robot
    /// without a bus and `EmulatorConfigurationError` for servos the emulator cannot serve.
    ///
    /// With a `disturbance` other than `.none` the plant is a `DisturbedServoPlant` counting its window in
    /// periods of the robot's loop rate from torque-on, minus `offsetTicks` (see there for how that lines up
    /// with `engram run`'s trial ticks).
    public static func simulating(_ robot: RobotDescription, calibration: Calibration? = nil,
                                  configuration: SimulatedArm.Configuration = SimulatedArm.Configuration(),
                                  faults: FaultPlan = FaultPlan(), seed: UInt64 = 0,
                                  disturbance: ArmDisturbance = .none, offsetTicks: Int = 20) throws -> ServoEmulator {
        guard let bus = robot.bus else {
            throw BusArmError("robot '\(robot.name)' has no bus in its robot.yaml; add `bus: {protocol: ..., baud: ...}` and servo ids and models")
        }
        let cal = calibration ?? .uncalibrated(for: robot)
        var servos: [(id: UInt8, model: ServoModel)] = []
        for joint in robot.joints {
            guard let id = joint.servoID, let model = joint.servoModel else {
                throw BusArmError("joint '\(joint.name)' has no servo_id or servo_model in robot.yaml")
            }
            servos.append((UInt8(id), model))
        }
        let plant: any ServoPlant = disturbance == .none
            ? ServoDynamicsPlant(robot: robot, configuration: configuration)
            : DisturbedServoPlant(robot: robot, calibration: cal, configuration: configuration, disturbance: disturbance,
                                  periodSeconds: 1 / robot.controller.rateHz, offsetTicks: offsetTicks)
        let emulator = try ServoEmulator(protocol: bus.protocol, servos: servos, plant: plant, faults: faults, seed: seed)
        for (joint, servo) in zip(robot.joints, servos) {
            let entry = cal.joint(named: joint.name) ?? JointCalibration(name: joint.name, servoID: Int(servo.id), homingOffsetTicks: 0, rangeMinTicks: 0, rangeMaxTicks: 4095)
            emulator.setValue(.homingOffset, entry.servoHomingOffsetRegister(for: bus.protocol), of: servo.id)
            let home = entry.calibratedTicks(fromRadians: joint.homeRadians)
            emulator.setValue(.presentPosition, home, of: servo.id)
            emulator.setValue(.goalPosition, home, of: servo.id)
        }
        return emulator
    }
}
