import ServoBus

/// `ServoDynamics` as the servo emulator's plant, so a simulated arm behind a pseudo-terminal moves like
/// `SimulatedArm`: every emulated servo is stepped with the same parameters, in the emulator's tick units.
///
/// Load is reported as how hard the position loop pushes: the commanded velocity over the velocity limit,
/// in −1…1 (a stand-in for Present_Load; the plant has no gravity or inertia model).
extension ServoDynamics: ServoPlant {
    /// Steps every servo by `seconds` with `step(_:goalTicks:duration:torqueEnabled:)`.
    public func advance(_ servos: inout [ServoPlantState], by seconds: Double) {
        guard seconds > 0 else { return }
        for i in servos.indices {
            var state = State(positionTicks: servos[i].position, velocityTicksPerSecond: servos[i].velocity)
            step(&state, goalTicks: servos[i].goalPosition, duration: seconds, torqueEnabled: servos[i].torqueEnabled)
            servos[i].position = state.positionTicks
            servos[i].velocity = state.velocityTicksPerSecond
            if servos[i].torqueEnabled {
                let error = servos[i].goalPosition - state.positionTicks.rounded()
                let push = abs(error) <= parameters.deadBandTicks ? 0 : parameters.positionGainPerSecond * error / parameters.maxVelocityTicksPerSecond
                servos[i].load = min(max(push, -1), 1)
            } else {
                servos[i].load = 0
            }
        }
    }
}
