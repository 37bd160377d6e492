/// A YAML reading or decoding failure: where it happened and what went wrong.
///
/// The error is data first (`file`, `mark`, `keyPath`, `problem`) and is rendered to text in one place,
/// `description`, as one line: `Robots/so101/robot.yaml:14:9: joints[2].limits_deg: expected 2 numbers, found 3`.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Problem: Sendable, Equatable {
        /// The file could not be read (the text says why).
        case unreadable(String)
        /// libyaml rejected the text (`yaml_parser_parse` failed); the text is libyaml's problem description.
        case syntax(String)
        /// The value has the wrong shape or type, e.g. expected "a number", found "a mapping".
        case typeMismatch(expected: String, found: String)
        /// A required key is absent from a mapping; `suggestion` is a present key that looks like a typo of it.
        case missingKey(String, suggestion: String?)
        /// A key that the decoded type does not know (strict mode), with the closest known key.
        case unknownKey(String, suggestion: String?)
        /// A value outside a fixed set (an enum's raw values), with the allowed values.
        case invalidValue(String, allowed: [String], suggestion: String?)
        /// A number that does not fit the target type.
        case outOfRange(String, type: String)
        /// The same key appears twice in one mapping; `first` is where it first appeared.
        case duplicateKey(String, first: YAMLMark)
        /// An alias (`*name`) refers to an anchor (`&name`) that was not defined before it.
        case undefinedAlias(String)
        /// A sequence ran out of items while the type wanted more.
        case sequenceTooShort(count: Int)
        /// Any other failure, typically thrown by a type's own `init(from:)` (its debug description).
        case invalid(String)
    }

    /// The file name shown in messages (as given by the caller, e.g. a relative path).
    public var file: String
    /// Where in the file, when known.
    public var mark: YAMLMark?
    /// The key path to the offending value, e.g. `joints[2].limits_deg`; empty for the document root.
    public var keyPath: String
    /// What went wrong.
    public var problem: Problem

    /// An error at `mark` in `file`.
    public init(file: String, mark: YAMLMark?, keyPath: String, problem: Problem) {
        self.file = file
        self.mark = mark
        self.keyPath = keyPath
        self.problem = problem
    }

    /// The line to show a user: `file:line:column: key.path: message`.
    public var description: String {
        var s = file
        if let mark { s += ":\(mark.line):\(mark.column)" }
        s += ": "
        if !keyPath.isEmpty { s += keyPath + ": " }
        return s + message
    }

    /// The message part alone, with the fix where one can be named.
    public var message: String {
        switch problem {
        case .unreadable(let why):
            return "cannot read the file: \(why)"
        case .syntax(let text):
            return "YAML syntax error: \(text)"
        case .typeMismatch(let expected, let found):
            return "expected \(expected), found \(found)"
        case .missingKey(let key, let suggestion):
            if let suggestion { return "missing key '\(key)' (found '\(suggestion)': did you mean '\(key)'?)" }
            return "missing key '\(key)'; add it"
        case .unknownKey(let key, let suggestion):
            if let suggestion { return "unknown key '\(key)'; did you mean '\(suggestion)'?" }
            return "unknown key '\(key)'; remove it or check the spelling"
        case .invalidValue(let value, let allowed, let suggestion):
            var s = "invalid value '\(value)'"
            if let suggestion { s += "; did you mean '\(suggestion)'?" }
            if !allowed.isEmpty { s += " (allowed: \(allowed.joined(separator: ", ")))" }
            return s
        case .outOfRange(let value, let type):
            return "\(value) is out of range for \(type)"
        case .duplicateKey(let key, let first):
            return "duplicate key '\(key)' (first defined at \(first)); keep only one"
        case .undefinedAlias(let name):
            return "alias '*\(name)' refers to no anchor '&\(name)' defined before it"
        case .sequenceTooShort(let count):
            return "expected more items, the sequence has only \(count)"
        case .invalid(let text):
            return text
        }
    }

    /// The candidate closest to `word`, if it is a plausible typo: at most a third of the word's length in
    /// edits (adjacent swaps count as one; at least one edit allowed for words of 3 or more characters), or
    /// one extends the other (`baudrate` for `baud`, `feetech` for `feetech-sts`).
    public static func closestMatch(to word: String, among candidates: some Sequence<String>) -> String? {
        let w = word.lowercased()
        let limit = w.count < 3 ? 0 : max(1, w.count / 3)
        var best: (String, Int)?
        for c in candidates where c != word {
            let l = c.lowercased()
            let d = editDistance(w, l)
            let extends = min(w.count, l.count) >= 3 && (w.hasPrefix(l) || l.hasPrefix(w))
            guard d <= limit || extends else { continue }
            if let current = best, current.1 <= d { continue }
            best = (c, d)
        }
        return best?.0
    }

    /// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), by Unicode scalar.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }
}
