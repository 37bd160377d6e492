import CSerialPort
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Turns a libserialport return code into a typed result, with libserialport's own message on failure.
func serialPortCall(_ operation: @autoclosure () -> String, _ code: sp_return) -> Result<Void, SerialError> {
    if code.rawValue >= 0 { return .success(()) }
    var detail = ""
    var err: Int32 = 0
    switch code {
    case SP_ERR_ARG: detail = "invalid argument"
    case SP_ERR_MEM: detail = "out of memory"
    case SP_ERR_SUPP: detail = "not supported by this port"
    default:
        err = Int32(sp_last_error_code())
        if let message = sp_last_error_message() {
            detail = String(cString: message)
            sp_free_error_message(message)
        }
    }
    return .failure(SerialError(operation: operation(), errno: err, detail: detail))
}

/// A hardware serial port opened through libserialport (USB-serial adapters such as the FTDI, CH340 or
/// CP210x on U2D2 and Waveshare boards). libserialport cannot open pseudo-terminals; use
/// `FileDescriptorTransport` for those (`openSerialTransport(path:)` picks the right one).
public final class LibSerialPortTransport: SerialTransport {
    /// The port's path.
    public let name: String
    private var port: OpaquePointer?

    /// Opens `path` read-write. The corresponding C calls are `sp_get_port_by_name` and `sp_open`.
    public init(path: String) throws(SerialError) {
        name = path
        var handle: OpaquePointer? = nil
        try serialPortCall("look up \(path)", sp_get_port_by_name(path, &handle)).get()
        let opened = serialPortCall("open \(path)", sp_open(handle, SP_MODE_READ_WRITE))
        if case .failure(let e) = opened {
            sp_free_port(handle)
            throw e
        }
        port = handle
    }

    deinit { close() }

    /// Sets raw 8N1 at `baudRate`, no flow control (`sp_set_baudrate`, `sp_set_bits`, `sp_set_parity`,
    /// `sp_set_stopbits`, `sp_set_flowcontrol`).
    public func configure(baudRate: Int) throws(SerialError) {
        let p = try openPort("configure")
        try serialPortCall("set \(name) to \(baudRate) baud", sp_set_baudrate(p, Int32(baudRate))).get()
        try serialPortCall("set 8 data bits on \(name)", sp_set_bits(p, 8)).get()
        try serialPortCall("set no parity on \(name)", sp_set_parity(p, SP_PARITY_NONE)).get()
        try serialPortCall("set 1 stop bit on \(name)", sp_set_stopbits(p, 1)).get()
        try serialPortCall("disable flow control on \(name)", sp_set_flowcontrol(p, SP_FLOWCONTROL_NONE)).get()
    }

    /// Longest a `write` may take in all, in milliseconds (default 100).
    public var ioTimeoutMs: Double = 100

    /// Writes all bytes (`sp_blocking_write`), within `ioTimeoutMs` in all: an adapter that stops taking
    /// bytes gives an error (ETIMEDOUT), not a hang.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SerialError) {
        let p = try openPort("write")
        let deadline = ContinuousClock.Instant.after(milliseconds: ioTimeoutMs)
        var offset = 0
        while offset < bytes.count {
            let remaining = ContinuousClock.now.duration(to: deadline)
            let ms = remaining <= .zero ? 0 : UInt32(max(1, (remaining.seconds * 1000).rounded(.up)))
            let n = ms == 0 ? sp_nonblocking_write(p, bytes.baseAddress! + offset, bytes.count - offset)
                : sp_blocking_write(p, bytes.baseAddress! + offset, bytes.count - offset, ms)
            if n.rawValue < 0 { try serialPortCall("write \(name)", n).get() }
            offset += Int(n.rawValue)
            if offset < bytes.count && ContinuousClock.now >= deadline {
                throw SerialError(operation: "write \(name)", errno: ETIMEDOUT,
                                  detail: "the adapter took \(offset) of \(bytes.count) bytes in \(FileDescriptorTransport.milliseconds(ioTimeoutMs)) ms")
            }
        }
    }

    /// Reads what arrives before `deadline` (`sp_blocking_read_next`, millisecond resolution).
    public func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: ContinuousClock.Instant) throws(SerialError) -> Int {
        let p = try openPort("read")
        guard buffer.count > 0 else { return 0 }
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero {
            let n = sp_nonblocking_read(p, buffer.baseAddress!, buffer.count)
            if n.rawValue < 0 { try serialPortCall("read \(name)", n).get() }
            return Int(n.rawValue)
        }
        let ms = UInt32(max(1, (remaining.seconds * 1000).rounded(.up)))
        let n = sp_blocking_read_next(p, buffer.baseAddress!, buffer.count, ms)
        if n.rawValue < 0 { try serialPortCall("read \(name)", n).get() }
        return Int(n.rawValue)
    }

    /// Discards unread input (`sp_flush(port, SP_BUF_INPUT)`).
    public func discardInput() throws(SerialError) {
        let p = try openPort("flush")
        try serialPortCall("flush \(name)", sp_flush(p, SP_BUF_INPUT)).get()
    }

    /// Closes and frees the port (`sp_close`, `sp_free_port`).
    public func close() {
        guard let p = port else { return }
        _ = sp_close(p)
        sp_free_port(p)
        port = nil
    }

    private func openPort(_ operation: String) throws(SerialError) -> OpaquePointer {
        guard let p = port else { throw SerialError(operation: "\(operation) \(name)", errno: EBADF, detail: "the port is closed") }
        return p
    }
}

