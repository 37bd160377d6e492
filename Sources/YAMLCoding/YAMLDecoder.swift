import Foundation

/// Decodes any `Decodable` from YAML text, through libyaml.
///
/// ```swift
/// let robot = try YAMLDecoder().decode(RobotDescription.self, fromFileAt: "Robots/so101/robot.yaml")
/// ```
/// Every failure is a `YAMLError` naming file, line, column and key path. In strict mode (the default) a
/// mapping key that the decoded type never asked for is an error with a did-you-mean suggestion; a type's
/// "known keys" are the keys its `init(from:)` requested, so optional fields count as known.
public struct YAMLDecoder: Sendable {
    /// Whether keys the decoded types did not ask for are errors (the default) or silently ignored.
    public var rejectsUnknownKeys: Bool

    /// A decoder; `rejectsUnknownKeys` sets strict mode for calls that don't say otherwise.
    public init(rejectsUnknownKeys: Bool = true) {
        self.rejectsUnknownKeys = rejectsUnknownKeys
    }

    /// Decodes `type` from YAML `text`; `file` is the name errors show. `strict` overrides
    /// `rejectsUnknownKeys` for this call.
    public func decode<T: Decodable>(
        _ type: T.Type, from text: String, file: String = "<yaml>", strict: Bool? = nil
    ) throws(YAMLError) -> T {
        let root = try YAMLNode.parse(text, file: file)
        return try decode(type, from: root, file: file, strict: strict)
    }

    /// Decodes `type` from the YAML file at `path`; errors show `path` as given.
    public func decode<T: Decodable>(_ type: T.Type, fromFileAt path: String, strict: Bool? = nil) throws(YAMLError) -> T {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let why = FileManager.default.fileExists(atPath: path) ? "not readable as UTF-8 text" : "no such file"
            throw YAMLError(file: path, mark: nil, keyPath: "", problem: .unreadable(why))
        }
        return try decode(type, from: text, file: path, strict: strict)
    }

    /// Decodes `type` from an already parsed node tree.
    public func decode<T: Decodable>(
        _ type: T.Type, from root: YAMLNode, file: String, strict: Bool? = nil
    ) throws(YAMLError) -> T {
        let session = DecodingSession(file: file)
        let value: T
        do {
            value = try session.decodeValue(type, from: root, path: [])
        } catch let error as YAMLError {
            throw error
        } catch let error as DecodingError {
            throw session.translate(error, root: root)
        } catch {
            throw YAMLError(file: file, mark: root.mark, keyPath: "", problem: .invalid("\(error)"))
        }
        if strict ?? rejectsUnknownKeys, let unknown = session.firstUnknownKey() {
            throw unknown
        }
        return value
    }
}

/// A coding key for sequence positions, rendered as `[i]` in key paths.
struct SequenceIndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

/// State shared by all containers of one `decode` call: the file name, and which keys each mapping was
/// asked for (for strict mode).
final class DecodingSession {
    let file: String
    private var requestedKeys: [Int: Set<String>] = [:]
    private var keyedMappings: [Int: (YAMLNode, [CodingKey])] = [:]
    private var allKeysListed: Set<Int> = []

    init(file: String) {
        self.file = file
    }

    // MARK: Strict-mode bookkeeping

    func registerKeyed(_ node: YAMLNode, path: [CodingKey]) {
        if keyedMappings[node.identity] == nil { keyedMappings[node.identity] = (node, path) }
    }

    func request(_ key: String, in node: YAMLNode) {
        requestedKeys[node.identity, default: []].insert(key)
    }

    func listedAllKeys(of node: YAMLNode) {
        allKeysListed.insert(node.identity)
    }

    /// The first key (in document order) that no decoded type asked for.
    func firstUnknownKey() -> YAMLError? {
        var found: YAMLError?
        for (id, (node, path)) in keyedMappings where !allKeysListed.contains(id) {
            guard case .mapping(let entries) = node.content else { continue }
            let known = requestedKeys[id] ?? []
            for entry in entries where !known.contains(entry.key) {
                if let f = found, let m = f.mark, m < entry.keyMark { break }
                let suggestion = YAMLError.closestMatch(to: entry.key, among: known.sorted())
                found = YAMLError(
                    file: file, mark: entry.keyMark, keyPath: Self.render(path + [PlainKey(entry.key)]),
                    problem: .unknownKey(entry.key, suggestion: suggestion))
                break
            }
        }
        return found
    }

    // MARK: Errors

    func error(_ problem: YAMLError.Problem, at mark: YAMLMark, path: [CodingKey]) -> YAMLError {
        YAMLError(file: file, mark: mark, keyPath: Self.render(path), problem: problem)
    }

    func mismatch(expected: String, _ node: YAMLNode, path: [CodingKey]) -> YAMLError {
        error(.typeMismatch(expected: expected, found: node.summary), at: node.mark, path: path)
    }

