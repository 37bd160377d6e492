/// Binary events over time: for each step, the list of indices that are active (spiking neurons or
/// input channels). Stored flat (indices plus per-step offsets) so that appending a step after the
/// first trial does not allocate.
public struct SpikeRaster: Sendable, Equatable {
    /// All active indices, step after step.
    public private(set) var indices: [Int32] = []
    /// `offsets[t]..<offsets[t+1]` are step t's entries of `indices`; `offsets.count == steps + 1`.
    public private(set) var offsets: [Int] = [0]

    /// An empty raster with room for `steps` steps and `events` events.
    public init(reservingSteps steps: Int = 0, events: Int = 0) {
        indices.reserveCapacity(events)
        offsets.reserveCapacity(steps + 1)
    }

    /// A raster from per-step index lists.
    public init(_ steps: [[Int]]) {
        for s in steps { append(s.map { Int32($0) }) }
    }

    /// Number of recorded steps.
    public var steps: Int { offsets.count - 1 }

    /// Total number of events.
    public var eventCount: Int { indices.count }

    /// Removes every step, keeping the storage.
    public mutating func removeAll() {
        indices.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        offsets.append(0)
    }

    /// Appends one step's active indices.
    public mutating func append(_ active: UnsafeBufferPointer<Int32>) {
        indices.append(contentsOf: active)
        offsets.append(indices.count)
    }

    /// Appends one step's active indices.
    public mutating func append(_ active: [Int32]) {
        active.withUnsafeBufferPointer { append($0) }
    }

    /// The active indices of step `t`.
    public subscript(t: Int) -> ArraySlice<Int32> { indices[offsets[t]..<offsets[t + 1]] }

    /// Calls `body` with step `t`'s active indices as a buffer (no copy).
    @inlinable
    public func withStep<R>(_ t: Int, _ body: (UnsafeBufferPointer<Int32>) throws -> R) rethrows -> R {
        try indices.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[offsets[t]..<offsets[t + 1]]))
        }
    }

    /// The events as a dense steps × `width` matrix of 0/1 (row-major), for tests and plots.
    public func dense(width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: steps * width)
        for t in 0..<steps { for i in self[t] { out[t * width + Int(i)] = 1 } }
        return out
    }
}

/// The paper's clock input (`clock_signal(249, 5, 5, 1, 10)`, paper-model.md §2.2): neuron k is active in
/// [k·window, (k+1)·window) steps, cycling through the neurons, and spikes every `spikeEvery` steps
/// while active, starting at the window's first step.
public struct ClockInput: Sendable, Equatable, Codable {
    /// Number of clock neurons.
    public var neurons: Int
    /// Steps each neuron stays active.
    public var windowSteps: Int
    /// Steps between spikes of the active neuron.
    public var spikeEvery: Int

    /// A clock; the paper's is 5 neurons, windows of 50 steps, a spike every 10 steps.
    public init(neurons: Int = 5, windowSteps: Int = 50, spikeEvery: Int = 10) {
        precondition(neurons > 0 && windowSteps > 0 && spikeEvery > 0, "clock sizes must be positive")
        self.neurons = neurons
        self.windowSteps = windowSteps
        self.spikeEvery = spikeEvery
    }

    /// The paper's clock.
    public static let paper = ClockInput()

    /// The neuron that spikes at step `t`, or nil.
    public func spikingNeuron(at t: Int) -> Int? {
        let within = t % windowSteps
        guard within % spikeEvery == 0 else { return nil }
        return (t / windowSteps) % neurons
    }

    /// The pattern over `steps` steps.
    public func raster(steps: Int) -> SpikeRaster {
        var r = SpikeRaster(reservingSteps: steps, events: steps / spikeEvery + 1)
        for t in 0..<steps {
            if let k = spikingNeuron(at: t) { r.append([Int32(k)]) } else { r.append([]) }
        }
        return r
    }
}

/// The LSG's binary target code (paper-model.md §2.2): each coordinate c (metres) becomes the low
/// `bits` bits of ⌊(c + 1)·2^(bits−1)⌋ (truncated toward zero, computed in Float64, masked, never
/// narrowed), presented least-significant bit first as `bits` channels per coordinate.
public struct TargetCode: Sendable, Equatable {
    /// Bits per coordinate (16 in the paper).
    public var bits: Int

    /// A code with `bits` channels per coordinate.
    public init(bits: Int = 16) {
        precondition(bits > 0 && bits < 63, "bits must be in 1...62")
        self.bits = bits
    }

    /// The integer code of one coordinate (before splitting into bits), masked to `bits` bits.
    public func code(_ coordinate: Double) -> UInt64 {
        let scaled = (coordinate + 1) * Double(1 << (bits - 1))
        guard scaled.isFinite else { return 0 }
        let wide = Int64(min(max(scaled, -0x1p62), 0x1p62).rounded(.towardZero))
        return UInt64(bitPattern: wide) & ((1 << UInt64(bits)) - 1)
    }

    /// Appends to `active` the channel indices (offset by `offset`) that are on for the coordinates.
    public func appendActiveChannels(_ coordinates: [Double], offset: Int, to active: inout [Int32]) {
        for (k, c) in coordinates.enumerated() { appendActiveChannels(c, offset: offset + k * bits, to: &active) }
    }

    /// Appends to `active` the channels `offset + bit` that are on for one coordinate (no allocation
    /// when `active` has room).
    public func appendActiveChannels(_ coordinate: Double, offset: Int, to active: inout [Int32]) {
        let value = code(coordinate)
        for bit in 0..<bits where (value >> UInt64(bit)) & 1 == 1 {
            active.append(Int32(offset + bit))
        }
    }
}
