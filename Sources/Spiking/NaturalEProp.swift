import Tensors

/// The natural e-prop weight change of one trial (paper-model.md §2.4):
///
/// ```
/// ΔW_in[i, j]  = −η Σ_t L_{t,j} ψ_{t,j} ē^in_{t,i},   ē^in_t  = α ē^in_{t−1}  + x_t
/// ΔW_rec[i, j] = −η Σ_t L_{t,j} ψ_{t,j} ē^rec_{t,i},  ē^rec_t = α ē^rec_{t−1} + z_{t−1}
/// ```
///
/// Because inputs and spikes are binary, the sum is computed the other way round: with
/// a_t = L_t ⊙ ψ_t and its anti-causal filter G_s = a_s + α G_{s+1} (G_T = 0),
/// Σ_t a_{t,j} ē_{t,i} = Σ_s u_{s,i} G_{s,j}, where u_s is x_s (inputs) or z_{s−1} (recurrent). Each
/// input or spike event then adds one row of G: O(T·N + events·N) instead of O(T·N²).
public struct NaturalEProp: Sendable {
    /// Neurons of the trainee.
    public let neurons: Int
    /// Input channels of the trainee.
    public let inputs: Int
    /// Membrane decay α of the eligibility traces.
    public let alpha: Float
    /// Inner learning rate η.
    public let learningRate: Float
    private var filtered: [Float]

    /// An update rule for `inputs` + `neurons` presynaptic rows and `neurons` postsynaptic columns.
    public init(inputs: Int, neurons: Int, alpha: Double, learningRate: Double) {
        self.inputs = inputs
        self.neurons = neurons
        self.alpha = Float(alpha)
        self.learningRate = Float(learningRate)
        self.filtered = []
    }

    /// Writes the stacked change [ΔW_in; ΔW_rec] ((inputs + neurons) × neurons) into `delta`, from the
    /// trial-1 inputs x_t, spikes z_t, surrogate derivatives ψ_t (steps × neurons) and learning
    /// signals L_t (steps × neurons). The recurrent diagonal stays zero (self-connections are masked).
    public mutating func weightChange(inputs x: SpikeRaster, spikes z: SpikeRaster, pseudoDerivatives psi: [Float],
                                      learningSignals l: [Float], into delta: inout Matrix) {
        let n = neurons, steps = x.steps
        precondition(z.steps == steps && psi.count == steps * n && l.count == steps * n, "trial records do not match")
        precondition(delta.rows == inputs + n && delta.columns == n, "delta must be (inputs + neurons) × neurons")
        if filtered.count != (steps + 1) * n { filtered = [Float](repeating: 0, count: (steps + 1) * n) }
        let alpha = alpha
        filtered.withUnsafeMutableBufferPointer { g in
            // G_T = 0; G_s = L_s ψ_s + α G_{s+1}.
            for j in 0..<n { g[steps * n + j] = 0 }
            psi.withUnsafeBufferPointer { p in
                l.withUnsafeBufferPointer { lb in
                    var s = steps - 1
                    while s >= 0 {
                        let row = s * n, next = row + n
                        for j in 0..<n { g[row + j] = lb[row + j] * p[row + j] + alpha * g[next + j] }
                        s -= 1
                    }
                }
            }
            delta.storage.withUnsafeMutableBufferPointer { d in
                d.update(repeating: 0)
                let base = d.baseAddress!
                for s in 0..<steps {
                    let gs = UnsafePointer(g.baseAddress! + s * n)
                    for i in x[s] { Kernels.axpy(1, gs, base + Int(i) * n, count: n) }
                    if s > 0 {
                        for i in z[s - 1] { Kernels.axpy(1, gs, base + (inputs + Int(i)) * n, count: n) }
                    }
                }
                let scale = -learningRate
                for k in 0..<d.count { d[k] *= scale }
                for j in 0..<n { d[(inputs + j) * n + j] = 0 }
            }
        }
    }
}

/// Rounds an update to the PCM programming grid: round(16·Δw)/16 (ties to even, as `tf.math.round`).
public enum UpdateQuantizer {
    /// The grid step, 1/16 of w_max.
    public static let step: Float = 1.0 / 16.0

    /// Rounds every entry of `delta` in place to multiples of `step`.
    public static func quantize(_ delta: inout Matrix) {
        delta.storage.withUnsafeMutableBufferPointer { d in
            for k in d.indices { d[k] = (d[k] / step).rounded(.toNearestOrEven) * step }
        }
    }

    /// The fraction of non-zero entries among rows `rows` (excluding the recurrent diagonal when
    /// `diagonalOffset` is given: entry (diagonalOffset + j, j) is not counted).
    public static func fractionChanged(_ delta: Matrix, rows: Range<Int>, diagonalOffset: Int? = nil) -> Double {
        var changed = 0, total = 0
        for r in rows {
            for c in 0..<delta.columns {
                if let o = diagonalOffset, r - o == c { continue }
                total += 1
                if delta[r, c] != 0 { changed += 1 }
            }
        }
        return total == 0 ? 0 : Double(changed) / Double(total)
    }
}
