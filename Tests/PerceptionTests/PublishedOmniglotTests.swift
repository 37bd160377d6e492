import Foundation
import Testing
@testable import Perception

@Suite struct PublishedOmniglotTests {
    /// `tf.image.resize([[0, 255]], [1, 4])` (bilinear, half-pixel centres, no antialiasing) gives
    /// [0, 63.75, 191.25, 255]: the edges clamp.
    @Test func resizeMatchesTensorFlowsBilinearUpsampling() {
        let out = PaperResize.resized(GrayImage(width: 2, height: 1, pixels: [0, 255]), to: 4)
        let expected: [Float] = [0, 63.75, 191.25, 255].map { $0 / 255 }
        for r in 0..<4 { for c in 0..<4 { #expect(abs(out[r * 4 + c] - expected[c]) < 1e-6) } }
    }

    /// Downsampling 105 → 28 samples at (o + ½)·3.75 − ½ without averaging: on a ramp p = 2·column the
    /// result is the ramp at those points; on a ramp over rows, likewise.
    @Test func resizeSamplesTheOmniglotGeometry() {
        let ramp = GrayImage(width: 105, height: 105, pixels: (0..<(105 * 105)).map { UInt8(2 * ($0 % 105)) })
        let out = PaperResize.resized(ramp, to: 28)
        for o in [0, 1, 13, 27] {
            let x = (Float(o) + 0.5) * 3.75 - 0.5
            #expect(abs(out[5 * 28 + o] - 2 * x / 255) < 1e-5)
        }
        let rows = GrayImage(width: 105, height: 105, pixels: (0..<(105 * 105)).map { UInt8(2 * ($0 / 105)) })
        let outRows = PaperResize.resized(rows, to: 28)
        let lastRow: Float = 2 * (27.5 * 3.75 - 0.5) / 255
        #expect(abs(outRows[27 * 28 + 3] - lastRow) < 1e-5)
        // A one-pixel stroke between two sample points vanishes (no antialiasing), as in the paper's pipeline.
        var white = [UInt8](repeating: 255, count: 105 * 105)
        for r in 0..<105 { white[r * 105 + 3] = 0 }  // column 3: samples fall at 1.375 (columns 1, 2) and 5.125 (5, 6)
        let stroke = PaperResize.resized(GrayImage(width: 105, height: 105, pixels: white), to: 28)
        #expect(stroke.allSatisfy { $0 == 1 })
    }

    /// A drawn character: one-bit 35×35, ink 0 on 255, a bar at a position given by class and drawer.
    static func character(_ cls: Int, drawer: Int) -> [UInt8] {
        var p = [UInt8](repeating: 255, count: 35 * 35)
        for r in 0..<35 { for c in 0..<35 where (r / 5 + c / 5 + cls) % 4 == 0 || (r + drawer) % 17 == 0 { p[r * 35 + c] = 0 } }
        return PNGCodec.encode(GrayImage(width: 35, height: 35, pixels: p), oneBit: true)
    }

    static func write(_ files: [(path: String, bytes: [UInt8])], folder: String) throws {
        for f in files {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(f.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(f.bytes).write(to: url)
        }
    }

    @Test func readsPublishedLayoutFromFoldersAndZipsAsTheirUnion() throws {
        // Two "downloads" sharing one alphabet (like images_background_small1/2 sharing Greek and Latin).
        func download(_ name: String, _ alphabets: [String]) -> [(path: String, bytes: [UInt8])] {
            var files: [(String, [UInt8])] = []
            for (a, alphabet) in alphabets.enumerated() {
                for ch in 1...2 {
                    for d in 1...3 { files.append(("\(name)/\(alphabet)/character0\(ch)/0\(a)\(ch)0_0\(d).png", Self.character(10 * a + ch, drawer: d))) }
                }
            }
            return files
        }
        let folder = FileCollectionTests.temporary("small1"), zip = FileCollectionTests.temporary("small2.zip")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: zip) }
        try Self.write(download("images_background_small1", ["Greek", "Korean"]), folder: folder)
        try FileCollection.writeZip(download("images_background_small2", ["Greek", "Tagalog"]), to: zip)
        let set = try FewShotDataset(omniglot: [folder, zip])
        #expect(set.alphabetNames == ["Greek", "Korean", "Tagalog"])
        #expect(set.classes.count == 6 && set.classes.allSatisfy { $0.images.count == 3 })
        #expect(set.count == 18 && set.imageSize == 28)
        // Classes in sorted alphabet/character order; pixels are the paper's resize of the PNG (ink 0, white 1).
        #expect(set.alphabets[0] == "Greek" && set.alphabets[2] == "Korean" && set.alphabets[5] == "Tagalog")
        let expected = PaperResize.resized(try PNGCodec.decode(Self.character(1, drawer: 1), path: "x"), to: 28)
        #expect(Array(set.pixels[0..<784]) == expected)
        #expect(set.pixels.contains(0) && set.pixels.contains(1))
        let inverted = try FewShotDataset(omniglot: [zip], invert: true)
        #expect(inverted.classes.count == 4)
        #expect(Array(inverted.pixels[0..<784]) == expected.map { 1 - $0 })
        #expect(try set.filtered(alphabets: ["Korean"]).classes.map(\.id) == [2, 3])
    }

    @Test func anEmptyOrForeignFolderIsNamed() throws {
        let folder = FileCollectionTests.temporary("empty")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.write([("notes/readme.txt", Array("hi".utf8))], folder: folder)
        do { _ = try FewShotDataset(omniglot: [folder]); Issue.record("accepted a folder without PNGs") } catch let e as IDXError {
            #expect(e.path == folder && e.message.contains("no PNG images"), "\(e)")
        }
    }

    /// Lake's layout: runNN/training/classNN.png, runNN/test/itemNN.png, runNN/class_labels.txt.
    static func runs(prefix: String) -> [(path: String, bytes: [UInt8])] {
        var files: [(String, [UInt8])] = []
        for run in ["run01", "run02"] {
            var labels = ""
            for c in 1...3 {
                files.append(("\(prefix)\(run)/training/class0\(c).png", Self.character(c, drawer: 1)))
                // Test item k shows class (k mod 3) + 1 drawn by another drawer.
                let k = c, shown = (k % 3) + 1
                files.append(("\(prefix)\(run)/test/item0\(k).png", Self.character(shown, drawer: 2)))
                labels += "\(run)/test/item0\(k).png \(run)/training/class0\(shown).png\n"
            }
            files.append(("\(prefix)\(run)/class_labels.txt", Array(labels.utf8)))
        }
        return files
    }

    @Test func readsLakesRunsFromAFolderAndFromTheZip() throws {
        let folder = FileCollectionTests.temporary("all_runs"), zip = FileCollectionTests.temporary("all_runs.zip")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: zip) }
        try Self.write(Self.runs(prefix: ""), folder: folder)
        try FileCollection.writeZip(Self.runs(prefix: "all_runs/"), to: zip)
        for location in [folder, zip] {
            let runs = try OneShotRun.read(location)
            #expect(runs.map(\.name) == ["run01", "run02"])
            let e = runs[0].episode
            #expect(e.ways == 3 && e.supportLabels == [0, 1, 2])
            #expect(e.queryLabels == [1, 2, 0], "item01 shows class02, item02 class03, item03 class01")
            let class2Test = PaperResize.resized(try PNGCodec.decode(Self.character(2, drawer: 2), path: "x"), to: 28)
            #expect(Array(e.queryPixels[0..<784]) == class2Test)
            let class1 = PaperResize.resized(try PNGCodec.decode(Self.character(1, drawer: 1), path: "x"), to: 28)
            #expect(Array(e.supportPixels[0..<784]) == class1)
        }
    }

    @Test func aBadRunNamesTheFileAndLine() throws {
        let folder = FileCollectionTests.temporary("bad_runs")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var files = Self.runs(prefix: "")
        let i = files.firstIndex { $0.path == "run02/class_labels.txt" }!
        files[i].bytes = Array("run02/test/item01.png run02/training/class01.png\nrun02/test/item02.png run02/training/class09.png\n".utf8)
        try Self.write(files, folder: folder)
        do { _ = try OneShotRun.read(folder); Issue.record("accepted a missing training image") } catch let e as IDXError {
            #expect(e.path == folder + "/run02/class_labels.txt:2" && e.message.contains("class09.png"), "\(e)")
        }
        files[i].bytes = Array("run02/test/item01.png\n".utf8)
        try Self.write(files, folder: folder)
        do { _ = try OneShotRun.read(folder); Issue.record("accepted a one-field line") } catch let e as IDXError {
            #expect(e.path == folder + "/run02/class_labels.txt:1" && e.message.contains("1 fields"), "\(e)")
        }
    }
}
