import Foundation
import Testing
import Tensors
@testable import PhaseChange
import EngramTestSupport

/// A seeded matrix of weights in [−1, 1] with some exact zeros.
func sampleWeights(rows: Int, columns: Int, seed: UInt64) -> Matrix {
    var rng = RandomSource(seed: seed)
    var m = Matrix.uniform(rows: rows, columns: columns, low: -1, high: 1, rng: &rng)
    for i in stride(from: 0, to: m.count, by: 7) { m.storage[i] = 0 }
    return m
}

@Test func paperApplyUpdateReprogramsOnlyChangedWeights() {
    var bar = Crossbar(rows: 20, columns: 30, parameters: .paper)
    var rng = RandomSource(seed: 1)
    bar.programInitial(sampleWeights(rows: 20, columns: 30, seed: 2), at: 0, rng: &rng)
    let before = bar.weights(at: 0)
    var delta = Matrix(rows: 20, columns: 30)
    delta[3, 4] = 1.0 / 16
    delta[7, 29] = -2.0 / 16
    delta[19, 0] = 3.0 / 16
    let report = bar.applyUpdate(delta, at: 5, rng: &rng)
    #expect(report == ProgrammingReport(devicesProgrammed: 3, pulses: 3))
    let after = bar.weights(at: 5)
    var changed = 0
    for i in 0..<after.count where after.storage[i] != before.storage[i] { changed += 1 }
    #expect(changed == 3)
    #expect(after[3, 4] != before[3, 4] && after[7, 29] != before[7, 29] && after[19, 0] != before[19, 0])
    #expect(bar.accounting.devicesProgrammed == 600 + 3)
}

