/// Which PCM device model a crossbar follows.
///
/// - `paper`: exactly the official code of Ortner, Petschenig et al. (2025)
///   (IGITUGraz/RapidLearningInMemoryComputing, `online_learning_robot/module/pcm.py`), quirks included
///   (../shared/design/paper-model.md §4.2).
/// - `physical`: IBM aihwkit's `PCMLikeNoiseModel` semantics (src/aihwkit/inference/noise/pcm.py): drift
///   measured from each device's own programming time with t0 = 20 s, normalised Q_s, 1/f read noise that
///   grows with time, conductances clipped at 0.
public enum PCMModelKind: String, Sendable, CaseIterable {
    case paper, physical
}

/// The iterative program-and-verify loop used by the `physical` model.
///
/// Each pulse leaves the device at `target + N(0, σ_prog(ĝ)²)` (clipped at 0): σ_prog is the spread of
/// Nandakumar et al. (ICECS 2019) that aihwkit uses. The verify read compares with the target and the loop
/// stops once `|g − target| ≤ toleranceMicroSiemens` or after `maxPulses` pulses (the last pulse stays).
/// The default tolerance, 3.5 µS ≈ 3.2 σ_prog at its widest (ĝ ≈ 0.84), only catches gross outliers, so the
/// programmed spread stays within 1 % of aihwkit's; tighten it to model a more careful programmer.
public struct ProgramAndVerify: Sendable, Equatable {
    /// Acceptance window around the target, µS (`.infinity`: one pulse, aihwkit's one-shot statistics).
    public var toleranceMicroSiemens: Double
    /// Upper bound on pulses per device (≥ 1).
    public var maxPulses: Int

    /// A loop with the given window and pulse budget.
    public init(toleranceMicroSiemens: Double, maxPulses: Int) {
        precondition(maxPulses >= 1, "ProgramAndVerify needs at least one pulse")
        precondition(toleranceMicroSiemens >= 0, "ProgramAndVerify tolerance must be non-negative")
        self.toleranceMicroSiemens = toleranceMicroSiemens
        self.maxPulses = maxPulses
    }

    /// The `physical` default: 3.5 µS window, at most 10 pulses.
    public static let standard = ProgramAndVerify(toleranceMicroSiemens: 3.5, maxPulses: 10)
    /// A single pulse, no verify (aihwkit's `apply_programming_noise_to_conductance`).
    public static let singlePulse = ProgramAndVerify(toleranceMicroSiemens: .infinity, maxPulses: 1)
}

/// How the input vector of an analog MVM is scaled before the DAC (aihwkit `NoiseManagementType`).
public enum NoiseManagement: String, Sendable, CaseIterable {
    /// No scaling: inputs beyond `inputBound` clip.
    case none
    /// Divide by max |x| of the tile's input slice, multiply the outputs back (aihwkit default).
    case absMax
}

/// What an analog MVM does when a tile output exceeds ±outputBound (aihwkit `BoundManagementType`).
public enum BoundManagement: String, Sendable, CaseIterable {
    /// Outputs simply clip at ±outputBound.
    case none
    /// Repeat the tile's MVM with the input halved (x / 2, x / 4, ...) until no output clips, then scale the
    /// outputs back; stop once the reduction exceeds `maxBoundManagementFactor` or
    /// `maxBoundManagementResolution / Δ_in` (aihwkit default, at most 16× with a 7-bit DAC).
    case iterative
}

