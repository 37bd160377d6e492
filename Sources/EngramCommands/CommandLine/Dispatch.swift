#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Tensors

/// Routes argv to a command and maps errors to exit statuses in one place:
/// help → stdout, 0; usage errors → stderr, 2; runtime errors → stderr, 1.
public enum Dispatch {
    /// Runs `engram` with `argv` (without the program name); returns the exit status.
    public static func main(_ argv: [String]) -> Int32 {
        guard let first = argv.first else {
            print(Help.overview())
            return 0
        }
        switch first {
        case "--help", "-h":
            print(Help.overview())
            return 0
        case "--version", "version":
            print("engram \(Help.version)")
            return 0
        case "help":
            return help(Array(argv.dropFirst()))
        default:
            break
        }
        guard let command = Registry.commands.first(where: { $0.name == first }) else {
            var message = "engram: unknown command '\(first)'"
            if let near = Arguments.nearest(first, among: Registry.commands.map { $0.name }) {
                message += "; did you mean '\(near)'?"
            } else {
                message += "; run 'engram help' for the list"
            }
            printError(message)
            return 2
        }
        return run(command, path: first, Array(argv.dropFirst()))
    }

    /// Runs `command` with the words after its name. `program` names the executable in messages; `group`
    /// is the ranks of an `engram-cluster` job (nil for `engram`), handed to the command with the arguments.
    /// On a rank other than 0 usage errors are left to rank 0 (every rank parses the same words) and
    /// runtime errors name the rank.
    static func run(_ command: any EngramCommand.Type, path: String, _ tokens: [String], program: String = "engram",
                    group: RankGroup? = nil) -> Int32 {
        let rank = group?.rank ?? 0
        let prefix = rank == 0 ? "\(program) \(path)" : "\(program) \(path) (rank \(rank))"

        if let sub = tokens.first, !sub.hasPrefix("-"), !command.subcommands.isEmpty {
            guard let s = command.subcommands.first(where: { $0.name == sub }) else {
                var message = "engram \(path): unknown subcommand '\(sub)'"
                if let near = Arguments.nearest(sub, among: command.subcommands.map { $0.name }) { message += "; did you mean '\(near)'?" } else {
                    message += "; see 'engram help \(path)'"
                }
                printError(message)
                return 2
            }
            return run(s, path: path + " " + sub, Array(tokens.dropFirst()), program: program, group: group)
        }
        if Arguments.asksForHelp(tokens) {
            print(Help.command(command, path: path))
            return 0
        }
        do {
            var parsed = try Arguments.parse(tokens, for: command, path: path)
            parsed.group = group
            parsed.program = program
            if !command.subcommands.isEmpty && parsed.positionals.isEmpty && command.positionals.isEmpty && parsed.values.isEmpty {
                print(Help.command(command, path: path))
                return 0
            }
            return try command.run(parsed)
        } catch let e as UsageError {
            if rank == 0 { printError("\(prefix): \(e.message)") }
            return 2
        } catch let e as RuntimeError {
            printError("\(prefix): \(e.message)")
            return 1
        } catch {
            printError("\(prefix): \(error)")
            return 1
        }
    }

    static func help(_ words: [String]) -> Int32 {
        guard let name = words.first else {
            print(Help.overview())
            return 0
        }
        guard var command = Registry.commands.first(where: { $0.name == name }) else {
            var message = "engram help: unknown command '\(name)'"
            if let near = Arguments.nearest(name, among: Registry.commands.map { $0.name }) { message += "; did you mean '\(near)'?" }
            printError(message)
            return 2
        }
        var path = name
        for w in words.dropFirst() {
            guard let s = command.subcommands.first(where: { $0.name == w }) else {
                printError("engram help: '\(path)' has no subcommand '\(w)'")
                return 2
            }
            command = s
            path += " " + w
        }
        print(Help.command(command, path: path))
        return 0
    }
}

/// Writes one line to stderr.
func printError(_ message: String) {
    var line = message
    if !line.hasSuffix("\n") { line += "\n" }
    fputs(line, stderr)
}
