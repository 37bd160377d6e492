import Tensors
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Mean and standard deviation (population, divisor N) of a sample.
public struct SampleMoments: Sendable, Equatable {
    /// Sample mean.
    public var mean: Double
    /// Sample standard deviation (divisor N).
    public var std: Double

    /// Moments given directly.
    public init(mean: Double, std: Double) {
        self.mean = mean
        self.std = std
    }

    /// Moments of `values`, accumulated in Double in index order (two passes, so no cancellation).
    public init<C: Collection>(of values: C) where C.Element: BinaryFloatingPoint {
        precondition(!values.isEmpty, "SampleMoments of an empty sample")
        var sum = 0.0
        for v in values { sum += Double(v) }
        let m = sum / Double(values.count)
        var sq = 0.0
        for v in values { let d = Double(v) - m; sq += d * d }
        mean = m
        std = (sq / Double(values.count)).squareRoot()
    }
}

/// The statistics `engram pcm characterize` prints: N devices programmed at ĝ·g_max, then read at time t.
public struct DeviceCharacterization: Sendable, Equatable {
    /// The target conductance ĝ·g_max, µS.
    public var gTargetMicroSiemens: Double
    /// Conductance right after programming (programming noise only), µS.
    public var afterProgramming: SampleMoments
    /// Conductance read at time t after programming (drift and one read-noise draw per device), µS.
    public var atTime: SampleMoments
    /// Drift exponents ν.
    public var nu: SampleMoments

    /// Programs `devices` devices (one polarity) at `fraction`·g_max at time 0 and reads each once at `time`.
    ///
    /// - physical: program-and-verify (`parameters.programAndVerify`), then
    ///   g(t) = max(0, g_d + g_d·Q_s(ĝ_prog)·sqrt(ln((t + t0 + t_r)/(2 t_r)))·N(0,1)),
    ///   g_d = g_prog·((t + t0)/t0)^(−ν): aihwkit `PCMLikeNoiseModel.apply_drift_noise_to_conductance`.
    /// - paper: the official `program(w, mask=1)` (drift baked at t/t0 = 32, so `time` is ignored), then the
    ///   official `read_noise` (Q_s un-normalised, scale `paperReadNoiseFactor`, device range clip).
    public static func run(parameters p: PCMParameters, fraction: Double, devices: Int, time: Double,
                           rng: inout RandomSource) -> DeviceCharacterization {
        precondition(devices >= 2, "characterisation needs at least 2 devices")
        precondition(fraction >= 0 && fraction <= 1, "fraction must be in [0, 1]")
        let gMax = p.gMaxMicroSiemens
        let target = fraction * gMax
        var programmed = [Float](repeating: 0, count: devices)
        var read = [Float](repeating: 0, count: devices)
        var nus = [Float](repeating: 0, count: devices)
        let zig = GaussianZiggurat.shared
        switch p.kind {
        case .physical:
            var array = DeviceArray(count: devices)
            for i in 0..<devices { _ = array.program(i, target: target, event: 0, p, rng: &rng) }
            let driftLog = [p.drift ? PCMDeviceModel.physicalDriftLog(sinceProgramming: time, p) : 0]
            let readFactor = p.readNoise ? PCMDeviceModel.physicalReadTimeFactor(sinceProgramming: time, p) : 0
            for i in 0..<devices {
                let g = Double(array.conductance[i])
                let gd = g * exp(-Double(array.nu[i]) * driftLog[0])
                let sigma = abs(gd) * Double(array.qs[i]) * readFactor
                let noisy = sigma > 0 ? gd + sigma * zig.draw(&rng) : gd
                var v = max(noisy, 0)
                if p.clipConductanceAtGMax { v = min(v, gMax) }
                programmed[i] = Float(g)
                read[i] = Float(v)
                nus[i] = array.nu[i]
            }
        case .paper:
            for i in 0..<devices {
                let r = PCMDeviceModel.programPaper(fraction, p, rng: &rng)
                let g = r.weight * gMax
                var v = g
                if p.readNoise {
                    let sigma = PCMDeviceModel.paperReadSigma(r.weight, p) * gMax
                    if sigma > 0 && g != 0 {
                        v = g + sigma * zig.draw(&rng)
                        v = g > 0 ? min(max(v, 0), gMax) : min(max(v, -gMax), 0)
                    }
                }
                programmed[i] = Float(r.beforeDrift * gMax)
                read[i] = Float(v)
                nus[i] = Float(r.nu)
            }
        }
        return DeviceCharacterization(gTargetMicroSiemens: target, afterProgramming: SampleMoments(of: programmed),
                                      atTime: SampleMoments(of: read), nu: SampleMoments(of: nus))
    }

    /// The one-line JSON `engram pcm characterize --json` prints:
    /// `{"g_target_uS": x, "after_programming": {"mean": m, "std": s}, "at_t": {"mean": m, "std": s},
    /// "nu": {"mean": m, "std": s}}`.
    public var json: String {
        func moments(_ m: SampleMoments) -> String { "{\"mean\": \(number(m.mean)), \"std\": \(number(m.std))}" }
        return "{\"g_target_uS\": \(number(gTargetMicroSiemens)), \"after_programming\": \(moments(afterProgramming)), "
            + "\"at_t\": \(moments(atTime)), \"nu\": \(moments(nu))}"
    }

    private func number(_ x: Double) -> String {
        x.isFinite ? "\(x)" : "null"
    }
}
