import Foundation

/// A malformed or unreadable data file (IDX, PNG, zip archive, one-shot run list): names the file (and
/// line) and what is wrong.
public struct IDXError: Error, CustomStringConvertible, Equatable {
    /// The file.
    public var path: String
    /// What is wrong, and what to do.
    public var message: String
    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}

/// Reader for IDX files (the MNIST format: two zero bytes, a type byte, a dimension count, big-endian
/// 32-bit dimensions, then big-endian data).
///
/// Images must be type 0x08 (unsigned byte) with three dimensions (count × rows × columns); labels are
/// one-dimensional, type 0x08 (unsigned byte) or 0x0B (big-endian int16).
public enum IDXFile {
    /// A decoded image file.
    public struct Images: Sendable, Equatable {
        /// Number of images.
        public var count: Int
        /// Rows per image.
        public var rows: Int
        /// Columns per image.
        public var columns: Int
        /// `count × rows × columns` bytes, image after image, row-major.
        public var pixels: [UInt8]
    }

    static func header(_ bytes: [UInt8], path: String, expectTypes: [UInt8: String], dimensions: Int,
                       what: String) throws -> (type: UInt8, dims: [Int]) {
        guard bytes.count >= 4 else {
            throw IDXError(path: path, message: "truncated: \(bytes.count) bytes, shorter than the 4-byte IDX magic; is this an IDX \(what) file?")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            let magic = bytes[0..<4].map { String(format: "%02x", $0) }.joined()
            throw IDXError(path: path, message: "bad magic 0x\(magic): an IDX file starts with two zero bytes; is this an IDX \(what) file (maybe still gzip-compressed)?")
        }
        guard let _ = expectTypes[bytes[2]] else {
            let allowed = expectTypes.keys.sorted().map { String(format: "0x%02X (%@)", $0, expectTypes[$0]!) }.joined(separator: " or ")
            throw IDXError(path: path, message: String(format: "bad magic: data type 0x%02X, expected ", bytes[2]) + allowed + " for \(what)")
        }
        guard Int(bytes[3]) == dimensions else {
            throw IDXError(path: path, message: "bad magic: \(bytes[3]) dimensions, \(what) files have \(dimensions)")
        }
        let headerLength = 4 + 4 * dimensions
        guard bytes.count >= headerLength else {
            throw IDXError(path: path, message: "truncated header: \(bytes.count) bytes, the \(dimensions)-dimension header needs \(headerLength)")
        }
        var dims: [Int] = []
        for d in 0..<dimensions {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        return (bytes[2], dims)
    }

    /// The file size the header announces (`header` + product of `dims` × `width`), computed with overflow
    /// checks. The bound is the file itself: a header announcing more than the file holds is refused here,
    /// before any arithmetic can wrap (each dimension is up to 2^32 − 1, so three multiply past 2^64).
    static func size(_ dims: [Int], width: Int, header: Int, bytes: [UInt8], path: String, what: String) throws -> Int {
        var total = width
        for d in dims {
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, product <= bytes.count - header else {
                throw IDXError(path: path, message: "truncated: header announces \(what) (dimensions \(dims.map(String.init).joined(separator: " × "))), more than the \(bytes.count)-byte file holds")
            }
            total = product
        }
        return header + total
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IDXError(path: path, message: "cannot read the file; check the path (PREFIX names PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-int16)")
        }
        return [UInt8](data)
    }

    /// Decodes an image file from bytes (`path` only names it in errors).
    public static func images(bytes: [UInt8], path: String) throws -> Images {
        let (_, dims) = try header(bytes, path: path, expectTypes: [0x08: "unsigned byte"], dimensions: 3, what: "image")
        let need = try size(dims, width: 1, header: 16, bytes: bytes, path: path, what: "\(dims[0]) images of \(dims[1])×\(dims[2])")
        guard bytes.count >= need else {
            throw IDXError(path: path, message: "truncated: header announces \(dims[0]) images of \(dims[1])×\(dims[2]) (\(need) bytes), file has \(bytes.count)")
        }
        return Images(count: dims[0], rows: dims[1], columns: dims[2], pixels: Array(bytes[16..<need]))
    }

    /// Decodes a label file (type 0x08 or big-endian int16 0x0B) from bytes.
    public static func labels(bytes: [UInt8], path: String) throws -> [Int] {
        let (type, dims) = try header(bytes, path: path, expectTypes: [0x08: "unsigned byte", 0x0B: "int16"],
                                      dimensions: 1, what: "label")
        let width = type == 0x0B ? 2 : 1
        let need = try size(dims, width: width, header: 8, bytes: bytes, path: path, what: "\(dims[0]) labels")
        guard bytes.count >= need else {
            throw IDXError(path: path, message: "truncated: header announces \(dims[0]) labels (\(need) bytes), file has \(bytes.count)")
        }
        if width == 1 { return bytes[8..<need].map { Int($0) } }
        return (0..<dims[0]).map { i in Int(Int16(bitPattern: UInt16(bytes[8 + 2 * i]) << 8 | UInt16(bytes[9 + 2 * i]))) }
    }

    /// Reads an image file.
    public static func images(atPath path: String) throws -> Images { try images(bytes: read(path), path: path) }

    /// Reads a label file.
    public static func labels(atPath path: String) throws -> [Int] { try labels(bytes: read(path), path: path) }

    /// Encodes images as IDX (type 0x08).
    public static func encode(images: Images) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, 3]
        for d in [images.count, images.rows, images.columns] { out += bigEndian32(d) }
        return out + images.pixels
    }

    /// Encodes labels as IDX type 0x0B (big-endian int16).
    public static func encode(labels: [Int]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x0B, 1] + bigEndian32(labels.count)
        for l in labels {
            let v = UInt16(bitPattern: Int16(l))
            out += [UInt8(v >> 8), UInt8(v & 0xFF)]
        }
        return out
    }

    static func bigEndian32(_ v: Int) -> [UInt8] {
        [UInt8((v >> 24) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
