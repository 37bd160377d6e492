import Foundation
import Tensors

/// The official code's PCM noise model (paper-model.md §4.2, `module/pcm.py` `PCMNoise`) as the
/// meta-gradient tape needs it: each function returns the programmed weight and its gradient factor
/// ∂w_out/∂w_in under the official graph (clips straight-through, programming noise stop-gradient,
/// drift factor 32^(−ν) multiplying the gradient of the drifted device).
enum PaperPCMNoise {
    /// Drift exponent ν = |μ_ν + σ_ν·ξ| for a weight of magnitude |w| (ĝ = |w|).
    static func driftExponent(_ w: Double, rng: inout RandomSource) -> Double {
        let g = abs(w)
        let logG = g > 0 ? log(g) : -Double.infinity
        let mu = min(max(-0.0155 * logG + 0.0244, 0.049), 0.1)
        let sigma = min(max(-0.0125 * logG - 0.0059, 0.008), 0.045)
        return abs(mu + sigma * rng.normal())
    }

    /// `init_weights`: w0 = clip(clip(w) + U(−0.01, 0.01) + [clip(w·32^(−ν)) − w]); gradient factor 32^(−ν).
    static func initial(_ w: Double, rng: inout RandomSource) -> (value: Double, gain: Double) {
        let uniform = rng.uniform(-0.01, 0.01)
        let d = pow(32.0, -driftExponent(w, rng: &rng))
        let drifted = clip(w * d) - w
        return (clip(clip(w) + uniform + drifted), d)
    }

    /// `program(w + Δ, mask)` for a device whose quantized update Δ is non-zero: programming noise
    /// on the non-zero polarity (σ_prog in µS, clipped to [0, 25] µS), drift; gradient factor 32^(−ν).
    /// Devices with Δ = 0 are untouched: value w + 0, gradient 1 (the caller handles them).
    static func reprogrammed(_ w: Double, rng: inout RandomSource) -> (value: Double, gain: Double) {
        let gMax = 25.0
        let gt = w * gMax
        let ghat = gt / gMax
        let sigma = max(-1.1731 * ghat * ghat + 1.9650 * abs(ghat) + 0.2635, 0)
        let noise = sigma * rng.normal()
        let positive = max(gt, 0), negative = min(gt, 0)
        let pNoisy = positive != 0 ? min(max(positive + noise, 0), gMax) : positive
        let nNoisy = negative != 0 ? min(max(negative + noise, -gMax), 0) : negative
        let programmingTerm = (pNoisy + nNoisy) / gMax - w
        let d = pow(32.0, -driftExponent(w, rng: &rng))
        let driftTerm = clip(w * d) - w
        return (clip(clip(w) + programmingTerm + driftTerm), d)
    }

    @inline(__always) static func clip(_ x: Double) -> Double { min(max(x, -1), 1) }
}
