#if canImport(Glibc)
import Glibc
#endif

/// Paces a loop to absolute deadlines on CLOCK_MONOTONIC with `clock_nanosleep(TIMER_ABSTIME)`.
///
/// Each deadline is the previous one plus the period, so sleep jitter does not accumulate. When a tick
/// overruns (the next deadline has already passed), the missed cycles are counted and the schedule
/// skips ahead to the next future deadline instead of bursting to catch up (as ros2_control's
/// controller manager does).
public struct LoopPacer: Sendable {
    /// Period in nanoseconds.
    public let periodNanoseconds: UInt64
    /// The next deadline (CLOCK_MONOTONIC ns).
    public private(set) var nextDeadline: UInt64
    /// Ticks whose work ran past their deadline.
    public private(set) var overruns = 0
    /// Whole periods skipped because of overruns.
    public private(set) var missedCycles = 0

    /// A pacer at `rateHz`, its first deadline one period from now.
    public init(rateHz: Double) {
        precondition(rateHz > 0 && rateHz.isFinite, "rate must be positive")
        periodNanoseconds = UInt64((1e9 / rateHz).rounded())
        nextDeadline = LoopPacer.now() + periodNanoseconds
    }

    /// Now on CLOCK_MONOTONIC, in nanoseconds.
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Restarts the schedule: the next deadline is one period from now.
    public mutating func restart() { nextDeadline = LoopPacer.now() + periodNanoseconds }

    /// Sleeps until the next deadline (or returns at once after an overrun, counting it), then advances
    /// the deadline. Returns true when this tick overran.
    @discardableResult
    public mutating func waitForNextTick() -> Bool {
        let now = LoopPacer.now()
        var overran = false
        if now > nextDeadline {
            overran = true
            overruns += 1
            let behind = (now - nextDeadline) / periodNanoseconds
            missedCycles += Int(behind)
            nextDeadline += behind * periodNanoseconds
        } else {
            var ts = timespec(tv_sec: Int(nextDeadline / 1_000_000_000), tv_nsec: Int(nextDeadline % 1_000_000_000))
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
        }
        nextDeadline += periodNanoseconds
        return overran
    }
}

/// Per-tick latencies (read → write) kept in a preallocated buffer; percentiles at the end.
public struct TickStatistics: Sendable {
    private var latenciesMicroseconds: [Double]
    private var count = 0
    /// Ticks recorded (may exceed the buffer; percentiles then use the first `capacity`).
    public private(set) var ticks = 0
    /// Largest latency seen (µs), over all ticks.
    public private(set) var maxMicroseconds = 0.0

    /// Room for `capacity` samples, allocated once.
    public init(capacity: Int) {
        latenciesMicroseconds = [Double](repeating: 0, count: max(1, capacity))
    }

    /// Records one tick's latency in nanoseconds. No allocation.
    public mutating func record(nanoseconds: UInt64) {
        let us = Double(nanoseconds) / 1000
        ticks += 1
        maxMicroseconds = max(maxMicroseconds, us)
        if count < latenciesMicroseconds.count {
            latenciesMicroseconds[count] = us
            count += 1
        }
    }

    /// The q-quantile (0...1) of recorded latencies in µs (nearest rank), 0 when empty.
    public func percentile(_ q: Double) -> Double {
        guard count > 0 else { return 0 }
        let sorted = latenciesMicroseconds[0..<count].sorted()
        let i = min(count - 1, max(0, Int((q * Double(count - 1)).rounded())))
        return sorted[i]
    }
}
