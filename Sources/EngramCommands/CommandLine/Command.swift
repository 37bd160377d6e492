/// One `engram` command: its static description (rendered by `help`) and how it runs.
///
/// Each command lives in its own file under Sources/EngramCommands/Commands and is listed once in
/// `Registry.commands`. It declares its options with their types (`Option<Value>`, `DefaultedOption`,
/// `Flag`: default, choices and range in one place), how they go together (`rules`) and any other modes
/// (`modes`). Parsing, validation and running are separate: `Arguments.parse` turns argv into typed
/// `ParsedArguments` and checks them before anything is loaded (throwing `UsageError`), then `run` does
/// the work (throwing `RuntimeError`); `Dispatch` maps both to exit statuses in one place.
protocol EngramCommand: Sendable {
    /// The word after `engram` (for a subcommand, the word after its parent).
    static var name: String { get }
    /// One line for the command list.
    static var abstract: String { get }
    /// Paragraphs shown by `engram help <command>`.
    static var discussion: String { get }
    /// The options the command takes (`--help` is implicit).
    static var options: [OptionSpec] { get }
    /// Positional arguments, for the usage line and for checking their count.
    static var positionals: [PositionalSpec] { get }
    /// Subcommands, for commands such as `engram pcm characterize`.
    static var subcommands: [any EngramCommand.Type] { get }
    /// How options go together (at most one of, exactly one of, one needs another), checked at parse time.
    static var rules: [OptionRule] { get }
    /// Other things the command does instead of its main work, each chosen by an option (`meta-train --export`).
    static var modes: [CommandMode] { get }
    /// Runs with parsed arguments; returns the exit status.
    static func run(_ arguments: ParsedArguments) throws -> Int32
}

extension EngramCommand {
    static var discussion: String { "" }
    static var options: [OptionSpec] { [] }
    static var positionals: [PositionalSpec] { [] }
    static var subcommands: [any EngramCommand.Type] { [] }
    static var rules: [OptionRule] { [] }
    static var modes: [CommandMode] { [] }
}

extension EngramCommand {
    /// The spec of `name` (or nil).
    static func spec(_ name: String) -> OptionSpec? { options.first { $0.name == name } }
}

/// An option as help and parsing see it: `--name <placeholder>` takes a value, `--name` alone is a flag.
/// Commands declare options with a type (`Option<Value>`, `DefaultedOption<Value>`, `Flag`) and list
/// their `spec`s; the type's parser, choices and default end up here.
struct OptionSpec: Sendable {
    /// The spelling with dashes, e.g. `--rate`.
    var name: String
    /// The value's placeholder, e.g. `hz`; nil for a flag.
    var placeholder: String?
    /// What the option does, one line.
    var abstract: String
    /// Allowed values, when the value is one of a fixed set.
    var choices: [String]? = nil
    /// Whether the option may be given more than once or take several values (`--target A B`).
    var repeating: Bool = false
    /// A short alias, e.g. `-o`.
    var alias: String? = nil
    /// Whether the command cannot run without it (shown in the usage line, checked at parse time).
    var required: Bool = false
    /// The default as help prints it ("90", "all cores"); nil when there is none.
    var defaultDescription: String? = nil
    /// Spellings that keep working but help does not show (`--output` for `--out`).
    var hiddenAliases: [String] = []
    /// Turns one word into the typed value (throwing `InvalidValue`); nil keeps the word as a string.
    var convert: (@Sendable (String) throws -> Any)? = nil

    /// `--name <placeholder>` as usage lines and messages show it.
    var synopsis: String { placeholder.map { "\(name) <\($0)>" } ?? name }

    /// Whether `word` names this option.
    func isSpelled(_ word: String) -> Bool { word == name || word == alias || hiddenAliases.contains(word) }

    /// A flag's spec (typed declarations use `Flag`).
    static func flag(_ name: String, _ abstract: String) -> OptionSpec {
        OptionSpec(name: name, placeholder: nil, abstract: abstract)
    }
}

/// How a command's options go together, checked by `Arguments.parse` before the command runs.
enum OptionRule: Sendable {
    /// At most one of these options; `message` replaces the default wording.
    case exclusive([String], message: String? = nil)
    /// Exactly one of these options (shown in the usage line as `(--port <path> | --sim)`); `message`
    /// replaces the wording when none is given.
    case oneOf([String], message: String? = nil)
    /// `option` needs one of `anyOf`; `message` says why.
    case requires(String, anyOf: [String], message: String? = nil)
}

/// Another thing a command does instead of its main work, chosen by one option (`meta-train --export <file>`):
/// it takes only `takes` besides, and the main work's required options and rules do not apply.
struct CommandMode: Sendable {
    /// The option that selects the mode.
    var option: String
    /// The options the mode takes besides its own.
    var takes: [String]
    /// Those of `takes` it cannot do without.
    var requires: [String] = []
    /// Why the mode refuses an option it does not take, where a reason says more than the list of `takes`.
    var refusals: [String: String] = [:]
}

/// A positional argument.
struct PositionalSpec: Sendable {
    var name: String
    var abstract: String
    var optional: Bool = false
    var repeating: Bool = false
}

/// A mistake in how the command was called: one line on stderr, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}

/// A failure while running (bad file, port error, ...): one line on stderr, exit status 1.
struct RuntimeError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}
