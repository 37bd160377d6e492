import EngramTestSupport
import Foundation
import Adaptation
import Robot
import ServoBus
import Spiking
import Tensors
import Testing
@testable import Control
import Trajectories

private func scorbot() throws -> RobotDescription {
    try RobotDescription.load(fromFileAt: SharedData.repositoryRoot + "/Robots/scorbot-er7")
}

/// A small controller as a checkpoint, and a target for it sampled from the robot's task family.
private func smallSession(_ robot: RobotDescription, pcm: SynapseMode, pacing: LoopPacing = .simulated, seed: UInt64 = 0) throws -> RunSession {
    let (a, w) = smallController(steps: 150)
    var rng = RandomSource(seed: 21)
    let target = RunSession.taskFamily(for: robot, steps: a.steps).sample(&rng)
    var settings = RunSettings()
    settings.pcm = pcm
    settings.pacing = pacing
    settings.seed = seed
    settings.watchSignals = false
    return try RunSession(robot: robot, calibration: nil, checkpoint: ControllerCheckpoint(architecture: a, weights: w), target: target, settings: settings)
}

/// An emulated robot bus behind a real pseudo-terminal, and a `BusArm` opened on its slave path.
private final class PseudoTerminalRig {
    let emulator: ServoEmulator
    let thread: EmulatorThread
    let path: String
    let arm: BusArm

    init(robot: RobotDescription, faults: FaultPlan = FaultPlan()) throws {
        emulator = try ServoEmulator.simulating(robot, faults: faults, seed: 4)
        let pty = try PseudoTerminal()
        path = pty.path
        thread = emulator.start(serving: pty.master)
        // A patient per-tick budget: these tests check behaviour, not timing, and may share the CPU.
        arm = try BusArm.open(robot: robot, calibration: .uncalibrated(for: robot), port: pty.path,
                              retryPolicy: RetryPolicy(replyTimeoutMs: 20, perReplyTimeoutMs: 2, attempts: 3, budgetMs: 100))
        keeper = pty  // keeps the slave side open; the master end belongs to the serving thread
    }
    private let keeper: PseudoTerminal

    deinit {
        arm.disconnect(keepingTorque: false)
        thread.stop()
    }
}

/// A policy that holds the start pose and runs `action` once at tick `at` (to inject a fault mid-run).
private struct HoldThenAct: Policy {
    var hold = HoldPolicy()
    let at: Int
    let action: () -> Void
    mutating func start(from pose: [Double]) { hold.start(from: pose) }
    mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        if tick == at { action() }
        return hold.goals(tick: tick, time: time, measured: measured, into: &goals)
    }
}

@Suite(.serialized) struct RunSessionTests {
    @Test func trackingErrorOfAKnownOffset() throws {
        let robot = try scorbot()
        let steps = 20
        var rng = RandomSource(seed: 2)
        let full = RunSession.taskFamily(for: robot, steps: 150).sample(&rng)
        let target = TargetTrajectory(steps: steps, joints: 2, angularVelocity: Array(full.angularVelocity[0..<(2 * steps)]),
                                      angles: Array(full.angles[0..<(2 * steps)]), endEffector: Array(full.endEffector[0..<steps]),
                                      stepSeconds: 0.01)
        var log = RunLog(jointCount: 4, ticks: steps + 1)
        let degree = Double.pi / 180
        log.append(time: 0, measured: [0, 0, 0, 0], goals: [0, 0, 0, 0])
        for k in 0..<steps {
            // Measured one tick later: base 1° high, shoulder 2° low.
            let m = [target.angles[2 * k] + degree, target.angles[2 * k + 1] - 2 * degree, 0, 0]
            log.append(time: Double(k + 1) * 0.01, measured: m, goals: m)
        }
        let e = try #require(RunSession.trackingError(log: log, robot: robot, target: target, integratedGoals: []))
        #expect(e.samples == steps && e.reference == "target")
        #expect(abs(e.perJointRMSDegrees[0] - 1) < 1e-9 && abs(e.perJointRMSDegrees[1] - 2) < 1e-9)
        #expect(abs(e.jointRMSDegrees - (2.5).squareRoot()) < 1e-9)
        // End-effector error: the FK distance at each step, averaged (a few cm for 1° and 2° on the Scorbot).
        var expected = 0.0
        for k in 0..<steps {
            let q = [log.measured(tick: k + 1, joint: 0), log.measured(tick: k + 1, joint: 1), 0, 0]
            let d = robot.forwardKinematics.position(q) - target.endEffector[k]
            expected += (d * d).sum().squareRoot()
        }
        #expect(abs(e.endEffectorMeanMillimetres - expected / Double(steps) * 1000) < 1e-9)
        #expect(e.endEffectorMeanMillimetres > 5 && e.endEffectorMeanMillimetres < 50)
    }

