import Foundation

/// The one JSON printer of the commands' `--json` output.
///
/// JSON has no NaN or infinity, so a figure that is not finite cannot be printed as a number. Rather than
/// print nothing useful (`{}`) or invalid JSON (`nan`), such a figure becomes `null`, the other figures are
/// printed as they are, and the command fails (exit 1) with one line on stderr naming each null figure:
/// a script still gets every finite number, and cannot mistake a diverged result for a good one.
enum JSONOutput {
    /// `object` as one line of JSON with sorted keys, and the paths (`tasks[0].loss_after`) of the
    /// non-finite numbers written as null.
    static func render(_ object: Any) -> (text: String, nonFinite: [String]) {
        var nonFinite: [String] = []
        let clean = sanitized(object, path: "", nonFinite: &nonFinite)
        guard let data = try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            // Only values JSON cannot hold at all reach here (a programming error): say so, as valid JSON.
            return ("{\"error\": \"unencodable result\"}", ["(the whole result)"])
        }
        return (String(decoding: data, as: UTF8.self), nonFinite)
    }

    /// Prints `object` (see `render`); throws, after printing, when a figure was not finite.
    static func print(_ object: Any, to write: (String) -> Void = { Swift.print($0) }) throws {
        let (text, nonFinite) = render(object)
        write(text)
        if !nonFinite.isEmpty {
            throw RuntimeError("not finite, printed as null: \(nonFinite.joined(separator: ", ")); the computation diverged, so the result is not usable (check the inputs lie within their bounds)")
        }
    }

    private static func sanitized(_ value: Any, path: String, nonFinite: inout [String]) -> Any {
        switch value {
        case let d as Double:
            if d.isFinite { return d }
            nonFinite.append(path)
            return NSNull()
        case let f as Float:
            if f.isFinite { return f }
            nonFinite.append(path)
            return NSNull()
        case let dictionary as [String: Any]:
            var out: [String: Any] = [:]
            for key in dictionary.keys.sorted() {
                out[key] = sanitized(dictionary[key]!, path: path.isEmpty ? key : "\(path).\(key)", nonFinite: &nonFinite)
            }
            return out
        case let array as [Any]:
            return array.enumerated().map { sanitized($0.element, path: "\(path)[\($0.offset)]", nonFinite: &nonFinite) }
        default:
            return value
        }
    }
}
