import Foundation

/// Renders help text from commands' static descriptions.
enum Help {
    static let version = "0.1.0"

    /// The top-level help: usage and the command list.
    static func overview() -> String {
        var out = """
            engram \(version): spiking-network arm control on emulated phase-change memory, with one-shot learning

            USAGE: engram <command> [options]

            COMMANDS:

            """
        let width = Registry.commands.map { $0.name.count }.max() ?? 10
        for c in Registry.commands {
            out += "  " + c.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + c.abstract + "\n"
        }
        out += """

            Run 'engram help <command>' or 'engram <command> --help' for a command's options.
            'engram --version' prints the version.
            """
        return out
    }

    /// The column where option and argument descriptions start.
    static let column = 28
    /// The width help text is wrapped to.
    static let width = 100

    /// The usage lines of a command: its main form (required options and `oneOf` groups shown, the rest
    /// as `[options]`), then one line per mode.
    static func usage(_ c: any EngramCommand.Type, path: String) -> [String] {
        usageWords(c, path: path).map { $0.joined(separator: " ") }
    }

    /// The usage lines as words (an `(a | b)` group is one word), for wrapping.
    static func usageWords(_ c: any EngramCommand.Type, path: String) -> [[String]] {
        let modeOptions = Set(c.modes.map(\.option))
        var words = ["engram \(path)"]
        if !c.subcommands.isEmpty { words.append("<subcommand>") }
        var shown = Set<String>()
        for o in c.options where !modeOptions.contains(o.name) {
            if o.required {
                words.append(o.synopsis + (o.repeating ? " ..." : "")); shown.insert(o.name)
            } else if let group = oneOfGroup(o.name, in: c), group.first == o.name {
                words.append("(" + group.map { c.spec($0)?.synopsis ?? $0 }.joined(separator: " | ") + ")")
                shown.formUnion(group)
            }
        }
        for p in c.positionals {
            var s = "<\(p.name)>" + (p.repeating ? " ..." : "")
            if p.optional { s = "[\(s)]" }
            words.append(s)
        }
        if c.options.contains(where: { !shown.contains($0.name) && !modeOptions.contains($0.name) }) { words.append("[options]") }
        var lines = [words]
        for mode in c.modes {
            var line = ["engram \(path)", c.spec(mode.option)?.synopsis ?? mode.option]
            line += mode.requires.map { c.spec($0)?.synopsis ?? $0 }
            if mode.takes.contains(where: { !mode.requires.contains($0) }) { line.append("[options]") }
            lines.append(line)
        }
        return lines
    }

    private static func oneOfGroup(_ name: String, in c: any EngramCommand.Type) -> [String]? {
        for rule in c.rules {
            if case let .oneOf(names, _) = rule, names.contains(name) { return names }
        }
        return nil
    }

    /// The help for one command (or subcommand), with its usage lines and options.
    static func command(_ c: any EngramCommand.Type, path: String) -> String {
        // Each usage line wrapped to the width, continuing under the first word after the command.
        let prefix = "USAGE: "
        var usageLines: [String] = []
        for words in usageWords(c, path: path) {
            let hanging = String(repeating: " ", count: words[0].count)
            var line = words[0]
            var onLine = 0
            for word in words.dropFirst() {
                if onLine > 0 && prefix.count + line.count + 1 + word.count > width {
                    usageLines.append(line)
                    line = hanging
                    onLine = 0
                }
                line += " " + word
                onLine += 1
            }
            usageLines.append(line)
        }
        var out = "\(capitalised(c.abstract))\n\n" + prefix + usageLines.joined(separator: "\n" + String(repeating: " ", count: prefix.count)) + "\n"
        if !c.discussion.isEmpty { out += "\n" + wrap(c.discussion, width: width) + "\n" }
        if !c.positionals.isEmpty {
            out += "\nARGUMENTS:\n"
            for p in c.positionals { out += row("  <\(p.name)>", p.abstract) }
        }
        if !c.subcommands.isEmpty {
            out += "\nSUBCOMMANDS:\n"
            for s in c.subcommands { out += row("  \(s.name)", s.abstract) }
        }
        let modeOptions = Set(c.modes.map(\.option))
        if !c.modes.isEmpty {
            out += "\nMODES (instead of the main work):\n"
            for o in c.options where modeOptions.contains(o.name) { out += option(o) }
        }
        out += "\nOPTIONS:\n"
        for o in c.options where !modeOptions.contains(o.name) { out += option(o) }
        out += row("  -h, --help", "Show this help")
        return out
    }

    /// One option's row: its spellings and placeholder, then its abstract with choices and default.
    static func option(_ o: OptionSpec) -> String {
        var left = "  " + (o.alias.map { "\($0), " } ?? "") + o.name
        if let p = o.placeholder { left += " <\(p)>" + (o.repeating ? " ..." : "") }
        var notes: [String] = []
        if let choices = o.choices, o.placeholder != choices.joined(separator: "|") { notes.append(choices.joined(separator: "|")) }
        if o.required { notes.append("required") }
        if let d = o.defaultDescription { notes.append("default: \(d)") }
        let right = capitalised(o.abstract) + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))")
        return row(left, right)
    }

    /// `left` padded to the description column, then `right` wrapped under it.
    static func row(_ left: String, _ right: String) -> String {
        let indent = String(repeating: " ", count: column)
        let lines = wrap(right, width: width - column).split(separator: "\n", omittingEmptySubsequences: false)
        var out = left.count >= column ? left + "\n" + indent : left.padding(toLength: column, withPad: " ", startingAt: 0)
        out += lines.joined(separator: "\n" + indent) + "\n"
        return out
    }

    /// `text` with its first letter in upper case.
    static func capitalised(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst()
    }

    /// Re-flows each paragraph (lines separated by a blank line) to `width` columns. Lines that start
    /// with "Example" or with spaces are kept as they are (commands to copy, tables); a line that starts
    /// with an option (`--sim runs ...`) is prose like any other and is wrapped.
    static func wrap(_ text: String, width: Int) -> String {
        var out: [String] = []
        var paragraph: [String] = []
        func flush() {
            guard !paragraph.isEmpty else { return }
            var line = ""
            for word in paragraph.joined(separator: " ").split(separator: " ") {
                if !line.isEmpty && line.count + 1 + word.count > width { out.append(line); line = "" }
                line += (line.isEmpty ? "" : " ") + word
            }
            if !line.isEmpty { out.append(line) }
            paragraph = []
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).isEmpty { flush(); out.append(""); continue }
            if line.hasPrefix("Example") || line.hasPrefix(" ") { flush(); out.append(line); continue }
            paragraph.append(line)
        }
        flush()
        return out.joined(separator: "\n")
    }
}
