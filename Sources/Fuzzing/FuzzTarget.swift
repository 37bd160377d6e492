import Foundation

/// What one fuzz input did to a decoder.
public enum FuzzVerdict: Sendable, Equatable {
    /// Decoded into a value.
    case accepted
    /// Refused with an error (the expected outcome for most inputs).
    case rejected
    /// Broke a property the decoder promises (a reply that does not decode, a buffer past its bound, a
    /// count that does not match its data): a bug, like a crash.
    case finding(String)
}

/// One decoder under fuzzing: its valid seeds, how a mutated input becomes the bytes fed to it (e.g. with
/// checksums repaired, so mutations reach past the checksum), and the decode with its checks.
public struct FuzzTarget: Sendable {
    /// Name, as `engram-bench fuzz` prints it.
    public let name: String
    /// Valid inputs mutated.
    public let seeds: [[UInt8]]
    /// Longest generated input.
    public let maximumLength: Int
    let assemble: @Sendable (_ mutated: [UInt8], _ index: UInt64) -> [UInt8]
    let check: @Sendable (_ input: [UInt8]) -> FuzzVerdict

    /// A target; `assemble` defaults to feeding the mutated bytes as they are.
    public init(name: String, seeds: [[UInt8]], maximumLength: Int = 65_536,
                assemble: @escaping @Sendable ([UInt8], UInt64) -> [UInt8] = { bytes, _ in bytes },
                check: @escaping @Sendable ([UInt8]) -> FuzzVerdict) {
        self.name = name
        self.seeds = seeds
        self.maximumLength = maximumLength
        self.assemble = assemble
        self.check = check
    }

    /// The bytes of input `index` under `seed` (the same every time).
    public func input(_ index: UInt64, seed: UInt64) -> [UInt8] {
        assemble(InputMutator(seeds: seeds, maximumLength: maximumLength, seed: seed).input(index), index)
    }

    /// Runs the decoder on input bytes.
    public func verdict(on input: [UInt8]) -> FuzzVerdict { check(input) }
}

/// The outcome of fuzzing one target.
public struct FuzzReport: Sendable {
    /// The target's name.
    public var name: String
    /// Inputs run.
    public var inputs = 0
    /// Inputs decoded into a value.
    public var accepted = 0
    /// Inputs refused with an error.
    public var rejected = 0
    /// Findings: input index and what broke (at most the first 10 are kept).
    public var findings: [(index: UInt64, message: String)] = []
    /// Total findings.
    public var findingCount = 0
    /// Longest time one input took (s).
    public var slowestInputSeconds = 0.0
    /// Wall time (s).
    public var seconds = 0.0
}

/// Runs fuzz campaigns.
public enum Fuzzer {
    /// Runs inputs `indices` of `target` under `seed`. `starting` is told each index before its input runs
    /// (for a watchdog that reports hangs and a crash handler that names the input).
    public static func run(_ target: FuzzTarget, indices: Range<UInt64>, seed: UInt64, starting: (UInt64) -> Void = { _ in }) -> FuzzReport {
        let mutator = InputMutator(seeds: target.seeds, maximumLength: target.maximumLength, seed: seed)
        var report = FuzzReport(name: target.name)
        let start = ContinuousClock.now
        for i in indices {
            starting(i)
            let input = target.assemble(mutator.input(i), i)
            let t0 = ContinuousClock.now
            let verdict = target.check(input)
            let elapsed = t0.duration(to: .now)
            let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            report.slowestInputSeconds = max(report.slowestInputSeconds, s)
            report.inputs += 1
            switch verdict {
            case .accepted: report.accepted += 1
            case .rejected: report.rejected += 1
            case .finding(let message):
                report.findingCount += 1
                if report.findings.count < 10 { report.findings.append((i, message)) }
            }
        }
        let total = start.duration(to: .now)
        report.seconds = Double(total.components.seconds) + Double(total.components.attoseconds) * 1e-18
        return report
    }
}
