import Foundation

/// Why a word is not a value of an option, e.g. "'fast' is not a whole number". `Arguments.parse`
/// prefixes it with `--option <placeholder>: `.
struct InvalidValue: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// A type an option's value can have: parsed from one word at parse time, so a bad value is a usage
/// error before anything is loaded.
protocol OptionValue: Sendable {
    /// The value `text` spells, or `InvalidValue` saying why it is none.
    static func parse(_ text: String) throws -> Self
    /// The allowed spellings, when the value is one of a fixed set (printed once in help).
    static var choices: [String]? { get }
    /// The value as help prints it after "default:".
    var helpDescription: String { get }
}

extension OptionValue {
    static var choices: [String]? { nil }
    var helpDescription: String { "\(self)" }
}

extension String: OptionValue {
    static func parse(_ text: String) throws -> String { text }
}

extension Int: OptionValue {
    /// A whole number; `1_000` is accepted.
    static func parse(_ text: String) throws -> Int {
        guard let v = Int(text.replacingOccurrences(of: "_", with: "")) else { throw InvalidValue("'\(text)' is not a whole number") }
        return v
    }
}

extension UInt64: OptionValue {
    /// A seed: a non-negative whole number.
    static func parse(_ text: String) throws -> UInt64 {
        guard let v = UInt64(text) else { throw InvalidValue("'\(text)' is not a non-negative whole number") }
        return v
    }
}

extension Double: OptionValue {
    /// A finite number (`1e-3`, `0.5`).
    static func parse(_ text: String) throws -> Double {
        guard let v = Double(text), v.isFinite else { throw InvalidValue("'\(text)' is not a number") }
        return v
    }
    var helpDescription: String { RobotFiles.number(self) }
}

/// A value that is one of a fixed set of words, such as a PCM model or `on`/`off`.
protocol ChoiceValue: OptionValue, CaseIterable, RawRepresentable where RawValue == String {}

extension ChoiceValue {
    static func parse(_ text: String) throws -> Self {
        guard let v = Self(rawValue: text) else {
            throw InvalidValue("'\(text)' is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }
    static var choices: [String]? { allCases.map(\.rawValue) }
    var helpDescription: String { rawValue }
}

/// `on` or `off`, for options such as `--quantize on|off`.
enum Switch: String, ChoiceValue {
    case on, off
    /// Whether it is `on`.
    var isOn: Bool { self == .on }
}

/// A robot named as every command names it: `so101` (a folder of Robots/) or a path (`Robots/so101`,
/// a folder with robot.yaml, or the robot.yaml itself). Resolved at parse time, so an unknown robot is a
/// usage error that lists the known ones.
struct RobotReference: OptionValue, Equatable {
    /// The words as given.
    var given: String
    /// The robot's folder (or robot.yaml) as found.
    var directory: String

    static func parse(_ text: String) throws -> RobotReference {
        guard let directory = ResourceLocator.robotDirectory(text) else {
            let known = ResourceLocator.knownRobots()
            let list = known.isEmpty ? "" : "known robots: \(known.joined(separator: ", ")); "
            throw InvalidValue("no robot '\(text)'; \(list)or give a folder with a robot.yaml")
        }
        return RobotReference(given: text, directory: directory)
    }
    var helpDescription: String { given }
}

/// A comma-separated list of values (`--pcm off,paper`, `--disturbances push,payload`).
struct CommaList<Element: OptionValue>: OptionValue {
    var elements: [Element]
    init(_ elements: [Element]) { self.elements = elements }

    static func parse(_ text: String) throws -> CommaList {
        CommaList(try text.split(separator: ",", omittingEmptySubsequences: false).map { try Element.parse(String($0)) })
    }
    static var choices: [String]? { Element.choices }
    var helpDescription: String { elements.map(\.helpDescription).joined(separator: ",") }
}

/// An option declared with its type: parsing turns its word into a `Value` (checking choices and range)
/// before the command runs; `arguments[option]` reads it back, nil when it was not given.
struct Option<Value: OptionValue>: Sendable {
    /// The untyped description help and parsing work from.
    var spec: OptionSpec

    /// `--name <placeholder>`: `abstract` is one line, capitalised; `defaultNote` describes a default the
    /// command computes (e.g. "the robot's control rate"); `check` refuses values outside a valid set.
    init(_ name: String, _ placeholder: String, _ abstract: String, alias: String? = nil, required: Bool = false,
         repeating: Bool = false, defaultNote: String? = nil, check: (@Sendable (Value) -> String?)? = nil) {
        spec = OptionSpec(name: name, placeholder: placeholder, abstract: abstract, choices: Value.choices, repeating: repeating,
                          alias: alias, required: required, defaultDescription: defaultNote)
        spec.convert = { text in
            let value = try Value.parse(text)
            if let check, let why = check(value) { throw InvalidValue(why) }
            return value
        }
    }

    /// A value that must lie in `range`.
    init(_ name: String, _ placeholder: String, _ abstract: String, in range: ClosedRange<Value>, alias: String? = nil,
         required: Bool = false, defaultNote: String? = nil) where Value: Comparable {
        self.init(name, placeholder, abstract, alias: alias, required: required, defaultNote: defaultNote) { v in
            range.contains(v) ? nil : "\(v) is out of range; use \(range.lowerBound)...\(range.upperBound)"
        }
    }

    /// The same option with a default: `arguments[option]` is then never nil, and help prints the default.
    func defaulting(to value: Value, shown: String? = nil) -> DefaultedOption<Value> {
        var spec = spec
        spec.defaultDescription = shown ?? value.helpDescription
        return DefaultedOption(spec: spec, defaultValue: value)
    }

    /// The same option, hidden aliases added (old spellings that keep working).
    func alsoSpelled(_ names: String...) -> Option {
        var o = self
        o.spec.hiddenAliases += names
        return o
    }
}

/// An option with a default value (printed by help from here, and nowhere else).
struct DefaultedOption<Value: OptionValue>: Sendable {
    var spec: OptionSpec
    var defaultValue: Value
}

/// A flag: present or absent.
struct Flag: Sendable {
    var spec: OptionSpec
    init(_ name: String, _ abstract: String) { spec = .flag(name, abstract) }
}

extension ParsedArguments {
    /// The option's value, nil when not given.
    subscript<Value>(_ option: Option<Value>) -> Value? {
        typed[option.spec.name]?.last as? Value
    }

    /// The option's value, or its default.
    subscript<Value>(_ option: DefaultedOption<Value>) -> Value {
        typed[option.spec.name]?.last as? Value ?? option.defaultValue
    }

    /// Whether the flag was given.
    subscript(_ flag: Flag) -> Bool { has(flag.spec.name) }

    /// A required option's value (parsing has checked it is there), or the usage error naming it.
    func required<Value>(_ option: Option<Value>) throws -> Value {
        guard let value = self[option] else {
            throw UsageError("missing \(option.spec.synopsis): \(option.spec.abstract); see 'engram help \(commandPath)'")
        }
        return value
    }

    /// Every value of a repeating option, in order.
    func all<Value>(_ option: Option<Value>) -> [Value] {
        (typed[option.spec.name] ?? []).compactMap { $0 as? Value }
    }

    /// Whether the option was given.
    func has<Value>(_ option: Option<Value>) -> Bool { has(option.spec.name) }
    /// Whether the option was given (rather than defaulted).
    func has<Value>(_ option: DefaultedOption<Value>) -> Bool { has(option.spec.name) }
}
