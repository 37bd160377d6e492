/// A parsed YAML value with its position, after anchors, aliases and merge keys (`<<`) are resolved.
///
/// `YAMLDecoder` decodes from this tree; it is public so that tools can inspect a file's structure.
public struct YAMLNode: Sendable {
    /// A key-value pair of a mapping; keys are scalars.
    public struct Entry: Sendable {
        /// The key text.
        public var key: String
        /// Where the key starts.
        public var keyMark: YAMLMark
        /// The value.
        public var value: YAMLNode
    }

    /// The shape of a node.
    public enum Content: Sendable {
        /// A scalar and whether it was quoted (quoted scalars are always strings).
        case scalar(String, quoted: Bool)
        /// A sequence of nodes.
        case sequence([YAMLNode])
        /// A mapping, in document order.
        case mapping([Entry])
    }

    /// The value.
    public var content: Content
    /// Where the node starts.
    public var mark: YAMLMark
    /// The explicit tag, if any (e.g. `tag:yaml.org,2002:str` for `!!str`).
    public var tag: String?
    /// Identity of the mapping or sequence in the source (aliases share their anchor's identity); used to
    /// track which keys a decoded type asked for.
    var identity: Int

    /// Whether this node is null: a plain `~`, `null`, `Null`, `NULL` or empty scalar, or tagged `!!null`.
    public var isNull: Bool {
        if tag == "tag:yaml.org,2002:null" { return true }
        guard case .scalar(let text, let quoted) = content, !quoted, tag == nil else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    /// The scalar text when the node is a scalar whose text should be read as a string regardless of
    /// how it looks (quoted, block, or tagged `!!str`).
    var isForcedString: Bool {
        if tag == "tag:yaml.org,2002:str" { return true }
        if case .scalar(_, let quoted) = content { return quoted }
        return false
    }

    /// A short description of the node for error messages: `the string "abc"`, `a mapping`, `null`.
    var summary: String {
        if isNull { return "null" }
        switch content {
        case .scalar(let text, let quoted):
            let shown = text.count > 40 ? String(text.prefix(37)) + "..." : text
            return quoted ? "the quoted string \"\(shown)\"" : "'\(shown)'"
        case .sequence(let items):
            return items.count == 1 ? "a sequence of 1 item" : "a sequence of \(items.count) items"
        case .mapping:
            return "a mapping"
        }
    }

    /// Parses the first document of `text` into a node tree; an empty document gives a null node.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> YAMLNode {
        var composer = try Composer(text: text, file: file)
        return try composer.document()
    }
}

/// Builds `YAMLNode`s from parser events: anchors, aliases, merge keys, duplicate-key checks.
struct Composer: ~Copyable {
    private var parser: LibYAMLParser
    private let file: String
    private var anchors: [String: YAMLNode] = [:]
    private var nextIdentity = 1
    /// Where the composer is, as keys and sequence indices, so that errors carry a key path.
    private var path: [PathComponent] = []
    /// Mappings and sequences open around the node being composed.
    private var depth = 0

    /// The deepest nesting of mappings and sequences accepted. Composing recurses once per level, so a
    /// crafted file nested thousands deep would overflow the stack; Engram's files nest 4 deep at most.
    static let maximumDepth = 64

    enum PathComponent {
        case key(String)
        case index(Int)
    }

    private var renderedPath: String {
        var s = ""
        for c in path {
            switch c {
            case .index(let i): s += "[\(i)]"
            case .key(let k): s += (s.isEmpty ? "" : ".") + k
            }
        }
        return s
    }

    /// The next parser event; a syntax error gets the key path of the value being parsed.
    private mutating func nextEvent() throws(YAMLError) -> (ParseEvent, YAMLMark) {
        do {
            return try parser.next()
        } catch {
            var e = error
            if e.keyPath.isEmpty { e.keyPath = renderedPath }
            throw e
        }
    }

    private func error(_ problem: YAMLError.Problem, at mark: YAMLMark) -> YAMLError {
        YAMLError(file: file, mark: mark, keyPath: renderedPath, problem: problem)
    }

    init(text: String, file: String) throws(YAMLError) {
        parser = try LibYAMLParser(text: text, file: file)
        self.file = file
    }

