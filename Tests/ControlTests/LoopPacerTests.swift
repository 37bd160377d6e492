import Testing
@testable import Control

struct LoopPacerTests {
    /// An overrun is counted and the schedule skips ahead rather than bursting: after a stall of five
    /// periods the next deadline is in the future again. (No timing is asserted beyond ordering.)
    @Test func overrunSkipsAheadInsteadOfBursting() {
        let clock = MonotonicClock()
        var pacer = LoopPacer(rateHz: 1000, clock: clock)
        pacer.waitForNextTick()
        let stallUntil = clock.now() + 5_000_000
        while clock.now() < stallUntil {}
        let overran = pacer.waitForNextTick()
        #expect(overran)
        #expect(pacer.overruns >= 1)
        #expect(pacer.missedCycles >= 3)
        #expect(pacer.nextDeadline > clock.now() - 1_000_000)
    }

    @Test func tickStatisticsPercentiles() {
        var stats = TickStatistics(capacity: 100)
        for i in 1...100 { stats.record(nanoseconds: UInt64(i) * 1000) }
        #expect(stats.percentile(0.5) == 51 || stats.percentile(0.5) == 50)
        #expect(stats.percentile(0.99) == 99)
        #expect(stats.maxMicroseconds == 100)
        #expect(stats.ticks == 100)
    }
}
