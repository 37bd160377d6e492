@preconcurrency import Foundation

/// Monotonic time in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Per-call times of `body`, in microseconds: `repeats` samples, each the mean over `inner` calls.
func sampleMicroseconds(repeats: Int = 31, inner: Int = 1, warmup: Int = 3, _ body: () -> Void) -> [Double] {
    for _ in 0..<warmup { body() }
    var samples: [Double] = []
    samples.reserveCapacity(repeats)
    for _ in 0..<repeats {
        let t0 = monotonicNanoseconds()
        for _ in 0..<inner { body() }
        let t1 = monotonicNanoseconds()
        samples.append(Double(t1 - t0) / 1000 / Double(inner))
    }
    return samples
}

/// The q-quantile (0...1) of `values` (nearest rank).
func quantile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let s = values.sorted()
    let i = min(s.count - 1, max(0, Int((q * Double(s.count - 1)).rounded())))
    return s[i]
}

/// Prints one JSON line: `{"bench": name, ...fields}` with keys in the given order. Every time is in
/// microseconds (keys ending `_us`); a line with its own `target_us` also says whether its `median_us`
/// is over it (`"over_target": true`).
func emit(_ name: String, _ fields: KeyValuePairs<String, Any>) {
    var parts = ["\"bench\": \(jsonValue(name))"]
    for (k, v) in fields { parts.append("\(jsonValue(k)): \(jsonValue(v))") }
    let numbers = Dictionary(fields.compactMap { k, v in (v as? Double).map { (k, $0) } }, uniquingKeysWith: { a, _ in a })
    if let median = numbers["median_us"], let target = numbers["target_us"] {
        parts.append("\"over_target\": \(median > target)")
    }
    print("{" + parts.joined(separator: ", ") + "}")
    fflush(stdout)
}

private func jsonValue(_ v: Any) -> String {
    switch v {
    case let s as String:
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    case let d as Double:
        if !d.isFinite { return "null" }
        return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(format: "%.6g", d)
    case let f as Float: return jsonValue(Double(f))
    case let i as Int: return String(i)
    case let b as Bool: return b ? "true" : "false"
    case let a as [Double]: return "[" + a.map { jsonValue($0) }.joined(separator: ", ") + "]"
    case let a as [Any]: return "[" + a.map { jsonValue($0) }.joined(separator: ", ") + "]"
    default: return "\"\(v)\""
    }
}
