import Control
import Foundation
import Fuzzing
import Synchronization

/// `engram-bench fuzz [--inputs N] [--seed S] [decoder ...]`: fuzzes every decoder (default 1,000,000 inputs
/// each), one child process per decoder, and prints one JSON line per decoder: inputs, accepted, rejected,
/// crashes, hangs, findings, peak RSS (after the first tenth of the inputs and at the end: flat when memory
/// is bounded) and time. A crash or hang names the input; `engram-bench fuzz-input DECODER INDEX [SEED]`
/// prints that input as hex to reproduce it.
func runFuzz(_ arguments: [String]) -> Int32 {
    var inputs = 1_000_000
    var seed: UInt64 = 19
    var names: [String] = []
    var i = 0
    while i < arguments.count {
        switch arguments[i] {
        case "--inputs" where i + 1 < arguments.count: inputs = Int(arguments[i + 1]) ?? inputs; i += 2
        case "--seed" where i + 1 < arguments.count: seed = UInt64(arguments[i + 1]) ?? seed; i += 2
        default: names.append(arguments[i]); i += 1
        }
    }
    for name in names where FuzzTarget.named(name) == nil {
        printToStandardError("engram-bench fuzz: unknown decoder '\(name)'; decoders: \(FuzzTarget.all.map(\.name).joined(separator: ", "))\n")
        return 2
    }
    var status: Int32 = 0
    for target in FuzzTarget.all where names.isEmpty || names.contains(target.name) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        child.arguments = ["fuzz-child", target.name, String(inputs), String(seed)]
        let errors = Pipe()
        child.standardError = errors
        do { try child.run() } catch {
            printToStandardError("engram-bench fuzz: cannot start a child process (\(error))\n")
            return 1
        }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        if !text.isEmpty { printToStandardError(text) }
        if child.terminationReason == .uncaughtSignal || child.terminationStatus == 3 {
            // The child died (crash) or its watchdog ended it (hang): it printed no line of its own.
            let crashed = child.terminationReason == .uncaughtSignal
            let at = text.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
            emit("fuzz", ["decoder": target.name, "inputs": inputs, "crashes": crashed ? 1 : 0, "hangs": crashed ? 0 : 1,
                          "failing_input": at, "seed": Int(seed), "signal": crashed ? Int(child.terminationStatus) : 0])
            status = 1
        } else if child.terminationStatus != 0 {
            status = 1
        }
    }
    return status
}

/// The input being run, for the crash handler and the watchdog.
private let currentInput = Atomic<UInt64>(0)
/// A message buffer prepared before any crash (a signal handler must not allocate).
nonisolated(unsafe) private var crashMessage = UnsafeMutablePointer<UInt8>.allocate(capacity: 128)

/// Writes "crashed on input N" to stderr and re-raises the signal (async-signal-safe: no allocation).
private func installCrashHandler() {
    let handler: @convention(c) (Int32) -> Void = { sig in
        let prefix: StaticString = "engram-bench fuzz-child: crashed on input "
        var n = 0
        prefix.withUTF8Buffer { for b in $0 { crashMessage[n] = b; n += 1 } }
        var value = currentInput.load(ordering: .relaxed)
        var digits = 0
        var reversed: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &reversed) { r in
            repeat { r[digits] = UInt8(48 + value % 10); value /= 10; digits += 1 } while value > 0
            for k in stride(from: digits - 1, through: 0, by: -1) { crashMessage[n] = r[k]; n += 1 }
        }
        crashMessage[n] = 10
        _ = write(2, crashMessage, n + 1)
        signal(sig, SIG_DFL)
        raise(sig)
    }
    // The handler runs on a stack of its own, so that a stack overflow (SIGSEGV) is reported too.
    let size = 1 << 16
    var stack = stack_t()
    stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    stack.ss_size = size
    stack.ss_flags = 0
    sigaltstack(&stack, nil)
    for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        action.sa_flags = Int32(SA_ONSTACK)
        sigemptyset(&action.sa_mask)
        sigaction(sig, &action, nil)
    }
}

/// The child side: fuzzes one decoder and prints its JSON line; exit 1 on a finding, 3 on a hang.
func runFuzzChild(_ arguments: [String]) -> Int32 {
    guard arguments.count == 3, let target = FuzzTarget.named(arguments[0]), let inputs = UInt64(arguments[1]), let seed = UInt64(arguments[2]) else {
        printToStandardError("usage: engram-bench fuzz-child DECODER INPUTS SEED\n")
        return 2
    }
    installCrashHandler()
    // Watchdog: an input running for 10 s is a hang.
    let watchdog = Thread {
        var last = UInt64.max, since = 0
        while true {
            sleep(1)
            let now = currentInput.load(ordering: .relaxed)
            if now == last { since += 1 } else { last = now; since = 0 }
            if since >= 10 {
                printToStandardError("engram-bench fuzz-child: hang (10 s) on input \(now)\n")
                _exit(3)
            }
        }
    }
    watchdog.start()
    let tenth = max(1, inputs / 10)
    var report = Fuzzer.run(target, indices: 0..<tenth, seed: seed, starting: { currentInput.store($0, ordering: .relaxed) })
    let rssEarly = RealTimeScheduling.peakResidentBytes()
    let rest = Fuzzer.run(target, indices: tenth..<max(tenth, inputs), seed: seed, starting: { currentInput.store($0, ordering: .relaxed) })
    report.inputs += rest.inputs
    report.accepted += rest.accepted
    report.rejected += rest.rejected
    report.findingCount += rest.findingCount
    report.findings += rest.findings
    report.seconds += rest.seconds
    report.slowestInputSeconds = max(report.slowestInputSeconds, rest.slowestInputSeconds)
    let rss = RealTimeScheduling.peakResidentBytes()
    emit("fuzz", ["decoder": target.name, "inputs": report.inputs, "accepted": report.accepted, "rejected": report.rejected,
                  "crashes": 0, "hangs": 0, "findings": report.findingCount,
                  "max_rss_mb_after_10pct": Double(rssEarly) / 1_048_576, "max_rss_mb": Double(rss) / 1_048_576,
                  "duration_us": report.seconds * 1e6, "inputs_per_s": Double(report.inputs) / max(report.seconds, 1e-9),
                  "slowest_input_us": report.slowestInputSeconds * 1e6, "seed": Int(seed)])
    for f in report.findings.prefix(10) { printToStandardError("engram-bench fuzz: \(target.name) input \(f.index): \(f.message)\n") }
    return report.findingCount == 0 ? 0 : 1
}

/// `engram-bench fuzz-input DECODER INDEX [SEED]`: the bytes of one input, as hex, and the decoder's verdict.
func runFuzzInput(_ arguments: [String]) -> Int32 {
    guard arguments.count >= 2, let target = FuzzTarget.named(arguments[0]), let index = UInt64(arguments[1]) else {
        printToStandardError("usage: engram-bench fuzz-input DECODER INDEX [SEED]\n")
        return 2
    }
    let seed = arguments.count > 2 ? UInt64(arguments[2]) ?? 19 : 19
    let input = target.input(index, seed: seed)
    print(input.map { String(format: "%02x", $0) }.joined(separator: " "))
    print("verdict: \(target.verdict(on: input))")
    return 0
}

/// Writes `text` to standard error.
private func printToStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}
