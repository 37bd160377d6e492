import Foundation
import Testing
import EngramTestSupport
@testable import EngramCommands

/// Issue 19 items 7–9 through the `engram` binary: values that cannot be right are refused with the file,
/// the place and the bound, and `--json` never hides a non-finite figure.
struct HostileInputTests {
    func temporary(_ name: String) -> String { NSTemporaryDirectory() + "engram-\(getpid())-hostile-\(name)" }

    /// A target of 249 rows whose base column is `base` at row 100.
    func target(base: String) -> String {
        var csv = "time_s,base.pos,shoulder.pos\n"
        for k in 0..<249 { csv += "\(Double(k) * 0.01),\(k == 100 ? base : "0.1"),0.2\n" }
        return csv
    }

    /// JSON has no NaN or infinity: such a figure is printed as null, and the command fails naming it
    /// (the old printer gave `{}` and exit 0).
    @Test func nonFiniteFiguresArePrintedAsNullAndFail() throws {
        let (text, nonFinite) = JSONOutput.render(["tasks": [["loss_after": Double.infinity, "loss_before": 0.5]], "mean": Double.nan, "n": 2] as [String: Any])
        #expect(text == #"{"mean":null,"n":2,"tasks":[{"loss_after":null,"loss_before":0.5}]}"#)
        #expect(nonFinite == ["mean", "tasks[0].loss_after"])
        do {
            var printed: [String] = []
            defer { #expect(printed == [#"{"x":null}"#]) }
            try JSONOutput.print(["x": Float.nan] as [String: Any]) { printed.append($0) }
            Issue.record("a non-finite figure passed")
        } catch {
            #expect("\(error)".hasPrefix("not finite, printed as null: x;"), "\(error)")
        }
        #expect(JSONOutput.render(["x": 1.5] as [String: Any]).nonFinite.isEmpty)
    }

    /// A target of 1e308 (or far outside the joint limits) was adapted to (loss inf → inf), and `--out`
    /// still wrote a controller. Now it is refused before adapting, naming row, joint and bound.
    @Test(.enabled(if: EngramBinary.isAvailable && TeachByDemonstrationTests.controller != nil, "needs the engram binary (swift build) and a controller"))
    func adaptRefusesTargetsOutsideTheJointLimits() throws {
        let path = temporary("target.csv"), out = temporary("adapted.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: out) }
        for base in ["1e308", "3.5"] {
            try target(base: base).write(toFile: path, atomically: true, encoding: .utf8)
            let r = try EngramBinary.run(["adapt", "--checkpoint", TeachByDemonstrationTests.controller!, "--target", path, "--out", out, "--json"])
            #expect(r.status == 1, "\(r.stdout)")
            #expect(r.stderr.contains("\(path): row 101 (time_s 1): base.pos is \(base == "3.5" ? "3.5" : "1e+308") rad"), "\(r.stderr)")
            #expect(r.stderr.contains("outside the joint's limits [-130°, 130°]"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "a controller was written from an impossible target")
            // The same through a robot description (run and adapt --robot share the check).
            let so101 = try EngramBinary.run(["adapt", "--checkpoint", TeachByDemonstrationTests.controller!, "--robot", "scorbot-er7", "--target", path, "--json"])
            #expect(so101.status == 1 && so101.stderr.contains("base.pos is"), "\(so101.stderr)")
        }
    }

    /// An end-effector column of 1e308 passes the joint limits but makes the loss infinite: the adaptation
    /// is refused as diverged, and `--out` writes nothing (it used to write a controller from loss inf → inf).
    @Test(.enabled(if: EngramBinary.isAvailable && TeachByDemonstrationTests.controller != nil, "needs the engram binary (swift build) and a controller"))
    func adaptWithANonFiniteLossWritesNothing() throws {
        let path = temporary("ee.csv"), out = temporary("ee-adapted.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: out) }
        var csv = "time_s,base.pos,shoulder.pos,ee.x,ee.y,ee.z\n"
        for k in 0..<249 { csv += "\(Double(k) * 0.01),0.1,0.2,\(k == 100 ? "1e308" : "0.5"),0.1,0.3\n" }
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try EngramBinary.run(["adapt", "--checkpoint", TeachByDemonstrationTests.controller!, "--target", path, "--out", out, "--json"])
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty, "\(r.stdout)")
        #expect(r.stderr.contains("\(path): the loss went inf → inf, not finite; the adaptation diverged, so \(out) was not written"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// `replay` sized its log from the file's time span: 2.5e8 s (or microseconds read as seconds) asked
    /// for gigabytes and aborted. The span is bounded before the port opens.
    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
    func replayBoundsTheFilesTimeSpan() throws {
        let path = temporary("long.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "time_s,base.pos,shoulder.pos\n0,0,0\n250000000,0,0.1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try EngramBinary.run(["replay", path, "--sim", "--fast"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("engram replay: \(path): time_s spans 2.5e+08 s (0 to 2.5e+08)"), "\(r.stderr)")
        #expect(r.stderr.contains("more than the 1000000 ticks (10000 s at 100 Hz) one replay may last; time_s must be in seconds"), "\(r.stderr)")
    }

    /// `replay --json` reports the safety counters as `run --json` does.
    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
    func replayJSONCarriesTheSafetyCounters() throws {
        let path = temporary("short.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A jump of 60° in 10 ms: far past the Scorbot's speed limit, so goals are rate-limited.
        try "time_s,base.pos,shoulder.pos\n0,0,0\n0.5,0,0\n0.51,1.05,0\n1,1.05,0\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = try EngramBinary.run(["replay", path, "--sim", "--fast", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let safety = try #require(json["safety"] as? [String: Any], "\(r.stdout)")
        #expect(Set(safety.keys) == ["clamped_to_limits", "rate_limited", "rejected_non_finite", "ease_in_ticks", "failed_reads", "rejected_readings", "stopped_on_fault", "stop_reason"])
        #expect((safety["rate_limited"] as? Int ?? 0) > 0, "\(safety)")
        #expect(safety["stop_reason"] as? String == "policy finished")
    }
}
