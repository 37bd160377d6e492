#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A failed operating-system or libserialport call on a serial port.
public struct SerialError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being done, e.g. "open /dev/ttyUSB0" or "tcsetattr".
    public var operation: String
    /// The `errno` value, when the failure came from libc (0 otherwise).
    public var errno: Int32
    /// Extra detail (libserialport's message, or a hint).
    public var detail: String

    /// Creates an error for `operation` with the given errno and detail.
    public init(operation: String, errno: Int32 = 0, detail: String = "") {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    /// One line: the operation, the C error text, and what to try next.
    public var description: String {
        var line = operation + " failed"
        if errno != 0, let text = strerror(errno) { line += ": " + String(cString: text) }
        if !detail.isEmpty { line += " (" + detail + ")" }
        switch errno {
        case EACCES: line += "; add yourself to the 'dialout' group or check the device permissions"
        case ENOENT: line += "; check the path with 'engram ports'"
        case EBUSY: line += "; another program has the port open"
        case EIO, ENXIO: line += "; the device was unplugged or the pseudo-terminal's other end closed"
        default: break
        }
        return line
    }
}

/// Routes one libc call that reports failure as `-1` + `errno` into a typed result, retrying on `EINTR`
/// (the swift-system `valueOrErrno` pattern).
@inline(__always)
func systemCall<T: FixedWidthInteger>(
    _ operation: @autoclosure () -> String, retryOnInterrupt: Bool = true, _ body: () -> T
) -> Result<T, SerialError> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let code = Glibc.errno
        if code == EINTR && retryOnInterrupt { continue }
        return .failure(SerialError(operation: operation(), errno: code))
    }
}

/// A point on the monotonic clock used for read deadlines.
public typealias SerialDeadline = ContinuousClock.Instant

extension ContinuousClock.Instant {
    /// The instant `milliseconds` from now.
    public static func after(milliseconds: Double) -> ContinuousClock.Instant {
        .now.advanced(by: .nanoseconds(Int64(milliseconds * 1_000_000)))
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) * 1e-18
    }
}

/// Sleeps the calling thread for `seconds` (no-op when ≤ 0). The corresponding C call is `nanosleep`.
public func sleepThread(seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && Glibc.errno == EINTR { request = remaining }
}
