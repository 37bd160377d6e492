import ServoBus

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
            let model = servos[states[i].id] ?? fallback
            var state = ServoDynamics.State(positionTicks: states[i].position, velocityTicksPerSecond: states[i].velocity)
            model.step(&state, goalTicks: states[i].goalPosition, duration: seconds, torqueEnabled: states[i].torqueEnabled)
            states[i].position = state.positionTicks
            states[i].velocity = state.velocityTicksPerSecond
            if states[i].torqueEnabled {
                let p = model.parameters
                let error = states[i].goalPosition - state.positionTicks.rounded()
                let push = abs(error) <= p.deadBandTicks ? 0 : p.positionGainPerSecond * error / p.maxVelocityTicksPerSecond
                states[i].load = min(max(push, -1), 1)
            } else {
                states[i].load = 0
            }
        }
    }
}

extension ServoEmulator {
    /// An emulator of `robot`'s bus: its servo ids and models, its protocol, the `ServoDynamicsPlant`, and
    /// every servo resting at the joint's home angle as `calibration` maps it to raw ticks (by default the
    /// identity calibration `Calibration.uncalibrated(for:)`: angle 0 = tick 2047). Throws `BusArmError` for a robot
    /// without a bus and `EmulatorConfigurationError` for servos the emulator cannot serve.
    public static func simulating(_ robot: RobotDescription, calibration: Calibration? = nil,
                                  configuration: SimulatedArm.Configuration = SimulatedArm.Configuration(),
                                  faults: FaultPlan = FaultPlan(), seed: UInt64 = 0) throws -> ServoEmulator {
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
        let emulator = try ServoEmulator(protocol: bus.protocol, servos: servos, plant: ServoDynamicsPlant(robot: robot, configuration: configuration),
                                         faults: faults, seed: seed)
        for (joint, servo) in zip(robot.joints, servos) {
            let entry = cal.joint(named: joint.name) ?? JointCalibration(name: joint.name, servoID: Int(servo.id), homingOffsetTicks: 0, rangeMinTicks: 0, rangeMaxTicks: 4095)
            let home = entry.ticks(fromRadians: joint.homeRadians)
            emulator.setValue(.presentPosition, home, of: servo.id)
            emulator.setValue(.goalPosition, home, of: servo.id)
        }
        return emulator
    }
}