/// Peripheral (DAC/ADC) behaviour of an analog MVM, after aihwkit's `IOParameters`.
///
/// Per 256×256 tile: x' = x / s (s = max|x| with `.absMax`), x'_q = round(x' / Δ_in)·Δ_in clipped to
/// ±`inputBound` with Δ_in = 2·inputBound/(2^inputBits − 2); y' = W_effᵀ x'_q + read noise +
/// `outputNoise`·N(0,1); y'_q = round(y' / Δ_out)·Δ_out clipped to ±`outputBound` with
/// Δ_out = 2·outputBound/(2^outputBits − 2); y = s·y'_q, summed digitally over the row tiles. The binary
/// spike path (`accumulateActiveRows`) uses none of this: spikes are exact pulses and the caller accumulates
/// digitally. With `.iterative` bound management a tile whose outputs clip is re-run with a halved input.
public struct PCMIOParameters: Sendable, Equatable {
    /// DAC resolution in bits (nil: no input quantization). aihwkit: 7.
    public var inputBits: Int?
    /// ADC resolution in bits (nil: no output quantization). aihwkit: 9.
    public var outputBits: Int?
    /// Standard deviation of the additive output noise, in normalised output units (0: off). aihwkit: 0.06.
    public var outputNoise: Double
    /// Input range ±inputBound after noise management. aihwkit: 1.
    public var inputBound: Double
    /// Output range ±outputBound (in units of w_max × normalised input). aihwkit: 12.
    public var outputBound: Double
    /// Input scaling before the DAC. aihwkit: abs-max.
    public var noiseManagement: NoiseManagement
    /// Handling of clipped outputs. aihwkit: iterative.
    public var boundManagement: BoundManagement
    /// Largest input reduction of iterative bound management. aihwkit `max_bm_factor`: 1000.
    public var maxBoundManagementFactor: Double
    /// Iterative bound management also stops when the reduction exceeds this / Δ_in. aihwkit `max_bm_res`: 0.25.
    public var maxBoundManagementResolution: Double

    /// A configuration with every field given.
    public init(inputBits: Int?, outputBits: Int?, outputNoise: Double, inputBound: Double = 1,
                outputBound: Double = 12, noiseManagement: NoiseManagement, boundManagement: BoundManagement = .none,
                maxBoundManagementFactor: Double = 1000, maxBoundManagementResolution: Double = 0.25) {
        if let b = inputBits { precondition(b >= 2 && b <= 24, "inputBits must be in 2...24") }
        if let b = outputBits { precondition(b >= 2 && b <= 24, "outputBits must be in 2...24") }
        self.inputBits = inputBits
        self.outputBits = outputBits
        self.outputNoise = outputNoise
        self.inputBound = inputBound
        self.outputBound = outputBound
        self.noiseManagement = noiseManagement
        self.boundManagement = boundManagement
        self.maxBoundManagementFactor = maxBoundManagementFactor
        self.maxBoundManagementResolution = maxBoundManagementResolution
    }

    /// aihwkit `IOParameters` defaults: 7-bit DAC, 9-bit ADC, output noise 0.06, abs-max noise management,
    /// iterative bound management.
    public static let aihwkit = PCMIOParameters(inputBits: 7, outputBits: 9, outputNoise: 0.06, noiseManagement: .absMax,
                                                boundManagement: .iterative)
    /// A perfect periphery: no quantization, no output noise, no scaling (the official code's MVM).
    public static let ideal = PCMIOParameters(inputBits: nil, outputBits: nil, outputNoise: 0, noiseManagement: .none)

    /// Whether the periphery changes nothing (then outputs are not bounded either).
    public var isIdeal: Bool { inputBits == nil && outputBits == nil && outputNoise == 0 && noiseManagement == .none }

    /// DAC step Δ_in = 2·inputBound/(2^bits − 2), or nil when off. 7 bits: 1/63.
    public var inputStep: Double? { inputBits.map { 2 * inputBound / Double((1 << $0) - 2) } }
    /// ADC step Δ_out = 2·outputBound/(2^bits − 2), or nil when off. 9 bits, bound 12: 24/510.
    public var outputStep: Double? { outputBits.map { 2 * outputBound / Double((1 << $0) - 2) } }
}

