/// A position-controlled hobby servo as a plant: the servo's own position loop with gain, velocity and
/// acceleration limits and a dead band, acting on an encoder with whole-tick resolution.
///
/// Units are encoder ticks (4096 per revolution) and seconds, the units of the servo's registers, so the same
/// step function drives both `SimulatedArm` and the servo-side emulator behind a pseudo-terminal (goal
/// register in, present-position register out). The step is a pure function of explicit state; it does not
/// allocate. Within each sub-step of at most `maximumSubstep` seconds:
///
///     measured  = round(position)                                  (the servo sees its own encoder)
///     e         = goal − measured
///     v_target  = 0                                  if |e| ≤ deadBand
///               = clamp(gain·e, ±vmax), and |v_target| ≤ √(2·amax·(|e| − deadBand))   (brake in time)
///     velocity += clamp(v_target − velocity, ±amax·h)
///     position += velocity·h
///
/// With torque off the servo is back-drivable only by hand: velocity drops to 0 and position stays.
public struct ServoDynamics: Sendable, Equatable {
    /// The servo's tuning and limits.
    public struct Parameters: Sendable, Equatable {
        /// Proportional position gain (1/s): commanded velocity per tick of error, in ticks/s.
        public var positionGainPerSecond: Double
        /// Velocity limit (ticks/s).
        public var maxVelocityTicksPerSecond: Double
        /// Acceleration limit (ticks/s²).
        public var maxAccelerationTicksPerSecondSquared: Double
        /// Errors up to this many ticks are not corrected (Feetech CW/CCW dead zone, Dynamixel moving threshold).
        public var deadBandTicks: Double
        /// Longest integration sub-step (s).
        public var maximumSubstep: Double

        /// Servo parameters; defaults are those of a lightly loaded STS3215 / XL430 at 12 V.
        public init(
            positionGainPerSecond: Double = 40,
            maxVelocityTicksPerSecond: Double = 3_400,
            maxAccelerationTicksPerSecondSquared: Double = 30_000,
            deadBandTicks: Double = 1,
            maximumSubstep: Double = 0.000_5
        ) {
            self.positionGainPerSecond = positionGainPerSecond
            self.maxVelocityTicksPerSecond = maxVelocityTicksPerSecond
            self.maxAccelerationTicksPerSecondSquared = maxAccelerationTicksPerSecondSquared
            self.deadBandTicks = deadBandTicks
            self.maximumSubstep = maximumSubstep
        }
    }

    /// The plant's state: continuous shaft position and velocity.
    public struct State: Sendable, Equatable {
        /// Shaft position (ticks, continuous; the encoder reports it rounded).
        public var positionTicks: Double
        /// Shaft velocity (ticks/s).
        public var velocityTicksPerSecond: Double

        /// A state at rest at `positionTicks`.
        public init(positionTicks: Double, velocityTicksPerSecond: Double = 0) {
            self.positionTicks = positionTicks
            self.velocityTicksPerSecond = velocityTicksPerSecond
        }
    }

    /// Encoder ticks per revolution.
    public static let ticksPerRevolution = 4096

    /// The tuning and limits.
    public var parameters: Parameters

    /// A servo model with `parameters`.
    public init(parameters: Parameters = Parameters()) {
        self.parameters = parameters
    }

    /// Advances `state` by `duration` seconds towards `goalTicks`.
    @inlinable
    public func step(_ state: inout State, goalTicks: Double, duration: Double, torqueEnabled: Bool = true) {
        guard duration > 0 else { return }
        guard torqueEnabled else {
            state.velocityTicksPerSecond = 0
            return
        }
        let p = parameters
        let substeps = max(1, Int((duration / p.maximumSubstep).rounded(.up)))
        let h = duration / Double(substeps)
        let maxDv = p.maxAccelerationTicksPerSecondSquared * h
        var x = state.positionTicks, v = state.velocityTicksPerSecond
        for _ in 0..<substeps {
            let error = goalTicks - x.rounded()
            var target = 0.0
            let magnitude = abs(error)
            if magnitude > p.deadBandTicks {
                target = min(max(p.positionGainPerSecond * error, -p.maxVelocityTicksPerSecond), p.maxVelocityTicksPerSecond)
                let braking = (2 * p.maxAccelerationTicksPerSecondSquared * (magnitude - p.deadBandTicks)).squareRoot()
                target = min(max(target, -braking), braking)
            }
            v += min(max(target - v, -maxDv), maxDv)
            x += v * h
        }
        state.positionTicks = x
        state.velocityTicksPerSecond = v
    }

    /// What the encoder reports for a shaft position: the nearest whole tick, wrapped to 0…4095.
    @inlinable
    public static func encoderTicks(atPosition positionTicks: Double) -> Int {
        let t = Int(positionTicks.rounded()) % ticksPerRevolution
        return t < 0 ? t + ticksPerRevolution : t
    }
}
