import Testing
import PhaseChange
import Spiking
import Tensors

/// The two `Synapses` kinds: dense weights and a PCM crossbar behave alike where they should.
struct SynapsesTests {
    @Test func denseSynapsesAccumulateSelectedRowsAndApplyUpdates() {
        var rng = RandomSource(seed: 1)
        var s = DenseSynapses(Matrix(rows: 3, columns: 2, storage: [1, 2, 3, 4, 5, 6]))
        var y: [Float] = [0.5, 0.5]
        [Int32(0), 2].withUnsafeBufferPointer { a in y.withUnsafeMutableBufferPointer { s.accumulate(rows: a, into: $0.baseAddress!, at: 0, rng: &rng) } }
        #expect(y == [6.5, 8.5])
        s.applyUpdate(Matrix(rows: 3, columns: 2, storage: [0, 0.25, 0, 0, -1, 0]), at: 0, rng: &rng)
        #expect(s.weights(at: 0).storage == [1, 2.25, 3, 4, 4, 6])
    }

    @Test func noiselessCrossbarNetworkMatchesDenseNetwork() {
        // A physical crossbar without programming noise, drift or read noise represents the weights exactly
        // (up to float rounding of the conductances), so the spike trains agree.
        var rng = RandomSource(seed: 3)
        let inputs = 2, neurons = 20
        var w = Matrix.normal(rows: inputs + neurons, columns: neurons, std: 0.4, rng: &rng)
        for j in 0..<neurons { w[inputs + j, j] = 0 }
        let out = Matrix.normal(rows: neurons, columns: 2, std: 0.1, rng: &rng)
        var p = PCMParameters(kind: .physical)
        p.programmingNoise = false; p.drift = false; p.readNoise = false; p.driftCompensation = false
        p.programAndVerify = .singlePulse
        let layer = LIFLayer(count: neurons, parameters: .paperTrainee)
        var dense = RecurrentSpikingNetwork(inputCount: inputs, layer: layer, outputCount: 2, synapses: DenseSynapses(w), readout: DenseSynapses(out))
        var pcm = RecurrentSpikingNetwork(inputCount: inputs, layer: layer, outputCount: 2,
                                          synapses: Crossbar(rows: inputs + neurons, columns: neurons, parameters: p),
                                          readout: Crossbar(rows: neurons, columns: 2, parameters: p))
        pcm.program(synapses: w, readout: out, at: 0, rng: &rng)
        let x = SpikeRaster((0..<100).map { t in t % 7 == 0 ? [0] : (t % 11 == 0 ? [1] : []) })
        var a = TrialRecord(), b = TrialRecord()
        dense.run(x, into: &a, at: 0, rng: &rng)
        pcm.run(x, into: &b, at: 0, rng: &rng)
        #expect(a.spikes.eventCount > 0)
        #expect(a.spikes == b.spikes)
        var worst: Float = 0
        for k in a.outputs.indices { worst = max(worst, abs(a.outputs[k] - b.outputs[k])) }
        #expect(worst < 1e-5, "readout difference \(worst)")
    }
}
