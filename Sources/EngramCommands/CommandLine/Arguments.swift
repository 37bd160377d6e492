import Foundation
import Tensors

/// Arguments after parsing against a command's `OptionSpec`s.
struct ParsedArguments {
    /// The command path, e.g. `pcm characterize`, for messages.
    var commandPath: String
    /// Option values by option name (with dashes); flags map to an empty list.
    var values: [String: [String]] = [:]
    /// The typed values of options declared with a type (`Option<Value>`), by option name.
    var typed: [String: [Any]] = [:]
    /// Positional arguments, in order.
    var positionals: [String] = []
    /// The specs the arguments were parsed against.
    var specs: [OptionSpec] = []
    /// The executable, for messages and recorded command lines (`engram`, or `engram-cluster`).
    var program = "engram"
    /// The ranks of an `engram-cluster` job, which share the work; nil when one process does it all.
    var group: RankGroup? = nil

    /// Whether this process writes files and prints results: always, except on ranks other than 0.
    var isRoot: Bool { (group?.rank ?? 0) == 0 }

    /// Whether the flag or option was given.
    func has(_ name: String) -> Bool { values[name] != nil }
}

/// Splits and checks argv against a command's specs.
enum Arguments {
    /// Parses `tokens` (the words after the command) for `command`, then validates them: typed values,
    /// required options, the command's rules and modes. Nothing is loaded; every mistake is a `UsageError`.
    ///
    /// Accepts `--name value`, `--name=value`, repeated options, several values after a repeating
    /// option (`--target a.csv b.csv`), short aliases, and `--` to end options. `--help` and `-h` are
    /// handled by the caller before this is reached.
    static func parse(_ tokens: [String], for command: any EngramCommand.Type, path: String) throws -> ParsedArguments {
        var parsed = try split(tokens, for: command, path: path)
        try validate(parsed, for: command, path: path)
        parsed.specs = command.options
        return parsed
    }

    /// Whether `tokens` ask for help: `--help` or `-h` before any `--`.
    static func asksForHelp(_ tokens: [String]) -> Bool {
        for token in tokens {
            if token == "--" { return false }
            if token == "--help" || token == "-h" { return true }
        }
        return false
    }

    /// The first stage: words to option values (typed where the spec says how) and positionals.
    static func split(_ tokens: [String], for command: any EngramCommand.Type, path: String) throws -> ParsedArguments {
        var parsed = ParsedArguments(commandPath: path, specs: command.options)
        var i = 0
        var optionsEnded = false
        while i < tokens.count {
            let token = tokens[i]
            i += 1
            if optionsEnded || !token.hasPrefix("-") || token == "-" || isNegativeNumber(token) {
                parsed.positionals.append(token)
                continue
            }
            if token == "--" { optionsEnded = true; continue }
            var name = token
            var inlineValue: String? = nil
            if let eq = token.firstIndex(of: "="), token.hasPrefix("--") {
                name = String(token[..<eq])
                inlineValue = String(token[token.index(after: eq)...])
            }
            guard let spec = command.options.first(where: { $0.isSpelled(name) }) else {
                var message = "unknown option '\(name)' for 'engram \(path)'"
                if let near = nearest(name, among: command.options.map { $0.name }) { message += "; did you mean '\(near)'?" } else { message += "; see 'engram help \(path)'" }
                throw UsageError(message)
            }
            guard let placeholder = spec.placeholder else {
                if inlineValue != nil { throw UsageError("\(spec.name) is a flag and takes no value") }
                parsed.values[spec.name] = []
                continue
            }
            var given: [String] = []
            if let inlineValue {
                given.append(inlineValue)
            } else {
                guard i < tokens.count, tokens[i] != "--", !tokens[i].hasPrefix("--") || isNegativeNumber(tokens[i]) else {
                    throw UsageError("\(spec.name) <\(placeholder)> needs a value: \(spec.abstract)")
                }
                given.append(tokens[i]); i += 1
                if spec.repeating {
                    while i < tokens.count, !tokens[i].hasPrefix("-") { given.append(tokens[i]); i += 1 }
                }
            }
            var typed: [Any] = []
            for v in given {
                do { typed.append(try spec.convert?(v) ?? v) } catch let e as InvalidValue { throw UsageError("\(spec.synopsis): \(e.reason)") }
            }
            if spec.repeating {
                parsed.values[spec.name, default: []] += given
                parsed.typed[spec.name, default: []] += typed
            } else {
                parsed.values[spec.name] = given
                parsed.typed[spec.name] = typed
            }
        }
        let required = command.positionals.filter { !$0.optional }.count
        let allowsMany = command.positionals.contains { $0.repeating }
        if parsed.positionals.count < required {
            let missing = command.positionals[parsed.positionals.count]
            throw UsageError("missing <\(missing.name)>: \(missing.abstract); see 'engram help \(path)'")
        }
        if !allowsMany, parsed.positionals.count > command.positionals.count {
            throw UsageError("unexpected argument '\(parsed.positionals[command.positionals.count])' for 'engram \(path)'; see 'engram help \(path)'")
        }
        return parsed
    }

