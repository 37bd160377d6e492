import EngramTestSupport
import Foundation
import Testing
import ServoBus
@testable import Robot

private func so101() throws -> RobotDescription {
    try RobotDescription.load(fromFileAt: repositoryFile("Robots/so101"))
}

/// Runs `cycles` control cycles at `rate` Hz holding `goals`; calls `observe` after each read.
private func run(
    _ arm: SimulatedArm, goals: [Double], cycles: Int, rate: Double = 100,
    observe: (Int, JointState) -> Void = { _, _ in }
) {
    var state = JointState(jointCount: arm.jointCount)
    let period = 1 / rate
    for k in 0..<cycles {
        #expect(arm.read(into: &state, time: Double(k) * period, period: period) == .ok)
        observe(k, state)
        #expect(arm.write(goals: goals, time: Double(k) * period, period: period) == .ok)
    }
}

@Suite struct SimulatedArmTests {
    @Test func convergesToTheGoal() throws {
        let arm = SimulatedArm(robot: try so101())
        #expect(arm.setTorque(enabled: true) == .ok)
        let goals = [0.5, -0.3, 0.8, 0, 0, 0.2]
        var last = JointState(jointCount: 6)
        run(arm, goals: goals, cycles: 300) { _, s in last = s }
        // Within the dead band (1 tick) plus one tick of quantization.
        let tolerance = 2 * JointCalibration.radiansPerTick
        for j in 0..<6 {
            #expect(abs(last.positions[j] - goals[j]) <= tolerance, "joint \(j): \(last.positions[j]) vs \(goals[j])")
            #expect(abs(last.velocities[j]) < 1e-9, "joint \(j) still moving at \(last.velocities[j]) rad/s")
        }
    }

    @Test func respectsSpeedAndAccelerationLimits() throws {
        let robot = try so101()
        var configuration = SimulatedArm.Configuration()
        configuration.accelerationPerSpeed = 5
        let arm = SimulatedArm(robot: robot, configuration: configuration)
        _ = arm.setTorque(enabled: true)
        let vmax = robot.joints[0].maxSpeedRadiansPerSecond
        let amax = vmax * 5
        var previous = 0.0, peak = 0.0, worstAcceleration = 0.0
        let period = 0.01
        run(arm, goals: [1.8, 0, 0, 0, 0, 0], cycles: 200) { _, s in
            let v = s.velocities[0]
            peak = max(peak, abs(v))
            worstAcceleration = max(worstAcceleration, abs(v - previous) / period)
            previous = v
        }
        #expect(peak <= vmax * (1 + 1e-12), "peak \(peak) rad/s, limit \(vmax)")
        #expect(peak >= vmax * 0.99, "a 1.8 rad move at 180°/s should reach full speed, peak \(peak)")
        #expect(worstAcceleration <= amax * (1 + 1e-9), "acceleration \(worstAcceleration) rad/s², limit \(amax)")
    }

    @Test func readingsAreQuantizedToEncoderTicks() throws {
        let arm = SimulatedArm(robot: try so101())
        _ = arm.setTorque(enabled: true)
        run(arm, goals: [0.3, -0.2, 0.1, 0.05, -0.4, 0.3], cycles: 50) { _, s in
            for q in s.positions {
                let ticks = q / JointCalibration.radiansPerTick
                #expect(abs(ticks - ticks.rounded()) < 1e-9, "\(q) rad is \(ticks) ticks")
            }
        }
    }

    @Test func torqueOffIgnoresGoalsAndTorqueOnHoldsWhereItIs() throws {
        let arm = SimulatedArm(robot: try so101())
        var state = JointState(jointCount: 6)
        // Torque off (inactive): a goal is refused and nothing moves.
        #expect(arm.write(goals: [1, 1, 1, 1, 1, 1], time: 0, period: 0.01) == .error)
        #expect(arm.lastFault == .notActive(.inactive))
        for k in 0..<20 { _ = arm.read(into: &state, time: Double(k) * 0.01, period: 0.01) }
        #expect(state.positions == [0, 0, 0, 0, 0, 0])  // exact: home is tick 2047, angle 0
        // Torque on replaces the stale goal by the present position: still nothing moves.
        _ = arm.setTorque(enabled: true)
        for k in 0..<20 { _ = arm.read(into: &state, time: Double(k) * 0.01, period: 0.01) }
        #expect(state.positions == [0, 0, 0, 0, 0, 0])
        #expect(arm.isTorqueEnabled)
    }

    @Test func goalLatencyDelaysTheMotion() throws {
        var configuration = SimulatedArm.Configuration()
        configuration.goalLatencyCycles = 3
        let arm = SimulatedArm(robot: try so101(), configuration: configuration)
        _ = arm.setTorque(enabled: true)
        var firstMove: Int?
        run(arm, goals: [0.5, 0, 0, 0, 0, 0], cycles: 10) { k, s in
            if firstMove == nil && s.positions[0] != 0 { firstMove = k }
        }
        // The goal written after read 0 acts after 3 more writes, so the read of cycle 4 is the first that moves.
        #expect(firstMove == 4)
    }

    @Test func readLatencyReportsOlderMeasurements() throws {
        var configuration = SimulatedArm.Configuration()
        configuration.readLatencyCycles = 2
        let arm = SimulatedArm(robot: try so101(), configuration: configuration)
        _ = arm.setTorque(enabled: true)
        var firstMove: Int?
        run(arm, goals: [0.5, 0, 0, 0, 0, 0], cycles: 10) { k, s in
            if firstMove == nil && s.positions[0] != 0 { firstMove = k }
        }
        #expect(firstMove == 3)  // without latency the read of cycle 1 already moves
    }

