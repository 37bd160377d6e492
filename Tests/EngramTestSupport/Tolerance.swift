import Foundation
import Tensors

/// Where the shared reference data lives (../shared beside the checkout), or nil when absent.
///
/// Tests that use it must skip with a message when this is nil: CI and users may not have it.
public enum SharedData {
    /// The `shared` folder beside the repository, found from this source file's location or
    /// `ENGRAM_SHARED`.
    public static var root: String? {
        if let env = ProcessInfo.processInfo.environment["ENGRAM_SHARED"], FileManager.default.fileExists(atPath: env) {
            return env
        }
        // Tests/EngramTestSupport/Tolerance.swift → repository root is two levels up.
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shared = repo.deletingLastPathComponent().appendingPathComponent("shared").path
        return FileManager.default.fileExists(atPath: shared) ? shared : nil
    }

    /// A path below the shared folder, or nil when that file is absent.
    public static func path(_ relative: String) -> String? {
        guard let root else { return nil }
        let p = root + "/" + relative
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    /// The repository root (for Robots/, Calibration/ and the built binaries).
    public static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}

/// Whether `observed` is within `absolute + relative·|expected|` of `expected`.
public func isClose(_ observed: Double, _ expected: Double, absolute: Double = 0, relative: Double = 0) -> Bool {
    abs(observed - expected) <= absolute + relative * abs(expected)
}

/// The largest absolute difference between two equally long arrays.
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// The `engram` executable built by `swift build`/`swift test`, run as a child process.
public enum EngramBinary {
    /// The first line a child process writes to `pipe` (without the newline), waiting for it; "" when the
    /// pipe closes first. Used to read the port `engram sim-serial` announces.
    public static func firstLine(of pipe: Pipe) -> String {
        var first = Data()
        while !first.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            first.append(chunk)
        }
        return String(decoding: first, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    /// Path of the `engram` built with the tests: beside the running test bundle (the configuration in
    /// use, debug or release), else `.build/debug`, else `.build/release`.
    public static let path: String = {
        let fm = FileManager.default
        var candidates: [String] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(exe.deletingLastPathComponent().appendingPathComponent("engram").path)
        }
        candidates += ["debug", "release"].map { SharedData.repositoryRoot + "/.build/\($0)/engram" }
        return candidates.first { fm.isExecutableFile(atPath: $0) } ?? candidates[candidates.count - 2]
    }()

    /// Whether the binary exists (tests that need it report a skip otherwise).
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// Starts `engram` with `arguments`; stdout and stderr go to pipes.
    public static func start(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    /// Runs `engram` to completion; returns its status, stdout and stderr.
    public static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let (p, out, err) = try start(arguments)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
