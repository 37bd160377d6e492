import CYAML

/// A position in a YAML text, 1-based as editors show it.
public struct YAMLMark: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Line number, starting at 1.
    public var line: Int
    /// Column number, starting at 1.
    public var column: Int

    /// A mark at `line`:`column` (both 1-based).
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// Converts libyaml's 0-based `yaml_mark_t`.
    init(_ mark: yaml_mark_t) {
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    /// Document order: by line, then column.
    public static func < (a: YAMLMark, b: YAMLMark) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }
}

/// How a scalar was written; quoted and block scalars are always strings.
enum ScalarStyle: Sendable, Equatable {
    case plain, singleQuoted, doubleQuoted, literal, folded

    var isQuoted: Bool { self != .plain }
}

/// One parser event, copied out of libyaml's `yaml_event_t` into Swift values.
enum ParseEvent: Sendable, Equatable {
    case streamStart, streamEnd, documentStart, documentEnd
    case alias(anchor: String)
    case scalar(value: String, anchor: String?, tag: String?, style: ScalarStyle)
    case sequenceStart(anchor: String?, tag: String?)
    case sequenceEnd
    case mappingStart(anchor: String?, tag: String?)
    case mappingEnd
}

/// The single place where Engram calls libyaml.
///
/// Every call's result is checked here and a failure becomes a `YAMLError` carrying libyaml's problem text
/// and position (the pattern of swift-system's `valueOrErrno`). The parser owns a private copy of the input
/// bytes, because libyaml keeps a pointer to them for as long as it parses.
struct LibYAMLParser: ~Copyable {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let file: String

    /// Initialises a libyaml parser over `text` (`yaml_parser_initialize`, `yaml_parser_set_input_string`).
    init(text: String, file: String) throws(YAMLError) {
        // Set everything up in locals first: once all stored properties are set, a throw would run deinit.
        let newParser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        guard yaml_parser_initialize(newParser) == 1 else {
            newParser.deallocate()
            throw YAMLError(file: file, mark: nil, keyPath: "", problem: .syntax("libyaml could not initialise its parser (out of memory?)"))
        }
        let bytes = Array(text.utf8)
        let newInput = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = newInput.initialize(from: bytes)
        yaml_parser_set_encoding(newParser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(newParser, newInput.baseAddress, bytes.count)
        self.file = file
        self.input = newInput
        self.parser = newParser
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// The next event and where it starts (`yaml_parser_parse`); a syntax error carries libyaml's position.
    mutating func next() throws(YAMLError) -> (ParseEvent, YAMLMark) {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else {
            throw syntaxError()
        }
        defer { yaml_event_delete(&event) }
        let mark = YAMLMark(event.start_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT: return (.streamStart, mark)
        case YAML_STREAM_END_EVENT: return (.streamEnd, mark)
        case YAML_DOCUMENT_START_EVENT: return (.documentStart, mark)
        case YAML_DOCUMENT_END_EVENT: return (.documentEnd, mark)
        case YAML_ALIAS_EVENT:
            return (.alias(anchor: Self.string(event.data.alias.anchor) ?? ""), mark)
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value: String
            if let p = s.value {
                value = String(decoding: UnsafeBufferPointer(start: p, count: Int(s.length)), as: UTF8.self)
            } else {
                value = ""
            }
            let style: ScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            return (.scalar(value: value, anchor: Self.string(s.anchor), tag: Self.string(s.tag), style: style), mark)
        case YAML_SEQUENCE_START_EVENT:
            let s = event.data.sequence_start
            return (.sequenceStart(anchor: Self.string(s.anchor), tag: Self.string(s.tag)), mark)
        case YAML_SEQUENCE_END_EVENT: return (.sequenceEnd, mark)
        case YAML_MAPPING_START_EVENT:
            let s = event.data.mapping_start
            return (.mappingStart(anchor: Self.string(s.anchor), tag: Self.string(s.tag)), mark)
        case YAML_MAPPING_END_EVENT: return (.mappingEnd, mark)
        default:
            throw YAMLError(file: file, mark: mark, keyPath: "", problem: .syntax("libyaml returned an unknown event type \(event.type.rawValue)"))
        }
    }

    private func syntaxError() -> YAMLError {
        let p = parser.pointee
        var text = p.problem.map { String(cString: $0) } ?? "malformed YAML"
        if let context = p.context.map({ String(cString: $0) }) {
            text += " (\(context) at line \(p.context_mark.line + 1), column \(p.context_mark.column + 1))"
        }
        return YAMLError(file: file, mark: YAMLMark(p.problem_mark), keyPath: "", problem: .syntax(text))
    }

    private static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafePointer(p))
    }
}
