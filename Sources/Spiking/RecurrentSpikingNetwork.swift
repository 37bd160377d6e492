import Tensors

/// What one run of a network over a trial produced: its spikes, its readout and, when asked for,
/// the surrogate derivatives ψ_t and membrane potentials v_t that e-prop and BPTT need.
public struct TrialRecord: Sendable {
    /// z_t for t = 0..<steps (neuron indices).
    public var spikes: SpikeRaster
    /// Readout y_t, steps × outputs, row-major.
    public var outputs: [Float]
    /// ψ_t, steps × neurons, row-major (empty unless recorded).
    public var pseudoDerivatives: [Float]
    /// v_t, steps × neurons, row-major (empty unless recorded).
    public var voltages: [Float]
    /// Number of steps recorded.
    public var steps: Int

    /// An empty record.
    public init() {
        spikes = SpikeRaster()
        outputs = []
        pseudoDerivatives = []
        voltages = []
        steps = 0
    }

    /// Mean firing rate in Hz (steps are 1 ms) over `neurons` neurons.
    public func meanRateHz(neurons: Int) -> Double {
        guard steps > 0, neurons > 0 else { return 0 }
        return Double(spikes.eventCount) / Double(steps * neurons) * 1000
    }
}

/// A recurrent layer of LIF/ALIF neurons with binary inputs and a leaky readout, over any `Synapses`:
///
/// - `synapses`: (inputs + neurons) × neurons, the stacked [W_in; W_rec] (rows 0..<inputs are the input
///   channels, then one row per neuron). Self-connections are masked: their weights are subtracted
///   again after each read (`selfWeights`), so a crossbar may hold anything on its diagonal.
/// - `readout`: neurons × outputs, y_t = κ y_{t−1} + W_outᵀ z_t.
///
/// The same type is the paper's trainee (5 clock inputs, 250 LIF, 2 outputs, on PCM or dense) and its
/// learning-signal generator (53 inputs, 560 LIF + 240 ALIF, 250 outputs, dense).
public struct RecurrentSpikingNetwork<Weights: Synapses>: Sendable {
    /// Number of binary input channels.
    public let inputCount: Int
    /// The neurons.
    public let layer: LIFLayer
    /// Number of readout units.
    public let outputCount: Int
    /// Stacked input and recurrent synapses.
    public var synapses: Weights
    /// Readout synapses.
    public var readout: Weights
    /// W_rec[j, j] as currently represented, subtracted after every read (the diagonal mask).
    public private(set) var selfWeights: [Float]
    /// Whether any self-weight is non-zero (dense weights with a zero diagonal skip the correction).
    public private(set) var hasSelfWeights: Bool

    /// The neuron state after the last step.
    public private(set) var state: LIFState
    /// The readout after the last step.
    public private(set) var output: [Float]
    private var current: [Float]
    private var active: [Int32]
    private let kappa: Float

    /// Number of neurons.
    public var neuronCount: Int { layer.count }

    /// A network over the given synapses, which must already hold their weights.
    public init(inputCount: Int, layer: LIFLayer, outputCount: Int, synapses: Weights, readout: Weights, readTime: Double = 0) {
        precondition(synapses.rows == inputCount + layer.count && synapses.columns == layer.count,
                     "synapses must be (inputs + neurons) × neurons")
        precondition(readout.rows == layer.count && readout.columns == outputCount, "readout must be neurons × outputs")
        self.inputCount = inputCount
        self.layer = layer
        self.outputCount = outputCount
        self.synapses = synapses
        self.readout = readout
        self.selfWeights = [Float](repeating: 0, count: layer.count)
        self.hasSelfWeights = false
        self.state = layer.makeState()
        self.output = [Float](repeating: 0, count: outputCount)
        self.current = [Float](repeating: 0, count: layer.count)
        self.active = []
        self.active.reserveCapacity(inputCount + layer.count)
        self.kappa = Float(layer.parameters.kappa)
        refreshSelfWeights(at: readTime)
    }

    /// Re-reads the diagonal of the recurrent block (call after programming the synapses).
    public mutating func refreshSelfWeights(at time: Double) {
        let w = synapses.weights(at: time)
        hasSelfWeights = false
        for j in 0..<layer.count {
            selfWeights[j] = w[inputCount + j, j]
            if selfWeights[j] != 0 { hasSelfWeights = true }
        }
    }

    /// Programs both weight matrices (stacked [W_in; W_rec] and W_out) and refreshes the diagonal mask.
    public mutating func program(synapses stacked: Matrix, readout out: Matrix, at time: Double, rng: inout RandomSource) {
        synapses.program(stacked, at: time, rng: &rng)
        readout.program(out, at: time, rng: &rng)
        refreshSelfWeights(at: time)
    }

