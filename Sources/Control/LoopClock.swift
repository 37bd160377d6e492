#if canImport(Glibc)
import Glibc
#endif

/// The one clock a control loop keeps time by: a monotonic clock and a way to sleep to an absolute deadline.
///
/// Everything time-dependent in a run reads this clock through the loop: the pacer sleeps on it, each tick
/// is timed on it, and the policy and the arm get the tick's time and measured period from the loop (they
/// never read a clock themselves), so simulated and wall time share one code path. `MonotonicClock` is
/// the real one (CLOCK_MONOTONIC with `clock_nanosleep(TIMER_ABSTIME)`); `ManualClock` is advanced by hand
/// or by sleeping, for simulated runs and deterministic tests.
public protocol LoopClock: AnyObject {
    /// Now, in nanoseconds since an arbitrary fixed origin; never decreases.
    func now() -> UInt64
    /// Returns once `now() >= deadline` (nanoseconds on this clock); at once when the deadline has passed.
    func sleep(until deadline: UInt64)
}

/// The system's monotonic clock: CLOCK_MONOTONIC, and sleeps to absolute deadlines with
/// `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ...)`, so sleep jitter does not accumulate.
public final class MonotonicClock: LoopClock, Sendable {
    /// The system clock (stateless; any instance is as good as another).
    public init() {}

    /// Now on CLOCK_MONOTONIC (ns). The corresponding C call is `clock_gettime(CLOCK_MONOTONIC)`.
    public func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Sleeps to `deadline` on CLOCK_MONOTONIC, retrying after a signal (`EINTR`).
    public func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}

/// A clock that moves only when told: `advance(by:)`, or a `sleep(until:)` that jumps straight to its
/// deadline. A loop on it runs as fast as the CPU goes, with every tick exactly one period after the
/// previous one (simulated time); a test moves it inside an arm's `read` to make a tick overrun.
/// Not thread-safe: one loop and its test own it.
public final class ManualClock: LoopClock {
    /// Now (ns).
    public private(set) var nanoseconds: UInt64

    /// A clock at `nanoseconds` (default 0).
    public init(nanoseconds: UInt64 = 0) { self.nanoseconds = nanoseconds }

    /// Now (ns).
    public func now() -> UInt64 { nanoseconds }

    /// Jumps to `deadline` if it is later than now.
    public func sleep(until deadline: UInt64) { nanoseconds = max(nanoseconds, deadline) }

    /// Moves the clock forward by `duration` nanoseconds (work that takes time).
    public func advance(by duration: UInt64) { nanoseconds += duration }

    /// Moves the clock forward by `seconds` (rounded to whole nanoseconds).
    public func advance(seconds: Double) {
        precondition(seconds >= 0 && seconds.isFinite, "a clock only moves forward")
        nanoseconds += UInt64((seconds * 1e9).rounded())
    }
}
