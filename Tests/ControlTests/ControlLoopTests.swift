import Foundation
import Testing
import Robot
import EngramTestSupport
@testable import Control

/// An arm whose reads start failing after a given tick, to exercise the watchdog.
final class FailingArm: Arm {
    let inner: SimulatedArm
    let failAfter: Int
    var reads = 0
    var lastFault: ArmFault?
    var robot: RobotDescription { inner.robot }
    var isTorqueEnabled: Bool { inner.isTorqueEnabled }
    init(_ inner: SimulatedArm, failAfter: Int) { self.inner = inner; self.failAfter = failAfter }
    func read(into state: inout JointState, time: Double, period: Double) -> ArmStatus {
        reads += 1
        if reads > failAfter { lastFault = .communication("timeout: servo 2 did not answer"); return .error }
        return inner.read(into: &state, time: time, period: period)
    }
    func write(goals: [Double], time: Double, period: Double) -> ArmStatus { inner.write(goals: goals, time: time, period: period) }
    func setTorque(enabled: Bool) -> ArmStatus { inner.setTorque(enabled: enabled) }
    func close() { inner.close() }
}

struct ControlLoopTests {
    func scorbot() throws -> RobotDescription {
        try RobotDescription.load(fromFileAt: SharedData.repositoryRoot + "/Robots/scorbot-er7")
    }

    func envelope(for robot: RobotDescription, rate: Double) -> SafetyEnvelope {
        let limits = SafetyLimits(lower: robot.joints.map { $0.limitsRadians.lowerBound }, upper: robot.joints.map { $0.limitsRadians.upperBound },
                                  maxSpeed: robot.joints.map { $0.maxSpeedRadiansPerSecond }, maxStepPerTick: robot.joints.map { $0.maxSpeedRadiansPerSecond / rate })
        return SafetyEnvelope(limits: limits, period: 1 / rate, easeInSeconds: 0.2)
    }

    /// Replay of a smooth trajectory on the simulated arm (simulated time) tracks within 1° RMS once the
    /// servos have caught up (after the first 0.3 s).
    @Test func replayOnTheSimulatedArmTracksWithinOneDegree() throws {
        let robot = try scorbot()
        let arm = SimulatedArm(robot: robot)
        let times = (0..<250).map { Double($0) * 0.01 }
        let positions: [[Double?]] = times.map { (t: Double) -> [Double?] in
            let a: Double = 0.3 * sin(2 * t)
            let b: Double = 0.2 * (1 - cos(1.5 * t))
            return [a, b, nil, nil]
        }
        var policy = ReplayPolicy(times: times, positions: positions)
        var env = envelope(for: robot, rate: 100)
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, watchSignals: false)
        let result = loop.run(arm: arm, policy: &policy, envelope: &env, expectedTicks: 300)
        #expect(result.stopReason == "policy finished")
        #expect(!result.stoppedOnFault)
        var se = 0.0, count = 0
        for k in 30..<result.log.count {
            let t = result.log.time[k]
            let target = [0.3 * sin(2 * t), 0.2 * (1 - cos(1.5 * t))]
            for j in 0..<2 { let e = result.log.measured(tick: k, joint: j) - target[j]; se += e * e; count += 1 }
        }
        let rmsDegrees = (se / Double(count)).squareRoot() * 180 / .pi
        #expect(rmsDegrees < 1.0, "RMS tracking error \(rmsDegrees)°")
    }

    /// When reads keep failing, the loop stops after the watchdog budget, says why, and sends no goal
    /// computed from stale state.
    @Test func failingReadsStopSafelyAndSayWhy() throws {
        let robot = try scorbot()
        let arm = FailingArm(SimulatedArm(robot: robot), failAfter: 20)
        var policy = HoldPolicy()
        var env = envelope(for: robot, rate: 100)
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, duration: 5, watchSignals: false)
        let result = loop.run(arm: arm, policy: &policy, envelope: &env)
        #expect(result.stoppedOnFault)
        #expect(result.stopReason.contains("watchdog"), "\(result.stopReason)")
        #expect(result.stopReason.contains("servo 2 did not answer"), "\(result.stopReason)")
        #expect(result.log.count == 19, "one start read + 19 good ticks, then failures")
        #expect(result.safety.failedReads == 4)
    }
}
