import Foundation
import Testing
import EngramTestSupport

/// Runs `body` with a fresh directory under the system's temporary one, removed afterwards.
private func withScratchDirectory(_ name: String, _ body: (String) throws -> Void) throws {
    let dir = NSTemporaryDirectory() + "engram-\(getpid())-\(name)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try body(dir)
}

/// The first `bytes` bytes of a safetensors file as text: its JSON header, metadata included.
private func safetensorsHeader(of path: String, bytes: Int = 4000) throws -> Substring {
    String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self).prefix(bytes)
}

/// `meta-train --export` writes a shipping copy: the weights and metadata without the Adam state.
struct MetaTrainExportTests {
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func exportDropsTheTrainingStateAndStillLoads() throws {
        try withScratchDirectory("export") { dir in
            let run = dir + "/run.safetensors", ship = dir + "/ship.safetensors"
            let train = try EngramBinary.run(["meta-train", "--task", "scorbot", "--iterations", "1", "--batch", "2", "--threads", "1", "--out", run])
            #expect(train.status == 0, "\(train.stderr)")
            let export = try EngramBinary.run(["meta-train", "--out", run, "--export", ship])
            #expect(export.status == 0, "\(export.stderr)")
            let full = try FileManager.default.attributesOfItem(atPath: run)[.size] as! Int
            let slim = try FileManager.default.attributesOfItem(atPath: ship)[.size] as! Int
            #expect(slim * 2 < full, "exported \(slim) bytes from \(full)")
            let header = try safetensorsHeader(of: ship)
            #expect(!header.contains("engram.adam"), "no Adam moments in the shipping copy")
            #expect(header.contains("engram.training.command"), "the training command stays in the metadata")
            let evaluate = try EngramBinary.run(["evaluate", "--checkpoint", ship, "--tasks", "1", "--threads", "1", "--json"])
            #expect(evaluate.status == 0, "\(evaluate.stderr)")
        }
    }
}

/// `meta-train --pcm off,paper` mixes the models over each batch and says so in the checkpoint and the log;
/// a model name that does not exist is a usage error naming the choices.
struct MetaTrainMixedModelsTests {
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func mixedRunRecordsBothModels() throws {
        try withScratchDirectory("mixed") { dir in
            let run = dir + "/run.safetensors", log = dir + "/curve.csv"
            let train = try EngramBinary.run(["meta-train", "--task", "scorbot", "--pcm", "off,paper", "--iterations", "1", "--batch", "2",
                                              "--threads", "1", "--out", run, "--log", log])
            #expect(train.status == 0, "\(train.stderr)")
            let header = try safetensorsHeader(of: run)
            #expect(header.contains("\"engram.training.pcm\":\"off,paper\""), "metadata: \(header.prefix(300))")
            #expect(header.contains("\"engram.training.quantize\":\"off,on\""))
            let curve = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            #expect(curve.first?.hasSuffix(",task_loss_off,task_loss_paper") == true)
            #expect(curve.count == 2 && curve[1].split(separator: ",").count == curve[0].split(separator: ",").count)

            let bad = try EngramBinary.run(["meta-train", "--task", "scorbot", "--pcm", "off,papr", "--iterations", "1", "--out", dir + "/x.safetensors"])
            #expect(bad.status == 2)
            // Checked at parse time, as every typed option: the choices are listed and the list form is named.
            #expect(bad.stderr.contains("--pcm <model>: 'papr' is not one of off, paper, physical"), "\(bad.stderr)")
        }
    }
}

/// Every sitting that trained a checkpoint's weights is in its metadata: a run started with --init from
/// another run's checkpoint and then resumed records three commands, oldest first.
struct MetaTrainHistoryTests {
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func historyFollowsInitAndResume() throws {
        try withScratchDirectory("history") { dir in
            let first = dir + "/first.safetensors", second = dir + "/second.safetensors"
            let common = ["meta-train", "--task", "scorbot", "--batch", "1", "--threads", "1"]
            #expect(try EngramBinary.run(common + ["--iterations", "1", "--out", first]).status == 0)
            #expect(try EngramBinary.run(common + ["--iterations", "1", "--init", first, "--out", second]).status == 0)
            #expect(try EngramBinary.run(common + ["--iterations", "2", "--resume", "--out", second]).status == 0)
            let header = try safetensorsHeader(of: second, bytes: 6000)
            let start = try #require(header.range(of: "\"engram.training.history\":\""))
            let value = header[start.upperBound...].prefix { $0 != "\"" }
            let lines = value.components(separatedBy: "\\n")
            #expect(lines.count == 3, "history: \(value)")
            #expect(lines.first?.contains("--out \(first)") == true && lines.last?.contains("--resume") == true)
        }
    }
}

