import Foundation
import Testing
import MetaLearning
import EngramTestSupport
import Trajectories

/// record and replay end to end through the `engram` binary on the simulated arm.
struct RecordReplayTests {
    func temporary(_ name: String) -> String {
        NSTemporaryDirectory() + "engram-\(getpid())-\(name)"
    }

    /// A recording killed with SIGKILL keeps every whole row; a row cut in half (as by a pulled cable)
    /// is reported and skipped by the reader.
    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
    func recordingSurvivesSIGKILL() throws {
        let path = temporary("killed.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (p, _, _) = try EngramBinary.start(["record", "--sim", "--robot", "scorbot-er7", "--out", path, "--duration", "30", "--seed", "4"])
        Thread.sleep(forTimeInterval: 1.0)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let file = try TrajectoryFile(csv: text, source: path)
        #expect(file.notes.isEmpty, "a SIGKILL between two write(2) calls leaves only whole rows: \(file.notes)")
        #expect(file.rows >= 20, "rows on disk after 1 s at 100 Hz: \(file.rows)")
        #expect(file.joints == ["base", "shoulder", "elbow", "wrist"])
        for k in 1..<file.rows { #expect(abs(file.time[k] - file.time[k - 1] - 0.01) < 1e-9) }
        // Cut the last row in half: the reader keeps the whole rows and says it skipped one.
        text.removeLast(8)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let cut = try TrajectoryFile(contentsOfFile: path)
        #expect(cut.rows == file.rows - 1)
        #expect(cut.notes.contains { $0.contains("skipped") || $0.contains("cut off") }, "notes: \(cut.notes)")
    }

    /// Replay reproduces a recorded trajectory on the simulated arm within 1° RMS.
    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
    func replayReproducesARecording() throws {
        let recording = temporary("demo.csv")
        defer { try? FileManager.default.removeItem(atPath: recording) }
        let r = try EngramBinary.run(["record", "--sim", "--fast", "--out", recording, "--seed", "7"])
        #expect(r.status == 0, "\(r.stderr)")
        let replay = try EngramBinary.run(["replay", recording, "--sim", "--fast", "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as! [String: Any]
        let rms = json["rms_error_deg"] as! Double
        #expect(rms < 1.0, "RMS \(rms)°")
        #expect((json["stop"] as! String) == "policy finished")
    }

    /// A file for another robot, or with a value outside the limits, is refused naming joint and value.
    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
    func replayRefusesMismatchedFiles() throws {
        let path = temporary("bad.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "time_s,base.pos,shoulder.pos\n0,0,0\n0.01,0,1.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        let outside = try EngramBinary.run(["replay", path, "--sim", "--fast"])
        #expect(outside.status == 1)
        #expect(outside.stderr.contains("joint 'shoulder' goes to 85.9°"), "\(outside.stderr)")
        #expect(outside.stderr.contains("[-70.0°, 70.0°]"), "\(outside.stderr)")
        let other = try EngramBinary.run(["replay", path, "--sim", "--fast", "--robot", "so101"])
        #expect(other.status == 1)
        #expect(other.stderr.contains("joint 'base' is not a joint of so101"), "\(other.stderr)")
    }
}
