import Foundation
import Testing
import Robot
import EngramTestSupport
@testable import Control

/// An arm whose reads start failing after a given tick, to exercise the watchdog (and, optionally, that
/// refuses to activate).
final class FailingArm: Arm {
    let inner: SimulatedArm
    let failAfter: Int
    let refuseActivation: Bool
    var reads = 0
    var lastFault: ArmFault?
    var robot: RobotDescription { inner.robot }
    var lifecycleState: ArmLifecycleState { inner.lifecycleState }
    init(_ inner: SimulatedArm, failAfter: Int, refuseActivation: Bool = false) {
        self.inner = inner
        self.failAfter = failAfter
        self.refuseActivation = refuseActivation
    }
    func read(into state: inout JointState, time: Double, period: Double) -> ArmStatus {
        reads += 1
        if reads > failAfter { lastFault = .communication("timeout: servo 2 did not answer"); return .error }
        return inner.read(into: &state, time: time, period: period)
    }
    func write(goals: [Double], time: Double, period: Double) -> ArmStatus { inner.write(goals: goals, time: time, period: period) }
    func activate() -> ArmStatus {
        guard !refuseActivation else { lastFault = .communication("torque enable not acknowledged"); return .error }
        return inner.activate()
    }
    func deactivate() -> ArmStatus { inner.deactivate() }
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
        #expect(result.stop == .policyFinished)
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
        #expect(result.stop == .watchdog(failedReads: 4, lastFault: "bus communication failed: timeout: servo 2 did not answer", action: .hold))
        #expect(result.safety.stopReason == result.stopReason)
        #expect(result.log.count == 19, "one start read + 19 good ticks, then failures")
        #expect(result.safety.failedReads == 4)
    }

    /// Stop reasons are values: a run is told apart by its case, and the text is the command line's.
    @Test func stopReasonsAreValuesWithTheCommandLinesText() throws {
        let robot = try scorbot()
        // No reading at start.
        let silent = FailingArm(SimulatedArm(robot: robot), failAfter: 0)
        var hold = HoldPolicy()
        var env = envelope(for: robot, rate: 100)
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, duration: 1, watchSignals: false)
        let unread = loop.run(arm: silent, policy: &hold, envelope: &env)
        #expect(unread.stop == .startUnreadable(.communication("timeout: servo 2 did not answer")))
        #expect(unread.stopReason == "could not read the arm's pose at start: bus communication failed: timeout: servo 2 did not answer")
        #expect(unread.stoppedOnFault && unread.ticks == 0)
        // The duration passes.
        env = envelope(for: robot, rate: 100)
        let timed = loop.run(arm: SimulatedArm(robot: robot), policy: &hold, envelope: &env)
        #expect(timed.stop == .durationReached && timed.ticks == 100 && !timed.stoppedOnFault)
        // A recorder that cannot append stops the run after the first tick's write.
        let path = NSTemporaryDirectory() + "engram-stop-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try TrajectoryRecorder(path: path, columns: (0..<8).map { "c\($0)" }, metadata: [])
        recorder.close()
        var recording = loop
        recording.recorder = recorder
        env = envelope(for: robot, rate: 100)
        let unrecorded = recording.run(arm: SimulatedArm(robot: robot), policy: &hold, envelope: &env)
        guard case .recordingFailed(let message) = unrecorded.stop else {
            Issue.record("expected a recording failure, got \(unrecorded.stop)")
            return
        }
        #expect(message.contains("the recorder is closed"))
        #expect(unrecorded.ticks == 0 && unrecorded.log.count == 1 && unrecorded.stoppedOnFault)

        // The text of each case, as the command line has always printed it.
        let refused = RefusedReading(ImplausibleReading(joint: 1, value: 0, kind: .notFinite), robot: robot)
        let cases: [(StopReason, String, Bool)] = [
            (.policyFinished, "policy finished", false),
            (.durationReached, "duration reached", false),
            (.signal("SIGINT"), "SIGINT: stopped, holding the last goal", false),
            (.startUnreadable(nil), "could not read the arm's pose at start: no reply", true),
            (.startRefused(refused, torqueWasOn: false), "refused the pose at start: joint 'shoulder' (servo 2) read 0.0, not a number; torque left off", true),
            (.armDeactivated(nil, response: .held(torqueWasOn: true)), "arm deactivated; action: hold (the servos keep the last safe goal)", true),
            (.watchdog(failedReads: 4, lastFault: "checksum", action: .torqueOff), "watchdog: 4 failed reads in a row (last: checksum); action: torque-off", true),
            (.implausibleReading(refused, response: .torqueSwitchedOff), "implausible reading: joint 'shoulder' (servo 2) read 0.0, not a number; action: torque-off (torque switched off)", true),
            (.implausibleReading(refused, response: .held(torqueWasOn: false)), "implausible reading: joint 'shoulder' (servo 2) read 0.0, not a number; action: hold (torque was never switched on)", true),
            (.armDeactivated(.closed, response: .torqueOffFailed(.closed)), "the arm is closed; action: torque-off (failed: the arm is closed)", true),
            (.activationFailed(nil), "could not switch torque on: unknown", true),
            (.writeDeactivated(.closed), "arm deactivated: the arm is closed", true),
            (.recordingFailed("x.csv: write failed"), "recording failed: x.csv: write failed", true),
        ]
        for (reason, text, fault) in cases {
            #expect(reason.description == text)
            #expect(reason.isFault == fault, "\(reason)")
        }
    }

    /// The loop activates the arm once the start pose is confirmed, and an arm that refuses activation
    /// stops the run with that reason before any goal is written.
    @Test func theLoopActivatesTheArmAndStopsWhenItCannot() throws {
        let robot = try scorbot()
        let arm = SimulatedArm(robot: robot)
        var hold = HoldPolicy(duration: 0.05)
        var env = envelope(for: robot, rate: 100)
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, watchSignals: false)
        #expect(arm.lifecycleState == .inactive)
        let result = loop.run(arm: arm, policy: &hold, envelope: &env)
        #expect(result.stop == .policyFinished)
        #expect(arm.lifecycleState == .active)  // holding the last goal for whoever runs next
        // A second run on the active arm does not activate it again.
        env = envelope(for: robot, rate: 100)
        hold = HoldPolicy(duration: 0.05)
        #expect(loop.run(arm: arm, policy: &hold, envelope: &env).stop == .policyFinished)
        arm.close()
        env = envelope(for: robot, rate: 100)
        let closed = loop.run(arm: arm, policy: &hold, envelope: &env)
        #expect(closed.stop == .startUnreadable(.closed))
        // An arm that cannot be activated.
        let stiff = FailingArm(SimulatedArm(robot: robot), failAfter: .max, refuseActivation: true)
        env = envelope(for: robot, rate: 100)
        let refused = loop.run(arm: stiff, policy: &hold, envelope: &env)
        #expect(refused.stop == .activationFailed(.communication("torque enable not acknowledged")))
        #expect(refused.stopReason == "could not switch torque on: bus communication failed: torque enable not acknowledged")
        #expect(refused.ticks == 0 && refused.log.count == 0 && stiff.lifecycleState == .inactive)
    }
}