/// Device-model constants and switches (immutable). `.paper` = the official code
/// (../shared/design/paper-model.md §4.2), `.physical` = aihwkit `PCMLikeNoiseModel` semantics (the default).
public struct PCMParameters: Sendable, Equatable {
    /// Which model.
    public var kind: PCMModelKind
    /// Conductance of a weight of magnitude w_max = 1, µS (25).
    public var gMaxMicroSiemens: Double
    /// Programming noise on (paper: σ_prog on re-programming, the uniform ±0.01 at init).
    public var programmingNoise: Bool
    /// Conductance drift on.
    public var drift: Bool
    /// Read (1/f) noise on every read.
    public var readNoise: Bool
    /// Read-noise scale factor (paper robot code: sqrt(ln((t+t_r)/t_r))·sqrt(2·(1/2)²) at t = 32 s ≈ 3.06;
    /// paper CNN dense readout: sqrt(ln((t+t_r)/(2 t_r))) ≈ 4.24). Only used by `.paper`.
    public var paperReadNoiseFactor: Double
    /// σ_prog polynomial c0 + c1 ĝ + c2 ĝ² in µS at a 25 µS reference (paper 0.2635, aihwkit 0.26348).
    public var programmingNoiseCoefficients: [Double]
    /// Drift reference time t0, s (physical: 20 s, aihwkit).
    public var t0Seconds: Double
    /// 1/f-noise fit time t_read, s (250 ns).
    public var tReadSeconds: Double
    /// The paper's fixed drift ratio t/t0 (32), baked in at programming.
    public var paperDriftTimeRatio: Double
    /// Program-and-verify loop (physical only; the paper programs in one shot).
    public var programAndVerify: ProgramAndVerify
    /// Also clip conductances at g_max (off: aihwkit clips at 0 only; clipping at g_max would halve the
    /// programmed spread of a device targeted at g_max).
    public var clipConductanceAtGMax: Bool
    /// DAC/ADC periphery of `multiplyTransposed` (physical: aihwkit defaults; paper: ideal).
    public var io: PCMIOParameters
    /// aihwkit `GlobalDriftCompensation`: outputs scaled by (reference readout / current readout), the
    /// readout being mean_c |Σ_r W(t)[r, c]|, the reference taken at `programInitial` (physical default on;
    /// the official code has none).
    public var driftCompensation: Bool

    /// Largest tile: larger crossbars are split into tiles of at most 256×256 (one ADC per tile column).
    public static let tileSize = 256

    /// The robot code's read-noise factor sqrt(ln((32 s + 250 ns)/250 ns))·sqrt(1/2) ≈ 3.06.
    public static let paperRobotReadNoiseFactor = (log((32.0 + 250e-9) / 250e-9)).squareRoot() * (0.5).squareRoot()
    /// The CNN dense read-out factor sqrt(ln((32 s + 250 ns)/(2·250 ns))) ≈ 4.24.
    public static let paperCNNReadNoiseFactor = (log((32.0 + 250e-9) / (2 * 250e-9))).squareRoot()

    /// The defaults of `kind`.
    public init(kind: PCMModelKind) {
        self.kind = kind
        gMaxMicroSiemens = 25
        programmingNoise = true
        drift = true
        readNoise = true
        paperReadNoiseFactor = PCMParameters.paperRobotReadNoiseFactor
        tReadSeconds = 250e-9
        paperDriftTimeRatio = 32
        clipConductanceAtGMax = false
        switch kind {
        case .paper:
            programmingNoiseCoefficients = [0.2635, 1.9650, -1.1731]
            t0Seconds = 1
            programAndVerify = .singlePulse
            io = .ideal
            driftCompensation = false
        case .physical:
            programmingNoiseCoefficients = [0.26348, 1.9650, -1.1731]
            t0Seconds = 20
            programAndVerify = .standard
            io = .aihwkit
            driftCompensation = true
        }
    }

    /// The official code's model.
    public static let paper = PCMParameters(kind: .paper)
    /// aihwkit `PCMLikeNoiseModel` semantics (the default).
    public static let physical = PCMParameters(kind: .physical)

    /// Everything off: an exact, noiseless, drift-free crossbar of this kind.
    public var noiseless: PCMParameters {
        var p = self
        p.programmingNoise = false
        p.drift = false
        p.readNoise = false
        p.io = .ideal
        p.driftCompensation = false
        return p
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
