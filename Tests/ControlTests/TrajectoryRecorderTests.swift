import Foundation
import Testing
@testable import Control
import Trajectories

struct TrajectoryRecorderTests {
    @Test func fixedPointFormattingIsExact() {
        var buf = [UInt8](repeating: 0, count: 64)
        func render(_ v: Double, _ d: Int = 6) -> String {
            let n = buf.withUnsafeMutableBufferPointer { TrajectoryWriter.format(v, decimals: d, into: $0, at: 0) }
            return String(decoding: buf[0..<n], as: UTF8.self)
        }
        #expect(render(0) == "0.000000")
        #expect(render(1.5) == "1.500000")
        #expect(render(-0.0000004) == "0.000000")
        #expect(render(-0.25) == "-0.250000")
        #expect(render(3.14159265) == "3.141593")
        #expect(render(123456.7, 1) == "123456.7")
        #expect(render(42, 0) == "42")
        #expect(render(.nan) == "nan")
        #expect(render(-.infinity) == "-inf")
    }

    @Test func writesMetadataHeaderAndRows() throws {
        let path = NSTemporaryDirectory() + "engram-recorder-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let rec = try TrajectoryRecorder(path: path, columns: ["base.pos", "shoulder.pos"], metadata: [("robot", "scorbot-er7"), ("rate_hz", "100")])
        try rec.append(time: 0, values: [0.1, -0.2])
        try rec.append(time: 0.01, values: [0.11, -0.21])
        // Rows are on disk before close: read the file while the recorder is still open.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == "# engram-trajectory 1\n# robot: scorbot-er7\n# rate_hz: 100\ntime_s,base.pos,shoulder.pos\n0.000000,0.100000,-0.200000\n0.010000,0.110000,-0.210000\n")
        rec.close()
        #expect(throws: TrajectoryWriteError.self) { try rec.append(time: 0.02, values: [0, 0]) }
    }

    @Test func unwritablePathIsAClearError() {
        #expect(throws: TrajectoryWriteError.self) {
            _ = try TrajectoryRecorder(path: "/nonexistent-folder/x.csv", columns: ["a"], metadata: [])
        }
    }
}