/// Checks, before anything is opened or written, that `path` is a character device (a serial adapter or
/// a pseudo-terminal): a missing path, a regular file, a FIFO, a directory or a socket is refused with
/// one line that says what it is.
public func checkSerialPortPath(_ path: String) throws(SerialError) {
    var info = stat()
    guard stat(path, &info) == 0 else {
        let code = Glibc.errno
        throw SerialError(operation: "open \(path)", errno: code, detail: code == ENOENT ? "no such port" : "")
    }
    let kind: String
    switch info.st_mode & S_IFMT {
    case S_IFCHR: return
    case S_IFREG: kind = "a regular file"
    case S_IFIFO: kind = "a FIFO (named pipe)"
    case S_IFDIR: kind = "a directory"
    case S_IFSOCK: kind = "a socket"
    case S_IFBLK: kind = "a block device"
    default: kind = "not a device"
    }
    throw SerialError(operation: "open \(path)", detail: "\(path) is \(kind), not a serial port; give the arm's serial device (e.g. /dev/ttyUSB0, /dev/ttyACM0, see 'engram ports') or the pseudo-terminal 'engram sim-serial' prints")
}

/// Opens `path` with libserialport, falling back to termios for pseudo-terminals and any path libserialport
/// refuses, and configures it at `baudRate` 8N1. Anything but a character device is refused first
/// (`checkSerialPortPath`), before a byte is written.
public func openSerialTransport(path: String, baudRate: Int) throws(SerialError) -> any SerialTransport {
    try checkSerialPortPath(path)
    let transport: any SerialTransport
    if path.hasPrefix("/dev/pts/") {
        transport = try FileDescriptorTransport(path: path)
    } else {
        do {
            transport = try LibSerialPortTransport(path: path)
        } catch {
            guard let fallback = try? FileDescriptorTransport(path: path) else { throw error }
            transport = fallback
        }
    }
    try transport.configure(baudRate: baudRate)
    try transport.discardInput()
    return transport
}

/// One serial port found on the system.
public struct SerialPortInfo: Sendable, Equatable, Codable {
    /// The device path, e.g. `/dev/ttyUSB0` or `/dev/ttyACM0`.
    public var name: String
    /// libserialport's human-readable description.
    public var description: String
    /// `usb`, `native` or `bluetooth`.
    public var transport: String
    /// USB vendor ID, when the port is a USB device.
    public var vendorID: UInt16?
    /// USB product ID, when the port is a USB device.
    public var productID: UInt16?
    /// USB manufacturer string.
    public var manufacturer: String?
    /// USB product string.
    public var product: String?
    /// USB serial number.
    public var serialNumber: String?

    /// `VID:PID` in hex (e.g. `0403:6014`), or nil for non-USB ports.
    public var vendorProductID: String? {
        guard let v = vendorID, let p = productID else { return nil }
        return hex4(v) + ":" + hex4(p)
    }

    /// A guess at the adapter from its USB IDs (U2D2 / FTDI, CH340 / Waveshare, CP210x), or nil.
    public var adapterHint: String? {
        switch (vendorID, productID) {
        case (0x0403, 0x6014): "FTDI FT232H (ROBOTIS U2D2)"
        case (0x0403, 0x6001): "FTDI FT232R"
        case (0x1A86, 0x7523): "CH340 (Feetech/Waveshare bus adapter)"
        case (0x1A86, 0x55D3): "CH343 (Waveshare bus servo adapter)"
        case (0x10C4, 0xEA60): "Silicon Labs CP210x"
        default: nil
        }
    }

    /// Creates a record (for tests and for callers that list ports another way).
    public init(name: String, description: String, transport: String, vendorID: UInt16? = nil, productID: UInt16? = nil,
                manufacturer: String? = nil, product: String? = nil, serialNumber: String? = nil) {
        self.name = name
        self.description = description
        self.transport = transport
        self.vendorID = vendorID
        self.productID = productID
        self.manufacturer = manufacturer
        self.product = product
        self.serialNumber = serialNumber
    }
}

private func hex4(_ v: UInt16) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
}

/// Lists serial ports with libserialport (`sp_list_ports` and the `sp_get_port_*` accessors).
public enum SerialPortDiscovery {
    /// Every serial port libserialport can see, sorted by name.
    public static func list() throws(SerialError) -> [SerialPortInfo] {
        var list: UnsafeMutablePointer<OpaquePointer?>? = nil
        try serialPortCall("list serial ports", sp_list_ports(&list)).get()
        guard let list else { return [] }
        defer { sp_free_port_list(list) }
        var ports: [SerialPortInfo] = []
        var i = 0
        while let p = list[i] {
            i += 1
            let name = sp_get_port_name(p).map { String(cString: $0) } ?? "?"
            let description = sp_get_port_description(p).map { String(cString: $0) } ?? ""
            var info = SerialPortInfo(name: name, description: description, transport: "native")
            switch sp_get_port_transport(p) {
            case SP_TRANSPORT_USB:
                info.transport = "usb"
                var vid: Int32 = 0, pid: Int32 = 0
                if sp_get_port_usb_vid_pid(p, &vid, &pid) == SP_OK {
                    info.vendorID = UInt16(truncatingIfNeeded: vid)
                    info.productID = UInt16(truncatingIfNeeded: pid)
                }
                info.manufacturer = sp_get_port_usb_manufacturer(p).map { String(cString: $0) }
                info.product = sp_get_port_usb_product(p).map { String(cString: $0) }
                info.serialNumber = sp_get_port_usb_serial(p).map { String(cString: $0) }
            case SP_TRANSPORT_BLUETOOTH:
                info.transport = "bluetooth"
            default:
                break
            }
            ports.append(info)
        }
        return ports.sorted { $0.name < $1.name }
    }
}
