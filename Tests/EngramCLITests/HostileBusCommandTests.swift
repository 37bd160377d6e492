import EngramTestSupport
import Foundation
import Robot
import ServoBus
import Testing
@testable import EngramCommands

/// `engram run` against a hostile bus and against ports that are not ports (issue 19, items 1 and 5):
/// the exit code and the one-line error.
/// The command runs as a child process, so its report is captured rather than printed into the test log.
@Suite(.serialized, .enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
struct HostileBusCommandTests {
    let robotPath = SharedData.repositoryRoot + "/Robots/scorbot-er7"

    private func run(_ tokens: [String]) throws -> Int32 {
        try EngramBinary.run(["run", "--robot", robotPath, "--pcm", "off"] + tokens).status
    }

    /// One wrong position reading at start: `engram run --port` exits 1 and no goal reaches the servos.
    @Test func aWrongStartReadingExitsNonZeroWithoutMovingTheArm() throws {
        let robot = try RobotDescription.load(fromFileAt: robotPath)
        let calibration = try Calibration.load(fromFileAt: SharedData.repositoryRoot + "/Calibration/scorbot-er7.yaml")
        let emulator = try ServoEmulator.simulating(robot, calibration: calibration, seed: 1)
        let pty = try PseudoTerminal()
        var models: [UInt8: ServoModel] = [:]
        for joint in robot.joints { models[UInt8(joint.servoID!)] = joint.servoModel! }
        let peer = HostilePeer(emulator: emulator, models: models, script: .at(read: 0, servo: 2, .position(3500)), serving: pty.master)
        defer { peer.stop(); pty.close() }
        #expect(try run(["--port", pty.path]) == 1)
        #expect(peer.log.goals.isEmpty, "goals sent: \(peer.log.goals.prefix(8))")
        #expect(peer.log.torque.allSatisfy { $0.value == 0 })
    }

    /// `--port` on a regular file, a FIFO, a directory or a missing path: one line saying what it is, and
    /// not a byte written.
    @Test func portsThatAreNotDevicesGetOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("engram-cli-ports-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/ttyUSB0"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        for (path, says) in [(file, "is a regular file, not a serial port"), (fifo, "is a FIFO (named pipe), not a serial port"),
                             (dir, "is a directory, not a serial port"), (dir + "/nope", "No such file or directory (no such port)")] {
            let r = try EngramBinary.run(["run", "--robot", robotPath, "--pcm", "off", "--port", path])
            #expect(r.status == 1, "\(path) was accepted")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && r.stderr.contains(says), "\(r.stderr)")
            #expect(!r.stderr.contains("invalid argument"), "\(r.stderr)")
        }
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int == 0)
    }
}
