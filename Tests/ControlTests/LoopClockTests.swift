import EngramTestSupport
import Foundation
import Robot
import Spiking
import Tensors
import Testing
@testable import Control

/// A simulated arm on a manual clock whose reads take time: `slowReads[tick]` nanoseconds at that loop tick.
/// Records the time and period each read was given.
final class TimedArm: Arm {
    let inner: SimulatedArm
    let clock: ManualClock
    var slowReads: [Int: UInt64]
    private(set) var readTimes: [Double] = []
    private(set) var readPeriods: [Double] = []
    var robot: RobotDescription { inner.robot }
    var lastFault: ArmFault? { inner.lastFault }
    var lifecycleState: ArmLifecycleState { inner.lifecycleState }

    init(_ inner: SimulatedArm, clock: ManualClock, slowReads: [Int: UInt64] = [:]) {
        self.inner = inner
        self.clock = clock
        self.slowReads = slowReads
    }

    func read(into state: inout JointState, time: Double, period: Double) -> ArmStatus {
        // The start read is not a tick; the loop's ticks follow it.
        let tick = readTimes.count - 1
        readTimes.append(time)
        readPeriods.append(period)
        if let extra = slowReads[tick] { clock.advance(by: extra) }
        return inner.read(into: &state, time: time, period: period)
    }
    func write(goals: [Double], time: Double, period: Double) -> ArmStatus { inner.write(goals: goals, time: time, period: period) }
    func activate() -> ArmStatus { inner.activate() }
    func deactivate() -> ArmStatus { inner.deactivate() }
    func close() { inner.close() }
}

/// Holds the start pose and records the time of every tick it is asked for.
struct TimeRecordingPolicy: Policy {
    var hold = HoldPolicy()
    var times: [Double] = []
    var ticks: [Int] = []
    mutating func start(from pose: [Double]) { hold.start(from: pose) }
    mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        times.append(time)
        ticks.append(tick)
        return hold.goals(tick: tick, time: time, measured: measured, into: &goals)
    }
}

struct LoopClockTests {
    func scorbot() throws -> RobotDescription {
        try RobotDescription.load(fromFileAt: SharedData.repositoryRoot + "/Robots/scorbot-er7")
    }

    func envelope(for robot: RobotDescription) -> SafetyEnvelope {
        let limits = robot.jointLimitsRadians()
        return SafetyEnvelope(limits: SafetyLimits(lower: limits.map(\.lowerBound), upper: limits.map(\.upperBound),
                                                   maxSpeed: robot.joints.map(\.maxSpeedRadiansPerSecond)),
                              period: 0.01, easeInSeconds: 0.2)
    }

    /// A read at tick 3 that takes 2.5 periods: the pacer counts one overrun and one skipped cycle instead of
    /// bursting, and the next tick (and the policy) sees its measured time, 55 ms, not the nominal 40 ms.
    /// Times are whole nanoseconds on the manual clock; compared to 1e-12 s (the ns → s conversion rounds).
    @Test func aManualClockDrivesTheLoopAndSkippedCyclesAreCounted() throws {
        let robot = try scorbot()
        let clock = ManualClock(nanoseconds: 1_000_000_000)
        let arm = TimedArm(SimulatedArm(robot: robot), clock: clock, slowReads: [3: 25_000_000])
        var policy = TimeRecordingPolicy()
        var env = envelope(for: robot)
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, clock: clock, duration: 0.08, watchSignals: false)
        let result = loop.run(arm: arm, policy: &policy, envelope: &env, expectedTicks: 8)

