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

    /// The help for one command (or subcommand), with its usage line and options.
    static func command(_ c: any EngramCommand.Type, path: String) -> String {
        var usage = "engram \(path)"
        if !c.subcommands.isEmpty { usage += " <subcommand>" }
        for p in c.positionals {
            var s = "<\(p.name)>" + (p.repeating ? " ..." : "")
            if p.optional { s = "[\(s)]" }
            usage += " " + s
        }
        if !c.options.isEmpty { usage += " [options]" }
        var out = "\(c.abstract)\n\nUSAGE: \(usage)\n"
        if !c.discussion.isEmpty { out += "\n" + wrap(c.discussion, width: 100) + "\n" }
        if !c.positionals.isEmpty {
            out += "\nARGUMENTS:\n"
            for p in c.positionals { out += "  <\(p.name)>".padding(toLength: 28, withPad: " ", startingAt: 0) + p.abstract + "\n" }
        }
        if !c.subcommands.isEmpty {
            out += "\nSUBCOMMANDS:\n"
            for s in c.subcommands { out += "  \(s.name)".padding(toLength: 28, withPad: " ", startingAt: 0) + s.abstract + "\n" }
        }
        out += "\nOPTIONS:\n"
        for o in c.options {
            var left = "  " + (o.alias.map { "\($0), " } ?? "") + o.name
            if let p = o.placeholder { left += " <\(p)>" + (o.repeating ? " ..." : "") }
            var right = o.abstract
            if let choices = o.choices { right += " (\(choices.joined(separator: "|")))" }
            if left.count >= 28 { out += left + "\n" + String(repeating: " ", count: 28) + right + "\n" } else {
                out += left.padding(toLength: 28, withPad: " ", startingAt: 0) + right + "\n"
            }
        }
        out += "  -h, --help".padding(toLength: 28, withPad: " ", startingAt: 0) + "Show this help\n"
        return out
    }

    /// Re-flows each paragraph (lines separated by a blank line) to `width` columns; lines that start
    /// with "Example" or with spaces are kept as they are.
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
            if line.hasPrefix("Example") || line.hasPrefix(" ") || line.hasPrefix("-") { flush(); out.append(line); continue }
            paragraph.append(line)
        }
        flush()
        return out.joined(separator: "\n")
    }
}
