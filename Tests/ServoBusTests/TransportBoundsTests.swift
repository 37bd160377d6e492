import Foundation
import EngramTestSupport
import Testing
@testable import ServoBus

/// The result of a call that may throw a `SerialError`, as a value another thread can hand back.
enum Outcome: Sendable, Equatable {
    case ok
    case failed(SerialError)
}

/// Bounded I/O (issue 19, item 4) and the port-type check (item 5).
@Suite struct TransportBoundsTests {
    /// A peer that stops reading: the kernel buffer fills and the write gives up at its deadline with
    /// ETIMEDOUT instead of waiting for ever.
    @Test func writeToAPeerThatStopsReadingEndsAtItsDeadline() throws {
        let pty = try PseudoTerminal()  // nobody reads the master end
        let client = try FileDescriptorTransport(path: pty.path)
        try client.configure(baudRate: 1_000_000)
        client.ioTimeoutMs = 50
        let box = UncheckedBox(client)
        let start = ContinuousClock.now
        let outcome = finishes(within: 20) { () -> Outcome in
            let megabyte = [UInt8](repeating: 0x55, count: 1 << 20)
            do throws(SerialError) { try box.value.write(megabyte); return .ok } catch { return .failed(error) }
        }
        let elapsed = start.duration(to: .now).seconds
        let result = try #require(outcome, "the write was still blocked after 20 s")
        guard case .failed(let error) = result else { Issue.record("1 MB went into a pseudo-terminal nobody reads"); return }
        #expect(error.errno == ETIMEDOUT, "\(error)")
        #expect(error.description.contains("the other end is not reading"), "\(error)")
        #expect(elapsed < 10, "took \(elapsed) s")
        client.close()
        pty.close()
    }

    /// `/dev/zero` is a character device that never stops sending: opening it as a port drains for at most
    /// the I/O deadline and says so, instead of spinning at 100 % CPU for ever.
    @Test func aDeviceThatNeverStopsSendingIsRefusedWithinTheDeadline() throws {
        let outcome = finishes(within: 20) { () -> Outcome in
            do throws(SerialError) { _ = try openSerialTransport(path: "/dev/zero", baudRate: 1_000_000); return .ok } catch { return .failed(error) }
        }
        let result = try #require(outcome, "draining /dev/zero was still running after 20 s")
        guard case .failed(let error) = result else { Issue.record("/dev/zero was accepted as a servo port"); return }
        #expect(error.description.contains("input never stops"), "\(error)")
    }

    /// Anything that is not a character device is refused before a byte is written, with one line saying
    /// what it is; a missing port says so (not "invalid argument").
    @Test func portsThatAreNotDevicesAreRefusedBeforeAnyByteIsWritten() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("engram-ports-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/port.bin"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let cases: [(path: String, says: String)] = [
            (file, "\(file) is a regular file, not a serial port"),
            (fifo, "\(fifo) is a FIFO (named pipe), not a serial port"),
            (dir, "\(dir) is a directory, not a serial port"),
            (dir + "/missing", "open \(dir)/missing failed: No such file or directory (no such port); check the path with 'engram ports'"),
        ]
        for c in cases {
            // A FIFO opened for writing would block until a reader comes: run each on its own thread.
            let path = c.path
            let outcome = finishes(within: 10) { () -> Outcome in
                do throws(SerialError) { _ = try ServoBus(path: path, baudRate: 1_000_000, protocol: .feetechSTS, servos: []); return .ok } catch { return .failed(error) }
            }
            let result = try #require(outcome, "\(path): still opening after 10 s")
            guard case .failed(let error) = result else { Issue.record("\(path) was accepted as a port"); continue }
            #expect(error.description.contains(c.says), "\(error)")
            #expect(!error.description.contains("invalid argument"), "\(error)")
        }
        // Nothing was written into the regular file.
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int == 0)
    }
}
