import Tensors

/// A synaptic weight matrix that a network reads through binary (spike) inputs and that the e-prop
/// update rewrites: rows are presynaptic, columns postsynaptic, so the input current is Wᵀz.
///
/// Two kinds implement it: `DenseSynapses` (ideal float weights, digital) and the PhaseChange
/// `Crossbar` (emulated PCM with programming noise, drift and read noise), so one network code runs
/// ideal or on PCM. Times are seconds on the device clock (ignored by dense weights).
public protocol Synapses: Sendable {
    /// Number of presynaptic rows.
    var rows: Int { get }
    /// Number of postsynaptic columns.
    var columns: Int { get }
    /// Writes `weights` as the starting point (a PCM crossbar programs every device).
    mutating func program(_ weights: Matrix, at time: Double, rng: inout RandomSource)
    /// Adds `delta` where it is non-zero (a PCM crossbar re-programs only those devices).
    mutating func applyUpdate(_ delta: Matrix, at time: Double, rng: inout RandomSource)
    /// `y[c] += Σ_{r ∈ active} W[r, c]` (plus read noise on PCM). No allocation.
    mutating func accumulate(rows active: UnsafeBufferPointer<Int32>, into y: UnsafeMutablePointer<Float>, at time: Double, rng: inout RandomSource)
    /// The weights currently represented at read time `time`, without read noise.
    func weights(at time: Double) -> Matrix
}

/// Ideal synapses: a dense Float32 matrix, read exactly.
public struct DenseSynapses: Synapses {
    /// The weights (rows presynaptic, columns postsynaptic).
    public var matrix: Matrix

    /// Synapses holding `matrix`.
    public init(_ matrix: Matrix) { self.matrix = matrix }

    /// Zero synapses of the given shape.
    public init(rows: Int, columns: Int) { matrix = Matrix(rows: rows, columns: columns) }

    public var rows: Int { matrix.rows }
    public var columns: Int { matrix.columns }

    public mutating func program(_ weights: Matrix, at time: Double, rng: inout RandomSource) {
        precondition(weights.rows == matrix.rows && weights.columns == matrix.columns, "shape mismatch programming dense synapses")
        matrix = weights
    }

    public mutating func applyUpdate(_ delta: Matrix, at time: Double, rng: inout RandomSource) {
        precondition(delta.rows == matrix.rows && delta.columns == matrix.columns, "shape mismatch updating dense synapses")
        delta.storage.withUnsafeBufferPointer { d in
            matrix.storage.withUnsafeMutableBufferPointer { w in
                Kernels.axpy(1, d.baseAddress!, w.baseAddress!, count: w.count)
            }
        }
    }

    public mutating func accumulate(rows active: UnsafeBufferPointer<Int32>, into y: UnsafeMutablePointer<Float>, at time: Double, rng: inout RandomSource) {
        guard !active.isEmpty else { return }
        let columns = matrix.columns
        matrix.storage.withUnsafeBufferPointer { w in
            Kernels.accumulateRows(w.baseAddress!, columns: columns, selected: active, into: y)
        }
    }

    public func weights(at time: Double) -> Matrix { matrix }
}
