import Foundation
import Testing
import Spiking
import EngramTestSupport

/// LIF and ALIF steps against values worked out by hand from paper-model.md §2.1.
struct LIFLayerTests {
    let alpha = Float(exp(-1.0 / 20))

    func step(_ layer: LIFLayer, _ state: inout LIFState, _ current: [Float]) -> [Float] {
        var psi = [Float](repeating: -1, count: layer.count)
        current.withUnsafeBufferPointer { c in
            psi.withUnsafeMutableBufferPointer { p in layer.step(&state, current: c.baseAddress!, pseudoDerivative: p.baseAddress!) }
        }
        return psi
    }

    @Test func lifStepMatchesHandComputedValues() {
        let layer = LIFLayer(count: 2, parameters: .paperTrainee)   // thr 0.6, γ 0.3, n_ref 5
        var s = layer.makeState()
        // Step 0: v = I. Neuron 0 crosses (0.7 > 0.6), neuron 1 does not.
        var psi = step(layer, &s, [0.7, 0.3])
        #expect(s.voltage == [0.7, 0.3])
        #expect(s.spikes == [1, 0])
        #expect(Array(s.spikeIndices[0..<s.spikeCount]) == [0])
        #expect(s.refractory == [4, 0])
        // ψ = γ·max(0, 1 − |(v − thr)/thr|)/thr: (0.3·(1 − 0.1/0.6))/0.6 = 0.416667 and (0.3·0.5)/0.6 = 0.25.
        #expect(isClose(Double(psi[0]), 0.3 * (1 - 0.1 / 0.6) / 0.6, absolute: 1e-6), "ψ0 = \(psi[0])")
        #expect(isClose(Double(psi[1]), 0.25, absolute: 1e-6), "ψ1 = \(psi[1])")
        // Step 1, no input: v0 = α·0.7 − thr·z = 0.665861 − 0.6 (reset by subtraction); refractory: no spike, ψ = 0.
        psi = step(layer, &s, [0, 0])
        #expect(isClose(Double(s.voltage[0]), exp(-1.0 / 20) * 0.7 - 0.6, absolute: 1e-6), "v0 = \(s.voltage[0])")
        #expect(isClose(Double(s.voltage[1]), exp(-1.0 / 20) * 0.3, absolute: 1e-6))
        #expect(s.spikes == [0, 0])
        #expect(psi[0] == 0)
        #expect(s.refractory == [3, 0])
    }

    @Test func refractoryPeriodBlocksFourSteps() {
        let layer = LIFLayer(count: 1, parameters: .paperTrainee)
        var s = layer.makeState()
        var spikeSteps: [Int] = []
        for t in 0..<16 {
            _ = step(layer, &s, [10])
            if s.spikes[0] == 1 { spikeSteps.append(t) }
        }
        #expect(spikeSteps == [0, 5, 10, 15])
    }

    @Test func alifThresholdAdaptsAfterASpike() {
        let adaptation = ThresholdAdaptation(count: 1, beta: 1.6, tauMs: 600)
        let layer = LIFLayer(count: 2, parameters: .paperLearningSignalGenerator, adaptation: adaptation)  // neuron 1 is ALIF
        var s = layer.makeState()
        _ = step(layer, &s, [1.4, 1.4])             // both cross thr 1.3
        #expect(s.spikes == [1, 1])
        #expect(s.adaptation == [0])                // b_0 = ρ·0 + z_{−1} = 0
        // Step 1: b_1 = ρ·0 + 1 = 1, A = 1.3 + 1.6 = 2.9; v = α·1.4 + I − A·z_0.
        let psi = step(layer, &s, [0, 0])
        #expect(s.adaptation == [1])
        #expect(isClose(Double(s.voltage[0]), exp(-1.0 / 20) * 1.4 - 1.3, absolute: 1e-6))
        #expect(isClose(Double(s.voltage[1]), exp(-1.0 / 20) * 1.4 - 2.9, absolute: 1e-6), "ALIF reset uses A_t: v = \(s.voltage[1])")
        #expect(psi == [0, 0])                      // both refractory
        // Run the refractory period out with input 2.0: LIF spikes when v > 1.3, ALIF needs v > 1.3 + 1.6·b.
        for _ in 0..<3 { _ = step(layer, &s, [0, 0]) }
        let rho = exp(-1.0 / 600)
        #expect(isClose(Double(s.adaptation[0]), pow(rho, 3), absolute: 1e-6), "b decays with τ_a = 600 ms")
        _ = step(layer, &s, [2.0, 2.0])
        #expect(s.spikes[0] == 1)
        // ALIF: A = 1.3 + 1.6·ρ⁴ ≈ 2.889, v = α⁵·1.4·… − … + 2 stays below it.
        #expect(s.voltage[1] < 1.3 + 1.6 * Float(pow(rho, 4)))
        #expect(s.spikes[1] == 0)
    }

    @Test func resetClearsEveryVariable() {
        let layer = LIFLayer(count: 3, parameters: .paperLearningSignalGenerator, adaptation: ThresholdAdaptation(count: 2))
        var s = layer.makeState()
        _ = step(layer, &s, [5, 5, 5])
        _ = step(layer, &s, [5, 5, 5])
        s.reset()
        #expect(s.voltage == [0, 0, 0] && s.refractory == [0, 0, 0] && s.adaptation == [0, 0] && s.spikes == [0, 0, 0] && s.spikeCount == 0)
    }
}
