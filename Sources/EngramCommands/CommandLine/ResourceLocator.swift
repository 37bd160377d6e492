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

    /// A robot directory given as a path or as a bare name (`so101` → Robots/so101). Every command
    /// names robots this way, through `RobotReference` (the `--robot` option's type).
    static func robotDirectory(_ nameOrPath: String) -> String? {
        if FileManager.default.fileExists(atPath: nameOrPath) { return nameOrPath }
        return find("Robots/" + nameOrPath)
    }

    /// The names of the robots that ship in Robots/ (folders with a robot.yaml), sorted.
    static func knownRobots() -> [String] {
        guard let dir = find("Robots"), let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("\($0)/robot.yaml")) }.sorted()
    }
}
