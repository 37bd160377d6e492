#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The physical state of one emulated servo, in the servo's own units, that a `ServoPlant` advances.
///
/// Positions are in *actual* encoder ticks (4096 per revolution, before the homing offset the control
/// table applies), velocities in ticks per second.
public struct ServoPlantState: Sendable, Equatable {
    /// The servo's ID (at creation).
    public var id: UInt8
    /// The model.
    public var model: ServoModel
    /// Whether torque is on (the servo holds/tracks its goal).
    public var torqueEnabled: Bool
    /// Goal position, actual ticks.
    public var goalPosition: Double
    /// Present position, actual ticks.
    public var position: Double
    /// Present velocity, ticks per second.
    public var velocity: Double
    /// Present load as a fraction of maximum torque, −1...1.
    public var load: Double

    /// Creates a state at rest at `position`.
    public init(id: UInt8, model: ServoModel, position: Double) {
        self.id = id
        self.model = model
        self.torqueEnabled = false
        self.goalPosition = position
        self.position = position
        self.velocity = 0
        self.load = 0
    }
}

/// Servo dynamics for the emulator: how present position follows the goal. The Robot module plugs its
/// simulated-arm servo dynamics in here; the default is `FirstOrderLagPlant`.
public protocol ServoPlant: Sendable {
    /// Advances every servo's state by `seconds` (the emulator calls it before answering, with the time
    /// elapsed since the previous call). All servos are passed together so coupled dynamics are possible.
    func advance(_ servos: inout [ServoPlantState], by seconds: Double)
}

/// Present position follows the goal with a first-order lag: `ṗ = (goal − p) / τ` while torque is on,
/// holding still (no gravity) while it is off.
public struct FirstOrderLagPlant: ServoPlant {
    /// The time constant τ, in seconds.
    public var timeConstantSeconds: Double

    /// Creates a plant with time constant `timeConstantSeconds` (default 50 ms).
    public init(timeConstantSeconds: Double = 0.05) {
        self.timeConstantSeconds = max(1e-6, timeConstantSeconds)
    }

    /// Exact discretisation: `p += (goal − p)(1 − e^(−dt/τ))`.
    public func advance(_ servos: inout [ServoPlantState], by seconds: Double) {
        guard seconds > 0 else { return }
        let alpha = 1 - exp(-seconds / timeConstantSeconds)
        for i in servos.indices {
            guard servos[i].torqueEnabled else {
                servos[i].velocity = 0
                servos[i].load = 0
                continue
            }
            let before = servos[i].position
            let error = servos[i].goalPosition - before
            servos[i].position = before + error * alpha
            servos[i].velocity = (servos[i].position - before) / seconds
            servos[i].load = max(-1, min(1, error / 2048))
        }
    }
}
