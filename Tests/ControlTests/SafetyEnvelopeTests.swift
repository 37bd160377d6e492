import Testing
import Tensors
@testable import Control

struct SafetyEnvelopeTests {
    let limits = SafetyLimits(lower: [-2.0, -1.2, -0.5], upper: [2.0, 1.2, 0.5], maxSpeed: [1.0, 2.0, 3.0])

    /// Property: whatever a policy proposes (random values, NaN, ±∞, huge jumps), every goal that leaves
    /// the envelope is inside the joint limits and moves at most the step limit per tick.
    @Test func noGoalOutsideTheLimitsWhateverThePolicyOutputs() {
        var rng = RandomSource(seed: 11)
        for trial in 0..<200 {
            var envelope = SafetyEnvelope(limits: limits, period: 0.01, easeInSeconds: rng.uniform() < 0.5 ? 0 : 0.2)
            let start = (0..<3).map { _ in rng.uniform(-5, 5) }
            envelope.begin(from: start)
            var previous = envelope.lastGoal
            for tick in 0..<50 {
                var goal = (0..<3).map { _ -> Double in
                    switch rng.int(below: 6) {
                    case 0: return .nan
                    case 1: return .infinity
                    case 2: return -.infinity
                    case 3: return rng.uniform(-1e6, 1e6)
                    default: return rng.uniform(-3, 3)
                    }
                }
                envelope.filter(&goal)
                for j in 0..<3 {
                    #expect(goal[j].isFinite, "trial \(trial) tick \(tick) joint \(j)")
                    #expect(goal[j] >= limits.lower[j] && goal[j] <= limits.upper[j], "trial \(trial) tick \(tick) joint \(j): \(goal[j])")
                    let maxStep = min(limits.maxStepPerTick[j], limits.maxSpeed[j] * 0.01)
                    #expect(abs(goal[j] - previous[j]) <= maxStep + 1e-12, "trial \(trial) tick \(tick) joint \(j): step \(goal[j] - previous[j])")
                }
                previous = goal
            }
        }
    }

    @Test func nonFiniteComponentsHoldTheLastGoalAndAreCounted() {
        var envelope = SafetyEnvelope(limits: limits, period: 0.01, easeInSeconds: 0)
        envelope.begin(from: [0.1, 0.2, 0.3])
        var goal = [Double.nan, 0.2, .infinity]
        envelope.filter(&goal)
        #expect(goal == [0.1, 0.2, 0.3])
        #expect(envelope.report.rejectedNonFinite == 2)
    }

    @Test func easeInRampsTheStepLimit() {
        var envelope = SafetyEnvelope(limits: limits, period: 0.01, easeInSeconds: 0.1)
        envelope.begin(from: [0, 0, 0])
        var goal = [1.0, 1.0, 0.4]
        envelope.filter(&goal)
        // First tick: ramp 0.01/0.1 = 0.1 of the full step (min(0.02, 0.01) = 0.01 rad for joint 0).
        #expect(isCloseTo(goal[0], 0.001))
        #expect(envelope.report.easeInTicks == 1)
    }

    @Test func watchdogActsAfterTheBudget() {
        var envelope = SafetyEnvelope(limits: limits, period: 0.01, failedReadBudget: 2, watchdogAction: .torqueOff)
        envelope.begin(from: [0, 0, 0])
        #expect(envelope.readFailed("timeout") == nil)
        #expect(envelope.readFailed("timeout") == nil)
        envelope.readSucceeded()
        #expect(envelope.readFailed("timeout") == nil)
        #expect(envelope.readFailed("timeout") == nil)
        #expect(envelope.readFailed("checksum") == .torqueOff)
        #expect(envelope.report.failedReads == 5)
        #expect(envelope.report.stopReason?.contains("3 failed reads in a row (last: checksum)") == true)
    }

    /// Readings pass `checkReading` (issue 19): a jump beyond what the joint can move is refused and counted,
    /// the last accepted reading stays the reference, and a start pose more than one step outside the
    /// limits is refused (so the hold position is within one rate-limited step of the arm).
    @Test func implausibleReadingsAreRefusedAndCounted() {
        var envelope = SafetyEnvelope(limits: limits, period: 0.01, easeInSeconds: 0)
        #expect(envelope.checkReading([0, 0, 0], elapsed: 0) == nil)
        // Joint 0: 1 rad/s × 2 × 10 ms + 2° slack ≈ 0.055 rad possible; 0.2 rad is not.
        #expect(envelope.checkReading([0.2, 0, 0], elapsed: 0.01)?.joint == 0)
        #expect(envelope.report.rejectedReadings == 1)
        #expect(envelope.lastReading == [0, 0, 0])
        #expect(envelope.checkReading([0.05, 0, 0], elapsed: 0.01) == nil)
        envelope.forgetReadings()
        #expect(envelope.checkReading([1.9, 1.2, 0.5], elapsed: 0) == nil)
        // Start poses: inside, one step (0.01 rad for joint 0) outside, and farther.
        #expect(envelope.startRefusal([2.0, 0, 0]) == nil)
        #expect(envelope.startRefusal([2.009, 0, 0]) == nil)
        #expect(envelope.startRefusal([2.02, 0, 0])?.joint == 0)
    }

    func isCloseTo(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }
}
