import Foundation
import Perception
import Tensors
import Testing
import EngramTestSupport

/// `engram fewshot-runs` builds Lake-layout runs from Omniglot as published, and `engram fewshot --runs`
/// scores a checkpoint on them, per run and overall, from the folder or the zip.
struct FewShotRunsTests {
    static let model = SharedData.repositoryRoot + "/Models/omniglot-fewshot.safetensors"

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("engram-runs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
    }

    /// Synthetic glyphs written as published Omniglot: dark ink on white 8-bit PNGs,
    /// `<alphabet>/character0C/0AC0_0D.png`, 2 alphabets × 6 characters × 4 drawers.
    static func publishedFolder() throws -> String {
        let folder = temporary("images_background")
        let set = StrokeGlyphs().dataset(alphabets: 2, characters: 6, drawers: 4, seed: 3)
        let n = set.imageSize * set.imageSize
        var drawn: [Int: Int] = [:]
        for i in 0..<set.count {
            let id = set.labels[i], d = drawn[id, default: 0] + 1
            drawn[id] = d
            let alphabet = id < 6 ? "Alpha" : "Beta", character = id % 6 + 1
            let pixels = set.pixels[(i * n)..<((i + 1) * n)].map { UInt8((255 * (1 - $0)).rounded()) }
            let url = URL(fileURLWithPath: folder).appendingPathComponent("\(alphabet)/character0\(character)/0\(id)0\(character)_0\(d).png")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(PNGCodec.encode(GrayImage(width: set.imageSize, height: set.imageSize, pixels: pixels))).write(to: url)
        }
        return folder
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func buildsRunsAndScoresThemFromFolderAndZip() throws {
        let data = try Self.publishedFolder(), runs = Self.temporary("runs"), zip = Self.temporary("runs.zip")
        defer { [data, runs, zip].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let built = try EngramBinary.run(["fewshot-runs", "--data", data, "--alphabets", "Beta,Alpha", "--ways", "5",
                                          "--runs", "3", "--out", runs, "--seed", "2"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.contains("run01: Beta, 5 characters") && built.stdout.contains("run02: Alpha"), "\(built.stdout)")
        let labels = try String(contentsOfFile: runs + "/run03/class_labels.txt", encoding: .utf8).split(separator: "\n")
        #expect(labels.count == 5 && labels.allSatisfy { $0.hasPrefix("run03/test/item0") && $0.contains(" run03/training/class0") })
        #expect(try EngramBinary.run(["fewshot-runs", "--data", data, "--alphabets", "Beta,Alpha", "--ways", "5", "--runs", "3",
                                      "--out", zip, "--seed", "2"]).status == 0)

        var outputs: [String] = []
        for location in [runs, zip] {
            let r = try EngramBinary.run(["fewshot", "--runs", location, "--checkpoint", Self.model, "--threads", "1", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            let perRun = (json["runs"] as! [[String: Any]]).map { $0["accuracy"] as! Double }
            #expect(perRun.count == 3)
            #expect(abs(perRun.reduce(0, +) / 3 - (json["accuracy"] as! Double)) < 1e-6)
            #expect(perRun.allSatisfy { $0 >= 0 && $0 <= 1 && ($0 * 5).rounded() == $0 * 5 }, "\(perRun)")
            outputs.append(r.stdout)
        }
        #expect(outputs[0] == outputs[1], "the zip scores as its folder does")

        let text = try EngramBinary.run(["fewshot", "--runs", runs, "--checkpoint", Self.model, "--threads", "1"])
        #expect(text.stdout.contains("run02  5-way 1-shot  accuracy") && text.stdout.contains("overall: 3 runs, pcm off"), "\(text.stdout)")
    }

    /// A run whose test images are its training images scores far above one where every test image is
    /// labelled as another class: the runs' labels reach the classifier.
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func labelsOfTheRunsAreThoseClassified() throws {
        let data = try Self.publishedFolder(), runs = Self.temporary("copies")
        defer { [data, runs].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let images = try FileManager.default.subpathsOfDirectory(atPath: data).filter { $0.hasPrefix("Alpha") && $0.hasSuffix("_01.png") }.sorted()
        for (run, shift) in [("run01", 0), ("run02", 1)] {
            var labels = ""
            for (c, image) in images.prefix(5).enumerated() {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: data + "/" + image))
                try FileManager.default.createDirectory(atPath: "\(runs)/\(run)/training", withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: "\(runs)/\(run)/test", withIntermediateDirectories: true)
                try bytes.write(to: URL(fileURLWithPath: "\(runs)/\(run)/training/class0\(c + 1).png"))
                try bytes.write(to: URL(fileURLWithPath: "\(runs)/\(run)/test/item0\(c + 1).png"))
                labels += "\(run)/test/item0\(c + 1).png \(run)/training/class0\((c + shift) % 5 + 1).png\n"
            }
            try labels.write(toFile: "\(runs)/\(run)/class_labels.txt", atomically: true, encoding: .utf8)
        }
        let r = try EngramBinary.run(["fewshot", "--runs", runs, "--checkpoint", Self.model, "--threads", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let perRun = (json["runs"] as! [[String: Any]]).map { $0["accuracy"] as! Double }
        #expect(perRun[0] >= 0.8 && perRun[1] <= 0.2, "\(perRun)")
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func mistakesAreNamed() throws {
        let data = try Self.publishedFolder(), runs = Self.temporary("never")
        defer { [data, runs].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let unknown = try EngramBinary.run(["fewshot-runs", "--data", data, "--alphabets", "Gamma", "--ways", "5", "--out", runs])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown alphabet 'Gamma'") && unknown.stderr.contains("Alpha,Beta"), "\(unknown.stderr)")
        let few = try EngramBinary.run(["fewshot-runs", "--data", data, "--alphabets", "Alpha", "--out", runs])
        #expect(few.status == 2 && few.stderr.contains("Alpha has 6 characters, fewer than --ways 20"), "\(few.stderr)")
        let notRuns = try EngramBinary.run(["fewshot", "--runs", data, "--checkpoint", Self.model])
        #expect(notRuns.status == 1 && notRuns.stderr.contains("no runNN/class_labels.txt"), "\(notRuns.stderr)")
        let ways = try EngramBinary.run(["fewshot", "--runs", data, "--ways", "5", "--checkpoint", Self.model])
        #expect(ways.status == 2 && ways.stderr.contains("--ways does not apply to --runs"), "\(ways.stderr)")
        let published = try EngramBinary.run(["fewshot", "--data", data, "--ways", "5", "--shots", "1", "--queries", "1",
                                              "--episodes", "4", "--checkpoint", Self.model, "--threads", "1", "--json"])
        #expect(published.status == 0 && published.stdout.contains("\"episodes\": 4"), "\(published.stderr)")
    }

    /// fewshot-train reads the published layout, and its checkpoint records the ink it was trained on,
    /// which fewshot then gives the PNGs without being told.
    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func trainsOnPublishedPNGsAndRecordsTheInk() throws {
        let data = try Self.publishedFolder(), out = Self.temporary("model.safetensors")
        defer { [data, out, out + ".state", String(out.dropLast(12)) + "-loss.tsv"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let r = try EngramBinary.run(["fewshot-train", "--data", data, "--alphabets", "Alpha", "--ways", "5", "--shots", "1",
                                      "--queries", "1", "--meta-batch", "2", "--iterations", "2", "--threads", "1",
                                      "--validate-every", "0", "--channels", "8", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let header = try SafeTensors(contentsOfFile: out).metadata
        #expect(header["ink"] == "dark" && header["alphabets"] == "Alpha" && header["iteration"] == "2", "\(header)")
        let inverted = try EngramBinary.run(["fewshot", "--data", data, "--ways", "5", "--shots", "1", "--invert", "--checkpoint", out])
        #expect(inverted.status == 2 && inverted.stderr.contains("--invert applies to IDX data"), "\(inverted.stderr)")
    }
}