        #expect(result.stop == .durationReached)
        #expect(result.ticks == 8)
        #expect(result.overruns == 1)
        #expect(result.missedCycles == 1)
        let expected = [0, 0.01, 0.02, 0.03, 0.055, 0.06, 0.07, 0.08]
        #expect(policy.ticks == Array(0..<8))
        #expect(policy.times.count == expected.count)
        for (seen, want) in zip(policy.times, expected) { #expect(abs(seen - want) < 1e-12, "policy saw \(policy.times), expected \(expected)") }
        // The arm got the same time and the measured period (nominal for the first tick and the start read).
        let periods = [0.01, 0.01, 0.01, 0.01, 0.01, 0.025, 0.005, 0.01, 0.01]
        for (seen, want) in zip(arm.readPeriods, periods) { #expect(abs(seen - want) < 1e-12, "periods \(arm.readPeriods)") }
        for (seen, want) in zip(arm.readTimes.dropFirst(), expected) { #expect(abs(seen - want) < 1e-12, "read times \(arm.readTimes)") }
        #expect(result.log.time == policy.times)
        // Timing on the same clock: only the slow read took time; the periods between tick starts.
        #expect(result.timing.read.maxMicroseconds == 25_000)
        #expect(result.timing.read.samples == 8)
        #expect(result.timing.update.maxMicroseconds == 0 && result.timing.write.maxMicroseconds == 0)
        #expect(result.timing.period.samples == 7)
        #expect(result.timing.period.maxMicroseconds == 25_000)
        #expect(result.latencyMaxMicroseconds == 25_000)
    }

    /// Without overruns a manual clock gives exactly the nominal times k · period (bit for bit: the
    /// conversion is whole periods times the period), which simulated runs have always used.
    @Test func simulatedTimeIsExactlyTheNominalTime() throws {
        let robot = try scorbot()
        var policy = TimeRecordingPolicy()
        var env = envelope(for: robot)
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, duration: 3, watchSignals: false)
        let result = loop.run(arm: SimulatedArm(robot: robot), policy: &policy, envelope: &env, expectedTicks: 300)
        #expect(result.ticks == 300 && result.overruns == 0 && result.missedCycles == 0)
        #expect(policy.times == (0..<300).map { Double($0) * (1 / 100.0) })  // exact, see above
    }

    /// The pacer on a manual clock: on time it sleeps to the deadline; after a stall of 3.5 periods (the
    /// deadlines at 2, 3 and 4 ms pass) it returns at once, counts one overrun and the two whole periods it
    /// skips (the late tick stands for the 2 ms one), and the next deadline is the next period boundary.
    @Test func pacerSkipsAheadOnAManualClock() {
        let clock = ManualClock()
        var pacer = LoopPacer(rateHz: 1000, clock: clock)
        let onTime = pacer.waitForNextTick()
        #expect(!onTime && clock.now() == 1_000_000)
        clock.advance(by: 3_500_000)
        let late = pacer.waitForNextTick()
        #expect(late && clock.now() == 4_500_000)
        #expect(pacer.overruns == 1 && pacer.missedCycles == 2)
        #expect(pacer.nextDeadline == 5_000_000)
        let next = pacer.waitForNextTick()
        #expect(!next && clock.now() == 5_000_000)
    }

    /// A deployed controller reads its crossbar at the loop's measured time: after an overrun its device read
    /// time is the late tick's, not the nominal one (and it never reads a clock itself).
    @Test func theSpikingPolicyReadsAtTheLoopsMeasuredTime() throws {
        let robot = try scorbot()
        let (a, w) = smallController(steps: 10)
        var policy = SpikingPolicy(network: network(a, w, at: 0, seed: 1) { DenseSynapses(rows: $0, columns: $1) }, clock: a.clock,
                                   steps: a.steps, drivenJoints: [0, 1], deviceClock: DeviceClock(start: 32), rng: RandomSource(seed: 0))
        policy.readTimeResolution = 0
        let clock = ManualClock()
        // The read of tick 5 (at 50 ms) takes 3.5 periods: tick 6 starts at once, at 85 ms instead of 60 ms.
        let arm = TimedArm(SimulatedArm(robot: robot), clock: clock, slowReads: [5: 35_000_000])
        var env = envelope(for: robot)
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, clock: clock, duration: 0.07, watchSignals: false)
        let result = loop.run(arm: arm, policy: &policy, envelope: &env, expectedTicks: 7)
        #expect(result.ticks == 7 && result.missedCycles == 2)
        #expect(abs(policy.lastReadTime - 32.085) < 1e-12, "read at \(policy.lastReadTime) s")
    }
}
