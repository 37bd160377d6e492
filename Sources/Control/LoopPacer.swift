/// Paces a loop to absolute deadlines on a `LoopClock` (by default the monotonic clock, sleeping with
/// `clock_nanosleep(TIMER_ABSTIME)`).
///
/// Each deadline is the previous one plus the period, so sleep jitter does not accumulate. When a tick
/// overruns (the next deadline has already passed), the missed cycles are counted and the schedule
/// skips ahead to the next future deadline instead of bursting to catch up (as ros2_control's
/// controller manager does: controller_manager/src/control_loop.cpp).
public struct LoopPacer {
    /// Period in nanoseconds.
    public let periodNanoseconds: UInt64
    /// The next deadline (ns on `clock`).
    public private(set) var nextDeadline: UInt64
    /// Ticks whose work ran past their deadline.
    public private(set) var overruns = 0
    /// Whole periods skipped because of overruns.
    public private(set) var missedCycles = 0
    /// The clock it reads and sleeps on.
    public let clock: any LoopClock

    /// A pacer at `rateHz` on `clock`, its first deadline one period from now.
    public init(rateHz: Double, clock: any LoopClock = MonotonicClock()) {
        precondition(rateHz > 0 && rateHz.isFinite, "rate must be positive")
        periodNanoseconds = UInt64((1e9 / rateHz).rounded())
        self.clock = clock
        nextDeadline = clock.now() + periodNanoseconds
    }

    /// Restarts the schedule: the next deadline is one period from now.
    public mutating func restart() { nextDeadline = clock.now() + periodNanoseconds }

    /// Sleeps until the next deadline (or returns at once after an overrun, counting it and the whole
    /// periods it skipped), then advances the deadline by one period. Returns true when this tick overran.
    @discardableResult
    public mutating func waitForNextTick() -> Bool {
        let now = clock.now()
        var overran = false
        if now > nextDeadline {
            overran = true
            overruns += 1
            let behind = (now - nextDeadline) / periodNanoseconds
            missedCycles += Int(behind)
            nextDeadline += behind * periodNanoseconds
        } else {
            clock.sleep(until: nextDeadline)
        }
        nextDeadline += periodNanoseconds
        return overran
    }
}

/// Durations of one kind (a tick's read, its update, ...) kept in a preallocated buffer; percentiles at the end.
public struct TickStatistics: Sendable {
    private var latenciesMicroseconds: [Double]
    private var count = 0
    /// Ticks recorded (may exceed the buffer; percentiles then use the first `capacity`).
    public private(set) var ticks = 0
    /// Largest duration seen (µs), over all ticks.
    public private(set) var maxMicroseconds = 0.0
    /// Sum of all durations (µs), for the mean.
    public private(set) var totalMicroseconds = 0.0

    /// Room for `capacity` samples, allocated once.
    public init(capacity: Int) {
        latenciesMicroseconds = [Double](repeating: 0, count: max(1, capacity))
    }

    /// Records one duration in nanoseconds. No allocation.
    public mutating func record(nanoseconds: UInt64) {
        let us = Double(nanoseconds) / 1000
        ticks += 1
        maxMicroseconds = max(maxMicroseconds, us)
        totalMicroseconds += us
        if count < latenciesMicroseconds.count {
            latenciesMicroseconds[count] = us
            count += 1
        }
    }

    /// The q-quantile (0...1) of recorded durations in µs (nearest rank), 0 when empty.
    public func percentile(_ q: Double) -> Double {
        guard count > 0 else { return 0 }
        let sorted = latenciesMicroseconds[0..<count].sorted()
        let i = min(count - 1, max(0, Int((q * Double(count - 1)).rounded())))
        return sorted[i]
    }

    /// The mean duration (µs), 0 when empty.
    public var meanMicroseconds: Double { ticks > 0 ? totalMicroseconds / Double(ticks) : 0 }

    /// The summary a report keeps.
    public var summary: DurationSummary {
        DurationSummary(p50Microseconds: percentile(0.5), p99Microseconds: percentile(0.99), maxMicroseconds: maxMicroseconds,
                        meanMicroseconds: meanMicroseconds, samples: ticks)
    }
}

/// Percentiles of one kind of duration over a run (µs).
public struct DurationSummary: Sendable, Equatable {
    /// Median (µs).
    public var p50Microseconds: Double
    /// 99th percentile (µs).
    public var p99Microseconds: Double
    /// Largest (µs).
    public var maxMicroseconds: Double
    /// Mean (µs).
    public var meanMicroseconds: Double
    /// Durations measured.
    public var samples: Int

    /// A summary of the given values.
    public init(p50Microseconds: Double = 0, p99Microseconds: Double = 0, maxMicroseconds: Double = 0, meanMicroseconds: Double = 0, samples: Int = 0) {
        self.p50Microseconds = p50Microseconds
        self.p99Microseconds = p99Microseconds
        self.maxMicroseconds = maxMicroseconds
        self.meanMicroseconds = meanMicroseconds
        self.samples = samples
    }
}
