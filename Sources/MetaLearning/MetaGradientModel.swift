import Adaptation
import Foundation
import PhaseChange
import Spiking
import Tensors

/// The float types the meta-gradient tape runs in: `Float` on the training path, `Double` for the
/// finite-difference gradient check.
public protocol MetaScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable {}
extension Float: MetaScalar {}
extension Double: MetaScalar {}

/// Sizes and constants of the learning-to-learn model (../shared/design/paper-model.md §2.1–2.5).
/// The defaults are the paper's (`main.py` defaults); tests shrink the sizes.
public struct MetaArchitecture: Sendable, Equatable {
    /// Trainee LIF neurons (250).
    public var traineeNeurons = 250
    /// Clock input neurons shared by trainee and LSG (5).
    public var clockInputs = 5
    /// Trainee readout units = driven joints (2).
    public var outputs = 2
    /// LSG LIF neurons (560), followed by `lsgAdaptiveNeurons` ALIF neurons (240).
    public var lsgPlainNeurons = 560
    /// LSG ALIF neurons (240).
    public var lsgAdaptiveNeurons = 240
    /// Bits per Cartesian coordinate in the LSG's target code (16).
    public var codeBits = 16
    /// Coded Cartesian coordinates (3: x, y, z).
    public var codedCoordinates = 3
    /// Steps per trial (249, 1 ms each).
    public var steps = 249
    /// Clock: neuron k is active for `clockWindowSteps` steps starting at k·window (50).
    public var clockWindowSteps = 50
    /// Clock: an active neuron spikes every `clockSpikeInterval` steps (10).
    public var clockSpikeInterval = 10
    /// Trainee threshold (0.6).
    public var traineeThreshold = 0.6
    /// LSG base threshold (1.3).
    public var lsgThreshold = 1.3
    /// Membrane time constant, ms (20, both networks).
    public var tauMembraneMs = 20.0
    /// Readout time constant, ms (20, both networks).
    public var tauOutputMs = 20.0
    /// Refractory steps after a spike (5).
    public var refractorySteps = 5
    /// Surrogate dampening γ (0.3).
    public var dampening = 0.3
    /// ALIF threshold adaptation strength β (1.6).
    public var adaptationStrength = 1.6
    /// ALIF adaptation time constant, ms (600).
    public var tauAdaptationMs = 600.0
    /// Inner (e-prop) learning rate η (1e-4).
    public var innerLearningRate = 1e-4
    /// Firing-rate regularisation strength λ for both networks (0.25).
    public var rateRegularization = 0.25
    /// Trainee target rate, Hz (20, over both trials).
    public var traineeTargetRateHz = 20.0
    /// LSG target rate, Hz (10).
    public var lsgTargetRateHz = 10.0
    /// Robot time per network step in the kinematics, s (0.01; the paper's quirk, §2.3).
    public var robotSecondsPerStep = 0.01
    /// Proprioceptive trainee inputs after the clock rows (closed-loop controllers, docs/closed-loop.md);
    /// nil for the paper's open-loop controller.
    public var proprioception: ProprioceptionSettings? = nil
    /// Whole-arm controllers: the target is coded and scored in joint space (docs/whole-arm.md); nil for the
    /// paper's end-effector target.
    public var jointTarget: JointTargetSettings? = nil

    /// The paper's architecture.
    public init() {}

    /// All LSG neurons (800).
    public var lsgNeurons: Int { lsgPlainNeurons + lsgAdaptiveNeurons }
    /// Trainee input rows: clock, then proprioception (5 open-loop, 69 closed-loop with two joints).
    public var traineeInputs: Int { clockInputs + (proprioception?.rowCount ?? 0) }
    /// LSG inputs: clock plus target code (53).
    public var lsgInputs: Int { clockInputs + codeBits * codedCoordinates }

    /// Shape (rows, columns) of a learned tensor.
    public func shape(of name: MetaParameterName) -> (rows: Int, columns: Int) {
        switch name {
        case .traineeInput: return (traineeInputs, traineeNeurons)
        case .traineeRecurrent: return (traineeNeurons, traineeNeurons)
        case .traineeOutput: return (traineeNeurons, outputs)
        case .lsgInput: return (lsgInputs, lsgNeurons)
        case .lsgRecurrent: return (lsgNeurons, lsgNeurons)
        case .lsgOutput: return (lsgNeurons, traineeNeurons)
        }
    }
}

/// The six meta-learned tensors, named as in the official checkpoint.
public enum MetaParameterName: String, CaseIterable, Sendable {
    case traineeInput = "W_in_trainee"
    case traineeRecurrent = "W_rec_trainee"
    case traineeOutput = "W_out_trainee"
    case lsgInput = "W_in_lsg"
    case lsgRecurrent = "W_rec_lsg"
    case lsgOutput = "W_out_lsg"

    /// Position in `MetaParameters.tensors`.
    public var index: Int { Self.allCases.firstIndex(of: self)! }
}

/// The meta-learned weights: row-major, rows presynaptic (`v = Wᵀ x`), in `MetaParameterName` order.
public struct MetaParameters<Scalar: MetaScalar>: Sendable, Equatable {
    /// One flat row-major array per tensor, in `MetaParameterName.allCases` order.
    public var tensors: [[Scalar]]

    /// All-zero parameters of the architecture's shapes (also the gradient accumulator layout).
    public init(zerosFor architecture: MetaArchitecture) {
        tensors = MetaParameterName.allCases.map {
            let s = architecture.shape(of: $0)
            return [Scalar](repeating: 0, count: s.rows * s.columns)
        }
    }

