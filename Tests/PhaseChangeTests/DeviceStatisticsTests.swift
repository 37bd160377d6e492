import Foundation
import Testing
import Tensors
@testable import PhaseChange
import EngramTestSupport

// Closed-form moments of the device model, written independently of the library from
// ../shared/design/paper-model.md §4.2 and aihwkit's PCMLikeNoiseModel equations.

/// Φ, the standard normal CDF.
func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

/// σ_prog(ĝ) in µS at g_max = 25 µS (aihwkit coefficients).
func sigmaProgReference(_ g: Double) -> Double { 0.26348 + 1.9650 * g - 1.1731 * g * g }

/// (μ_ν, σ_ν) before folding.
func driftParametersReference(_ g: Double) -> (Double, Double) {
    let l = log(g)
    return (min(max(-0.0155 * l + 0.0244, 0.049), 0.1), min(max(-0.0125 * l - 0.0059, 0.008), 0.045))
}

/// Mean and std of ν = |X|, X ~ N(μ, σ²) (folded normal).
func foldedNormalMoments(_ mu: Double, _ sigma: Double) -> (mean: Double, std: Double) {
    let mean = sigma * (2 / Double.pi).squareRoot() * exp(-mu * mu / (2 * sigma * sigma)) + mu * (1 - 2 * normalCDF(-mu / sigma))
    return (mean, (mu * mu + sigma * sigma - mean * mean).squareRoot())
}

/// E[exp(−L·|X|)], X ~ N(μ, σ²): e^{−Lμ+L²σ²/2} Φ((μ − Lσ²)/σ) + e^{Lμ+L²σ²/2} Φ(−(μ + Lσ²)/σ).
func foldedNormalLaplace(_ mu: Double, _ sigma: Double, _ l: Double) -> Double {
    exp(-l * mu + l * l * sigma * sigma / 2) * normalCDF((mu - l * sigma * sigma) / sigma)
        + exp(l * mu + l * l * sigma * sigma / 2) * normalCDF(-(mu + l * sigma * sigma) / sigma)
}

/// E[h(G)], G ~ N(m, s²), by Simpson's rule over ±8 s (2000 panels).
func normalExpectation(_ m: Double, _ s: Double, _ h: (Double) -> Double) -> Double {
    let n = 2000, a = m - 8 * s, b = m + 8 * s, dx = (b - a) / Double(n)
    var sum = 0.0
    for i in 0...n {
        let x = a + Double(i) * dx
        let w = (i == 0 || i == n) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0)
        sum += w * h(x) * exp(-0.5 * ((x - m) / s) * ((x - m) / s))
    }
    return sum * dx / 3 / (s * (2 * Double.pi).squareRoot())
}

/// Expected (mean, std) of aihwkit's g_final at t_inference = t for one-shot programming at ĝ.
func aihwkitMomentsReference(gHat: Double, time t: Double, readNoise: Bool = true) -> (mean: Double, std: Double) {
    let gT = 25 * gHat, sp = sigmaProgReference(gHat)
    let (mu, sigma) = driftParametersReference(gHat)
    let l = log((t + 20) / 20)
    let f1 = foldedNormalLaplace(mu, sigma, l), f2 = foldedNormalLaplace(mu, sigma, 2 * l)
    let r2 = readNoise ? log((t + 20 + 250e-9) / (500e-9)) : 0
    let qs: (Double) -> Double = { g in min(0.0088 / max(pow(max(g, 0) / 25, 0.65), 1e-3), 0.2) }
    let eg = normalExpectation(gT, sp) { $0 }
    let eg2 = normalExpectation(gT, sp) { g in g * g * (1 + qs(g) * qs(g) * r2) }
    let mean = eg * f1
    return (mean, (eg2 * f2 - mean * mean).squareRoot())
}

func check(_ observed: Double, _ expected: Double, within tolerance: Double, _ what: String) {
    #expect(abs(observed - expected) <= tolerance,
            "\(what): observed \(observed), expected \(expected), tolerance \(tolerance)")
}

@Test(arguments: [0.1, 0.5, 1.0])
func programmingNoiseAndDriftExponentMatchClosedForm(gHat: Double) {
    var p = PCMParameters.physical
    p.programAndVerify = .singlePulse
    let n = 100_000
    var rng = RandomSource(seed: 11)
    let c = DeviceCharacterization.run(parameters: p, fraction: gHat, devices: n, time: 0, rng: &rng)
    let sp = sigmaProgReference(gHat)
    // Sampling error: SE(mean) = σ/√N, SE(std) ≈ σ/√(2N); tolerance 5 SE.
    check(c.afterProgramming.mean, 25 * gHat, within: 5 * sp / Double(n).squareRoot(), "programmed mean at ĝ=\(gHat)")
    check(c.afterProgramming.std, sp, within: 5 * sp / Double(2 * n).squareRoot(), "programmed std at ĝ=\(gHat)")
    let (mu, sigma) = driftParametersReference(gHat)
    let nu = foldedNormalMoments(mu, sigma)
    check(c.nu.mean, nu.mean, within: 5 * nu.std / Double(n).squareRoot(), "ν mean at ĝ=\(gHat)")
    check(c.nu.std, nu.std, within: 6 * nu.std / Double(2 * n).squareRoot(), "ν std at ĝ=\(gHat)")
}