    /// The whole session on the simulated arm: one-shot adaptation, approach to the target's start, the trial
    /// (steps + 1 ticks), tracking over every step; the same seed gives the same numbers.
    @Test(arguments: [SynapseMode.off, .physical])
    func simulatedRunAdaptsTracksAndIsDeterministic(pcm: SynapseMode) throws {
        let robot = try scorbot()
        let session = try smallSession(robot, pcm: pcm)
        let first = session.run(on: SimulatedArm(robot: robot))
        #expect(first.loop.stopReason == "policy finished" && !first.loop.stoppedOnFault)
        #expect(first.loop.ticks == 151)
        let adaptation = try #require(first.adaptation)
        #expect(adaptation.lossAfter.total.isFinite)
        let tracking = try #require(first.tracking)
        #expect(tracking.samples == 150 && tracking.reference == "target")
        #expect(first.networkOutputs.count == 300)
        #expect((first.programming != nil) == (pcm != .off))
        if let p = first.programming { #expect(p.devicesProgrammed > 0 && p.pulses >= p.devicesProgrammed) }
        // The arm starts the trial at the target's q_0.
        let start = session.startPose
        #expect(abs(first.loop.log.measured(tick: 0, joint: 0) - start[0]) < 0.01)
        let second = session.run(on: SimulatedArm(robot: robot))
        #expect(second.tracking == first.tracking)
        #expect(second.networkOutputs == first.networkOutputs)
        // Without adapting, the same target is tracked by the controller as loaded (the "before").
        var unadapted = session
        unadapted.settings.adapt = false
        let before = unadapted.run(on: SimulatedArm(robot: robot))
        #expect(before.adaptation == nil && before.tracking?.reference == "target")
        #expect(before.networkOutputs != first.networkOutputs)
    }

    @Test func mismatchedControllerOrTargetIsRefused() throws {
        let robot = try scorbot()
        var (a, w) = smallController(steps: 150)
        a.outputs = 3
        var rng = RandomSource(seed: 0)
        w.traineeReadout = Matrix.normal(rows: a.traineeNeurons, columns: 3, std: 0.1, rng: &rng)
        do {
            _ = try RunSession(robot: robot, calibration: nil, checkpoint: ControllerCheckpoint(architecture: a, weights: w), target: nil, settings: RunSettings())
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("the controller has 3 outputs but robot 'scorbot-er7' drives 2 joints (base, shoulder)"))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("engram-short-target-\(getpid()).csv").path
        // A single row cannot be resampled onto a trial.
        try "# engram-trajectory 1\ntime_s,base.pos,shoulder.pos\n0,0,0\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try RunSession.loadTarget(fromFileAt: path, robot: robot, steps: 249)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path): has 1 rows; the controller runs 249 steps, so give 249 rows (2.49 s at 100 Hz)")
        }
        try "time_s,base.pos,hand.pos\n0,0,0\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try RunSession.loadTarget(fromFileAt: path, robot: robot, steps: 249)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("column 'hand.pos' is not a joint of scorbot-er7"))
        }
    }

    /// The loop over a real pseudo-terminal against the emulated Scorbot: servo 2 falls silent mid-run; the
    /// watchdog stops the loop, says which joint and servo, sends no goal after the failed reads, and (as
    /// configured) switches torque off.
    @Test func loopOverAPseudoTerminalStopsSafelyWhenAServoFallsSilent() throws {
        let robot = try scorbot()
        let rig = try PseudoTerminalRig(robot: robot)
        let emulator = rig.emulator
        var policy = HoldThenAct(at: 20) { emulator.setFaults(ServoFaults(silent: true), for: 2) }
        let limits = robot.jointLimitsRadians()
        var envelope = SafetyEnvelope(limits: SafetyLimits(lower: limits.map(\.lowerBound), upper: limits.map(\.upperBound),
                                                           maxSpeed: robot.joints.map(\.maxSpeedRadiansPerSecond)),
                                      period: 0.01, failedReadBudget: 2, watchdogAction: .torqueOff)
        let loop = ControlLoop(rateHz: 100, pacing: .realTime, duration: 2, watchSignals: false)
        let result = loop.run(arm: rig.arm, policy: &policy, envelope: &envelope)
        #expect(result.stoppedOnFault)
        // Silent from tick 21's read on: reads 21, 22 and 23 fail, the third exceeds the budget of 2.
        #expect(result.ticks == 23, "\(result.stopReason)")
        #expect(result.stopReason.hasPrefix("watchdog: 3 failed reads in a row"), "\(result.stopReason)")
        #expect(result.stopReason.contains("joint 'shoulder'") && result.stopReason.contains("servo 2"), "\(result.stopReason)")
        #expect(result.stopReason.hasSuffix("action: torque-off"))
        #expect(result.safety.failedReads == 3)
        #expect(!rig.arm.isTorqueEnabled)
        _ = try rig.arm.bus.ping(1)  // sync writes have no reply: a ping's reply orders them before the checks
        for id in [1, 3, 4] as [UInt8] { #expect(emulator.value(.torqueEnable, of: id) == 0) }
        // Nothing was sent after the first failed read: every goal register holds the last logged goal.
        let last = result.log.count - 1
        for j in 0..<4 {
            let expected = JointCalibration(name: "", servoID: j + 1, homingOffsetTicks: 0, rangeMinTicks: 0, rangeMaxTicks: 4095)
                .ticks(fromRadians: result.log.goal(tick: last, joint: j))
            #expect(emulator.value(.goalPosition, of: UInt8(j + 1)) == expected)
        }
    }

    /// Occasional corrupted and dropped replies are absorbed by the bus's retries: the run completes.
    @Test func loopOverAPseudoTerminalRidesOutOccasionalCorruption() throws {
        let robot = try scorbot()
        let rig = try PseudoTerminalRig(robot: robot, faults: FaultPlan(all: ServoFaults(drop: 0.02, corrupt: 0.02)))
        var policy = HoldPolicy(duration: 0.5)
        let limits = robot.jointLimitsRadians()
        var envelope = SafetyEnvelope(limits: SafetyLimits(lower: limits.map(\.lowerBound), upper: limits.map(\.upperBound),
                                                           maxSpeed: robot.joints.map(\.maxSpeedRadiansPerSecond)), period: 0.01)
        let loop = ControlLoop(rateHz: 100, pacing: .realTime, watchSignals: false)
        let result = loop.run(arm: rig.arm, policy: &policy, envelope: &envelope)
        #expect(!result.stoppedOnFault, "\(result.stopReason)")
        #expect(result.stopReason == "policy finished")
        #expect(rig.arm.bus.statistics.retries > 0)
    }

    /// Acceptance: the same run on the simulated arm and through the serial stack (emulated Scorbot on a
    /// pseudo-terminal, real-time loop) tracks the target within 10 % of each other.
    @Test func serialPathAddsLatencyNotError() throws {
        let robot = try scorbot()
        let simulated = try smallSession(robot, pcm: .off).run(on: SimulatedArm(robot: robot))
        let rig = try PseudoTerminalRig(robot: robot)
        let serial = try smallSession(robot, pcm: .off, pacing: .realTime).run(on: rig.arm)
        let a = try #require(simulated.tracking), b = try #require(serial.tracking)
        #expect(serial.networkOutputs == simulated.networkOutputs)
        #expect(abs(b.jointRMSDegrees - a.jointRMSDegrees) <= 0.1 * a.jointRMSDegrees, "sim \(a.jointRMSDegrees)°, serial \(b.jointRMSDegrees)°")
        #expect(abs(b.endEffectorMeanMillimetres - a.endEffectorMeanMillimetres) <= 0.1 * a.endEffectorMeanMillimetres,
                "sim \(a.endEffectorMeanMillimetres) mm, serial \(b.endEffectorMeanMillimetres) mm")
    }
}