    /// Renders a coding path as `joints[2].limits_deg`.
    static func render(_ path: [CodingKey]) -> String {
        var s = ""
        for key in path {
            if let i = key.intValue, key is SequenceIndexKey || key.stringValue == "Index \(i)" {
                s += "[\(i)]"
            } else {
                if !s.isEmpty { s += "." }
                s += key.stringValue
            }
        }
        return s
    }

    /// Turns a `DecodingError` thrown by a type's own `init(from:)` into a positioned `YAMLError`, locating
    /// the node its coding path points at.
    func translate(_ error: DecodingError, root: YAMLNode) -> YAMLError {
        func locate(_ path: [CodingKey]) -> YAMLNode {
            var node = root
            for key in path {
                switch node.content {
                case .sequence(let items):
                    guard let i = key.intValue, items.indices.contains(i) else { return node }
                    node = items[i]
                case .mapping(let entries):
                    guard let e = entries.first(where: { $0.key == key.stringValue }) else { return node }
                    node = e.value
                case .scalar:
                    return node
                }
            }
            return node
        }
        switch error {
        case .keyNotFound(let key, let context):
            let node = locate(context.codingPath)
            var suggestion: String?
            if case .mapping(let entries) = node.content {
                suggestion = YAMLError.closestMatch(to: key.stringValue, among: entries.map(\.key))
            }
            return self.error(.missingKey(key.stringValue, suggestion: suggestion), at: node.mark, path: context.codingPath)
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let node = locate(context.codingPath)
            return self.error(.invalid(context.debugDescription), at: node.mark, path: context.codingPath)
        @unknown default:
            return YAMLError(file: file, mark: root.mark, keyPath: "", problem: .invalid("\(error)"))
        }
    }

    // MARK: Values

    func decodeValue<T: Decodable>(_ type: T.Type, from node: YAMLNode, path: [CodingKey]) throws -> T {
        do {
            return try T(from: NodeDecoder(node: node, session: self, codingPath: path))
        } catch let error as DecodingError {
            // A RawRepresentable enum rejects an unknown raw value with `dataCorrupted` at its own path:
            // name the allowed values when the type can list them.
            if case .dataCorrupted(let context) = error, context.codingPath.count == path.count,
                case .scalar(let text, _) = node.content, let allowed = Self.allowedValues(of: type)
            {
                throw self.error(
                    .invalidValue(text, allowed: allowed, suggestion: YAMLError.closestMatch(to: text, among: allowed)),
                    at: node.mark, path: path)
            }
            throw error
        }
    }

    private static func allowedValues<T>(of type: T.Type) -> [String]? {
        guard let iterable = type as? any CaseIterable.Type else { return nil }
        return caseNames(iterable)
    }

    private static func caseNames<C: CaseIterable>(_ type: C.Type) -> [String] {
        C.allCases.map { value in
            if let raw = value as? any RawRepresentable { return "\(raw.rawValue)" }
            return "\(value)"
        }
    }

    func string(_ node: YAMLNode, path: [CodingKey]) throws(YAMLError) -> String {
        guard case .scalar(let text, _) = node.content, node.isForcedString || !node.isNull else {
            throw mismatch(expected: "a string", node, path: path)
        }
        return text
    }

    func bool(_ node: YAMLNode, path: [CodingKey]) throws(YAMLError) -> Bool {
        guard case .scalar(let text, _) = node.content, !node.isForcedString, let b = ScalarResolution.bool(text) else {
            throw mismatch(expected: "a boolean (true or false)", node, path: path)
        }
        return b
    }

    func integer<T: FixedWidthInteger>(_ type: T.Type, _ node: YAMLNode, path: [CodingKey]) throws(YAMLError) -> T {
        guard case .scalar(let text, _) = node.content, !node.isForcedString else {
            throw mismatch(expected: "an integer", node, path: path)
        }
        switch ScalarResolution.integer(text, as: type) {
        case .value(let v): return v
        case .outOfRange: throw error(.outOfRange(text, type: "\(type) (\(T.min)...\(T.max))"), at: node.mark, path: path)
        case .notAnInteger: throw mismatch(expected: "an integer", node, path: path)
        }
    }

    func float<T: BinaryFloatingPoint & LosslessStringConvertible>(
        _ type: T.Type, _ node: YAMLNode, path: [CodingKey]
    ) throws(YAMLError) -> T {
        guard case .scalar(let text, _) = node.content, !node.isForcedString else {
            throw mismatch(expected: "a number", node, path: path)
        }
        var overflowed = false
        guard let v = ScalarResolution.floatingPoint(text, as: type, overflowed: &overflowed) else {
            throw mismatch(expected: "a number", node, path: path)
        }
        if overflowed { throw error(.outOfRange(text, type: "\(type)"), at: node.mark, path: path) }
        return v
    }
}

