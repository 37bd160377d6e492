import Foundation
import Synchronization

/// Runs `body` on its own thread and waits at most `seconds` for it: the result, or nil when it is still
/// running (a hang; the thread is left behind, which only matters on code that hangs).
public func finishes<T: Sendable>(within seconds: Double, _ body: @escaping @Sendable () -> T) -> T? {
    let done = DispatchSemaphore(value: 0)
    let box = ResultSlot<T>()
    let thread = Thread {
        let value = body()
        box.slot.withLock { $0 = value }
        done.signal()
    }
    thread.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return box.slot.withLock { $0 }
}

private final class ResultSlot<T: Sendable>: Sendable {
    let slot = Mutex<T?>(nil)
}

/// Moves a non-Sendable value to another thread in a test that hands it over once.
public final class UncheckedBox<T>: @unchecked Sendable {
    /// The value.
    public let value: T
    /// Boxes `value`.
    public init(_ value: T) { self.value = value }
}
