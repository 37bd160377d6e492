import Foundation
import Testing
import EngramTestSupport

/// `meta-train --export` writes a shipping copy: the weights and metadata without the Adam state.
struct MetaTrainExportTests {
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs .build/debug/engram"))
    func exportDropsTheTrainingStateAndStillLoads() throws {
        let dir = NSTemporaryDirectory() + "engram-\(getpid())-export"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run.safetensors", ship = dir + "/ship.safetensors"
        let train = try EngramBinary.run(["meta-train", "--task", "scorbot", "--iterations", "1", "--batch", "2", "--threads", "1", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        let export = try EngramBinary.run(["meta-train", "--out", run, "--export", ship])
        #expect(export.status == 0, "\(export.stderr)")
        let full = try FileManager.default.attributesOfItem(atPath: run)[.size] as! Int
        let slim = try FileManager.default.attributesOfItem(atPath: ship)[.size] as! Int
        #expect(slim * 2 < full, "exported \(slim) bytes from \(full)")
        let header = try String(decoding: Data(contentsOf: URL(fileURLWithPath: ship)), as: UTF8.self).prefix(4000)
        #expect(!header.contains("engram.adam"), "no Adam moments in the shipping copy")
        #expect(header.contains("engram.training.command"), "the training command stays in the metadata")
        let evaluate = try EngramBinary.run(["evaluate", "--checkpoint", ship, "--tasks", "1", "--threads", "1", "--json"])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
    }
}