/// A closed-loop controller through the whole session: it adapts on every input row, runs on the arm, and
/// hears it — a push changes its outputs, where an open-loop controller plays the same motion regardless.
@Suite struct RunSessionClosedLoopTests {
    func session(_ robot: RobotDescription, closedLoop: Bool) throws -> RunSession {
        var (a, w) = smallController(steps: 150)
        if closedLoop {
            a.proprioception = ProprioceptionSettings(jointRanges: robot.drivenJointIndices.map { robot.jointLimitsRadians()[$0] })
            var rng = RandomSource(seed: 8)
            w.traineeInput = Matrix.normal(rows: a.traineeInputs, columns: a.traineeNeurons, std: Float(1 / Double(a.traineeInputs).squareRoot()), rng: &rng)
        }
        var rng = RandomSource(seed: 21)
        let target = RunSession.taskFamily(for: robot, steps: a.steps).sample(&rng)
        var settings = RunSettings()
        settings.pcm = .off
        settings.watchSignals = false
        return try RunSession(robot: robot, calibration: nil, checkpoint: ControllerCheckpoint(architecture: a, weights: w), target: target, settings: settings)
    }

    func outputs(_ session: RunSession, push: Bool) -> RunOutcome {
        let arm = SimulatedArm(robot: session.robot)
        arm.teleport(to: session.startPose)
        if push { arm.disturbance = .push(joint: 0, offsetRadians: 0.25, startTick: 40, ticks: 30) }
        return session.run(on: arm)
    }

    @Test func closedLoopControllerHearsAPushOpenLoopDoesNot() throws {
        let robot = try scorbot()
        let closed = try session(robot, closedLoop: true)
        let calm = outputs(closed, push: false), pushed = outputs(closed, push: true)
        #expect(calm.loop.stopReason == "policy finished" && pushed.loop.stopReason == "policy finished")
        let adaptation = try #require(calm.adaptation)
        #expect(adaptation.lossAfter.total.isFinite && adaptation.changedInput > 0)
        // Identical until the push (tick 40 is step 39's read... the network hears it from step 40 on).
        #expect(Array(calm.networkOutputs[0..<80]) == Array(pushed.networkOutputs[0..<80]))
        #expect(calm.networkOutputs != pushed.networkOutputs, "the closed-loop controller must hear the push")
        let open = try session(robot, closedLoop: false)
        #expect(outputs(open, push: false).networkOutputs == outputs(open, push: true).networkOutputs)
    }
}