    /// Applies an update to the stacked [W_in; W_rec] synapses (only non-zero entries are written).
    public mutating func applyUpdate(_ delta: Matrix, at time: Double, rng: inout RandomSource) {
        synapses.applyUpdate(delta, at: time, rng: &rng)
        refreshSelfWeights(at: time)
    }

    /// Sets the state and readout to zero (the start of a trial).
    public mutating func reset() {
        state.reset()
        for i in output.indices { output[i] = 0 }
    }

    /// One step: reads the active inputs and the previous spikes through the synapses, advances the
    /// neurons, then the readout. Writes ψ_t to `pseudoDerivative` when given. No allocation.
    public mutating func step(activeInputs: UnsafeBufferPointer<Int32>, at time: Double, rng: inout RandomSource,
                              pseudoDerivative: UnsafeMutablePointer<Float>? = nil) {
        // Scratch buffers are moved into locals for the step (an empty array does not allocate), so the
        // closures below can borrow them while `self`'s synapses and state are mutated.
        var active: [Int32] = []
        swap(&active, &self.active)
        var current: [Float] = []
        swap(&current, &self.current)
        var output: [Float] = []
        swap(&output, &self.output)
        defer {
            swap(&active, &self.active)
            swap(&current, &self.current)
            swap(&output, &self.output)
        }
        active.removeAll(keepingCapacity: true)
        active.append(contentsOf: activeInputs)
        let offset = Int32(inputCount)
        for k in 0..<state.spikeCount { active.append(state.spikeIndices[k] &+ offset) }
        current.withUnsafeMutableBufferPointer { c in
            c.update(repeating: 0)
            active.withUnsafeBufferPointer { a in
                synapses.accumulate(rows: a, into: c.baseAddress!, at: time, rng: &rng)
            }
            if hasSelfWeights {
                for k in 0..<state.spikeCount {
                    let j = Int(state.spikeIndices[k])
                    c[j] -= selfWeights[j]
                }
            }
            layer.step(&state, current: UnsafePointer(c.baseAddress!), pseudoDerivative: pseudoDerivative)
        }
        let kappa = kappa
        let spikeCount = state.spikeCount
        output.withUnsafeMutableBufferPointer { y in
            for o in 0..<outputCount { y[o] *= kappa }
            active.removeAll(keepingCapacity: true)
            for k in 0..<spikeCount { active.append(state.spikeIndices[k]) }
            active.withUnsafeBufferPointer { s in
                readout.accumulate(rows: s, into: y.baseAddress!, at: time, rng: &rng)
            }
        }
    }

    /// Runs a whole trial from the zero state over `inputs` (one step per raster step) and records it.
    /// With `recordPseudoDerivatives` / `recordVoltages` the record also gets ψ_t / v_t.
    public mutating func run(_ inputs: SpikeRaster, into record: inout TrialRecord, at time: Double, rng: inout RandomSource,
                             recordPseudoDerivatives: Bool = false, recordVoltages: Bool = false) {
        let steps = inputs.steps
        let n = layer.count
        reset()
        record.steps = steps
        record.spikes.removeAll()
        if record.outputs.count != steps * outputCount { record.outputs = [Float](repeating: 0, count: steps * outputCount) }
        if recordPseudoDerivatives {
            if record.pseudoDerivatives.count != steps * n { record.pseudoDerivatives = [Float](repeating: 0, count: steps * n) }
        } else {
            record.pseudoDerivatives.removeAll(keepingCapacity: true)
        }
        if recordVoltages {
            if record.voltages.count != steps * n { record.voltages = [Float](repeating: 0, count: steps * n) }
        } else {
            record.voltages.removeAll(keepingCapacity: true)
        }
        record.pseudoDerivatives.withUnsafeMutableBufferPointer { psi in
            for t in 0..<steps {
                inputs.withStep(t) { x in
                    step(activeInputs: x, at: time, rng: &rng,
                         pseudoDerivative: recordPseudoDerivatives ? psi.baseAddress! + t * n : nil)
                }
                state.spikeIndices.withUnsafeBufferPointer { s in
                    record.spikes.append(UnsafeBufferPointer(rebasing: s[0..<state.spikeCount]))
                }
                for o in 0..<outputCount { record.outputs[t * outputCount + o] = output[o] }
                if recordVoltages {
                    for j in 0..<n { record.voltages[t * n + j] = state.voltage[j] }
                }
            }
        }
    }
}