    /// The second stage: the command's mode, required options and rules.
    static func validate(_ parsed: ParsedArguments, for command: any EngramCommand.Type, path: String) throws {
        func synopsis(_ name: String) -> String { command.spec(name)?.synopsis ?? name }
        func missing(_ name: String) -> UsageError {
            UsageError("missing \(synopsis(name)): \(command.spec(name)?.abstract ?? "required"); see 'engram help \(path)'")
        }
        let modes = command.modes.filter { parsed.has($0.option) }
        if modes.count > 1 {
            throw UsageError("give \(modes.map { synopsis($0.option) }.joined(separator: " or ")), not both: each is a mode of 'engram \(path)'")
        }
        if let mode = modes.first {
            let allowed = Set(mode.takes + [mode.option])
            for spec in command.options where parsed.has(spec.name) && !allowed.contains(spec.name) {
                if let why = mode.refusals[spec.name] { throw UsageError(why) }
                let takes = mode.takes.map(synopsis).joined(separator: ", ")
                throw UsageError("\(synopsis(mode.option)) takes only \(takes); drop \(spec.name)")
            }
            for name in mode.requires where !parsed.has(name) { throw missing(name) }
            return
        }
        for spec in command.options where spec.required && !parsed.has(spec.name) { throw missing(spec.name) }
        for rule in command.rules {
            switch rule {
            case let .exclusive(names, message):
                let given = names.filter { parsed.has($0) }
                if given.count > 1 {
                    throw UsageError(message ?? "give \(given.joined(separator: " or ")), not both")
                }
            case let .oneOf(names, message):
                let given = names.filter { parsed.has($0) }
                if given.count > 1 {
                    throw UsageError("give \(given.joined(separator: " or ")), not both")
                }
                if given.isEmpty {
                    throw UsageError(message ?? "missing \(names.map(synopsis).joined(separator: " or ")); see 'engram help \(path)'")
                }
            case let .requires(name, others, message):
                if parsed.has(name), !others.contains(where: { parsed.has($0) }) {
                    throw UsageError(message ?? "\(synopsis(name)) needs \(others.map(synopsis).joined(separator: " or "))")
                }
            }
        }
    }

    static func isNegativeNumber(_ s: String) -> Bool {
        s.count > 1 && s.hasPrefix("-") && Double(s) != nil
    }

    /// The candidate nearest to `word` within an edit distance of 2 (or 3 for long words).
    static func nearest(_ word: String, among candidates: [String]) -> String? {
        let limit = word.count > 8 ? 3 : 2
        var best: (String, Int)? = nil
        for c in candidates {
            let d = editDistance(word, c)
            if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