/// A coding key made from a mapping key's text.
struct PlainKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The `Decoder` over one node.
struct NodeDecoder: Decoder {
    let node: YAMLNode
    let session: DecodingSession
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let entries) = node.content else {
            throw session.mismatch(expected: "a mapping", node, path: codingPath)
        }
        session.registerKeyed(node, path: codingPath)
        return KeyedDecodingContainer(KeyedNodeContainer<Key>(node: node, entries: entries, session: session, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .sequence(let items) = node.content else {
            throw session.mismatch(expected: "a sequence", node, path: codingPath)
        }
        return UnkeyedNodeContainer(node: node, items: items, session: session, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        SingleValueNodeContainer(node: node, session: session, codingPath: codingPath)
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let node: YAMLNode
    let entries: [YAMLNode.Entry]
    let session: DecodingSession
    let codingPath: [CodingKey]

    var allKeys: [Key] {
        session.listedAllKeys(of: node)
        return entries.compactMap { Key(stringValue: $0.key) }
    }

    func contains(_ key: Key) -> Bool {
        session.request(key.stringValue, in: node)
        return entries.contains { $0.key == key.stringValue }
    }

    private func value(for key: Key) throws(YAMLError) -> YAMLNode {
        session.request(key.stringValue, in: node)
        guard let entry = entries.first(where: { $0.key == key.stringValue }) else {
            let suggestion = YAMLError.closestMatch(to: key.stringValue, among: entries.map(\.key))
            throw session.error(.missingKey(key.stringValue, suggestion: suggestion), at: node.mark, path: codingPath)
        }
        return entry.value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        try value(for: key).isNull
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try session.decodeValue(type, from: value(for: key), path: codingPath + [key])
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try session.bool(value(for: key), path: codingPath + [key])
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try session.string(value(for: key), path: codingPath + [key])
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try session.float(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try session.float(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try session.integer(type, value(for: key), path: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: value(for: key), session: session, codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try NodeDecoder(node: value(for: key), session: session, codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        NodeDecoder(node: node, session: session, codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> Decoder {
        try NodeDecoder(node: value(for: key), session: session, codingPath: codingPath + [key])
    }
}

struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let node: YAMLNode
    let items: [YAMLNode]
    let session: DecodingSession
    let codingPath: [CodingKey]
    private(set) var currentIndex = 0

    init(node: YAMLNode, items: [YAMLNode], session: DecodingSession, codingPath: [CodingKey]) {
        self.node = node
        self.items = items
        self.session = session
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws(YAMLError) -> (YAMLNode, [CodingKey]) {
        guard !isAtEnd else {
            throw session.error(.sequenceTooShort(count: items.count), at: node.mark, path: codingPath)
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [SequenceIndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw session.error(.sequenceTooShort(count: items.count), at: node.mark, path: codingPath)
        }
        if items[currentIndex].isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (n, p) = try next()
        return try session.decodeValue(type, from: n, path: p)
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let (n, p) = try next()
        return try session.bool(n, path: p)
    }
    mutating func decode(_ type: String.Type) throws -> String {
        let (n, p) = try next()
        return try session.string(n, path: p)
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        let (n, p) = try next()
        return try session.float(type, n, path: p)
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        let (n, p) = try next()
        return try session.float(type, n, path: p)
    }
    mutating func decode(_ type: Int.Type) throws -> Int {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: Int8.Type) throws -> Int8 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: Int16.Type) throws -> Int16 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: Int32.Type) throws -> Int32 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: Int64.Type) throws -> Int64 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: UInt.Type) throws -> UInt {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 {
        let (n, p) = try next()
        return try session.integer(type, n, path: p)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (n, p) = try next()
        return try NodeDecoder(node: n, session: session, codingPath: p).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let (n, p) = try next()
        return try NodeDecoder(node: n, session: session, codingPath: p).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let (n, p) = try next()
        return NodeDecoder(node: n, session: session, codingPath: p)
    }
}

struct SingleValueNodeContainer: SingleValueDecodingContainer {
    let node: YAMLNode
    let session: DecodingSession
    let codingPath: [CodingKey]

    func decodeNil() -> Bool { node.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try session.bool(node, path: codingPath) }
    func decode(_ type: String.Type) throws -> String { try session.string(node, path: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try session.float(type, node, path: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try session.float(type, node, path: codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try session.integer(type, node, path: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try session.integer(type, node, path: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try session.integer(type, node, path: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try session.integer(type, node, path: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try session.integer(type, node, path: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try session.integer(type, node, path: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try session.integer(type, node, path: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try session.integer(type, node, path: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try session.integer(type, node, path: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try session.integer(type, node, path: codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try session.decodeValue(type, from: node, path: codingPath)
    }
}
