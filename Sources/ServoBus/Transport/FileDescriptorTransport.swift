#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A serial transport over a POSIX file descriptor: a tty or pseudo-terminal configured with termios, or one
/// end of an in-process socket pair (`BytePipe`), for which `configure` does nothing.
///
/// The descriptor is non-blocking; reads wait with `poll` until their deadline, and writes and input drains
/// have deadlines of their own (`ioTimeoutMs`), so no call spins or waits forever on a peer that stops
/// reading or a device that never stops sending.
public final class FileDescriptorTransport: SerialTransport {
    /// Longest a `write` may wait for the line to take its bytes, and a `discardInput` may drain, in
    /// milliseconds (default 100: a servo packet leaves a 1 Mbaud line in well under a millisecond).
    public var ioTimeoutMs: Double = 100
    /// The path or label given at creation.
    public let name: String
    /// The descriptor, or -1 once closed.
    public private(set) var descriptor: Int32
    /// Whether the descriptor is a terminal (so termios applies).
    public let isTerminal: Bool

    /// Takes ownership of an open descriptor (made non-blocking here).
    public init(adopting descriptor: Int32, name: String) {
        self.descriptor = descriptor
        self.name = name
        self.isTerminal = isatty(descriptor) == 1
        let flags = fcntl(descriptor, F_GETFL)
        if flags != -1 { _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Opens `path` for reading and writing without making it the controlling terminal.
    /// The corresponding C call is `open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)`.
    public convenience init(path: String) throws(SerialError) {
        let fd = try systemCall("open \(path)") { Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) }.get()
        self.init(adopting: fd, name: path)
    }

    deinit { close() }

    /// The termios speed constant for a standard baud rate (`B1000000` for 1 Mbaud), or nil.
    static func speedConstant(for baudRate: Int) -> speed_t? {
        switch baudRate {
        case 9_600: speed_t(B9600)
        case 19_200: speed_t(B19200)
        case 38_400: speed_t(B38400)
        case 57_600: speed_t(B57600)
        case 115_200: speed_t(B115200)
        case 230_400: speed_t(B230400)
        case 460_800: speed_t(B460800)
        case 500_000: speed_t(B500000)
        case 921_600: speed_t(B921600)
        case 1_000_000: speed_t(B1000000)
        case 2_000_000: speed_t(B2000000)
        case 3_000_000: speed_t(B3000000)
        case 4_000_000: speed_t(B4000000)
        default: nil
        }
    }

    /// Sets raw 8N1 at `baudRate` with `tcsetattr` (no-op when the descriptor is not a terminal).
    /// On a pseudo-terminal the speed is recorded but has no effect on throughput.
    public func configure(baudRate: Int) throws(SerialError) {
        try checkOpen("configure")
        guard isTerminal else { return }
        guard let speed = Self.speedConstant(for: baudRate) else {
            throw SerialError(operation: "configure \(name) at \(baudRate) baud",
                              detail: "not a standard termios speed; use 57600, 115200, 1000000, 2000000, 3000000 or 4000000")
        }
        var options = termios()
        _ = try systemCall("tcgetattr \(name)") { tcgetattr(descriptor, &options) }.get()
        cfmakeraw(&options)
        options.c_cflag |= tcflag_t(CLOCAL) | tcflag_t(CREAD)
        options.c_cflag &= ~(tcflag_t(CSTOPB) | tcflag_t(PARENB) | tcflag_t(CRTSCTS) | tcflag_t(CSIZE))
        options.c_cflag |= tcflag_t(CS8)
        options.c_iflag &= ~(tcflag_t(IXON) | tcflag_t(IXOFF) | tcflag_t(IXANY))
        withUnsafeMutableBytes(of: &options.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        _ = try systemCall("cfsetispeed \(name)") { cfsetispeed(&options, speed) }.get()
        _ = try systemCall("cfsetospeed \(name)") { cfsetospeed(&options, speed) }.get()
        _ = try systemCall("tcsetattr \(name)") { tcsetattr(descriptor, TCSANOW, &options) }.get()
    }

    /// Writes all of `bytes`, waiting with `poll` when the kernel buffer is full, for at most `ioTimeoutMs`
    /// in all: a peer that stops reading gives an error (ETIMEDOUT), not a hang.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SerialError) {
        try checkOpen("write")
        let deadline = ContinuousClock.Instant.after(milliseconds: ioTimeoutMs)
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 { offset += n; continue }
            let code = n == 0 ? EAGAIN : Glibc.errno
            if code == EINTR { continue }
            guard code == EAGAIN else { throw SerialError(operation: "write \(name)", errno: code) }
            if try !wait(for: Int16(POLLOUT), until: deadline) {
                throw SerialError(operation: "write \(name)", errno: ETIMEDOUT,
                                  detail: "the line took \(offset) of \(bytes.count) bytes in \(Self.milliseconds(ioTimeoutMs)) ms; the other end is not reading")
            }
        }
    }

    /// `ms` without a needless ".0".
    static func milliseconds(_ ms: Double) -> String { ms == ms.rounded() ? String(Int(ms)) : String(ms) }

