import Foundation

/// A safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
/// shape and byte range, then the raw little-endian tensor bytes. `__metadata__` holds string pairs
/// (Engram keeps architecture and provenance there).
///
/// Format reference: the safetensors specification (huggingface/safetensors README).
public struct SafeTensors: Sendable {
    /// Element types Engram reads and writes.
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32", f64 = "F64", i32 = "I32", i64 = "I64", u8 = "U8", u64 = "U64"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .u8: 1
            case .f32, .i32: 4
            case .f64, .i64, .u64: 8
            }
        }
    }

    /// One tensor: its type, its shape and its raw little-endian bytes.
    public struct Tensor: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        /// Number of elements (product of the shape).
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// What went wrong reading a file; `description` is one line naming the place and the fix.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var source: String
        public var message: String
        public var description: String { "\(source): \(message)" }
    }

    /// The longest JSON header read (the reference implementation's bound, 100 MB).
    public static let maximumHeaderLength = 100_000_000
    /// The most dimensions a tensor may have.
    public static let maximumRank = 8

    /// Tensors by name.
    public var tensors: [String: Tensor] = [:]
    /// The `__metadata__` string pairs.
    public var metadata: [String: String] = [:]
    /// Where these tensors came from (a path, or "<memory>"), for error messages.
    public var source: String = "<memory>"

    /// An empty collection.
    public init() {}

    /// Reads the file at `path`.
    public init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error(source: path, message: "cannot read the file; check the path and permissions")
        }
        try self.init(bytes: [UInt8](data), source: path)
    }

    /// Parses the bytes of a safetensors file.
    public init(bytes: [UInt8], source: String = "<memory>") throws {
        self.source = source
        func fail(_ m: String) -> Error { Error(source: source, message: m) }
        guard bytes.count >= 8 else {
            throw fail("truncated: \(bytes.count) bytes, a safetensors file starts with an 8-byte header length")
        }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(Self.maximumHeaderLength) else {
            throw fail("the header claims \(headerLength) bytes, more than the \(Self.maximumHeaderLength)-byte bound of the format; the file is damaged or not safetensors")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("truncated: the header claims \(headerLength) bytes but only \(bytes.count - 8) follow; the file was cut off or is not safetensors")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerData = Data(bytes[8..<headerEnd])
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw fail("the JSON header is malformed (\(headerLength) bytes); the file is damaged or not safetensors")
        }
        guard let header = json as? [String: Any] else {
            throw fail("the JSON header is not an object")
        }
        let dataCount = bytes.count - headerEnd
        for (name, value) in header {
            if name == "__metadata__" {
                guard let meta = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in meta {
                    guard let s = v as? String else { throw fail("__metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw fail("tensor '\(name)': entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw fail("tensor '\(name)': missing dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)': unsupported dtype \(dtypeName); supported: \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let shapeAny = entry["shape"] as? [Any] else { throw fail("tensor '\(name)': missing shape") }
            guard shapeAny.count <= Self.maximumRank else {
                throw fail("tensor '\(name)': \(shapeAny.count) dimensions, more than the \(Self.maximumRank) Engram reads")
            }
            var shape: [Int] = []
            for s in shapeAny {
                guard let n = Self.exactInteger(s), n >= 0 else { throw fail("tensor '\(name)': shape entries must be non-negative integers") }
                shape.append(n)
            }
            guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
                let begin = Self.exactInteger(offsets[0]), let end = Self.exactInteger(offsets[1])
            else { throw fail("tensor '\(name)': data_offsets must be [begin, end]") }
            guard begin >= 0, begin <= end, end <= dataCount else {
                throw fail("truncated: tensor '\(name)' spans bytes \(begin)..<\(end) but the data section has \(dataCount) bytes")
            }
            // The shape's size, overflow-checked; it must then equal the tensor's byte range, which lies
            // within the data section (itself within the file): that is the bound on every size here.
            var expected = dtype.size
            for n in shape {
                let (product, overflow) = expected.multipliedReportingOverflow(by: n)
                guard !overflow else {
                    throw fail("tensor '\(name)': shape \(shape) of \(dtypeName) needs more bytes than the \(dataCount)-byte data section holds; the header is damaged")
                }
                expected = product
            }
            guard end - begin == expected else {
                throw fail("tensor '\(name)': \(end - begin) bytes for shape \(shape) of \(dtypeName), expected \(expected)")
            }
            tensors[name] = Tensor(dtype: dtype, shape: shape, bytes: Array(bytes[(headerEnd + begin)..<(headerEnd + end)]))
        }
    }

    /// A JSON number that is exactly an integer in `Int`'s range (not 1.5, 1e30 or 2^64), else nil.
    private static func exactInteger(_ value: Any) -> Int? {
        guard let n = value as? NSNumber else { return nil }
        let d = n.doubleValue
        let i = n.int64Value
        guard d.isFinite, d == d.rounded(), Double(i) == d else { return nil }
        return Int(i)
    }

    /// The serialized file: header then tensors in name order, each aligned to 8 bytes.
    public func serialized() -> [UInt8] {
        let names = tensors.keys.sorted()
        var entries: [String] = []
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.insert("\"__metadata__\":{\(pairs.joined(separator: ","))}", at: 0)
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }  // pad with spaces, as the reference writer does
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let n = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        out += header
        for name in names { out += tensors[name]!.bytes }
        return out
    }

    /// Writes the file atomically (to a temporary file, then renamed).
    public func write(toFile path: String) throws {
        let url = URL(fileURLWithPath: path)
        try Data(serialized()).write(to: url, options: .atomic)
    }

    // MARK: Typed access

    /// The named tensor, or an error that lists the names present.
    public func tensor(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else {
            throw Error(source: source, message: "no tensor named '\(name)'; present: \(tensors.keys.sorted().joined(separator: ", "))")
        }
        return t
    }

    /// The named tensor as Float32 values (F64 is narrowed, integers converted).
    public func floats(_ name: String) throws -> [Float] {
        let t = try tensor(name)
        return t.bytes.withUnsafeBytes { raw -> [Float] in
            let n = t.elementCount
            switch t.dtype {
            case .f32: return (0..<n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            case .f64: return (0..<n).map { Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))) }
            case .i32: return (0..<n).map { Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            case .i64: return (0..<n).map { Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
            case .u64: return (0..<n).map { Float(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            case .u8: return (0..<n).map { Float(raw[$0]) }
            }
        }
    }

    /// The named tensor as Float64 values.
    public func doubles(_ name: String) throws -> [Double] {
        let t = try tensor(name)
        if t.dtype == .f64 {
            return t.bytes.withUnsafeBytes { raw in
                (0..<t.elementCount).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            }
        }
        return try floats(name).map(Double.init)
    }

    /// The named tensor as 64-bit integers (I32, I64, U64, U8).
    public func integers(_ name: String) throws -> [Int64] {
        let t = try tensor(name)
        return t.bytes.withUnsafeBytes { raw -> [Int64] in
            let n = t.elementCount
            switch t.dtype {
            case .i32: return (0..<n).map { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            case .i64: return (0..<n).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            case .u64: return (0..<n).map { Int64(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            case .u8: return (0..<n).map { Int64(raw[$0]) }
            case .f32, .f64: return [] 
            }
        }
    }

    /// The named two-dimensional tensor as a `Matrix`, checking the shape when `rows`/`columns` are given.
    public func matrix(_ name: String, rows: Int? = nil, columns: Int? = nil) throws -> Matrix {
        let t = try tensor(name)
        guard t.shape.count == 2 else {
            throw Error(source: source, message: "tensor '\(name)' has shape \(t.shape), expected a matrix")
        }
        if let rows, t.shape[0] != rows {
            throw Error(source: source, message: "tensor '\(name)' has shape \(t.shape), expected \(rows) rows")
        }
        if let columns, t.shape[1] != columns {
            throw Error(source: source, message: "tensor '\(name)' has shape \(t.shape), expected \(columns) columns")
        }
        return Matrix(rows: t.shape[0], columns: t.shape[1], storage: try floats(name))
    }

    // MARK: Writing tensors

    /// Stores Float32 values with the given shape.
    public mutating func set(_ name: String, floats: [Float], shape: [Int]) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
        var bytes = [UInt8](); bytes.reserveCapacity(4 * floats.count)
        for f in floats { appendLE(f.bitPattern, to: &bytes) }
        tensors[name] = Tensor(dtype: .f32, shape: shape, bytes: bytes)
    }

    /// Stores a matrix as a two-dimensional F32 tensor.
    public mutating func set(_ name: String, matrix: Matrix) {
        set(name, floats: matrix.storage, shape: [matrix.rows, matrix.columns])
    }

    /// Stores Float64 values with the given shape.
    public mutating func set(_ name: String, doubles: [Double], shape: [Int]) {
        precondition(shape.reduce(1, *) == doubles.count, "shape \(shape) does not match \(doubles.count) values")
        var bytes = [UInt8](); bytes.reserveCapacity(8 * doubles.count)
        for d in doubles { appendLE(d.bitPattern, to: &bytes) }
        tensors[name] = Tensor(dtype: .f64, shape: shape, bytes: bytes)
    }

    /// Stores 32-bit integers with the given shape.
    public mutating func set(_ name: String, int32s: [Int32], shape: [Int]) {
        precondition(shape.reduce(1, *) == int32s.count, "shape \(shape) does not match \(int32s.count) values")
        var bytes = [UInt8](); bytes.reserveCapacity(4 * int32s.count)
        for v in int32s { appendLE(UInt32(bitPattern: v), to: &bytes) }
        tensors[name] = Tensor(dtype: .i32, shape: shape, bytes: bytes)
    }

    /// Stores unsigned 64-bit integers (RNG state, counters) with the given shape.
    public mutating func set(_ name: String, uint64s: [UInt64], shape: [Int]) {
        precondition(shape.reduce(1, *) == uint64s.count, "shape \(shape) does not match \(uint64s.count) values")
        var bytes = [UInt8](); bytes.reserveCapacity(8 * uint64s.count)
        for v in uint64s { appendLE(v, to: &bytes) }
        tensors[name] = Tensor(dtype: .u64, shape: shape, bytes: bytes)
    }

    /// Stores bytes with the given shape.
    public mutating func set(_ name: String, uint8s: [UInt8], shape: [Int]) {
        precondition(shape.reduce(1, *) == uint8s.count, "shape \(shape) does not match \(uint8s.count) values")
        tensors[name] = Tensor(dtype: .u8, shape: shape, bytes: uint8s)
    }
}

private func appendLE<T: FixedWidthInteger>(_ v: T, to bytes: inout [UInt8]) {
    let le = v.littleEndian
    withUnsafeBytes(of: le) { bytes.append(contentsOf: $0) }
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
