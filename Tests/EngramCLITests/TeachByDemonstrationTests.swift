import Foundation
import Testing
import EngramTestSupport

/// record → adapt → run: a motion demonstrated on the simulated arm is reproduced after one update.
struct TeachByDemonstrationTests {
    /// The controller: the shipped Scorbot controller, else the paper's official one from ../shared.
    static var controller: String? {
        let shipped = SharedData.repositoryRoot + "/Robots/scorbot-er7/controller.safetensors"
        if FileManager.default.fileExists(atPath: shipped) { return shipped }
        return SharedData.path("reference/robot-l2l-official.safetensors")
    }

    @Test(.enabled(if: EngramBinary.isAvailable && controller != nil,
                   "skipped: needs the engram binary (swift build) and a Scorbot controller (shipped or ../shared/reference)"))
    func adaptedRunTracksTheDemonstrationAtLeastTwiceAsWell() throws {
        let demo = NSTemporaryDirectory() + "engram-\(getpid())-demonstration.csv"
        defer { try? FileManager.default.removeItem(atPath: demo) }
        let r = try EngramBinary.run(["record", "--sim", "--fast", "--robot", "scorbot-er7", "--out", demo, "--seed", "11"])
        #expect(r.status == 0, "\(r.stderr)")
        func tracking(adapt: String) throws -> Double {
            let run = try EngramBinary.run(["run", "--robot", SharedData.repositoryRoot + "/Robots/scorbot-er7", "--sim", "--target", demo,
                                            "--checkpoint", Self.controller!, "--pcm", "off", "--adapt", adapt, "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
            return (object["tracking"] as! [String: Any])["ee_mean_mm"] as! Double
        }
        let unadapted = try tracking(adapt: "off")
        let adapted = try tracking(adapt: "on")
        #expect(adapted <= unadapted / 2, "end-effector mean error: unadapted \(unadapted) mm, adapted \(adapted) mm")
    }
}
