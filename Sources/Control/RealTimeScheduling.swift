#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Optional real-time settings for a loop on a real arm: SCHED_FIFO priority and locked memory.
///
/// Both need privileges (CAP_SYS_NICE / CAP_IPC_LOCK, or an rtprio / memlock limit in
/// /etc/security/limits.conf); without them the loop runs at normal priority and each request comes
/// back as a warning that says how to allow it.
public enum RealTimeScheduling {
    /// Asks for SCHED_FIFO at `priority` (1…99) for the calling thread's process and, with `lockMemory`,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE)` so page faults cannot stall a tick. Returns one warning line per
    /// request that was refused (empty when both were granted).
    public static func request(priority: Int32 = 80, lockMemory: Bool = true) -> [String] {
        var warnings: [String] = []
        var parameters = sched_param()
        parameters.sched_priority = max(1, min(priority, 99))
        if sched_setscheduler(0, SCHED_FIFO, &parameters) != 0 {
            let reason = String(cString: strerror(errno))
            warnings.append("real-time priority (SCHED_FIFO \(parameters.sched_priority)) not permitted (\(reason)); running at normal priority. Allow it with CAP_SYS_NICE or an rtprio limit in /etc/security/limits.conf")
        }
        if lockMemory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0 {
            let reason = String(cString: strerror(errno))
            warnings.append("memory locking (mlockall) not permitted (\(reason)); page faults may delay ticks. Allow it with CAP_IPC_LOCK or a memlock limit in /etc/security/limits.conf")
        }
        return warnings
    }

    /// Peak resident memory of this process so far (bytes), from `getrusage(RUSAGE_SELF).ru_maxrss`.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
    }
}