    @Test func noiseIsSeededAndHasTheRequestedSpread() throws {
        func readings(seed: UInt64) throws -> [Double] {
            var configuration = SimulatedArm.Configuration()
            configuration.noiseStdTicks = 2
            configuration.seed = seed
            let arm = SimulatedArm(robot: try so101(), configuration: configuration)
            _ = arm.activate()  // goals reach an active arm only; holding home, it stays there
            var out: [Double] = []
            run(arm, goals: [0, 0, 0, 0, 0, 0], cycles: 2000) { _, s in out.append(s.positions[0] / JointCalibration.radiansPerTick) }
            return out
        }
        let a = try readings(seed: 1), b = try readings(seed: 1), c = try readings(seed: 2)
        #expect(a == b)  // exact: same seed, same arithmetic
        #expect(a != c)
        let mean = a.reduce(0, +) / Double(a.count)
        let std = (a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(a.count)).squareRoot()
        // Gaussian std 2 ticks, plus rounding (variance 1/12): about 2.02; tolerance for 2000 samples.
        #expect(abs(mean) < 0.2 && std > 1.85 && std < 2.2, "mean \(mean), std \(std) ticks")
    }

    @Test func badGoalsAndClosedArmsReportAFault() throws {
        let arm = SimulatedArm(robot: try so101())
        #expect(arm.write(goals: [0, .nan, 0, 0, 0, 0], time: 0, period: 0.01) == .error)
        #expect(arm.lastFault == .nonFiniteGoal(joint: "shoulder_lift"))
        #expect(arm.lastFault?.description == "goal for joint 'shoulder_lift' is not a finite number")
        #expect(arm.write(goals: [0, 0], time: 0, period: 0.01) == .error)
        #expect(arm.lastFault == .goalCount(expected: 6, found: 2))
        var state = JointState(jointCount: 6)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)
        #expect(arm.lastFault == nil)
        arm.close()
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .deactivate)
        #expect(arm.write(goals: [0, 0, 0, 0, 0, 0], time: 0, period: 0.01) == .deactivate)
        #expect(arm.setTorque(enabled: true) == .deactivate)
        #expect(arm.lastFault == .closed)
    }

    @Test func scorbotSimulationTracksAMove() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
        let arm = SimulatedArm(robot: robot)
        arm.teleport(to: [0.2, -0.1, 0, 0])
        _ = arm.setTorque(enabled: true)
        var last = JointState(jointCount: 4)
        run(arm, goals: [0.7, 0.4, 0, 0], cycles: 150) { _, s in last = s }
        #expect(abs(last.positions[0] - 0.7) <= 2 * JointCalibration.radiansPerTick)
        #expect(abs(last.positions[1] - 0.4) <= 2 * JointCalibration.radiansPerTick)
    }
}

@Suite struct ServoDynamicsTests {
    @Test func deadBandHoldsSmallErrors() {
        let servo = ServoDynamics(parameters: .init(deadBandTicks: 3))
        var state = ServoDynamics.State(positionTicks: 2000)
        servo.step(&state, goalTicks: 2003, duration: 1)
        #expect(state.positionTicks == 2000)  // exact: no motion inside the dead band
        servo.step(&state, goalTicks: 2010, duration: 1)
        #expect(abs(state.positionTicks - 2010) <= 3.5, "\(state.positionTicks)")
    }

    @Test func stepIsIndependentOfHowTimeIsSliced() {
        // The same 0.1 s in one call or in ten: sub-steps are at most 0.5 ms either way, so the results agree closely.
        let servo = ServoDynamics()
        var a = ServoDynamics.State(positionTicks: 1000), b = a
        servo.step(&a, goalTicks: 3000, duration: 0.1)
        for _ in 0..<10 { servo.step(&b, goalTicks: 3000, duration: 0.01) }
        #expect(abs(a.positionTicks - b.positionTicks) < 1, "\(a.positionTicks) vs \(b.positionTicks)")
        #expect(a.positionTicks > 1000 && a.positionTicks < 3000)
    }

    @Test func torqueOffStopsTheShaft() {
        let servo = ServoDynamics()
        var state = ServoDynamics.State(positionTicks: 1000, velocityTicksPerSecond: 500)
        servo.step(&state, goalTicks: 3000, duration: 0.1, torqueEnabled: false)
        #expect(state == ServoDynamics.State(positionTicks: 1000))
    }

    @Test func encoderWraps() {
        #expect(ServoDynamics.encoderTicks(atPosition: 4095.6) == 0)
        #expect(ServoDynamics.encoderTicks(atPosition: -1.2) == 4095)
        #expect(ServoDynamics.encoderTicks(atPosition: 2047.4) == 2047)
    }
}

@Suite struct ServoPlantConformanceTests {
    @Test func emulatorPlantMovesLikeTheSimulatedArm() throws {
        let dynamics = ServoDynamics(parameters: .init(maxVelocityTicksPerSecond: 2048, maxAccelerationTicksPerSecondSquared: 20_480))
        var servos = [ServoPlantState(id: 1, model: .sts3215, position: 1000)]
        servos[0].torqueEnabled = true
        servos[0].goalPosition = 3000
        var reference = ServoDynamics.State(positionTicks: 1000)
        for _ in 0..<200 {
            dynamics.advance(&servos, by: 0.01)
            dynamics.step(&reference, goalTicks: 3000, duration: 0.01)
            #expect(servos[0].position == reference.positionTicks)  // exact: the same step function
            #expect(servos[0].load >= -1 && servos[0].load <= 1)
        }
        #expect(abs(servos[0].position - 3000) <= 2)
        servos[0].torqueEnabled = false
        servos[0].goalPosition = 0
        dynamics.advance(&servos, by: 0.5)
        #expect(abs(servos[0].position - 3000) <= 2 && servos[0].velocity == 0 && servos[0].load == 0)
    }
}
