import Foundation
import Testing
@testable import Perception

@Suite struct IDXFileTests {
    let images = IDXFile.Images(count: 3, rows: 2, columns: 2, pixels: [0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])

    @Test func roundTripsImagesAndBothLabelTypes() throws {
        let decoded = try IDXFile.images(bytes: IDXFile.encode(images: images), path: "x")
        #expect(decoded == images)
        #expect(try IDXFile.labels(bytes: IDXFile.encode(labels: [0, 241, 7]), path: "y") == [0, 241, 7])
        // Type 0x08 labels.
        #expect(try IDXFile.labels(bytes: [0, 0, 0x08, 1, 0, 0, 0, 2, 4, 9], path: "y") == [4, 9])
    }

    @Test func badMagicIsNamed() {
        var bytes = IDXFile.encode(images: images)
        bytes[0] = 0x1F  // gzip's first byte
        #expect(throws: IDXError.self) { try IDXFile.images(bytes: bytes, path: "img") }
        do { _ = try IDXFile.images(bytes: bytes, path: "img") } catch let e as IDXError {
            #expect(e.description.hasPrefix("img: bad magic"))
            #expect(e.description.contains("gzip"))
        } catch { Issue.record("unexpected \(error)") }
        // Images must be unsigned bytes; labels type 0x0D (float) is refused.
        var wrongType = IDXFile.encode(images: images)
        wrongType[2] = 0x0B
        #expect(throws: IDXError.self) { try IDXFile.images(bytes: wrongType, path: "img") }
        #expect(throws: IDXError.self) { try IDXFile.labels(bytes: [0, 0, 0x0D, 1, 0, 0, 0, 0], path: "lab") }
    }

    @Test func truncationIsNamed() {
        let bytes = IDXFile.encode(images: images)
        do { _ = try IDXFile.images(bytes: Array(bytes.dropLast(3)), path: "img"); Issue.record("accepted truncated file") } catch let e as IDXError {
            #expect(e.message.hasPrefix("truncated"))
            #expect(e.message.contains("3 images"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: IDXError.self) { try IDXFile.labels(bytes: Array(IDXFile.encode(labels: [1, 2, 3]).dropLast()), path: "l") }
        #expect(throws: IDXError.self) { try IDXFile.images(bytes: [0, 0], path: "img") }
        #expect(throws: IDXError.self) { try IDXFile.images(bytes: [0, 0, 8, 3, 0, 0], path: "img") }
    }

    @Test func countMismatchBetweenFilesIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("engram-idx-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let prefix = dir + "/set"
        try Data(IDXFile.encode(images: images)).write(to: URL(fileURLWithPath: prefix + "-images-idx3-ubyte"))
        try Data(IDXFile.encode(labels: [0, 1])).write(to: URL(fileURLWithPath: prefix + "-labels-idx1-int16"))
        do { _ = try FewShotDataset(prefix: prefix, invert: false); Issue.record("accepted mismatch") } catch let e as IDXError {
            #expect(e.message.hasPrefix("count mismatch: 2 labels for 3 images"))
        }
        try Data(IDXFile.encode(labels: [0, 1, 1])).write(to: URL(fileURLWithPath: prefix + "-labels-idx1-int16"))
        let set = try FewShotDataset(prefix: prefix, invert: true)
        #expect(set.count == 3 && set.classes.count == 2)
        #expect(set.pixels[0] == 1 && set.pixels[1] == 0)  // inverted: 0 → 1, 255 → 0
        #expect(throws: IDXError.self) { try FewShotDataset(prefix: dir + "/missing", invert: false) }
    }

    /// Issue 19 item 7: dimensions of 0xFFFFFFFF used to overflow `dims[0] * dims[1] * dims[2]` (SIGILL).
    /// The size is overflow-checked and bounded by the file's own length.
    @Test func hugeDimensionsAreRefusedNotOverflowed() throws {
        let images: [UInt8] = [0, 0, 0x08, 3] + [UInt8](repeating: 0xFF, count: 12) + [1, 2, 3]
        do { _ = try IDXFile.images(bytes: images, path: "crafted-images"); Issue.record("accepted") } catch let e as IDXError {
            #expect(e.description == "crafted-images: truncated: header announces 4294967295 images of 4294967295×4294967295 (dimensions 4294967295 × 4294967295 × 4294967295), more than the 19-byte file holds")
        }
        let labels: [UInt8] = [0, 0, 0x0B, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1]
        do { _ = try IDXFile.labels(bytes: labels, path: "crafted-labels"); Issue.record("accepted") } catch let e as IDXError {
            #expect(e.message.hasPrefix("truncated: header announces 4294967295 labels"))
        }
    }
}