/// `--after-disturbance-weight` belongs to closed-loop training and must be at least 1: usage errors (exit 2)
/// that name the fix, before any training starts.
struct MetaTrainAfterDisturbanceWeightTests {
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func badUsesAreRefused() throws {
        try withScratchDirectory("after-weight") { dir in
            let out = dir + "/x.safetensors"
            let open = try EngramBinary.run(["meta-train", "--task", "scorbot", "--after-disturbance-weight", "3", "--iterations", "1", "--out", out])
            #expect(open.status == 2)
            #expect(open.stderr.contains("needs --closed-loop"), "\(open.stderr)")
            let low = try EngramBinary.run(["meta-train", "--robot", SharedData.repositoryRoot + "/Robots/so101", "--closed-loop", "--after-disturbance-weight", "0.5",
                                            "--iterations", "1", "--out", out])
            #expect(low.status == 2)
            #expect(low.stderr.contains("'0.5' is not a weight") && low.stderr.contains("at least 1"), "\(low.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "nothing trained")
        }
    }
}

/// `--average-every` keeps a weight average in the run's checkpoint and `--export-average` ships it;
/// asking for an average the run does not keep, or a start without a spacing, is refused with the fix.
struct MetaTrainWeightAverageTests {
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func averageIsKeptAndExported() throws {
        try withScratchDirectory("average") { dir in
            let run = dir + "/run.safetensors", plain = dir + "/plain.safetensors", ship = dir + "/ship.safetensors"
            let common = ["meta-train", "--task", "scorbot", "--iterations", "2", "--batch", "1", "--threads", "1"]
            let train = try EngramBinary.run(common + ["--average-every", "1", "--out", run])
            #expect(train.status == 0, "\(train.stderr)")
            #expect(train.stdout.contains("weight average: mean of 2 snapshots every 1 iterations, iterations 1–2"), "\(train.stdout)")
            let export = try EngramBinary.run(["meta-train", "--out", run, "--export-average", ship])
            #expect(export.status == 0, "\(export.stderr)")
            let header = try safetensorsHeader(of: ship)
            #expect(header.contains("\"engram.training.averaged\":\"mean of 2 snapshots"), "\(header.prefix(400))")
            #expect(!header.contains("engram.adam") && !header.contains("\"engram.average\""))
            let last = dir + "/last.safetensors"
            #expect(try EngramBinary.run(["meta-train", "--out", run, "--export", last]).status == 0)
            #expect(!(try safetensorsHeader(of: last)).contains("\"engram.training.average\""), "the plain copy does not claim a mean")
            let resume = try EngramBinary.run(["meta-train", "--task", "scorbot", "--iterations", "3", "--batch", "1", "--threads", "1", "--resume", "--out", last])
            #expect(resume.status == 1 && resume.stderr.contains("shipping copy") && resume.stderr.contains("--init"), "\(resume.stderr)")
            let again = try EngramBinary.run(["meta-train", "--out", ship, "--export-average", dir + "/y.safetensors"])
            #expect(again.status == 1 && again.stderr.contains("keeps no weight average"), "\(again.stderr)")
            let evaluate = try EngramBinary.run(["evaluate", "--checkpoint", ship, "--tasks", "1", "--threads", "1", "--json"])
            #expect(evaluate.status == 0, "\(evaluate.stderr)")

            #expect(try EngramBinary.run(common + ["--out", plain]).status == 0)
            let none = try EngramBinary.run(["meta-train", "--out", plain, "--export-average", ship])
            #expect(none.status == 1)
            #expect(none.stderr.contains("keeps no weight average") && none.stderr.contains("--average-every"), "\(none.stderr)")
            let from = try EngramBinary.run(common + ["--average-from", "10", "--out", dir + "/x.safetensors"])
            #expect(from.status == 2)
            #expect(from.stderr.contains("needs --average-every"), "\(from.stderr)")
        }
    }
}
