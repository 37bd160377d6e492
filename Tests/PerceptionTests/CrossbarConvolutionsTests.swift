import EngramTestSupport
import PhaseChange
import Testing
import Tensors
@testable import Perception

@Suite struct CrossbarConvolutionsTests {
    @Test func noiselessCrossbarsSplitAt256RowsAndMatchTheDenseProduct() {
        var rng = RandomSource(seed: 1)
        let weights = [Matrix.uniform(rows: 9, columns: 56, low: -0.5, high: 0.5, rng: &rng),
                       Matrix.uniform(rows: 504, columns: 56, low: -0.5, high: 0.5, rng: &rng)]
        for scale in [false, true] {
            var bars = CrossbarConvolutions(weights: weights, parameters: PCMParameters.paper.noiseless, scaleToRange: scale,
                                            programmingTime: 0, readTime: 30, rng: &rng)
            #expect(bars.rowOffsets == [[0], [0, 252]])
            #expect(bars.crossbars[1].map(\.rows) == [252, 252])
            let rows = 6
            let x = (0..<(rows * 504)).map { _ in Float(rng.normal()) }
            var z = [Float](repeating: 0, count: rows * 56)
            var expected = z
            var dense = DenseConvolutions(weights: weights)
            x.withUnsafeBufferPointer { xp in
                bars.multiply(layer: 1, columns: xp.baseAddress!, rows: rows, into: &z)
                dense.multiply(layer: 1, columns: xp.baseAddress!, rows: rows, into: &expected)
            }
            #expect(maxAbsDifference(z, expected) < 1e-4)
            #expect(maxAbsDifference(bars.effectiveWeights()[1].storage, weights[1].storage) < 1e-6)
            #expect(bars.mvms == 2 * rows)
        }
    }

    @Test func readoutUpdatesMoveOnlyRoundedDevicesByMultiplesOfASixteenth() {
        var rng = RandomSource(seed: 2)
        let initial = Matrix.uniform(rows: 8, columns: 3, low: -0.3, high: 0.3, rng: &rng)
        var readout = CrossbarReadout(initial: initial, parameters: PCMParameters.paper.noiseless, scaleToRange: false,
                                      time: 30, rng: &rng)
        let features = (0..<(6 * 8)).map { _ in Float(rng.normal()) }
        let labels = [0, 1, 2, 0, 1, 2]
        let devices = readout.sgdStep(features: features, labels: labels, rate: 0.5, rng: &rng)
        let after = readout.crossbar.weights(at: 30)
        var changed = 0
        for i in 0..<initial.count {
            let steps = (after.storage[i] - initial.storage[i]) * 16
            #expect(abs(steps - steps.rounded()) < 1e-4, "update of weight \(i) is \(steps)/16")
            if abs(steps) > 0.5 { changed += 1 }
        }
        #expect(devices == changed)
        #expect(changed > 0 && changed < initial.count)
    }

    @Test func stochasticRoundingIsUnbiased() {
        // Many one-step updates of a fixed gradient: the mean rounded change equals the float change.
        var rng = RandomSource(seed: 3)
        let features: [Float] = [1, 0, 0, 1]
        let labels = [0, 1]
        var mean: Float = 0
        let trials = 4000
        for _ in 0..<trials {
            var readout = CrossbarReadout(initial: Matrix(rows: 2, columns: 2), parameters: PCMParameters.paper.noiseless,
                                          scaleToRange: false, time: 30, rng: &rng)
            _ = readout.sgdStep(features: features, labels: labels, rate: 0.1, rng: &rng)
            mean += readout.crossbar.weights(at: 30)[0, 0] / Float(trials)
        }
        // Zero weights give p = 1/2 everywhere: ∂L/∂W[0,0] = (1/2)(1/2 − 1) = −1/4, Δ = 0.025.
        #expect(abs(mean - 0.025) < 0.002, "mean update \(mean)")
    }
}
