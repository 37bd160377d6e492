import Foundation
import Testing
import Spiking
import Tensors

/// The e-prop update against a direct evaluation of −η Σ_t L_t ψ_t ē_t with explicit traces.
struct NaturalEPropTests {
    @Test func weightChangeEqualsDirectSumOverTraces() {
        var rng = RandomSource(seed: 7)
        let inputs = 3, neurons = 6, steps = 60
        let layer = LIFLayer(count: neurons, parameters: LIFParameters(threshold: 0.6))
        var w = Matrix.normal(rows: inputs + neurons, columns: neurons, std: 0.6, rng: &rng)
        for j in 0..<neurons { w[inputs + j, j] = 0 }
        var net = RecurrentSpikingNetwork(inputCount: inputs, layer: layer, outputCount: 1, synapses: DenseSynapses(w),
                                          readout: DenseSynapses(rows: neurons, columns: 1))
        let x = SpikeRaster((0..<steps).map { _ in (0..<inputs).filter { _ in rng.uniform() < 0.3 } })
        var record = TrialRecord()
        net.run(x, into: &record, at: 0, rng: &rng, recordPseudoDerivatives: true)
        #expect(record.spikes.eventCount > 10, "the tiny network must spike for the test to mean anything")
        #expect(record.pseudoDerivatives.contains { $0 > 0 })
        let l = (0..<(steps * neurons)).map { _ in Float(rng.normal()) }
        let eta = 1e-2
        var eprop = NaturalEProp(inputs: inputs, neurons: neurons, alpha: layer.parameters.alpha, learningRate: eta)
        var delta = Matrix(rows: inputs + neurons, columns: neurons)
        eprop.weightChange(inputs: x, spikes: record.spikes, pseudoDerivatives: record.pseudoDerivatives, learningSignals: l, into: &delta)

        // Direct: ē^in_t = α ē^in_{t−1} + x_t, ē^rec_t = α ē^rec_{t−1} + z_{t−1}; ΔW = −η Σ_t L ψ ē.
        let alpha = layer.parameters.alpha
        let xd = x.dense(width: inputs), zd = record.spikes.dense(width: neurons)
        var traceIn = [Double](repeating: 0, count: inputs), traceRec = [Double](repeating: 0, count: neurons)
        var direct = [Double](repeating: 0, count: (inputs + neurons) * neurons)
        for t in 0..<steps {
            for i in 0..<inputs { traceIn[i] = alpha * traceIn[i] + Double(xd[t * inputs + i]) }
            for i in 0..<neurons { traceRec[i] = alpha * traceRec[i] + (t > 0 ? Double(zd[(t - 1) * neurons + i]) : 0) }
            for j in 0..<neurons {
                let a = Double(l[t * neurons + j]) * Double(record.pseudoDerivatives[t * neurons + j])
                for i in 0..<inputs { direct[i * neurons + j] -= eta * a * traceIn[i] }
                for i in 0..<neurons where i != j { direct[(inputs + i) * neurons + j] -= eta * a * traceRec[i] }
            }
        }
        var worst = 0.0, scale = 0.0
        for k in direct.indices {
            worst = max(worst, abs(Double(delta.storage[k]) - direct[k]))
            scale = max(scale, abs(direct[k]))
        }
        #expect(scale > 0)
        #expect(worst <= 1e-5 * scale, "max |ΔW − direct| = \(worst), max |direct| = \(scale), tolerance 1e-5 relative")
        for j in 0..<neurons { #expect(delta[inputs + j, j] == 0, "self-connections are not updated") }
    }

    @Test func quantizerRoundsToSixteenthsTiesToEven() {
        var m = Matrix(rows: 1, columns: 5, storage: [0.032, 0.03125, 0.09375, -0.04, 0.5])
        UpdateQuantizer.quantize(&m)
        #expect(m.storage == [0.0625, 0, 0.125, -0.0625, 0.5])
        #expect(UpdateQuantizer.fractionChanged(m, rows: 0..<1) == 0.8)
    }
}
