import EngramTestSupport
import Foundation
import Testing
@testable import ServoBus

/// The vendors' own Python SDKs, pointed at the emulator, can ping, read and write it.
enum VendorSDK {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/sdk_check.py").path

    /// Whether `python3 -c "import module"` succeeds.
    static func available(_ module: String) -> Bool {
        (try? run(["python3", "-c", "import \(module)"], timeout: 20).status) == 0
    }

    /// Runs a command; returns exit status and stdout.
    static func run(_ command: [String], timeout: TimeInterval) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = command
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs sdk_check.py against `port`; returns its JSON result.
    /// The vendor SDKs time out after ~34 ms per packet; on a loaded 2-core machine (the whole `swift test`
    /// runs in parallel) the emulator thread can be starved that long, so up to two reruns are allowed.
    static func check(_ kind: String, port: String) throws -> [String: Any] {
        var r = try run(["python3", script, kind, port], timeout: 60)
        for _ in 0..<2 where r.status != 0 || !r.output.contains("\"sync_read\": [0,") {
            r = try run(["python3", script, kind, port], timeout: 60)
        }
        #expect(r.status == 0, "sdk_check.py \(kind) exited \(r.status): \(r.output)")
        let line = r.output.split(separator: "\n").last.map(String.init) ?? ""
        return (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
    }

    static func ints(_ any: Any?) -> [Int?] { (any as? [Any])?.map { $0 as? Int } ?? [] }
}

@Suite(.serialized) struct SDKCompatibilityTests {
    @Test(.enabled(if: VendorSDK.available("dynamixel_sdk"), "skipped: python3 with dynamixel_sdk not found (pip install dynamixel-sdk)"))
    func robotisDynamixelSDKPingsReadsAndWritesTheEmulator() throws {
        let pty = try PseudoTerminal()
        let emulator = try ServoEmulator(protocol: .dynamixel2, servos: (1...6).map { (UInt8($0), ServoModel.xl330M288) })
        for id in UInt8(1)...6 { emulator.setValue(.returnDelayTime, 0, of: id) }
        let thread = emulator.start(serving: pty.master)
        defer { thread.stop(); pty.close() }
        let r = try VendorSDK.check("dynamixel", port: pty.path)
        #expect(VendorSDK.ints(r["ping"]) == [1200, 0, 0])
        #expect(VendorSDK.ints(r["torque"]) == [0, 0])
        #expect(VendorSDK.ints(r["read_goal"]) == [3000, 0, 0])
        #expect(VendorSDK.ints(r["eeprom_with_torque"]) == [0, Int(DynamixelStatusError.accessError)])
        let sync = VendorSDK.ints(r["sync_read"])
        #expect(sync.count == 7 && sync[0] == 0 && sync[2...].allSatisfy { $0 == 2048 }, "\(sync)")
        #expect(VendorSDK.ints(r["goals_after_sync_write"]) == [1002, 1003, 1004, 1005, 1006])
        #expect(VendorSDK.ints(r["broadcast_ping"]) == [1, 2, 3, 4, 5, 6])
        for id in UInt8(2)...6 { #expect(emulator.value(.goalPosition, of: id) == 1000 + Int(id)) }
    }

    @Test(.enabled(if: VendorSDK.available("scservo_sdk"), "skipped: python3 with scservo_sdk not found (pip install feetech-servo-sdk)"))
    func feetechSDKPingsReadsAndWritesTheEmulator() throws {
        let pty = try PseudoTerminal()
        let emulator = try ServoEmulator(protocol: .feetechSTS, servos: (1...6).map { (UInt8($0), ServoModel.sts3215) })
        let thread = emulator.start(serving: pty.master)
        defer { thread.stop(); pty.close() }
        let r = try VendorSDK.check("feetech", port: pty.path)
        #expect(VendorSDK.ints(r["ping"]) == [777, 0, 0])
        #expect(VendorSDK.ints(r["read_goal"]) == [3000, 0, 0])
        let sync = VendorSDK.ints(r["sync_read"])
        #expect(sync.count == 7 && sync[0] == 0 && sync[2...].allSatisfy { $0 == 2048 }, "\(sync)")
        #expect(VendorSDK.ints(r["goals_after_sync_write"]) == [1002, 1003, 1004, 1005, 1006])
    }

    /// `engram sim-serial` end to end: first stdout line, the Feetech SDK against its port, clean exit on SIGTERM.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: SharedData.repositoryRoot + "/.build/debug/engram")
                       && VendorSDK.available("scservo_sdk"),
                   "skipped: needs the engram binary (swift build --product engram) and python3 with scservo_sdk"))
    func simSerialCommandServesTheFeetechSDK() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: SharedData.repositoryRoot + "/.build/debug/engram")
        p.arguments = ["sim-serial", "--ids", "1-6", "--model", "sts3215", "--return-delay-us", "0"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        let line = EngramBinary.firstLine(of: out)
        #expect(line.hasPrefix("port: /dev/pts/"), "first line was '\(line)'")
        let r = try VendorSDK.check("feetech", port: String(line.dropFirst("port: ".count)))
        #expect(VendorSDK.ints(r["ping"]) == [777, 0, 0])
        #expect(VendorSDK.ints(r["goals_after_sync_write"]) == [1002, 1003, 1004, 1005, 1006])
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }
}
