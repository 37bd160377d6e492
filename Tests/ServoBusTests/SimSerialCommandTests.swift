import EngramTestSupport
import Foundation
import Testing
@testable import ServoBus

/// `engram sim-serial` as a process: first stdout line, a bus session over its port, clean exit on a signal.
@Suite struct SimSerialCommandTests {
    static let binary = SharedData.repositoryRoot + "/.build/debug/engram"

    /// Starts `engram sim-serial arguments` and returns the process and the port from its first line.
    static func start(_ arguments: [String]) throws -> (Process, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["sim-serial"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let line = EngramBinary.firstLine(of: out)
        return (p, line)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "skipped: build the CLI first (swift build --product engram)"),
          arguments: [("dynamixel2", ServoModel.xl430W250, SIGINT), ("feetech-sts", ServoModel.sts3215, SIGTERM)])
    func servesABusAndExitsCleanlyOnASignal(_ wire: String, _ model: ServoModel, _ signal: Int32) throws {
        let (process, line) = try Self.start(["--ids", "1-6", "--model", model.rawValue, "--protocol", wire, "--faults", "4:silent"])
        defer { if process.isRunning { process.terminate() } }
        #expect(line.hasPrefix("port: /dev/pts/"), "first line was '\(line)'")
        let path = String(line.dropFirst("port: ".count))
        let bus = try ServoBus(path: path, baudRate: 1_000_000, protocol: model.wireProtocol, servos: (1...6).map { (UInt8($0), model) },
                                    retryPolicy: RetryPolicy(replyTimeoutMs: 30, attempts: 2, budgetMs: 200))
        #expect(try bus.ping(1).model == model)
        #expect(try bus.syncRead(.presentPosition, [1, 2, 3]) == [2048, 2048, 2048])
        try bus.syncWrite(.goalPosition, ids: [1, 2], values: [1000, 3000])
        #expect(try bus.read(.goalPosition, from: 2) == 3000)
        let silent = expectBusError { _ = try bus.read(.presentPosition, from: 4) }
        #expect(silent?.servo == 4)
        bus.close()
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(process.terminationReason == .exit)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "skipped: build the CLI first (swift build --product engram)"))
    func badArgumentsGiveOneLineAndStatus2() throws {
        for args in [["--ids", "1,1"], ["--ids", "1-3", "--faults", "dorp=1"], ["--ids", "1", "--model", "sts3215", "--protocol", "dynamixel2"], []] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.binary)
            p.arguments = ["sim-serial"] + args
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus == 2, "\(args): \(text)")
            #expect(text.split(separator: "\n").count == 1, "\(args): \(text)")
            #expect(text.hasPrefix("engram sim-serial: "), "\(args): \(text)")
        }
    }
}
