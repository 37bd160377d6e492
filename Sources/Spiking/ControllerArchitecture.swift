import Foundation
import Tensors

/// The shape and hyper-parameters of a learning-to-learn controller: the trainee (learning network)
/// and its learning-signal generator (LSG). `paper` is the official code's `main.py` defaults
/// (paper-model.md §2.1–2.4); checkpoints store this in their `__metadata__`.
public struct ControllerArchitecture: Sendable, Equatable, Codable {
    /// Trainee neurons (250).
    public var traineeNeurons: Int
    /// Trainee readout units = driven joints (2).
    public var outputs: Int
    /// Trainee neuron parameters.
    public var trainee: LIFParameters
    /// LSG neurons (800).
    public var lsgNeurons: Int
    /// LSG neuron parameters.
    public var lsg: LIFParameters
    /// ALIF neurons of the LSG (the last 240 of 800, β 1.6, τ_a 600 ms).
    public var lsgAdaptation: ThresholdAdaptation
    /// The clock input shared by trainee and LSG.
    public var clock: ClockInput
    /// Number of Cartesian coordinates coded for the LSG (3).
    public var coordinates: Int
    /// Bits per coordinate of the LSG's target code (16).
    public var codeBits: Int
    /// Trial length in steps of 1 ms (249).
    public var steps: Int
    /// Inner-loop learning rate η of the single e-prop update (1e-4).
    public var innerLearningRate: Double
    /// Proprioceptive input rows after the clock rows (closed-loop controllers); nil for the paper's
    /// open-loop controller, which hears only the clock. See docs/closed-loop.md.
    public var proprioception: ProprioceptionSettings? = nil
    /// Whole-arm controllers: the LSG codes the target's joint angles (`coordinates` = joints) and trials are
    /// segments of a demonstration (docs/whole-arm.md); nil for the paper's end-effector code.
    public var jointTarget: JointTargetSettings? = nil

    /// Creates an architecture; see the properties.
    public init(traineeNeurons: Int, outputs: Int, trainee: LIFParameters, lsgNeurons: Int, lsg: LIFParameters,
                lsgAdaptation: ThresholdAdaptation, clock: ClockInput, coordinates: Int, codeBits: Int, steps: Int,
                innerLearningRate: Double) {
        self.traineeNeurons = traineeNeurons
        self.outputs = outputs
        self.trainee = trainee
        self.lsgNeurons = lsgNeurons
        self.lsg = lsg
        self.lsgAdaptation = lsgAdaptation
        self.clock = clock
        self.coordinates = coordinates
        self.codeBits = codeBits
        self.steps = steps
        self.innerLearningRate = innerLearningRate
    }

    /// The paper's robot controller.
    public static let paper = ControllerArchitecture(
        traineeNeurons: 250, outputs: 2, trainee: .paperTrainee,
        lsgNeurons: 800, lsg: .paperLearningSignalGenerator, lsgAdaptation: ThresholdAdaptation(count: 240),
        clock: .paper, coordinates: 3, codeBits: 16, steps: 249, innerLearningRate: 1e-4)

    /// Clock channels (the first trainee inputs).
    public var clockInputs: Int { clock.neurons }
    /// A whole-arm controller for joints with the given limits (one readout each, gripper included):
    /// the paper's networks (250 trainee LIF neurons, 800 LSG neurons), the paper's binary code per joint
    /// angle over its range, and trials of `steps` steps (1 ms each, 10 ms of robot time) with a 5-neuron
    /// clock of windows `steps / 5` long spiking every `steps / 25` steps (the paper's 5 spikes a window).
    public static func wholeArm(jointLimits: [ClosedRange<Double>], steps: Int = 125, handOverSteps: Int = 25) -> ControllerArchitecture {
        var a = ControllerArchitecture.paper
        a.outputs = jointLimits.count
        a.coordinates = jointLimits.count
        a.steps = steps
        a.clock = ClockInput(neurons: 5, windowSteps: max(steps / 5, 1), spikeEvery: max(steps / 25, 1))
        a.jointTarget = JointTargetSettings(jointRanges: jointLimits, handOverSteps: handOverSteps)
        return a
    }

