import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Optional real-time settings for a loop on a real arm: SCHED_FIFO priority and locked memory.
///
/// Both need privileges (CAP_SYS_NICE / CAP_IPC_LOCK, or an rtprio / memlock limit in
/// /etc/security/limits.conf); without them the loop runs at normal priority and each request comes
/// back as a warning that says how to allow it.
public enum RealTimeScheduling {
    /// Asks for SCHED_FIFO at `priority` (1…99) for the calling thread (threads it creates later inherit it)
    /// and, with `lockMemory`, locks the memory mapped now (`mlock` per mapping, large read-only data
    /// excepted) so page faults cannot stall a tick: call it once the loop's buffers exist. `lockFutureAllocations` adds `MCL_FUTURE`, which also pins every later thread
    /// stack and malloc arena (the resident size of `engram run` grows from about 33 to about 80 MB).
    /// Returns one warning line per request that was refused (empty when all were granted).
    public static func request(priority: Int32 = 80, lockMemory: Bool = true, lockFutureAllocations: Bool = false) -> [String] {
        var warnings: [String] = []
        var parameters = sched_param()
        parameters.sched_priority = max(1, min(priority, 99))
        if sched_setscheduler(0, SCHED_FIFO, &parameters) != 0 {
            let reason = String(cString: strerror(errno))
            warnings.append("real-time priority (SCHED_FIFO \(parameters.sched_priority)) not permitted (\(reason)); running at normal priority. Allow it with CAP_SYS_NICE or an rtprio limit in /etc/security/limits.conf")
        }
        if lockMemory {
            let failure = lockFutureAllocations ? (mlockall(MCL_CURRENT | MCL_FUTURE) == 0 ? nil : errno) : lockMappingsExceptLargeReadOnlyData()
            if let failure {
                let reason = String(cString: strerror(failure))
                warnings.append("memory locking (mlock) not permitted (\(reason)); page faults may delay ticks. Allow it with CAP_IPC_LOCK or a memlock limit in /etc/security/limits.conf")
            }
        }
        return warnings
    }

    /// Locks every current mapping (`mlock`) except read-only file mappings over 16 MB: that is ICU's 36 MB
    /// of tables (linked into lib_FoundationICU.so's text segment), which the loop never touches and
    /// `mlockall` would pin, more than doubling the resident size; every Swift and C library's code is smaller. Returns the errno of the first refusal, or nil.
    static func lockMappingsExceptLargeReadOnlyData() -> Int32? {
        guard let file = fopen("/proc/self/maps", "r") else { return errno }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        var failure: Int32? = nil
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { continue }
            let permissions = fields[1]
            let isFile = fields.count >= 6 && fields[5].hasPrefix("/")
            if permissions.hasPrefix("---") { continue }  // guard pages and reserved address space
            if isFile && !permissions.contains("w") && end - start > 16 << 20 { continue }
            if fields.count >= 6 && (fields[5].hasPrefix("[vvar") || fields[5].hasPrefix("[vsyscall")) { continue }
            if mlock(UnsafeRawPointer(bitPattern: start), Int(end - start)) != 0, failure == nil { failure = errno }
        }
        return failure
    }

    /// Peak resident memory of this process so far (bytes), from `getrusage(RUSAGE_SELF).ru_maxrss`.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024
    }

    /// Resident memory of this process now (bytes), from `/proc/self/statm`; 0 where it cannot be read.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }
}
