import CZip
import Foundation

/// The files of a folder or of a zip archive (read with Debian's libzip), named by their paths inside it
/// with `/` separators: the one way the perception readers get at published data, unpacked or not.
public final class FileCollection {
    /// The folder or zip file.
    public let location: String
    /// Every regular file inside, sorted.
    public let paths: [String]
    private let archive: OpaquePointer?

    /// Opens a folder, or a zip archive when `location` is a file.
    public init(_ location: String) throws {
        self.location = location
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory) else {
            throw IDXError(path: location, message: "no such folder or zip file")
        }
        if isDirectory.boolValue {
            archive = nil
            var found: [String] = []
            let root = URL(fileURLWithPath: location)
            if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) {
                let base = root.standardizedFileURL.path
                for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                    found.append(String(url.standardizedFileURL.path.dropFirst(base.count + 1)))
                }
            }
            paths = found.sorted()
        } else {
            var code: Int32 = 0
            guard let z = zip_open(location, ZIP_RDONLY, &code) else {
                var error = zip_error_t()
                zip_error_init_with_code(&error, code)
                defer { zip_error_fini(&error) }
                throw IDXError(path: location, message: "not a readable zip archive (\(String(cString: zip_error_strerror(&error)))); pass the zip as downloaded or the folder it unpacks to")
            }
            archive = z
            var names: [String] = []
            for i in 0..<zip_get_num_entries(z, 0) {
                guard let name = zip_get_name(z, zip_uint64_t(i), 0) else { continue }
                let s = String(cString: name)
                if !s.hasSuffix("/") { names.append(s) }
            }
            paths = names.sorted()
        }
    }

    deinit {
        if let archive { zip_discard(archive) }
    }

    /// The bytes of the file at `path` (one of `paths`).
    public func contents(of path: String) throws -> [UInt8] {
        let shown = location + "/" + path
        guard let archive else {
            guard let data = FileManager.default.contents(atPath: shown) else {
                throw IDXError(path: shown, message: "cannot read the file; check it exists and is readable")
            }
            return [UInt8](data)
        }
        var stat = zip_stat_t()
        zip_stat_init(&stat)
        guard zip_stat(archive, path, 0, &stat) == 0, let file = zip_fopen(archive, path, 0) else {
            throw IDXError(path: shown, message: "not in the archive or unreadable (\(String(cString: zip_strerror(archive))))")
        }
        defer { zip_fclose(file) }
        var bytes = [UInt8](repeating: 0, count: Int(stat.size))
        let read = bytes.withUnsafeMutableBytes { zip_fread(file, $0.baseAddress, zip_uint64_t($0.count)) }
        guard read == Int64(stat.size) else {
            throw IDXError(path: shown, message: "damaged archive member (read \(read) of \(stat.size) bytes); re-download the zip")
        }
        return bytes
    }

    /// Writes `files` (path inside → bytes) as a deflate-compressed zip archive at `path`.
    public static func writeZip(_ files: [(path: String, bytes: [UInt8])], to path: String) throws {
        var code: Int32 = 0
        guard let z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code) else {
            throw IDXError(path: path, message: "cannot create the zip archive (libzip error \(code)); check the folder exists and is writable")
        }
        var buffers: [UnsafeMutableRawPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        for file in files {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, file.bytes.count), alignment: 1)
            buffers.append(buffer)
            file.bytes.withUnsafeBytes { if let b = $0.baseAddress { buffer.copyMemory(from: b, byteCount: $0.count) } }
            let source = zip_source_buffer(z, buffer, zip_uint64_t(file.bytes.count), 0)
            guard let source, zip_file_add(z, file.path, source, zip_flags_t(ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8)) >= 0 else {
                let message = String(cString: zip_strerror(z))
                if let source { zip_source_free(source) }
                zip_discard(z)
                throw IDXError(path: path, message: "cannot add \(file.path) (\(message))")
            }
        }
        guard zip_close(z) == 0 else {
            let message = String(cString: zip_strerror(z))
            zip_discard(z)
            throw IDXError(path: path, message: "cannot write the zip archive (\(message)); check the disk has room")
        }
    }
}
