import Foundation
import Synchronization

/// A flag that ends `ServoEmulator.serve` (checked at least every poll interval).
public final class EmulatorStopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Creates an unset signal.
    public init() {}
    /// Asks the serving loop to end.
    public func stop() { flag.store(true, ordering: .releasing) }
    /// Whether `stop()` was called.
    public var isStopped: Bool { flag.load(ordering: .acquiring) }
}

/// Moves a transport to the serving thread. A transport is not `Sendable` (one owner at a time); this box
/// hands ownership over exactly once, and the caller must not touch the transport afterwards.
private final class TransportHandOver: @unchecked Sendable {
    let transport: any SerialTransport
    init(_ transport: any SerialTransport) { self.transport = transport }
}

/// How a serving thread ended.
private final class ServeOutcome: Sendable {
    let error = Mutex<SerialError?>(nil)
}

/// An emulator serving on a background thread.
public final class EmulatorThread: Sendable {
    /// The emulator.
    public let emulator: ServoEmulator
    private let signal: EmulatorStopSignal
    private let finished = DispatchSemaphore(value: 0)
    private let failure = ServeOutcome()
    private let joined = Atomic<Bool>(false)

    fileprivate init(emulator: ServoEmulator, transport: any SerialTransport) {
        self.emulator = emulator
        self.signal = EmulatorStopSignal()
        let box = TransportHandOver(transport)
        let thread = Thread { [emulator, signal, finished, failure] in
            do throws(SerialError) {
                try emulator.serve(box.transport, until: signal)
            } catch {
                failure.error.withLock { $0 = error }
            }
            box.transport.close()
            finished.signal()
        }
        thread.name = "engram.servo-emulator"
        thread.start()
    }

    /// Stops serving, waits for the thread to end, and returns the transport error that ended it early, if any.
    @discardableResult
    public func stop() -> SerialError? {
        signal.stop()
        if !joined.exchange(true, ordering: .acquiringAndReleasing) { finished.wait() }
        return failure.error.withLock { $0 }
    }

    deinit { stop() }
}

extension ServoEmulator {
    /// Serves instruction packets from `transport` until `stop` is signalled, answering each after its
    /// return delay. Returns normally when stopped; throws when the transport fails.
    public func serve(_ transport: any SerialTransport, until stop: EmulatorStopSignal, pollIntervalMs: Double = 20) throws(SerialError) {
        var decoder = PacketDecoder(protocol: wireProtocol, direction: .instruction)
        var packet = ServoPacket()
        packet.parameters.reserveCapacity(1024)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        defer { buffer.deallocate() }
        let origin = ContinuousClock.now
        while !stop.isStopped {
            let n = try transport.read(into: buffer, until: .after(milliseconds: pollIntervalMs))
            guard n > 0 else { continue }
            decoder.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            decoding: while true {
                switch decoder.next(into: &packet) {
                case .packet:
                    let arrival = ContinuousClock.now
                    let replies = respond(to: packet, at: origin.duration(to: arrival).seconds)
                    var sendAt = arrival
                    replying: for r in replies {
                        sendAt = sendAt.advanced(by: .nanoseconds(Int64(r.delaySeconds * 1e9)))
                        // Wait out the return delay, but listen: like a real servo, a new instruction on
                        // the line cancels replies not yet sent (so a slow servo never builds a backlog).
                        while ContinuousClock.now < sendAt {
                            let m = try transport.read(into: buffer, until: sendAt)
                            if m > 0 {
                                decoder.append(UnsafeRawBufferPointer(rebasing: buffer[0..<m]))
                                break replying
                            }
                        }
                        try transport.write(r.bytes)
                        sendAt = max(sendAt, ContinuousClock.now)
                    }
                case .needMoreBytes:
                    break decoding
                case .rejected:
                    // A real servo ignores packets with a bad CRC or checksum; so does the emulator.
                    continue
                }
            }
        }
    }

    /// Serves `transport` on a new thread. Ownership of `transport` passes to that thread (it is closed
    /// when serving ends); stop with the returned handle's `stop()`.
    public func start(serving transport: any SerialTransport) -> EmulatorThread {
        EmulatorThread(emulator: self, transport: transport)
    }
}
