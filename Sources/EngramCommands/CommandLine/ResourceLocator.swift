import Foundation

/// Finds files that ship with Engram (Robots/, Calibration/, Models/): first relative to the working
/// directory, then in the repository the executable was built in (found by walking up from the
/// executable, so `swift run` and `.build/release/engram` work from anywhere).
enum ResourceLocator {
    /// The path of `relative` if it exists in one of the search places.
    static func find(_ relative: String) -> String? {
        if FileManager.default.fileExists(atPath: relative) { return relative }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = url.appendingPathComponent(relative).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return nil
    }

    /// A robot directory given as a path or as a bare name (`so101` → Robots/so101).
    static func robotDirectory(_ nameOrPath: String) -> String? {
        if FileManager.default.fileExists(atPath: nameOrPath) { return nameOrPath }
        return find("Robots/" + nameOrPath)
    }
}
