#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Writes a trajectory CSV row by row as the rows come, in the format `TrajectoryFile` reads
/// (`# engram-trajectory 1`, `# key: value` metadata lines, a header row, then `time_s,<column>,...`).
///
/// Each row goes to the kernel with one `write(2)` as soon as it is appended, so a `kill -9` loses
/// nothing already appended and a pulled cable at most the row being written; the reader skips a
/// partial last row and says so. Rows are formatted into a buffer allocated once, so appending does
/// not allocate.
public final class TrajectoryWriter {
    /// The file being written.
    public let path: String
    /// Column names after `time_s`.
    public let columns: [String]
    /// Rows written so far.
    public private(set) var rowCount = 0
    private var fd: Int32
    private var line: [UInt8]

    /// Creates (or truncates) `path` and writes the metadata lines and the header.
    ///
    /// - Parameters:
    ///   - metadata: `key: value` pairs written as `# key: value` lines after `# engram-trajectory 1`.
    ///   - decimals: digits after the decimal point for every value (default 6: 1 µrad, 1 µs).
    public init(path: String, columns: [String], metadata: [(String, String)], decimals: Int = 6) throws {
        self.path = path
        self.columns = columns
        self.decimals = max(0, min(9, decimals))
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TrajectoryWriteError("\(path): cannot create the file (\(String(cString: strerror(errno)))); check the folder exists and is writable")
        }
        line = [UInt8](repeating: 0, count: 32 * (columns.count + 1) + 16)
        var header = "# engram-trajectory 1\n"
        for (k, v) in metadata { header += "# \(k): \(v)\n" }
        header += "time_s," + columns.joined(separator: ",") + "\n"
        try writeAll(Array(header.utf8))
    }

    private let decimals: Int

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Appends one row; `values` holds one value per column. No allocation.
    public func append(time: Double, values: UnsafeBufferPointer<Double>) throws {
        precondition(values.count == columns.count, "row has \(values.count) values for \(columns.count) columns")
        var n = 0
        line.withUnsafeMutableBufferPointer { buf in
            n = TrajectoryWriter.format(time, decimals: decimals, into: buf, at: 0)
            for v in values {
                buf[n] = UInt8(ascii: ","); n += 1
                n = TrajectoryWriter.format(v, decimals: decimals, into: buf, at: n)
            }
            buf[n] = UInt8(ascii: "\n"); n += 1
        }
        try line.withUnsafeBufferPointer { try writeAll(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[0..<n])) }
        rowCount += 1
    }

    /// Appends one row from an array (convenience; the array is not copied).
    public func append(time: Double, values: [Double]) throws {
        try values.withUnsafeBufferPointer { try append(time: time, values: $0) }
    }

    /// Closes the file; further appends fail.
    public func close() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw TrajectoryWriteError("\(path): the recorder is closed") }
        var offset = 0
        while offset < bytes.count {
            let r = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if r < 0 {
                if errno == EINTR { continue }
                throw TrajectoryWriteError("\(path): write failed (\(String(cString: strerror(errno)))); rows up to \(rowCount) are on disk")
            }
            offset += r
        }
    }

    /// Writes `value` in fixed-point with `decimals` digits at `start`; returns the end index.
    /// Non-finite values are written as `nan`, `inf` or `-inf`. No allocation.
    public static func format(_ value: Double, decimals: Int, into buf: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var n = start
        func put(_ s: StaticString) {
            s.withUTF8Buffer { for b in $0 { buf[n] = b; n += 1 } }
        }
        if value.isNaN { put("nan"); return n }
        if value.isInfinite { put(value < 0 ? "-inf" : "inf"); return n }
        var scale: Double = 1
        for _ in 0..<decimals { scale *= 10 }
        var v = value
        if v < 0 { v = -v }
        let scaled = (v * scale).rounded()
        guard scaled < 9.0e18 else {
            // Too large for fixed point: fall back to an integer-valued rendering.
            put(value < 0 ? "-9e18" : "9e18")
            return n
        }
        var digits = UInt64(scaled)
        if value < 0 && digits != 0 { buf[n] = UInt8(ascii: "-"); n += 1 }
        // Render digits right to left into a small stack buffer.
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let count = withUnsafeMutableBytes(of: &tmp) { raw -> Int in
            var k = 0
            repeat {
                raw[k] = UInt8(ascii: "0") + UInt8(digits % 10)
                digits /= 10
                k += 1
            } while digits > 0 || k <= decimals
            return k
        }
        withUnsafeBytes(of: &tmp) { raw in
            for i in stride(from: count - 1, through: 0, by: -1) {
                if i == decimals - 1 && decimals > 0 { buf[n] = UInt8(ascii: "."); n += 1 }
                buf[n] = raw[i]; n += 1
            }
        }
        return n
    }
}

/// A failure to write a trajectory file: one line naming the file and what to do.
public struct TrajectoryWriteError: Error, Sendable, CustomStringConvertible {
    /// What failed and what to do.
    public var description: String
    init(_ description: String) { self.description = description }
}