@Test func paperInitialProgrammingFollowsTheQuirk() {
    // Drift off: w0 = clip(clip(w) + U(−0.01, 0.01)); |w0 − w| ≤ 0.01 inside [−1, 1].
    var p = PCMParameters.paper
    p.drift = false
    var bar = Crossbar(rows: 10, columns: 10, parameters: p)
    var rng = RandomSource(seed: 3)
    var w = sampleWeights(rows: 10, columns: 10, seed: 4)
    w[0, 0] = 1.5  // the quirk: clip(1.5) + u = 1 + u, clipped to ≤ 1
    bar.programInitial(w, at: 0, rng: &rng)
    let got = bar.weights(at: 0)
    for i in 1..<w.count { #expect(abs(got.storage[i] - w.storage[i]) <= 0.01 + 1e-6, "weight \(i): \(got.storage[i]) vs \(w.storage[i])") }
    #expect(got[0, 0] <= 1 && got[0, 0] >= 0.99)
}

@Test(arguments: [PCMModelKind.paper, .physical])
func spikeFastPathEqualsDenseMVM(kind: PCMModelKind) {
    var p = PCMParameters(kind: kind)
    p.io = .ideal
    var bar = Crossbar(rows: 255, columns: 250, parameters: p)
    var rng = RandomSource(seed: 5)
    bar.programInitial(sampleWeights(rows: 255, columns: 250, seed: 6), at: 0, rng: &rng)
    let active: [Int32] = [0, 3, 17, 100, 101, 254]
    var x = [Float](repeating: 0, count: 255)
    for a in active { x[Int(a)] = 1 }
    var dense = [Float](repeating: 0, count: 250)
    var sparse = [Float](repeating: 0, count: 250)
    var rngDense = RandomSource(seed: 9), rngSparse = RandomSource(seed: 9)
    bar.multiplyTransposed(x, into: &dense, at: 3600, rng: &rngDense)
    active.withUnsafeBufferPointer { bar.accumulateActiveRows($0, into: &sparse, at: 3600, rng: &rngSparse) }
    #expect(dense == sparse)
    #expect(rngDense == rngSparse)
    #expect(bar.accounting.mvms == 2)

    // Noise off: the sum of the mean read weights of the active rows, exactly.
    var quiet = p
    quiet.readNoise = false
    var bar2 = Crossbar(rows: 255, columns: 250, parameters: quiet)
    bar2.programInitial(sampleWeights(rows: 255, columns: 250, seed: 6), at: 0, rng: &rng)
    let mean = bar2.meanReadWeights(at: 7200)
    var expected = [Float](repeating: 0, count: 250), got = expected
    for a in active { for c in 0..<250 { expected[c] += mean[Int(a), c] } }
    active.withUnsafeBufferPointer { bar2.accumulateActiveRows($0, into: &got, at: 7200, rng: &rng) }
    #expect(maxAbsDifference(got, expected) <= 1e-6)
}

@Test func programAndVerifyConvergesAndCountsPulses() {
    var p = PCMParameters.physical
    p.programAndVerify = ProgramAndVerify(toleranceMicroSiemens: 0.3, maxPulses: 100)
    let target = 12.5, n = 100_000
    var rng = RandomSource(seed: 21)
    var pulses = 0
    for _ in 0..<n {
        let (g, k) = PCMDeviceModel.programPhysical(target: target, p, rng: &rng)
        #expect(abs(g - target) <= 0.3, "device left outside the window: \(g) µS")
        pulses += k
    }
    // Pulses per device are geometric with success probability q = P(|σ_prog Z| ≤ 0.3).
    let q = 2 * normalCDF(0.3 / sigmaProgReference(0.5)) - 1
    let meanPulses = Double(pulses) / Double(n)
    let sePulses = ((1 - q) / (q * q) / Double(n)).squareRoot()
    check(meanPulses, 1 / q, within: 5 * sePulses, "mean pulses per device")

    // A budget of 2 pulses: never more than 2, and devices that missed keep their last pulse.
    p.programAndVerify = ProgramAndVerify(toleranceMicroSiemens: 0.01, maxPulses: 2)
    var outside = 0
    for _ in 0..<1000 {
        let (g, k) = PCMDeviceModel.programPhysical(target: target, p, rng: &rng)
        #expect(k >= 1 && k <= 2)
        if abs(g - target) > 0.01 { outside += 1; #expect(k == 2) }
    }
    #expect(outside > 900)

    // Crossbar accounting: every pair programs two devices, the pulses add up.
    var bar = Crossbar(rows: 30, columns: 40, parameters: p)
    let report = bar.programInitial(sampleWeights(rows: 30, columns: 40, seed: 22), at: 0, rng: &rng)
    #expect(report.devicesProgrammed == 2 * 30 * 40)
    #expect(report.pulses >= report.devicesProgrammed && report.pulses <= 2 * report.devicesProgrammed)
    #expect(bar.accounting == CrossbarAccounting(devicesProgrammed: report.devicesProgrammed, pulses: report.pulses))
}

@Test func physicalUpdateReprogramsOnlyTheChangedDevice() {
    var bar = Crossbar(rows: 2, columns: 2, parameters: .physical)
    var rng = RandomSource(seed: 23)
    bar.programInitial(Matrix(rows: 2, columns: 2, storage: [0.5, -0.5, 0.25, 0]), at: 0, rng: &rng)
    let before = bar.conductances(at: 100)
    var delta = Matrix(rows: 2, columns: 2)
    delta[0, 0] = 0.125   // stays positive: only G⁺ re-programmed
    delta[0, 1] = 1       // −0.5 → +0.5: sign change, both devices
    let report = bar.applyUpdate(delta, at: 100, rng: &rng)
    #expect(report.devicesProgrammed == 3)
    let after = bar.conductances(at: 100)
    #expect(after.plus[0] != before.plus[0] && after.minus[0] == before.minus[0])
    #expect(after.plus[1] != before.plus[1] && after.minus[1] != before.minus[1])
    #expect(after.plus[2] == before.plus[2] && after.minus[2] == before.minus[2])
    #expect(after.plus[3] == before.plus[3] && after.minus[3] == before.minus[3])
}

@Test func laterProgrammedDevicesDriftLessAtTheSameWallTime() {
    var p = PCMParameters.physical
    p.readNoise = false
    let n = 4000
    var bar = Crossbar(rows: 2, columns: n / 2, parameters: p)
    var rng = RandomSource(seed: 24)
    bar.programInitial(Matrix(rows: 2, columns: n / 2, repeating: 0.5), at: 0, rng: &rng)
    // Row 1 is re-programmed (to the same weight) at t = 3600 s.
    var delta = Matrix(rows: 2, columns: n / 2)
    for c in 0..<(n / 2) { delta[1, c] = 1.0 / 16 }
    bar.applyUpdate(delta, at: 3600, rng: &rng)
    let programmedEarly = bar.conductances(at: 0).plus, programmedLate = bar.conductances(at: 3600).plus
    let now = bar.conductances(at: 7200).plus
    let nu = bar.driftExponents
    var early = 0.0, late = 0.0
    for c in 0..<(n / 2) {
        let i0 = c, i1 = n / 2 + c
        let f0 = Double(now[i0] / programmedEarly[i0]), f1 = Double(now[i1] / programmedLate[i1])
        // Each device follows ((t − t_prog + t0)/t0)^(−ν) exactly (relative tolerance 1e-5).
        check(f0, pow((7200 + 20) / 20.0, -Double(nu[i0])), within: 1e-5, "drift factor of device \(i0)")
        check(f1, pow((3600 + 20) / 20.0, -Double(nu[i1])), within: 1e-5, "drift factor of device \(i1)")
        early += f0; late += f1
    }
    #expect(late > early, "mean drift factor: programmed at 3600 s \(late / Double(n / 2)), at 0 s \(early / Double(n / 2))")
}

@Test func quantizationLevelsAreExact() {
    var p = PCMParameters.physical.noiseless
    // DAC: 7 bits over ±1 → step 1/63, 127 levels.
    p.io = PCMIOParameters(inputBits: 7, outputBits: nil, outputNoise: 0, noiseManagement: .none)
    var bar = Crossbar(rows: 1, columns: 1, parameters: p)
    var rng = RandomSource(seed: 25)
    bar.programInitial(Matrix(rows: 1, columns: 1, repeating: 1), at: 0, rng: &rng)
    var levels = Set<Float>()
    for k in 0...4800 {
        let x = Float(-1.2 + Double(k) * 0.0005)
        var y: Float = 0
        bar.multiplyTransposed([x], into: &y, at: 0, rng: &rng)
        // On the grid k/63 (to float precision), and the nearest grid point to clip(x) (ties either way).
        let k = (Double(y) * 63).rounded()
        #expect(abs(Double(y) * 63 - k) <= 1e-4, "DAC output \(y) of \(x) is off the 1/63 grid")
        #expect(abs(Double(y) - Double(min(max(x, -1), 1))) <= 0.5 / 63 + 1e-6, "DAC level of \(x): got \(y)")
        levels.insert(y)
    }
    #expect(levels.count == 127)
    #expect(bar.accounting.dacConversions == 4801 && bar.accounting.adcConversions == 0)

    // ADC: 9 bits over ±12 → step 24/510, clipped at ±12; 16 rows of weight 1 give y = 16 x.
    p.io = PCMIOParameters(inputBits: nil, outputBits: 9, outputNoise: 0, noiseManagement: .none)
    var adcBar = Crossbar(rows: 16, columns: 1, parameters: p)
    adcBar.programInitial(Matrix(rows: 16, columns: 1, repeating: 1), at: 0, rng: &rng)
    var outLevels = Set<Float>()
    let step = 24.0 / 510
    for k in 0...6000 {
        let v = -0.9 + Double(k) * 0.0003
        let x = [Float](repeating: Float(v), count: 16)
        var y: Float = 0
        adcBar.multiplyTransposed(x, into: &y, at: 0, rng: &rng)
        let analog = Double(Float(v) * 16)
        let k = (Double(y) / step).rounded()
        #expect(abs(Double(y) / step - k) <= 1e-4 && abs(k) <= 255, "ADC output \(y) of \(analog) is off the 24/510 grid")
        #expect(abs(Double(y) - min(max(analog, -12), 12)) <= step / 2 + 1e-5, "ADC level of \(analog): got \(y)")
        outLevels.insert(y)
    }
    // Levels k·step for |k| ≤ 255; the extremes ±255·24/510 are the clip values ±12.
    #expect(outLevels.count == 2 * 255 + 1)
    #expect(outLevels.max() == 12 && outLevels.min() == -12)

    // Abs-max noise management: the DAC sees x / max|x|, outputs are scaled back.
    p.io = PCMIOParameters(inputBits: 7, outputBits: nil, outputNoise: 0, noiseManagement: .absMax)
    var nm = Crossbar(rows: 2, columns: 1, parameters: p)
    nm.programInitial(Matrix(rows: 2, columns: 1, repeating: 1), at: 0, rng: &rng)
    var y: Float = 0
    nm.multiplyTransposed([0.003, 0.001], into: &y, at: 0, rng: &rng)
    let expected = 0.003 * (1 + (1.0 / 3 * 63).rounded() / 63)
    #expect(abs(Double(y) - expected) <= 1e-7, "abs-max scaled DAC: got \(y), expected \(expected)")
}

@Test func tiledPeripheryCountsConversionsPerTile() {
    var p = PCMParameters.physical
    p.io = .aihwkit
    p.io.boundManagement = .none  // one pass per tile, so the counts are exact
    var bar = Crossbar(rows: 300, columns: 520, parameters: p)
    #expect(bar.rowTiles == 2 && bar.columnTiles == 3)
    var rng = RandomSource(seed: 26)
    bar.programInitial(sampleWeights(rows: 300, columns: 520, seed: 27), at: 0, rng: &rng)
    let x = (0..<300).map { Float(sin(Double($0))) }
    var y = [Float](repeating: 0, count: 520)
    bar.multiplyTransposed(x, into: &y, at: 60, rng: &rng)
    #expect(bar.accounting.mvms == 1)
    #expect(bar.accounting.dacConversions == 300 * 3)
    #expect(bar.accounting.adcConversions == 520 * 2)
    // The noisy, quantized result stays close to the exact product (output noise 0.06 and read noise per tile).
    let exact = bar.weights(at: 60).transposedMultiplied(by: x)
    var err = 0.0, norm = 0.0
    for c in 0..<520 { err += Double((y[c] - exact[c]) * (y[c] - exact[c])); norm += Double(exact[c] * exact[c]) }
    #expect((err / norm).squareRoot() < 0.15, "relative error \((err / norm).squareRoot())")
}

@Test func globalDriftCompensationRestoresTheMeanReadout() {
    var p = PCMParameters.physical
    p.readNoise = false
    p.io = .ideal
    var bar = Crossbar(rows: 64, columns: 32, parameters: p)
    var rng = RandomSource(seed: 28)
    let w = Matrix(rows: 64, columns: 32) { r, c in Float(0.2 + 0.6 * Double((r * 7 + c * 3) % 11) / 10) }
    bar.programInitial(w, at: 0, rng: &rng)
    let ones = [Float](repeating: 1, count: 64)
    func meanReadout(_ y: [Float]) -> Double { y.reduce(0.0) { $0 + abs(Double($1)) } / Double(y.count) }
    var y0 = [Float](repeating: 0, count: 32), y1 = y0, raw = y0
    bar.multiplyTransposed(ones, into: &y0, at: 0, rng: &rng)
    bar.multiplyTransposed(ones, into: &y1, at: 86400, rng: &rng)
    var off = p
    off.driftCompensation = false
    var plain = Crossbar(rows: 64, columns: 32, parameters: off)
    var rng2 = RandomSource(seed: 28)
    plain.programInitial(w, at: 0, rng: &rng2)
    plain.multiplyTransposed(ones, into: &raw, at: 86400, rng: &rng2)
    check(meanReadout(y1), meanReadout(y0), within: 1e-4 * meanReadout(y0), "compensated readout after a day")
    #expect(meanReadout(raw) < 0.9 * meanReadout(y0), "uncompensated readout \(meanReadout(raw)) vs \(meanReadout(y0))")
    #expect(bar.driftCompensationFactor(at: 86400) > 1.1)
}

@Test func readNoiseVarianceOnTheSpikePathMatchesTheModel() {
    // One active row of weight 0.5; the output variance must be the per-device read variance.
    for kind in PCMModelKind.allCases {
        var p = PCMParameters(kind: kind)
        p.programmingNoise = false
        p.drift = false
        p.driftCompensation = false
        var bar = Crossbar(rows: 1, columns: 1, parameters: p)
        var rng = RandomSource(seed: 29)
        bar.programInitial(Matrix(rows: 1, columns: 1, repeating: 0.5), at: 0, rng: &rng)
        let t = 3600.0
        let expected: Double
        switch kind {
        case .paper:
            // Paper init adds U(±0.01) only when programming noise is on; here w = 0.5 exactly.
            expected = 0.5 * min(0.0088 / pow(12.5, 0.65), 0.2) * PCMParameters.paperRobotReadNoiseFactor
        case .physical:
            let qs = 0.0088 / pow(0.5, 0.65)
            expected = 0.5 * qs * log((t + 20 + 250e-9) / 500e-9).squareRoot()
        }
        #expect(bar.driftCompensationFactor(at: t) == 1)
        var s1 = 0.0, s2 = 0.0
        let n = 100_000
        let active: [Int32] = [0]
        for _ in 0..<n {
            var y: Float = 0
            active.withUnsafeBufferPointer { bar.accumulateActiveRows($0, into: &y, at: t, rng: &rng) }
            s1 += Double(y); s2 += Double(y) * Double(y)
        }
        let mean = s1 / Double(n), std = (s2 / Double(n) - mean * mean).squareRoot()
        check(mean, 0.5, within: 5 * expected / Double(n).squareRoot() + 1e-6, "\(kind) read mean")
        check(std, expected, within: 5 * expected / Double(2 * n).squareRoot(), "\(kind) read std")
    }
}

@Test func seedsReproduceBitForBit() {
    func run(seed: UInt64) -> ([Float], [Float], Matrix) {
        var bar = Crossbar(rows: 40, columns: 50, parameters: .physical)
        var rng = RandomSource(seed: seed)
        bar.programInitial(sampleWeights(rows: 40, columns: 50, seed: 30), at: 0, rng: &rng)
        var delta = Matrix(rows: 40, columns: 50)
        for i in stride(from: 0, to: delta.count, by: 13) { delta.storage[i] = 1.0 / 16 }
        bar.applyUpdate(delta, at: 10, rng: &rng)
        var dense = [Float](repeating: 0, count: 50), sparse = dense
        let x = (0..<40).map { Float(cos(Double($0))) }
        bar.multiplyTransposed(x, into: &dense, at: 100, rng: &rng)
        let active: [Int32] = [1, 5, 9]
        active.withUnsafeBufferPointer { bar.accumulateActiveRows($0, into: &sparse, at: 100, rng: &rng) }
        return (dense, sparse, bar.weights(at: 100))
    }
    let a = run(seed: 31), b = run(seed: 31), c = run(seed: 32)
    #expect(a.0 == b.0 && a.1 == b.1 && a.2 == b.2)
    #expect(a.0 != c.0 && a.2 != c.2)
}

@Test func smallConductanceReadsFollowTheClippedNormal() {
    // ĝ = 0.01: Q_s = 0.0088/0.01^0.65 ≈ 0.176, so at 1 h the relative read noise k ≈ 0.84 and the clip at 0
    // matters; the spike path must reproduce mean and std of max(0, g(1 + kZ)) (aihwkit clamps at 0).
    var p = PCMParameters.physical
    p.programmingNoise = false
    p.drift = false
    var bar = Crossbar(rows: 1, columns: 1, parameters: p)
    var rng = RandomSource(seed: 33)
    bar.programInitial(Matrix(rows: 1, columns: 1, repeating: 0.01), at: 0, rng: &rng)
    let t = 3600.0
    let k = 0.0088 / pow(0.01, 0.65) * log((t + 20 + 250e-9) / 500e-9).squareRoot()
    let a = 1 / k
    let pdf = exp(-0.5 * a * a) / (2 * Double.pi).squareRoot()
    let m1 = normalCDF(a) + k * pdf
    let s2 = (1 + k * k) * normalCDF(a) + k * pdf
    let expectedMean = 0.01 * m1, expectedStd = 0.01 * (s2 - m1 * m1).squareRoot()
    let active: [Int32] = [0]
    var s = 0.0, q = 0.0
    let n = 100_000
    for _ in 0..<n {
        var y: Float = 0
        active.withUnsafeBufferPointer { bar.accumulateActiveRows($0, into: &y, at: t, rng: &rng) }
        s += Double(y); q += Double(y) * Double(y)
    }
    let mean = s / Double(n), std = (q / Double(n) - mean * mean).squareRoot()
    check(mean, expectedMean, within: 5 * expectedStd / Double(n).squareRoot(), "clipped read mean at ĝ = 0.01")
    check(std, expectedStd, within: 0.02 * expectedStd, "clipped read std at ĝ = 0.01")
}

@Test func updateQuantizersFollowTheOfficialCode() {
    var d = Matrix(rows: 1, columns: 6, storage: [0.03125, 0.09375, -0.03125, 0.1, -0.2, 0.0])
    UpdateQuantization.round(&d)
    // Half-to-even like tf.math.round: 0.5 → 0, 1.5 → 2, −0.5 → −0.
    #expect(d.storage == [0, 0.125, 0, 0.125, -0.1875, 0])
    // Stochastic: unbiased, and always one of the two neighbouring grid points.
    var rng = RandomSource(seed: 34)
    var sum = 0.0
    let n = 100_000
    for _ in 0..<n {
        var s = Matrix(rows: 1, columns: 1, storage: [-0.1])
        UpdateQuantization.stochasticRound(&s, rng: &rng)
        #expect(s.storage[0] == -0.0625 || s.storage[0] == -0.125)
        sum += Double(s.storage[0])
    }
    // P(−0.125) = 0.6, so the std of one draw is 0.0625·sqrt(0.24).
    check(sum / Double(n), -0.1, within: 5 * 0.0625 * 0.24.squareRoot() / Double(n).squareRoot(), "stochastic rounding mean")
}

@Test(arguments: [PCMModelKind.paper, .physical])
func sampledWeightsMatchTheOutputDrawnMoments(kind: PCMModelKind) {
    // The exact per-device sample and the moment-matched MVM noise agree in mean and variance per weight.
    var p = PCMParameters(kind: kind)
    p.io = .ideal
    p.driftCompensation = false
    var bar = Crossbar(rows: 1, columns: 4, parameters: p)
    var rng = RandomSource(seed: 35)
    bar.programInitial(Matrix(rows: 1, columns: 4, storage: [0.8, -0.3, 0.02, 0]), at: 0, rng: &rng)
    let t = 86400.0
    bar.refreshCache(at: t)
    let n = 50_000
    var s = [Double](repeating: 0, count: 4), q = s
    for _ in 0..<n {
        let w = bar.sampleWeights(at: t, rng: &rng)
        for c in 0..<4 { s[c] += Double(w.storage[c]); q[c] += Double(w.storage[c]) * Double(w.storage[c]) }
    }
    for c in 0..<4 {
        let mean = s[c] / Double(n), variance = q[c] / Double(n) - mean * mean
        let expectedMean = Double(bar.readMean[c]), expectedVariance = Double(bar.readVariance[c])
        check(mean, expectedMean, within: 5 * (expectedVariance / Double(n)).squareRoot() + 1e-7, "\(kind) weight \(c) mean")
        check(variance, expectedVariance, within: 0.03 * expectedVariance + 1e-12, "\(kind) weight \(c) variance")
    }
}

@Test func iterativeBoundManagementRecoversClippedOutputs() {
    // 16 rows of weight 1 and x = 1: the analog output 16 exceeds the ±12 ADC range.
    var p = PCMParameters.physical.noiseless
    var rng = RandomSource(seed: 36)
    let x = [Float](repeating: 1, count: 16)
    for (management, expected, passes) in [(BoundManagement.none, Float(12), 1), (.iterative, Float(16), 2)] {
        p.io = PCMIOParameters(inputBits: nil, outputBits: 9, outputNoise: 0, noiseManagement: .absMax,
                               boundManagement: management)
        var bar = Crossbar(rows: 16, columns: 1, parameters: p)
        bar.programInitial(Matrix(rows: 16, columns: 1, repeating: 1), at: 0, rng: &rng)
        var y: Float = 0
        bar.multiplyTransposed(x, into: &y, at: 0, rng: &rng)
        #expect(y == expected, "\(management): got \(y), expected \(expected)")
        // Each pass converts every output once (no DAC here).
        #expect(bar.accounting.dacConversions == 0 && bar.accounting.adcConversions == passes)
    }
    // With the 7-bit DAC the reduction stops above max_bm_res/Δ_in = 0.25·126/2 = 15.75, i.e. after the 16× pass;
    // 250 rows at x' = 4/63 still give 15.9 > 12, so the output stays clipped: 12·16.
    p.io = .aihwkit
    p.io.outputNoise = 0
    var big = Crossbar(rows: 250, columns: 1, parameters: p)
    big.programInitial(Matrix(rows: 250, columns: 1, repeating: 1), at: 0, rng: &rng)
    var y: Float = 0
    big.multiplyTransposed([Float](repeating: 1, count: 250), into: &y, at: 0, rng: &rng)
    #expect(y == 12 * 16, "clipped at the largest reduction: got \(y)")
    #expect(big.accounting.adcConversions == 5 && big.accounting.dacConversions == 250 * 5)
}
