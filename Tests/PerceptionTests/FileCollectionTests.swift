import Foundation
import Testing
@testable import Perception

@Suite struct FileCollectionTests {
    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("engram-files-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
    }

    @Test func aFolderAndItsZipListAndReadTheSame() throws {
        let files: [(path: String, bytes: [UInt8])] = [("top/a.txt", Array("alpha".utf8)), ("top/sub/b.bin", [0, 1, 2, 255]), ("c.txt", [])]
        let folder = Self.temporary("dir"), zip = Self.temporary("z.zip")
        defer { try? FileManager.default.removeItem(atPath: folder); try? FileManager.default.removeItem(atPath: zip) }
        for f in files {
            let url = URL(fileURLWithPath: folder).appendingPathComponent(f.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(f.bytes).write(to: url)
        }
        try FileCollection.writeZip(files, to: zip)
        for location in [folder, zip] {
            let c = try FileCollection(location)
            #expect(c.paths == ["c.txt", "top/a.txt", "top/sub/b.bin"])
            for f in files { #expect(try c.contents(of: f.path) == f.bytes) }
            #expect(throws: IDXError.self) { try c.contents(of: "top/missing.txt") }
        }
    }

    @Test func missingAndDamagedArchivesAreNamed() throws {
        let path = Self.temporary("bad.zip")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("PK but not really a zip".utf8).write(to: URL(fileURLWithPath: path))
        do { _ = try FileCollection(path); Issue.record("accepted a damaged zip") } catch let e as IDXError {
            #expect(e.path == path && e.message.contains("not a readable zip"), "\(e)")
        }
        do { _ = try FileCollection(path + ".absent"); Issue.record("accepted a missing path") } catch let e as IDXError {
            #expect(e.message == "no such folder or zip file")
        }
    }
}
