import Testing
@testable import ServoBus

@Suite struct TransportTests {
    @Test func pseudoTerminalCarriesBytesBothWaysAndReadsHonourTheDeadline() throws {
        let pty = try PseudoTerminal()
        let client = try openSerialTransport(path: pty.path, baudRate: 1_000_000)
        defer { client.close(); pty.close() }
        #expect(client is FileDescriptorTransport)
        try client.write([1, 2, 3, 0xFF])
        #expect(try pty.master.read(exactly: 4, until: .after(milliseconds: 1000)) == [1, 2, 3, 0xFF])
        try pty.master.write([9, 8, 7])
        #expect(try client.read(exactly: 3, until: .after(milliseconds: 1000)) == [9, 8, 7])
        // Nothing pending: the read waits until the deadline, then reports 0 bytes (never early).
        let deadline = ContinuousClock.Instant.after(milliseconds: 15)
        #expect(try client.read(upTo: 16, until: deadline).isEmpty)
        #expect(ContinuousClock.now >= deadline)
        // Input discarded before a request is gone.
        try pty.master.write([5, 5, 5])
        pauseForKernel()
        try client.discardInput()
        #expect(try client.read(upTo: 16, until: .after(milliseconds: 5)).isEmpty)
        // Non-standard speeds are refused with the list of usable ones.
        #expect(throws: SerialError.self) { try client.configure(baudRate: 12_345) }
    }

    @Test func bytePipeReportsTheOtherEndClosing() throws {
        let (a, b) = try BytePipe.makePair()
        try a.write([0xFF, 0xFD])
        #expect(try b.read(exactly: 2, until: .after(milliseconds: 500)) == [0xFF, 0xFD])
        a.close()
        #expect(throws: SerialError.self) { _ = try b.read(upTo: 4, until: .after(milliseconds: 500)) }
        #expect(throws: SerialError.self) { try a.write([1]) }
    }

    @Test func missingPortsGiveOneClearLine() {
        do {
            _ = try openSerialTransport(path: "/dev/ttyENGRAM-missing", baudRate: 1_000_000)
            Issue.record("opening a missing port succeeded")
        } catch {
            #expect(error.description.contains("/dev/ttyENGRAM-missing"), "\(error)")
        }
        // Discovery works without hardware (it may find nothing).
        #expect(throws: Never.self) { _ = try SerialPortDiscovery.list() }
        let u2d2 = SerialPortInfo(name: "/dev/ttyUSB0", description: "U2D2", transport: "usb", vendorID: 0x0403, productID: 0x6014)
        #expect(u2d2.vendorProductID == "0403:6014")
        #expect(u2d2.adapterHint?.contains("U2D2") == true)
    }
}

/// Gives the kernel a moment to move bytes across the pseudo-terminal.
func pauseForKernel() { sleepThread(seconds: 0.005) }