@Test(arguments: [1.0, 3600, 86400, 31_536_000])
func physicalDriftAndReadNoiseMatchClosedForm(time: Double) {
    var p = PCMParameters.physical
    p.programAndVerify = .singlePulse
    let n = 100_000
    for gHat in [0.1, 0.5, 1.0] {
        for readNoise in [false, true] {
            p.readNoise = readNoise
            var rng = RandomSource(seed: 12)
            let c = DeviceCharacterization.run(parameters: p, fraction: gHat, devices: n, time: time, rng: &rng)
            let ref = aihwkitMomentsReference(gHat: gHat, time: time, readNoise: readNoise)
            let what = "g(t) at ĝ=\(gHat), t=\(time) s, read noise \(readNoise)"
            check(c.atTime.mean, ref.mean, within: 5 * ref.std / Double(n).squareRoot(), what + " mean")
            check(c.atTime.std, ref.std, within: 0.02 * ref.std, what + " std")
        }
    }
}

@Test func paperDriftBakedAtRatio32() {
    // Paper: g = 25·(w_noisy + w(32^−ν − 1)), so E[g] = 25 w E[32^−ν]; read noise is tiny and zero-mean.
    let gHat = 0.5, n = 100_000
    var rng = RandomSource(seed: 13)
    let c = DeviceCharacterization.run(parameters: .paper, fraction: gHat, devices: n, time: 1e6, rng: &rng)
    let (mu, sigma) = driftParametersReference(gHat)
    let expected = 25 * gHat * foldedNormalLaplace(mu, sigma, log(32))
    check(c.atTime.mean, expected, within: 5 * c.atTime.std / Double(n).squareRoot(), "paper g mean at ĝ=0.5")
    check(c.afterProgramming.std, sigmaProgReference(gHat), within: 0.02, "paper σ_prog at ĝ=0.5")
    // The time argument is ignored by the paper model.
    var rng2 = RandomSource(seed: 13)
    let same = DeviceCharacterization.run(parameters: .paper, fraction: gHat, devices: n, time: 1, rng: &rng2)
    #expect(same == c)
}

/// `engram pcm characterize --model physical` (default program-and-verify) against the stored output of
/// Reference/aihwkit_pcm_reference.py, a numpy port of aihwkit's PCMLikeNoiseModel: mean within 2 %,
/// std within 5 %.
@Test func characterizeAgreesWithAihwkitReference() throws {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Reference/aihwkit_pcm_reference.json")
    let data = try Data(contentsOf: path)
    let table = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: [String: [String: Double]]]])
    var checked = 0
    for (gKey, times) in table {
        for (tKey, entry) in times {
            let gHat = try #require(Double(gKey)), t = try #require(Double(tKey))
            var rng = RandomSource(seed: 14)
            let c = DeviceCharacterization.run(parameters: .physical, fraction: gHat, devices: 100_000, time: t, rng: &rng)
            let ref = try #require(entry["at_t"])
            let mean = try #require(ref["mean"]), std = try #require(ref["std"])
            check(c.atTime.mean, mean, within: 0.02 * mean, "characterize mean ĝ=\(gKey) t=\(tKey)")
            check(c.atTime.std, std, within: 0.05 * std, "characterize std ĝ=\(gKey) t=\(tKey)")
            checked += 1
        }
    }
    #expect(checked == 12, "the reference covers ĝ ∈ {0.1, 0.5, 1.0} × t ∈ {1 s, 1 h, 1 day, 1 year}")
}

@Test func zigguratDrawsAreStandardNormal() {
    var rng = RandomSource(seed: 15)
    let n = 1_000_000
    var s1 = 0.0, s2 = 0.0, s4 = 0.0, tail = 0
    let zig = GaussianZiggurat.shared
    for _ in 0..<n {
        let z = zig.draw(&rng)
        s1 += z; s2 += z * z; s4 += z * z * z * z
        if abs(z) > 3 { tail += 1 }
    }
    let mean = s1 / Double(n), variance = s2 / Double(n) - mean * mean
    check(mean, 0, within: 5 / Double(n).squareRoot(), "ziggurat mean")
    check(variance, 1, within: 5 * (2 / Double(n)).squareRoot(), "ziggurat variance")
    check(s4 / Double(n), 3, within: 5 * (96 / Double(n)).squareRoot(), "ziggurat fourth moment")
    let pTail = 2 * normalCDF(-3)
    check(Double(tail) / Double(n), pTail, within: 5 * (pTail / Double(n)).squareRoot(), "ziggurat P(|Z| > 3)")
}

@Test func tabulatedClippedReadMomentsMatchTheDirectFormula() {
    // X = max(0, 1 + kZ): table (k ≤ 2) and direct formula agree within 1e-6 relative; Monte Carlo check at k = 1.
    for j in 0...400 {
        let k = 0.01 + Double(j) * 0.006
        let (m, v) = PCMDeviceModel.relativeClippedMoments(k)
        let (dm, ds2) = PCMDeviceModel.clippedNormalMoments(mean: 1, std: k)
        check(m, dm, within: 1e-6 * dm, "M(\(k))")
        check(v, ds2 - dm * dm, within: 1e-6 * (ds2 - dm * dm) + 1e-12, "V(\(k))")
    }
    var rng = RandomSource(seed: 16)
    let n = 200_000
    var s1 = 0.0, s2 = 0.0
    for _ in 0..<n { let x = max(0, 1 + rng.normal()); s1 += x; s2 += x * x }
    let (m, v) = PCMDeviceModel.relativeClippedMoments(1)
    check(s1 / Double(n), m, within: 5 * v.squareRoot() / Double(n).squareRoot(), "clipped mean at k = 1")
    check(s2 / Double(n) - (s1 / Double(n)) * (s1 / Double(n)), v, within: 0.01 * v, "clipped variance at k = 1")
}
