/// Byte transport to a servo bus: a USB-serial adapter, a pseudo-terminal, or an in-process pipe.
///
/// A transport knows nothing about packets: it moves bytes, and every call has a deadline: reads the
/// caller's, writes and input drains the transport's own (`ioTimeoutMs`), so no call waits or spins for
/// ever on a peer that stops reading or a device that never stops sending. Implementations:
/// `LibSerialPortTransport` (hardware, via libserialport), `FileDescriptorTransport` (POSIX termios; pseudo-
/// terminals and any path libserialport refuses) and `BytePipe` ends (in-process, for tests). A transport has
/// one owner and is not shared between threads.
public protocol SerialTransport: AnyObject {
    /// The port's path or a label, for messages.
    var name: String { get }
    /// Sets the line to `baudRate` baud, 8 data bits, no parity, 1 stop bit, no flow control, raw bytes.
    func configure(baudRate: Int) throws(SerialError)
    /// Writes every byte of `bytes` (looping over partial writes), or fails with ETIMEDOUT at the transport's
    /// write deadline.
    func write(_ bytes: UnsafeRawBufferPointer) throws(SerialError)
    /// Reads whatever is available into `buffer`, waiting until at least one byte arrives or `deadline`
    /// passes; returns the number of bytes read (0 on timeout).
    func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: ContinuousClock.Instant) throws(SerialError) -> Int
    /// Discards bytes received but not yet read (the corresponding C call is `tcflush(fd, TCIFLUSH)`).
    func discardInput() throws(SerialError)
    /// Closes the port; later calls fail. Closing twice is harmless.
    func close()
}

extension SerialTransport {
    /// Writes every byte of `bytes`.
    public func write(_ bytes: [UInt8]) throws(SerialError) {
        let result: Result<Void, SerialError> = bytes.withUnsafeBytes { raw in
            Result { () throws(SerialError) in try write(raw) }
        }
        try result.get()
    }

    /// Reads up to `count` bytes, waiting at most until `deadline` for the first one.
    public func read(upTo count: Int, until deadline: ContinuousClock.Instant) throws(SerialError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let result: Result<Int, SerialError> = out.withUnsafeMutableBytes { raw in
            Result { () throws(SerialError) in try read(into: raw, until: deadline) }
        }
        out.removeLast(count - (try result.get()))
        return out
    }

    /// Reads exactly `count` bytes unless `deadline` passes first; returns what arrived.
    public func read(exactly count: Int, until deadline: ContinuousClock.Instant) throws(SerialError) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            let chunk = try read(upTo: count - out.count, until: deadline)
            if chunk.isEmpty { break }
            out += chunk
        }
        return out
    }
}
