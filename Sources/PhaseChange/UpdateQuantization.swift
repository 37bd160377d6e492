import Tensors

/// The official code's weight-update quantizers (1/16 of w_max = 1.5625 µS per step), applied by the caller
/// before `Crossbar.applyUpdate` (../shared/design/paper-model.md §4.2, step 1).
public enum UpdateQuantization {
    /// The update grid of both scenarios: 1/16 of w_max.
    public static let paperStep: Float = 1.0 / 16

    /// Robot (`quantize_10`): Δw_q = round(Δw / step)·step with TensorFlow's round-half-to-even.
    public static func round(_ delta: inout Matrix, step: Float = paperStep) {
        precondition(step > 0, "update step must be positive")
        for i in 0..<delta.count {
            delta.storage[i] = (delta.storage[i] / step).rounded(.toNearestOrEven) * step
        }
    }

    /// CNN (`quantize_stochastic`): truncate toward zero to the grid, then move one more step away from zero
    /// with probability equal to the remaining fraction, so E[Δw_q] = Δw. One uniform draw per element, in order.
    public static func stochasticRound(_ delta: inout Matrix, step: Float = paperStep, rng: inout RandomSource) {
        precondition(step > 0, "update step must be positive")
        for i in 0..<delta.count {
            let scaled = delta.storage[i] / step
            let truncated = scaled.rounded(.towardZero)
            let fraction = scaled - truncated
            let u = rng.uniformFloat()
            var q = truncated
            if fraction > 0, u < fraction { q += 1 }
            if fraction < 0, u < -fraction { q -= 1 }
            delta.storage[i] = q * step
        }
    }
}

extension Crossbar {
    /// One full sample of the weights read at `time`, with per-device read noise drawn exactly (each device
    /// clipped at 0, as aihwkit and the official code do), drift included, no drift compensation. For
    /// diagnostics and for users who want a fixed noisy weight matrix; the MVM paths draw the noise on the
    /// outputs instead.
    public func sampleWeights(at time: Double, rng: inout RandomSource) -> Matrix {
        var m = weights(at: time)
        guard parameters.readNoise else { return m }
        let p = parameters
        let zig = GaussianZiggurat.shared
        switch p.kind {
        case .paper:
            for i in 0..<m.count {
                let w = Double(m.storage[i])
                guard w != 0 else { continue }
                let sigma = PCMDeviceModel.paperReadSigma(w, p)
                let v = w + sigma * zig.draw(&rng)
                m.storage[i] = Float(w > 0 ? min(max(v, 0), 1) : min(max(v, -1), 0))
            }
        case .physical:
            let (gPlus, gMinus) = conductances(at: time)
            for i in 0..<m.count {
                var pair = [0.0, 0.0]
                for (d, (g, device)) in [(Double(gPlus[i]), plus), (Double(gMinus[i]), minus)].enumerated() {
                    let e = Int(device.event[i])
                    guard e >= 0, g > 0 else { pair[d] = g; continue }
                    let r = PCMDeviceModel.physicalReadTimeFactor(sinceProgramming: time - programmingTimes[e], p)
                    pair[d] = max(g + g * Double(device.qs[i]) * r * zig.draw(&rng), 0)
                }
                m.storage[i] = Float((pair[0] - pair[1]) / p.gMaxMicroSiemens)
            }
        }
        return m
    }
}
