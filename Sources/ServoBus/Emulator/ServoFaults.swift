/// Faults the emulator injects into one servo's replies (each reply draws from the servo's seeded generator).
public struct ServoFaults: Sendable, Equatable, CustomStringConvertible {
    /// Probability that a reply is not sent at all.
    public var dropProbability: Double
    /// Probability that one bit of a reply is flipped (so its CRC/checksum fails).
    public var corruptProbability: Double
    /// Probability that a reply is cut short (a random proper prefix is sent).
    public var truncateProbability: Double
    /// Extra delay before a reply, in milliseconds (applied with `delayProbability`).
    public var delayMs: Double
    /// Probability that `delayMs` applies to a reply (default 1: always).
    public var delayProbability: Double
    /// The servo stops answering altogether.
    public var silent: Bool

    /// Creates a fault set (all off by default).
    public init(drop: Double = 0, corrupt: Double = 0, truncate: Double = 0, delayMs: Double = 0, delayProbability: Double = 1,
                silent: Bool = false) {
        self.dropProbability = drop
        self.corruptProbability = corrupt
        self.truncateProbability = truncate
        self.delayMs = delayMs
        self.delayProbability = delayProbability
        self.silent = silent
    }

    /// No faults.
    public static let none = ServoFaults()

    /// Whether any fault is set.
    public var isEmpty: Bool { self == .none }

    /// The spec that parses back to this value.
    public var description: String {
        var parts: [String] = []
        if dropProbability > 0 { parts.append("drop=\(dropProbability)") }
        if corruptProbability > 0 { parts.append("corrupt=\(corruptProbability)") }
        if truncateProbability > 0 { parts.append("truncate=\(truncateProbability)") }
        if delayMs > 0 { parts.append("delay_ms=\(delayMs)") }
        if delayProbability < 1 { parts.append("delay=\(delayProbability)") }
        if silent { parts.append("silent") }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }

    /// The keys a fault spec may use.
    public static let specKeys = ["drop", "corrupt", "truncate", "delay_ms", "delay", "silent"]

    /// Parses `drop=0.01,corrupt=0.01,truncate=0.01,delay_ms=2,delay=0.5,silent` (any subset, or `none`).
    public init(spec: String) throws(FaultSpecError) {
        self.init()
        if spec == "none" || spec.isEmpty { return }
        for item in spec.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0]
            if key == "silent" || key == "stop" {
                guard parts.count == 1 || parts[1] == "1" || parts[1] == "true" else {
                    throw FaultSpecError(spec: spec, problem: "'\(item)': silent takes no value")
                }
                silent = true
                continue
            }
            guard parts.count == 2, let v = Double(parts[1]), v.isFinite, v >= 0 else {
                throw FaultSpecError(spec: spec, problem: "'\(item)' needs a non-negative number, e.g. \(key)=0.01")
            }
            let isProbability = key != "delay_ms"
            if isProbability && v > 1 { throw FaultSpecError(spec: spec, problem: "'\(item)': a probability must be in 0...1") }
            switch key {
            case "drop": dropProbability = v
            case "corrupt": corruptProbability = v
            case "truncate": truncateProbability = v
            case "delay_ms": delayMs = v
            case "delay": delayProbability = v
            default:
                throw FaultSpecError(spec: spec, problem: "unknown fault '\(key)'; use \(Self.specKeys.joined(separator: ", "))")
            }
        }
    }
}

/// A fault spec that does not parse.
public struct FaultSpecError: Error, Sendable, CustomStringConvertible {
    /// The whole spec.
    public var spec: String
    /// What is wrong and how to fix it.
    public var problem: String
    /// One line.
    public var description: String { "fault spec '\(spec)': \(problem)" }
}

/// Faults for a whole bus: a default for every servo plus per-servo overrides.
public struct FaultPlan: Sendable, Equatable {
    /// Faults for servos without an override.
    public var all: ServoFaults
    /// Per-servo overrides.
    public var perServo: [UInt8: ServoFaults]

    /// Creates a plan.
    public init(all: ServoFaults = .none, perServo: [UInt8: ServoFaults] = [:]) {
        self.all = all
        self.perServo = perServo
    }

    /// The faults for servo `id`.
    public func faults(for id: UInt8) -> ServoFaults { perServo[id] ?? all }

    /// Parses specs such as `drop=0.01,delay_ms=2` (all servos) or `3:silent` / `2,4:corrupt=0.5` (those servos).
    public init(specs: [String]) throws(FaultSpecError) {
        self.init()
        for spec in specs {
            if let colon = spec.firstIndex(of: ":") {
                let idText = spec[..<colon]
                let faults = try ServoFaults(spec: String(spec[spec.index(after: colon)...]))
                for part in idText.split(separator: ",") {
                    guard let id = UInt8(part), id <= 253 else {
                        throw FaultSpecError(spec: spec, problem: "'\(part)' is not a servo ID (0...253)")
                    }
                    perServo[id] = faults
                }
            } else {
                all = try ServoFaults(spec: spec)
            }
        }
    }
}
