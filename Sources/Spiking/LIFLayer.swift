/// The state of a population of LIF (and ALIF) neurons after step t, on buffers allocated once.
///
/// All states start at zero (paper-model.md §2.1). `spikes` holds z_t as 0/1 and `spikeIndices`
/// the indices with z_t = 1 (the first `spikeCount` entries), for the binary fast path.
public struct LIFState: Sendable {
    /// Membrane potentials v_t.
    public var voltage: [Float]
    /// Refractory counters r_t (the neuron is blocked at t+1 while r_t > 0.1).
    public var refractory: [Float]
    /// Threshold-adaptation variables b_t of the adaptive neurons (the last `adaptation.count`).
    public var adaptation: [Float]
    /// Spikes z_t as 0 or 1.
    public var spikes: [Float]
    /// Indices of the neurons with z_t = 1; the first `spikeCount` entries are valid.
    public var spikeIndices: [Int32]
    /// Number of valid entries in `spikeIndices`.
    public var spikeCount: Int

    /// A zero state for `neurons` neurons of which the last `adaptive` adapt their threshold.
    public init(neurons: Int, adaptive: Int = 0) {
        voltage = [Float](repeating: 0, count: neurons)
        refractory = [Float](repeating: 0, count: neurons)
        adaptation = [Float](repeating: 0, count: adaptive)
        spikes = [Float](repeating: 0, count: neurons)
        spikeIndices = [Int32](repeating: 0, count: neurons)
        spikeCount = 0
    }

    /// Sets every variable back to zero without reallocating.
    public mutating func reset() {
        for i in voltage.indices { voltage[i] = 0; refractory[i] = 0; spikes[i] = 0 }
        for i in adaptation.indices { adaptation[i] = 0 }
        spikeCount = 0
    }
}

/// A population of LIF neurons, optionally with adaptive-threshold (ALIF) neurons at the end, stepped
/// exactly as the paper's code does (paper-model.md §2.1, `functional/lif.py`, `module/lsnn_cell.py`):
///
/// ```
/// b_t = ρ b_{t−1} + z_{t−1};  A_t = thr + β b_t            (ALIF only; A_t = thr for LIF)
/// v_t = α v_{t−1} + I_t − A_t z_{t−1}                      (reset by subtraction; I_t = W_inᵀx_t + W_recᵀz_{t−1})
/// z_t = [(v_t − A_t)/thr > 0] unless r_{t−1} > 0.1
/// r_t = clip(r_{t−1} + n_ref z_t − 1, 0, n_ref)
/// ψ_t = γ·max(0, 1 − |(v_t − A_t)/thr|)/thr, and 0 while refractory (r_{t−1} > 0.1)
/// ```
public struct LIFLayer: Sendable {
    /// Number of neurons.
    public let count: Int
    /// Neuron parameters.
    public let parameters: LIFParameters
    /// Adaptation of the last neurons, if any (ALIF).
    public let adaptation: ThresholdAdaptation?

    @usableFromInline let alpha: Float
    @usableFromInline let threshold: Float
    @usableFromInline let dampening: Float
    @usableFromInline let refractorySteps: Float
    @usableFromInline let rho: Float
    @usableFromInline let beta: Float
    @usableFromInline let firstAdaptive: Int

    /// A population of `count` neurons; with `adaptation`, its last `adaptation.count` are ALIF.
    public init(count: Int, parameters: LIFParameters, adaptation: ThresholdAdaptation? = nil) {
        precondition(count > 0, "a layer needs at least one neuron")
        precondition((adaptation?.count ?? 0) <= count, "more adaptive neurons than neurons")
        self.count = count
        self.parameters = parameters
        self.adaptation = adaptation
        alpha = Float(parameters.alpha)
        threshold = Float(parameters.threshold)
        dampening = Float(parameters.dampening)
        refractorySteps = Float(parameters.refractorySteps)
        rho = Float(adaptation?.rho ?? 0)
        beta = Float(adaptation?.beta ?? 0)
        firstAdaptive = count - (adaptation?.count ?? 0)
    }

    /// A zero state for this layer.
    public func makeState() -> LIFState { LIFState(neurons: count, adaptive: adaptation?.count ?? 0) }

    /// Advances `state` from t−1 to t given the synaptic input `current` (I_t, `count` entries).
    /// Writes ψ_t to `pseudoDerivative` when it is not nil. No allocation.
    public func step(_ state: inout LIFState, current: UnsafePointer<Float>, pseudoDerivative: UnsafeMutablePointer<Float>? = nil) {
        let n = count
        let alpha = alpha, thr = threshold, gamma = dampening
        let nRef = refractorySteps, rho = rho, beta = beta, firstAdaptive = firstAdaptive
        var spikeCount = 0
        state.voltage.withUnsafeMutableBufferPointer { v in
            state.refractory.withUnsafeMutableBufferPointer { r in
                state.spikes.withUnsafeMutableBufferPointer { z in
                    state.adaptation.withUnsafeMutableBufferPointer { b in
                        state.spikeIndices.withUnsafeMutableBufferPointer { list in
                            for j in 0..<n {
                                let zPrev = z[j]
                                var effectiveThreshold = thr
                                if j >= firstAdaptive {
                                    let k = j &- firstAdaptive
                                    let bj = rho * b[k] + zPrev
                                    b[k] = bj
                                    effectiveThreshold = thr + beta * bj
                                }
                                let vj = alpha * v[j] + current[j] - effectiveThreshold * zPrev
                                v[j] = vj
                                let refractory = r[j] > 0.1
                                let distance = (vj - effectiveThreshold) / thr
                                let spike: Float = (!refractory && distance > 0) ? 1 : 0
                                z[j] = spike
                                if spike != 0 { list[spikeCount] = Int32(j); spikeCount &+= 1 }
                                r[j] = min(max(r[j] + nRef * spike - 1, 0), nRef)
                                if let psi = pseudoDerivative {
                                    psi[j] = refractory ? 0 : max(gamma * (1 - abs(distance)), 0) / thr
                                }
                            }
                        }
                    }
                }
            }
        }
        state.spikeCount = spikeCount
    }
}