    /// The paper's random initialisation (§2.1): N(0,1)/√fan_in for input and recurrent weights,
    /// trainee readout N(0,1)/√n·(1−e^(−1/20)), LSG readout Glorot-uniform.
    public init(randomFor a: MetaArchitecture, rng: inout RandomSource) {
        self.init(zerosFor: a)
        for name in MetaParameterName.allCases {
            let (rows, columns) = a.shape(of: name)
            for i in 0..<(rows * columns) {
                let value: Double
                switch name {
                case .traineeOutput:
                    value = rng.normal() / Double(rows).squareRoot() * (1 - exp(-1.0 / 20))
                case .lsgOutput:
                    let limit = (6.0 / Double(rows + columns)).squareRoot()
                    value = rng.uniform(-limit, limit)
                default:
                    value = rng.normal() / Double(rows).squareRoot()
                }
                tensors[name.index][i] = Scalar(value)
            }
        }
    }

    /// The tensor of `name`.
    public subscript(name: MetaParameterName) -> [Scalar] {
        get { tensors[name.index] }
        set { tensors[name.index] = newValue }
    }

    /// Number of learned numbers.
    public var count: Int { tensors.reduce(0) { $0 + $1.count } }

    /// The same values in another float type.
    public func converted<Other: MetaScalar>(to: Other.Type) -> MetaParameters<Other> {
        var out = MetaParameters<Other>(tensors: [])
        out.tensors = tensors.map { $0.map { Other($0) } }
        return out
    }

    init(tensors: [[Scalar]]) { self.tensors = tensors }
}

/// How spikes are generated in the tape.
public enum SpikeFunction: Sendable, Equatable {
    /// The model: z = H(v − thr), with the paper's triangular pseudo-derivative
    /// ψ = γ·max(0, 1 − |v − thr|/thr)/thr as surrogate gradient and e-prop factor.
    case heaviside
    /// A smooth stand-in for gradient checks: z = σ(s·(v − thr)/thr), ψ = dz/dv exactly, so the
    /// network is a smooth function of its weights and finite differences apply.
    case sigmoid(sharpness: Double)
}

/// The PCM model in the inner loop during meta-training.
public enum MetaPCMMode: String, Sendable, CaseIterable {
    /// Ideal float weights.
    case off
    /// The official code's noise model (paper-model.md §4.2): initial programming with uniform ±0.01
    /// and drift at t/t0 = 32, re-programming of changed devices with programming noise and drift,
    /// clipping to [−1, 1]; noise terms held constant in the gradient, clips straight-through, drift
    /// factors scale the gradient as in the official graph. Read noise is left out (about 0.5 % of g).
    case paper
    /// PhaseChange's physical model (`PCMParameters.physical`: differential pairs, program-and-verify,
    /// drift in seconds from programming with global drift compensation) on the same device clock as
    /// `engram adapt` (`AdaptationTiming`). All device effects enter as constants (straight-through,
    /// stop-gradient); read noise and the ADC/DAC model are left out of the training forward pass.
    case physical
}

/// Switches of the differentiable inner loop.
public struct MetaGradientOptions: Sendable, Equatable {
    /// Spike nonlinearity (`.heaviside` for training, `.sigmoid` for gradient checks).
    public var spikeFunction: SpikeFunction = .heaviside
    /// Round ΔW to 1/16 (straight-through in the gradient), as `quantize_trainee` in the paper.
    public var quantizeUpdate = false
    /// PCM model of the trainee's synapses.
    public var pcm: MetaPCMMode = .off
    /// Include ∂z/∂A through the ALIF spike threshold. The official graph drops it (its
    /// `threshold_lsnn` returns no gradient for the threshold); `false` reproduces that, `true` gives the
    /// gradient of the forward function (used by the finite-difference check).
    public var adaptiveThresholdSpikeGradient = false
    /// Device model of `pcm == .physical` (PhaseChange's physical defaults).
    public var physicalModel = PCMParameters.physical
    /// The arm in trial 2 of a closed-loop controller (required when the architecture has proprioception).
    public var closedLoop: ClosedLoopArm? = nil
    /// Weight of the position term in the task loss, 0.5·MSE(ω) + 0.5·w·MSE(xyz) (1: the paper's loss). A
    /// larger weight makes end-effector errors, in m², count against velocity errors, in (rad/s)².
    public var positionWeight = 1.0
    /// Closed loop: a further factor on the position term at the steps after a disturbance window ends
    /// (`ClosedLoopPlant.isAfterDisturbance`), so recovering from a push, a payload or a slow bus counts more
    /// (1: every step alike).
    public var afterDisturbanceWeight = 1.0

    /// Ideal, unquantized, heaviside: the spec's software model.
    public init() {}
}

/// One target trajectory for the inner loop: joint velocities and end-effector positions per step.
public struct MetaTaskTarget: Sendable, Equatable {
    /// steps × outputs angular velocities, rad/s, row-major.
    public var velocities: [Double]
    /// steps × 3 end-effector positions (x, y, z), m, row-major; for a whole-arm controller
    /// (`MetaArchitecture.jointTarget`) steps × outputs joint angles, rad.
    public var positions: [Double]
    /// Angles of the driven joints before the first step (output order, rad), where the task starts
    /// elsewhere than the sampler's rest pose (whole-arm tasks); empty: the rest pose.
    public var startAngles: [Double]

    /// A target from its velocity and position rows.
    public init(velocities: [Double], positions: [Double], startAngles: [Double] = []) {
        self.velocities = velocities
        self.positions = positions
        self.startAngles = startAngles
    }
}