    mutating func document() throws(YAMLError) -> YAMLNode {
        var (event, mark) = try nextEvent()
        if event == .streamStart { (event, mark) = try nextEvent() }
        if event == .streamEnd {
            return YAMLNode(content: .scalar("", quoted: false), mark: mark, tag: nil, identity: 0)
        }
        guard event == .documentStart else {
            throw YAMLError(file: file, mark: mark, keyPath: "", problem: .syntax("expected the start of a document"))
        }
        let (first, firstMark) = try nextEvent()
        let root = try node(first, firstMark)
        // One document per file: a second one is almost always a pasted or merged file by mistake.
        var (after, afterMark) = try nextEvent()
        if after == .documentEnd { (after, afterMark) = try nextEvent() }
        guard after == .streamEnd else {
            throw YAMLError(file: file, mark: afterMark, keyPath: "", problem: .invalid("a second YAML document starts here; Engram reads one document per file, so remove the '---' and what follows (or split the file)"))
        }
        return root
    }

    private mutating func identity() -> Int {
        defer { nextIdentity += 1 }
        return nextIdentity
    }

    private mutating func node(_ event: ParseEvent, _ mark: YAMLMark) throws(YAMLError) -> YAMLNode {
        switch event {
        case .alias(let name):
            guard let target = anchors[name] else {
                throw error(.undefinedAlias(name), at: mark)
            }
            return target
        case .scalar(let value, let anchor, let tag, let style):
            let n = YAMLNode(content: .scalar(value, quoted: style.isQuoted), mark: mark, tag: tag, identity: identity())
            if let anchor { anchors[anchor] = n }
            return n
        case .sequenceStart(let anchor, let tag):
            try enter(at: mark)
            defer { depth -= 1 }
            let id = identity()
            var items: [YAMLNode] = []
            while true {
                path.append(.index(items.count))
                let (e, m) = try nextEvent()
                if e == .sequenceEnd {
                    path.removeLast()
                    break
                }
                items.append(try node(e, m))
                path.removeLast()
            }
            let n = YAMLNode(content: .sequence(items), mark: mark, tag: tag, identity: id)
            if let anchor { anchors[anchor] = n }
            return n
        case .mappingStart(let anchor, let tag):
            try enter(at: mark)
            defer { depth -= 1 }
            let id = identity()
            var entries: [YAMLNode.Entry] = []
            var index: [String: Int] = [:]
            var merged: [YAMLNode.Entry] = []
            while true {
                let (e, m) = try nextEvent()
                if e == .mappingEnd { break }
                let keyNode = try node(e, m)
                guard case .scalar(let key, let quoted) = keyNode.content else {
                    throw error(.typeMismatch(expected: "a scalar key", found: keyNode.summary), at: m)
                }
                path.append(.key(key))
                defer { path.removeLast() }
                let (ve, vm) = try nextEvent()
                let value = try node(ve, vm)
                if key == "<<" && !quoted {
                    merged += try mergeEntries(value)
                    continue
                }
                if let previous = index[key] {
                    throw error(.duplicateKey(key, first: entries[previous].keyMark), at: m)
                }
                index[key] = entries.count
                entries.append(YAMLNode.Entry(key: key, keyMark: m, value: value))
            }
            // Merge keys (YAML 1.1 `<<: *base`): explicit keys win over merged ones.
            for entry in merged where index[entry.key] == nil {
                index[entry.key] = entries.count
                entries.append(entry)
            }
            let n = YAMLNode(content: .mapping(entries), mark: mark, tag: tag, identity: id)
            if let anchor { anchors[anchor] = n }
            return n
        default:
            throw YAMLError(file: file, mark: mark, keyPath: "", problem: .syntax("unexpected \(event)"))
        }
    }

    /// Opens one level of nesting, or throws when that would pass `maximumDepth`.
    private mutating func enter(at mark: YAMLMark) throws(YAMLError) {
        guard depth < Self.maximumDepth else {
            throw error(.invalid("nesting deeper than \(Self.maximumDepth) levels of mappings and sequences; Engram's files nest a few levels, so this file is damaged or not one of them"), at: mark)
        }
        depth += 1
    }

    private func mergeEntries(_ value: YAMLNode) throws(YAMLError) -> [YAMLNode.Entry] {
        switch value.content {
        case .mapping(let entries):
            return entries
        case .sequence(let items):
            var all: [YAMLNode.Entry] = []
            var seen: Set<String> = []
            for item in items {
                guard case .mapping(let entries) = item.content else {
                    throw YAMLError(file: file, mark: item.mark, keyPath: "<<", problem: .typeMismatch(expected: "a mapping to merge", found: item.summary))
                }
                for e in entries where !seen.contains(e.key) {
                    seen.insert(e.key)
                    all.append(e)
                }
            }
            return all
        case .scalar:
            throw YAMLError(file: file, mark: value.mark, keyPath: "<<", problem: .typeMismatch(expected: "a mapping to merge", found: value.summary))
        }
    }
}
