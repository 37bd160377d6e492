import PhaseChange
import Tensors

/// A PCM crossbar as network synapses: spikes read it through the binary fast path (with read noise),
/// the starting weights are programmed with `programInitial`, and an update re-programs only the
/// devices whose change is non-zero.
extension Crossbar: Synapses {
    public mutating func program(_ weights: Matrix, at time: Double, rng: inout RandomSource) {
        programInitial(weights, at: time, rng: &rng)
    }

    public mutating func applyUpdate(_ delta: Matrix, at time: Double, rng: inout RandomSource) {
        let _: ProgrammingReport = applyUpdate(delta, at: time, rng: &rng)
    }

    public mutating func accumulate(rows active: UnsafeBufferPointer<Int32>, into y: UnsafeMutablePointer<Float>, at time: Double, rng: inout RandomSource) {
        accumulateActiveRows(active, into: y, at: time, rng: &rng)
    }
}
