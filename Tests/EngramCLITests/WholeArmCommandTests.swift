import Foundation
import Testing
import EngramTestSupport

/// record → adapt → run → replay on whole-arm files, through the command line.
@Suite struct WholeArmCommandTests {
    static let robot = SharedData.repositoryRoot + "/Robots/so101"

    static func scratch(_ name: String) -> String { NSTemporaryDirectory() + "engram-\(getpid())-wa-\(name)" }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func recordRunReplayOnEveryJoint() throws {
        let demo = Self.scratch("demo.csv")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        let record = try EngramBinary.run(["record", "--robot", Self.robot, "--sim", "--fast", "--duration", "3", "--out", demo, "--seed", "4"])
        #expect(record.status == 0, "\(record.stderr)")
        let text = try String(contentsOfFile: demo, encoding: .utf8)
        let header = try #require(text.split(separator: "\n").first { !$0.hasPrefix("#") })
        #expect(header.split(separator: ",").count == 7, "time_s and six joints: \(header)")
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.count - 1

        let adapt = try EngramBinary.run(["adapt", "--robot", Self.robot, "--checkpoint", Self.robot + "/controller-whole-arm.safetensors",
                                          "--target", demo, "--pcm", "off", "--json"])
        #expect(adapt.status == 0, "\(adapt.stderr)")
        let adapted = try #require((try Self.json(adapt.stdout))["tasks"] as? [[String: Any]])
        #expect(adapted.first?["segments"] as? Int == 3)

        for mode in ["on", "off"] {
            let run = try EngramBinary.run(["run", "--robot", Self.robot, "--sim", "--target", demo, "--adapt", mode, "--pcm", "paper", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let object = try Self.json(run.stdout)
            let timing = try #require(object["timing"] as? [String: Any])
            #expect(timing["ticks"] as? Int == rows, "the run lasts the file's \(rows) rows (--adapt \(mode))")
            let tracking = try #require(object["tracking"] as? [String: Any])
            let perJoint = try #require(tracking["per_joint_rms_deg"] as? [String: Double])
            #expect(Set(perJoint.keys) == ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"])
            #expect((tracking["joint_rms_deg"] as? Double).map { $0.isFinite && $0 > 0 } == true)
            #expect((object["adaptation"] != nil) == (mode == "on"))
        }
        let replay = try EngramBinary.run(["replay", demo, "--robot", Self.robot, "--sim", "--fast", "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
    }

    /// A bad demonstration is refused before the port is touched: the error names the file, the joint and the
    /// row even when --port names no device at all.
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func badDemonstrationIsRefusedBeforeThePort() throws {
        let path = Self.scratch("bad.csv")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var csv = "time_s,shoulder_pan.pos,shoulder_lift.pos,elbow_flex.pos,wrist_flex.pos,wrist_roll.pos,gripper.pos\n"
        for k in 0..<50 { csv += "\(Double(k) * 0.01),0,0,\(k == 30 ? 2.5 : 0.0),0,0,0.5\n" }
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        for target in ["--sim", "--port"] {
            var arguments = ["run", "--robot", Self.robot, "--target", path, "--checkpoint", Self.robot + "/controller-whole-arm.safetensors"]
            arguments += target == "--sim" ? ["--sim"] : ["--port", "/dev/engram-no-such-port", "--calibration", SharedData.repositoryRoot + "/Calibration/so101.yaml"]
            let r = try EngramBinary.run(arguments)
            #expect(r.status == 1)
            #expect(r.stderr.contains(path) && r.stderr.contains("row 31") && r.stderr.contains("elbow_flex") && r.stderr.contains("outside its limits"), "\(r.stderr)")
        }
    }

    /// `adapt` refuses a controller meta-trained for another robot.
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func adaptRefusesAnotherRobotsController() throws {
        let demo = Self.scratch("koch.csv")
        defer { try? FileManager.default.removeItem(atPath: demo) }
        _ = try EngramBinary.run(["record", "--robot", SharedData.repositoryRoot + "/Robots/koch", "--sim", "--fast", "--duration", "2", "--out", demo])
        let r = try EngramBinary.run(["adapt", "--robot", SharedData.repositoryRoot + "/Robots/koch", "--checkpoint", Self.robot + "/controller-whole-arm.safetensors",
                                      "--target", demo])
        #expect(r.status == 1)
        #expect(r.stderr.contains("meta-trained for so101, not koch"), "\(r.stderr)")
        let scorbot = try EngramBinary.run(["adapt", "--robot", SharedData.repositoryRoot + "/Robots/scorbot-er7", "--checkpoint",
                                            SharedData.repositoryRoot + "/Robots/so101/controller.safetensors", "--target", demo])
        #expect(scorbot.status == 1)
        #expect(scorbot.stderr.contains("meta-trained for so101, not scorbot-er7"), "\(scorbot.stderr)")
    }
}
