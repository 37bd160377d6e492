#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Turns SIGINT and SIGTERM into something the loop polls, without a signal handler or global state.
///
/// `block()` blocks both signals in the calling thread (call it in `main` before starting threads, so
/// every thread inherits the mask); the loop then asks `pending()` once per tick, which takes a pending
/// signal with a zero-timeout `sigtimedwait`. A blocked signal cannot kill the process mid-write, so the
/// arm is always left holding and files closed cleanly.
public enum SignalMonitor {
    /// Blocks SIGINT and SIGTERM in the calling thread (and threads it creates afterwards).
    public static func block() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Restores default delivery of SIGINT and SIGTERM in the calling thread.
    public static func unblock() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Takes a pending SIGINT or SIGTERM, if any; returns its name. Never blocks.
    public static func pending() -> String? {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        let s = sigtimedwait(&set, nil, &zero)
        switch s {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return nil
        }
    }

    /// Waits up to `seconds` for SIGINT or SIGTERM; returns its name, or nil on timeout.
    public static func wait(seconds: Double) -> String? {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        let s = sigtimedwait(&set, nil, &ts)
        switch s {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return nil
        }
    }
}
