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
}