    /// Proprioceptive input rows (0 for an open-loop controller).
    public var proprioceptiveInputs: Int { proprioception?.rowCount ?? 0 }
    /// All trainee input rows: clock, then proprioception.
    public var traineeInputs: Int { clockInputs + proprioceptiveInputs }
    /// LSG input channels: clock + coordinates × code bits.
    public var lsgInputs: Int { clock.neurons + coordinates * codeBits }
    /// Rows of the trainee's stacked [W_in; W_rec] crossbar (5 + 250 = 255 open-loop; 5 + 64 + 250 = 319
    /// closed-loop, which maps onto two 256-row tiles).
    public var traineeSynapseRows: Int { traineeInputs + traineeNeurons }
}

/// The six weight matrices of a controller, with the official names and layouts (rows presynaptic).
public struct ControllerWeights: Sendable, Equatable {
    /// Trainee input weights, inputs × trainee (5×250 open-loop: clock; 69×250 closed-loop: clock + proprioception).
    public var traineeInput: Matrix
    /// Trainee recurrent weights, trainee × trainee (250×250); the diagonal is masked in use.
    public var traineeRecurrent: Matrix
    /// Trainee readout, trainee × outputs (250×2).
    public var traineeReadout: Matrix
    /// LSG input weights, LSG inputs × LSG (53×800).
    public var lsgInput: Matrix
    /// LSG recurrent weights, LSG × LSG (800×800); the diagonal is masked in use.
    public var lsgRecurrent: Matrix
    /// LSG readout, LSG × trainee (800×250): one learning signal per trainee neuron.
    public var lsgReadout: Matrix

    /// Weights from the six matrices.
    public init(traineeInput: Matrix, traineeRecurrent: Matrix, traineeReadout: Matrix, lsgInput: Matrix, lsgRecurrent: Matrix, lsgReadout: Matrix) {
        self.traineeInput = traineeInput
        self.traineeRecurrent = traineeRecurrent
        self.traineeReadout = traineeReadout
        self.lsgInput = lsgInput
        self.lsgRecurrent = lsgRecurrent
        self.lsgReadout = lsgReadout
    }

    /// The official initialisation (paper-model.md §2.1): N(0,1)/√fan_in for input and recurrent
    /// weights, N(0,1)/√N·(1 − e^(−1/20)) for the trainee readout, Glorot-uniform for the LSG readout.
    public init(initializing a: ControllerArchitecture, rng: inout RandomSource) {
        func normal(_ r: Int, _ c: Int, _ std: Double) -> Matrix { Matrix.normal(rows: r, columns: c, std: Float(std), rng: &rng) }
        traineeInput = normal(a.traineeInputs, a.traineeNeurons, 1 / Double(a.traineeInputs).squareRoot())
        traineeRecurrent = normal(a.traineeNeurons, a.traineeNeurons, 1 / Double(a.traineeNeurons).squareRoot())
        traineeReadout = normal(a.traineeNeurons, a.outputs, (1 - exp(-1 / 20.0)) / Double(a.traineeNeurons).squareRoot())
        lsgInput = normal(a.lsgInputs, a.lsgNeurons, 1 / Double(a.lsgInputs).squareRoot())
        lsgRecurrent = normal(a.lsgNeurons, a.lsgNeurons, 1 / Double(a.lsgNeurons).squareRoot())
        let limit = Float((6.0 / Double(a.lsgNeurons + a.traineeNeurons)).squareRoot())
        lsgReadout = Matrix.uniform(rows: a.lsgNeurons, columns: a.traineeNeurons, low: -limit, high: limit, rng: &rng)
    }

