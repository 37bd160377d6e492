import Foundation

/// Parameters of a population of leaky integrate-and-fire neurons with a leaky readout, in the
/// discrete-time form of the paper's code (../shared/design/paper-model.md §2.1). One step is 1 ms.
public struct LIFParameters: Sendable, Equatable, Codable {
    /// Firing threshold (dimensionless membrane units).
    public var threshold: Double
    /// Membrane time constant τ_m in ms; the decay per step is α = exp(−1/τ_m).
    public var tauMembraneMs: Double
    /// Readout time constant τ_out in ms; the readout decay per step is κ = exp(−1/τ_out).
    public var tauOutputMs: Double
    /// Refractory period n_ref in steps: after a spike the neuron is blocked for n_ref − 1 steps.
    public var refractorySteps: Int
    /// Surrogate-derivative dampening γ: ψ = γ·max(0, 1 − |(v − thr)/thr|)/thr.
    public var dampening: Double

    /// Creates parameters; see the properties for units.
    public init(threshold: Double, tauMembraneMs: Double = 20, tauOutputMs: Double = 20, refractorySteps: Int = 5, dampening: Double = 0.3) {
        self.threshold = threshold
        self.tauMembraneMs = tauMembraneMs
        self.tauOutputMs = tauOutputMs
        self.refractorySteps = refractorySteps
        self.dampening = dampening
    }

    /// Membrane decay per step α = exp(−1/τ_m).
    public var alpha: Double { exp(-1 / tauMembraneMs) }
    /// Readout decay per step κ = exp(−1/τ_out).
    public var kappa: Double { exp(-1 / tauOutputMs) }

    /// The paper's trainee (learning network): thr 0.6, τ_m = τ_out = 20 ms, n_ref 5, γ 0.3.
    public static let paperTrainee = LIFParameters(threshold: 0.6)
    /// The paper's learning-signal generator: thr 1.3, τ_m = τ_out = 20 ms, n_ref 5, γ 0.3.
    public static let paperLearningSignalGenerator = LIFParameters(threshold: 1.3)
}

/// Threshold adaptation of ALIF neurons: b_t = ρ b_{t−1} + z_{t−1}, A_t = thr + β b_t, ρ = exp(−1/τ_a).
public struct ThresholdAdaptation: Sendable, Equatable, Codable {
    /// Number of adaptive neurons; they are the last ones of the population.
    public var count: Int
    /// Adaptation strength β (threshold units per unit of b).
    public var beta: Double
    /// Adaptation time constant τ_a in ms.
    public var tauMs: Double

    /// Creates adaptation for the last `count` neurons.
    public init(count: Int, beta: Double = 1.6, tauMs: Double = 600) {
        self.count = count
        self.beta = beta
        self.tauMs = tauMs
    }

    /// Decay of b per step, ρ = exp(−1/τ_a).
    public var rho: Double { exp(-1 / tauMs) }
}
