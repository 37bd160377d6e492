import Tensors
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The per-device equations of both models, in one place (../shared/design/paper-model.md §4.2 and aihwkit
/// src/aihwkit/inference/noise/pcm.py). Conductances are in µS, ĝ = |g|/g_max, times in seconds.
public enum PCMDeviceModel {
    /// σ_prog(ĝ) = max(Σ_i c_i ĝ^i, 0) · g_max/25 µS (Nandakumar et al. 2019; the fit is at 25 µS; the
    /// default coefficients are c = (0.26348, 1.9650, −1.1731)).
    @inlinable
    public static func programmingSigma(_ gHat: Double, _ p: PCMParameters) -> Double {
        var s = 0.0, power = 1.0
        for c in p.programmingNoiseCoefficients {
            s += c * power
            power *= gHat
        }
        return max(s, 0) * p.gMaxMicroSiemens / 25
    }

    /// Mean of the drift exponent before folding: μ_ν = clip(−0.0155 ln ĝ + 0.0244, 0.049, 0.1), ĝ ≥ 1e-7.
    @inlinable
    public static func driftMean(_ gHat: Double) -> Double {
        let l = log(max(gHat, 1e-7))
        return min(max(-0.0155 * l + 0.0244, 0.049), 0.1)
    }

    /// Spread of the drift exponent before folding: σ_ν = clip(−0.0125 ln ĝ − 0.0059, 0.008, 0.045).
    @inlinable
    public static func driftStd(_ gHat: Double) -> Double {
        let l = log(max(gHat, 1e-7))
        return min(max(-0.0125 * l - 0.0059, 0.008), 0.045)
    }

    /// A drift exponent ν = |μ_ν + σ_ν N(0,1)|, redrawn at every programming.
    @inlinable
    public static func drawDriftExponent(_ gHat: Double, rng: inout RandomSource) -> Double {
        abs(driftMean(gHat) + driftStd(gHat) * rng.normal())
    }

    /// Physical read-noise scale Q_s = min(0.0088 / max(ĝ^0.65, 1e-3), 0.2) of the programmed conductance
    /// (aihwkit normalises by g_max).
    @inlinable
    public static func physicalQs(_ gHat: Double) -> Double {
        min(0.0088 / max(pow(gHat, 0.65), 1e-3), 0.2)
    }

    /// Paper read-noise scale Q_s = min(0.0088 / |g|^0.65, 0.2) with g in µS — not normalised (official code).
    @inlinable
    public static func paperQs(_ gMicroSiemens: Double) -> Double {
        let g = abs(gMicroSiemens)
        return g > 0 ? min(0.0088 / pow(g, 0.65), 0.2) : 0.2
    }

    /// Physical drift time argument ln(t/t0) with t = t_since_programming + t0 (aihwkit), 0 for t ≤ t0.
    @inlinable
    public static func physicalDriftLog(sinceProgramming dt: Double, _ p: PCMParameters) -> Double {
        let dt = max(dt, 0)
        return log((dt + p.t0Seconds) / p.t0Seconds)
    }

    /// Physical 1/f read-noise time factor sqrt(ln((t + t_read)/(2 t_read))) with t = t_since_programming + t0.
    @inlinable
    public static func physicalReadTimeFactor(sinceProgramming dt: Double, _ p: PCMParameters) -> Double {
        let t = max(dt, 0) + p.t0Seconds
        return max(log((t + p.tReadSeconds) / (2 * p.tReadSeconds)), 0).squareRoot()
    }

    /// One physical programming with program-and-verify: returns the programmed conductance and the pulses.
    /// Each pulse lands at `target + σ_prog·N(0,1)`, clipped at 0 (and at g_max if asked); the loop stops
    /// inside the tolerance window or at the pulse budget.
    @inlinable
    public static func programPhysical(target: Double, _ p: PCMParameters, rng: inout RandomSource) -> (g: Double, pulses: Int) {
        let sigma = p.programmingNoise ? programmingSigma(target / p.gMaxMicroSiemens, p) : 0
        if sigma == 0 { return (target, 1) }
        let pv = p.programAndVerify
        var pulses = 0
        var g = target
        repeat {
            pulses += 1
            g = max(target + sigma * rng.normal(), 0)
            if p.clipConductanceAtGMax { g = min(g, p.gMaxMicroSiemens) }
            if abs(g - target) <= pv.toleranceMicroSiemens { break }
        } while pulses < pv.maxPulses
        return (g, pulses)
    }

    /// The official `program(w, mask=1)` for one weight (w already includes the update, unclipped):
    /// `clip(clip(w) + [clip_dev(25w + n)/25 − w] + [clip(w·32^(−ν)) − w], −1, 1)`, where clip_dev keeps the
    /// device's sign range ([0, 25] or [−25, 0]), n ~ N(0, σ_prog(|w|)²) µS, and an exact zero gets no noise.
    /// Returns the new weight, the noisy weight before drift (for characterisation), and ν.
    @inlinable
    public static func programPaper(_ w: Double, _ p: PCMParameters, rng: inout RandomSource)
        -> (weight: Double, beforeDrift: Double, nu: Double)
    {
        let gMax = p.gMaxMicroSiemens
        let g = w * gMax
        var noisy = 0.0
        if w != 0 {
            let sigma = p.programmingNoise ? max(programmingSigma(abs(w), p), 0) : 0
            let n = sigma > 0 ? sigma * rng.normal() : 0
            noisy = w > 0 ? min(max(g + n, 0), gMax) / gMax : min(max(g + n, -gMax), 0) / gMax
        }
        var nu = 0.0
        var driftTerm = 0.0
        if p.drift {
            nu = drawDriftExponent(abs(w), rng: &rng)
            driftTerm = min(max(w * pow(p.paperDriftTimeRatio, -nu), -1), 1) - w
        }
        let clippedW = min(max(w, -1), 1)
        let programmed = clippedW + (noisy - w) + driftTerm
        return (min(max(programmed, -1), 1), noisy, nu)
    }

    /// The official `init_weights` for one weight: `clip(clip(w) + U(−0.01, 0.01) + [clip(w·32^(−ν)) − w])`
    /// (no σ_prog; for |w| > 1 this returns about 2 − |w|, a code artefact kept on purpose).
    @inlinable
    public static func initialPaper(_ w: Double, _ p: PCMParameters, rng: inout RandomSource) -> (weight: Double, nu: Double) {
        let u = p.programmingNoise ? rng.uniform(-0.01, 0.01) : 0
        var nu = 0.0
        var driftTerm = 0.0
        if p.drift {
            nu = drawDriftExponent(abs(w), rng: &rng)
            driftTerm = min(max(w * pow(p.paperDriftTimeRatio, -nu), -1), 1) - w
        }
        let v = min(max(w, -1), 1) + u + driftTerm
        return (min(max(v, -1), 1), nu)
    }

    /// Paper read-noise σ of a weight, in weight units: |w|·Q_s(25|w| µS)·factor.
    @inlinable
    public static func paperReadSigma(_ w: Double, _ p: PCMParameters) -> Double {
        let g = abs(min(max(w, -1), 1)) * p.gMaxMicroSiemens
        return g * paperQs(g) * p.paperReadNoiseFactor / p.gMaxMicroSiemens
    }

    /// Mean and second moment of max(0, μ + σZ), the read of a device whose noise may cross zero.
    /// Exact: E = μΦ(a) + σφ(a), E[X²] = (μ² + σ²)Φ(a) + μσφ(a), a = μ/σ; beyond a = 8 the clip is ignored.
    @inlinable
    public static func clippedNormalMoments(mean mu: Double, std sigma: Double) -> (mean: Double, secondMoment: Double) {
        if sigma <= 0 { let m = max(mu, 0); return (m, m * m) }
        let a = mu / sigma
        if a > 8 { return (mu, mu * mu + sigma * sigma) }
        let cdf = 0.5 * erfc(-a / 2.0.squareRoot())
        let pdf = exp(-0.5 * a * a) / (2 * Double.pi).squareRoot()
        let m = mu * cdf + sigma * pdf
        let s2 = (mu * mu + sigma * sigma) * cdf + mu * sigma * pdf
        return (m, s2)
    }

    /// Mean and variance of max(0, 1 + kZ), the read of a unit conductance with relative noise k:
    /// M(k) = Φ(1/k) + kφ(1/k), V(k) = (1 + k²)Φ(1/k) + kφ(1/k) − M(k)². Below k = 1/8 the clip is ignored
    /// (M = 1, V = k²); up to k = 2 the values come from a table with step 1/2048 (linear interpolation of M
    /// and V/k², relative error below 1e-6); beyond that they are computed directly.
    @inlinable
    public static func relativeClippedMoments(_ k: Double) -> (mean: Double, variance: Double) {
        if k < 0.125 { return (1, k * k) }
        if k >= 2 {
            let (m, s2) = clippedNormalMoments(mean: 1, std: k)
            return (m, max(s2 - m * m, 0))
        }
        return RelativeClippedMomentTable.shared.lookup(k)
    }
}

/// Tabulated M(k) and V(k)/k² of `PCMDeviceModel.relativeClippedMoments` on [0, 2].
@usableFromInline
struct RelativeClippedMomentTable: Sendable {
    @usableFromInline static let stepsPerUnit = 2048.0
    @usableFromInline let means: [Double]
    /// V(k)/k², smooth and near 1, so linear interpolation is accurate to about 1e-9 relative.
    @usableFromInline let variances: [Double]

    init() {
        let count = Int(2 * RelativeClippedMomentTable.stepsPerUnit) + 2
        var m = [Double](repeating: 1, count: count), v = [Double](repeating: 0, count: count)
        for j in 1..<count {
            let k = Double(j) / RelativeClippedMomentTable.stepsPerUnit
            let (mean, s2) = PCMDeviceModel.clippedNormalMoments(mean: 1, std: k)
            m[j] = mean
            v[j] = max(s2 - mean * mean, 0) / (k * k)
        }
        v[0] = 1
        means = m
        variances = v
    }

    @usableFromInline static let shared = RelativeClippedMomentTable()

    @inlinable
    func lookup(_ k: Double) -> (mean: Double, variance: Double) {
        let x = k * RelativeClippedMomentTable.stepsPerUnit
        let j = Int(x)
        let f = x - Double(j)
        return means.withUnsafeBufferPointer { m in
            variances.withUnsafeBufferPointer { v in
                (m[j] + f * (m[j + 1] - m[j]), k * k * (v[j] + f * (v[j + 1] - v[j])))
            }
        }
    }
}