    /// Reads what is available, waiting until `deadline` for the first byte.
    public func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: ContinuousClock.Instant) throws(SerialError) -> Int {
        try checkOpen("read")
        guard buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(descriptor, buffer.baseAddress!, buffer.count)
            if n > 0 { return n }
            if n == 0 && !isTerminal {
                // End of file: the other end of a socket pair closed. Nothing more will arrive.
                throw SerialError(operation: "read \(name)", detail: "the other end closed the connection")
            }
            // A raw terminal (VMIN = VTIME = 0) returns 0 when nothing is waiting: wait for input.
            if n == 0 {
                if try !wait(for: Int16(POLLIN), until: deadline) { return 0 }
                continue
            }
            let code = Glibc.errno
            if code == EINTR { continue }
            guard code == EAGAIN else { throw SerialError(operation: "read \(name)", errno: code) }
            if try !wait(for: Int16(POLLIN), until: deadline) { return 0 }
        }
    }

    /// Waits with `poll` until the descriptor is ready for `events` or `deadline` passes; returns readiness.
    func wait(for events: Int16, until deadline: ContinuousClock.Instant) throws(SerialError) -> Bool {
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return false }
            // poll() has millisecond resolution (ppoll is not exported by the Glibc module); round up so a
            // wait never ends early, and re-check the deadline after a timeout.
            let ms = Int32(min(Double(Int32.max), (remaining.seconds * 1000).rounded(.up)))
            var pfd = pollfd(fd: descriptor, events: events, revents: 0)
            let r = poll(&pfd, 1, ms)
            if r == -1 {
                if Glibc.errno == EINTR { continue }
                throw SerialError(operation: "poll \(name)", errno: Glibc.errno)
            }
            if r == 0 { continue }
            if pfd.revents & Int16(POLLNVAL) != 0 { throw SerialError(operation: "poll \(name)", errno: EBADF) }
            if pfd.revents & Int16(POLLHUP) != 0 && pfd.revents & Int16(POLLIN) == 0 && events == Int16(POLLIN) {
                throw SerialError(operation: "read \(name)", errno: EIO, detail: "hang-up")
            }
            // POLLERR: let the following read or write report the condition.
            return true
        }
    }

    /// Discards unread input (`tcflush(fd, TCIFLUSH)` on terminals; drains a socket pair or another
    /// character device). A device that is still sending after `ioTimeoutMs` (`/dev/zero`, a line that
    /// never goes quiet) is an error, not an endless drain.
    public func discardInput() throws(SerialError) {
        try checkOpen("flush")
        if isTerminal {
            _ = try systemCall("tcflush \(name)") { tcflush(descriptor, TCIFLUSH) }.get()
            return
        }
        let deadline = ContinuousClock.Instant.after(milliseconds: ioTimeoutMs)
        var scratch = [UInt8](repeating: 0, count: 512)
        var drained = 0
        while true {
            let n = scratch.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
            if n <= 0 { return }
            drained += n
            if ContinuousClock.now >= deadline {
                throw SerialError(operation: "flush \(name)", detail: "input never stops (\(drained) bytes in \(Self.milliseconds(ioTimeoutMs)) ms); is this a servo bus port?")
            }
        }
    }

    /// Closes the descriptor.
    public func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    private func checkOpen(_ operation: String) throws(SerialError) {
        if descriptor < 0 { throw SerialError(operation: "\(operation) \(name)", errno: EBADF, detail: "the port is closed") }
    }
}

/// An in-process, full-duplex byte pipe: two connected `FileDescriptorTransport`s over a Unix socket pair.
/// Bytes written to one end are read from the other. Used to run the emulator and the bus in one process.
public enum BytePipe {
    /// Creates a connected pair; the corresponding C call is `socketpair(AF_UNIX, SOCK_STREAM, 0, fds)`.
    public static func makePair() throws(SerialError) -> (FileDescriptorTransport, FileDescriptorTransport) {
        var fds: [Int32] = [0, 0]
        _ = try systemCall("socketpair") { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }.get()
        return (FileDescriptorTransport(adopting: fds[0], name: "pipe:a"), FileDescriptorTransport(adopting: fds[1], name: "pipe:b"))
    }
}

/// A pseudo-terminal pair: the master end (served by the emulator) and the slave path a client opens.
///
/// The slave is kept open here, so the master never sees a hang-up between clients, and is set raw so
/// the line discipline neither echoes nor translates bytes.
public final class PseudoTerminal {
    /// The master end, as a transport.
    public let master: FileDescriptorTransport
    /// The slave device path, e.g. `/dev/pts/3`.
    public let path: String
    private var slaveKeeper: Int32

    /// Opens a new pseudo-terminal: `open("/dev/ptmx")`, unlock (`ioctl TIOCSPTLCK`, what `unlockpt` does)
    /// and get the slave number (`ioctl TIOCGPTN`, what `ptsname_r` does). `posix_openpt` and friends need
    /// `_XOPEN_SOURCE`, which the Glibc module does not define; the ioctl numbers are Linux's generic ones.
    public init() throws(SerialError) {
        let fd = try systemCall("open /dev/ptmx") { Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) }.get()
        var unlock: Int32 = 0
        var number: UInt32 = 0
        let tiocsptlck: UInt = 0x4004_5431
        let tiocgptn: UInt = 0x8004_5430
        guard ioctl(fd, tiocsptlck, &unlock) == 0, ioctl(fd, tiocgptn, &number) == 0 else {
            let code = Glibc.errno
            _ = Glibc.close(fd)
            throw SerialError(operation: "unlock pseudo-terminal", errno: code)
        }
        let slavePath = "/dev/pts/\(number)"
        let keeper = Glibc.open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard keeper >= 0 else {
            let code = Glibc.errno
            _ = Glibc.close(fd)
            throw SerialError(operation: "open \(slavePath)", errno: code)
        }
        var options = termios()
        if tcgetattr(keeper, &options) == 0 {
            cfmakeraw(&options)
            _ = tcsetattr(keeper, TCSANOW, &options)
        }
        master = FileDescriptorTransport(adopting: fd, name: "ptmx:" + slavePath)
        path = slavePath
        slaveKeeper = keeper
    }

    deinit { close() }

    /// Closes both ends.
    public func close() {
        master.close()
        if slaveKeeper >= 0 { _ = Glibc.close(slaveKeeper) }
        slaveKeeper = -1
    }
}