    /// Checks every shape against `architecture`; returns the first mismatch as (name, expected shape).
    public func shapeMismatch(for a: ControllerArchitecture) -> (name: String, expected: (Int, Int), found: (Int, Int))? {
        let expected: [(String, Matrix, Int, Int)] = [
            ("W_in_trainee", traineeInput, a.traineeInputs, a.traineeNeurons),
            ("W_rec_trainee", traineeRecurrent, a.traineeNeurons, a.traineeNeurons),
            ("W_out_trainee", traineeReadout, a.traineeNeurons, a.outputs),
            ("W_in_lsg", lsgInput, a.lsgInputs, a.lsgNeurons),
            ("W_rec_lsg", lsgRecurrent, a.lsgNeurons, a.lsgNeurons),
            ("W_out_lsg", lsgReadout, a.lsgNeurons, a.traineeNeurons),
        ]
        for (name, m, r, c) in expected where m.rows != r || m.columns != c {
            return (name, (r, c), (m.rows, m.columns))
        }
        return nil
    }

    /// The trainee's [W_in; W_rec] stacked into one (inputs + neurons) × neurons matrix, diagonal of the
    /// recurrent block set to zero: the layout of the 255×250 crossbar.
    public var traineeStacked: Matrix { Self.stack(traineeInput, traineeRecurrent) }

    /// The LSG's [W_in; W_rec] stacked, diagonal of the recurrent block set to zero.
    public var lsgStacked: Matrix { Self.stack(lsgInput, lsgRecurrent) }

    /// [input; recurrent] with the recurrent diagonal zeroed.
    public static func stack(_ input: Matrix, _ recurrent: Matrix) -> Matrix {
        precondition(input.columns == recurrent.columns && recurrent.rows == recurrent.columns, "stacking needs matching columns and a square recurrent block")
        var m = Matrix(rows: input.rows + recurrent.rows, columns: input.columns, storage: input.storage + recurrent.storage)
        for j in 0..<recurrent.rows { m[input.rows + j, j] = 0 }
        return m
    }

    /// Splits a stacked matrix back into its input rows and recurrent block.
    public static func split(_ stacked: Matrix, inputs: Int) -> (input: Matrix, recurrent: Matrix) {
        let c = stacked.columns
        let input = Matrix(rows: inputs, columns: c, storage: Array(stacked.storage[0..<(inputs * c)]))
        let rec = Matrix(rows: stacked.rows - inputs, columns: c, storage: Array(stacked.storage[(inputs * c)...]))
        return (input, rec)
    }
}

/// The proprioceptive inputs of a closed-loop controller: per driven joint, a population coding the measured
/// angle over the joint's range and one coding the tracking error (integrated command − measured angle), as
/// `ProprioceptiveEncoder` emits them. Stored in the checkpoint's architecture, so a controller always runs
/// with the encoding it was trained with.
public struct ProprioceptionSettings: Sendable, Equatable, Codable {
    /// Per driven joint, [min, max] of its angle population (rad).
    public var jointRanges: [[Double]]
    /// Neurons per angle population (16).
    public var angleNeurons: Int
    /// Neurons per error population (16).
    public var errorNeurons: Int
    /// Errors are coded over ±errorRange (rad, 0.2).
    public var errorRange: Double
    /// Firing probability per step at a receptive field's centre (0.1 = 100 Hz, the clock's rate).
    public var peakProbability: Double

    /// Settings for joints with the given ranges; the other values default to the encoder's.
    public init(jointRanges: [ClosedRange<Double>], angleNeurons: Int = 16, errorNeurons: Int = 16, errorRange: Double = 0.2,
                peakProbability: Double = 0.1) {
        self.jointRanges = jointRanges.map { [$0.lowerBound, $0.upperBound] }
        self.angleNeurons = angleNeurons
        self.errorNeurons = errorNeurons
        self.errorRange = errorRange
        self.peakProbability = peakProbability
    }

    /// Input rows: joints × (angle + error neurons).
    public var rowCount: Int { jointRanges.count * (angleNeurons + errorNeurons) }

    /// A fresh encoder with these settings.
    public func makeEncoder() -> ProprioceptiveEncoder {
        ProprioceptiveEncoder(jointRanges: jointRanges.map { $0[0]...$0[1] }, angleNeurons: angleNeurons, errorNeurons: errorNeurons,
                              errorRange: errorRange, peakProbability: peakProbability)
    }
}
