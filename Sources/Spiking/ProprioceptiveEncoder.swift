import Foundation

/// Encodes what the arm's joints are doing into input spikes for the controller: per driven joint, the
/// measured angle and the tracking error (integrated command − measured angle), each by a population of
/// input neurons with Gaussian receptive fields.
///
/// Row layout, joint-major (offset by the `firstRow` given to `encode`):
///
///     [joint 0 angle population (angleNeurons), joint 0 error population (errorNeurons),
///      joint 1 angle population, joint 1 error population, …]
///
/// The angle population of joint j has centres spread evenly over the joint's range [min, max]
/// (c_i = min + i·Δ, Δ = (max − min)/(angleNeurons − 1)); the error population has centres spread evenly
/// over [−errorRange, +errorRange]. The width of every receptive field is its population's spacing, σ = Δ.
/// A value beyond its population's range saturates: it is clamped to the range first, so it drives the end
/// neuron hardest. Neuron i fires per step with probability
///
///     p_i = peakProbability · exp(−(x − c_i)² / (2σ²)).
///
/// Spikes are drawn without a random generator, by one phase accumulator per neuron: each step
/// phase += p; the neuron spikes when phase ≥ 1 and then phase −= 1. The same inputs therefore give the
/// same spikes (reproducible trials, and the e-prop eligibility traces of a trial can be recomputed), and
/// over N steps at a constant p a neuron fires round(N·p) times, within one spike. `reset` sets every
/// phase to ½, so a neuron with p ≥ ½ spikes on the first step and the counts round to nearest.
///
/// `peakProbability` defaults to 0.1 per 1 ms network step (100 Hz): a neuron whose centre is the present
/// value fires as often as the paper's active clock neuron (one spike every 10 steps), so the proprioceptive
/// rows drive the trainee at the scale its clock rows were initialised for. With σ equal to the spacing a
/// population emits about √(2π)·0.1 ≈ 0.25 spikes per step in total (2–3 neurons near the value fire).
///
/// `encode` and `rates` allocate nothing.
public struct ProprioceptiveEncoder: Sendable {
    /// Per joint, the range of its angle population (rad).
    public let jointRanges: [ClosedRange<Double>]
    /// Neurons per angle population.
    public let angleNeurons: Int
    /// Neurons per error population.
    public let errorNeurons: Int
    /// Errors are encoded over [−errorRange, +errorRange] (rad).
    public let errorRange: Double
    /// Firing probability per step of a neuron at its centre.
    public let peakProbability: Double

    /// Per-neuron phase accumulators, `rowCount` of them.
    public private(set) var phases: [Double]

    /// An encoder for `jointRanges.count` joints.
    public init(jointRanges: [ClosedRange<Double>], angleNeurons: Int = 16, errorNeurons: Int = 16, errorRange: Double = 0.2,
                peakProbability: Double = 0.1) {
        precondition(!jointRanges.isEmpty, "give at least one joint range")
        precondition(angleNeurons >= 2 && errorNeurons >= 2, "a population needs at least 2 neurons")
        precondition(jointRanges.allSatisfy { $0.upperBound > $0.lowerBound && $0.lowerBound.isFinite && $0.upperBound.isFinite },
                     "every joint range must be finite and non-empty")
        precondition(errorRange > 0 && errorRange.isFinite, "errorRange must be positive")
        precondition(peakProbability > 0 && peakProbability <= 1, "peakProbability must be in (0, 1]")
        self.jointRanges = jointRanges
        self.angleNeurons = angleNeurons
        self.errorNeurons = errorNeurons
        self.errorRange = errorRange
        self.peakProbability = peakProbability
        phases = [Double](repeating: 0.5, count: jointRanges.count * (angleNeurons + errorNeurons))
    }

    /// Number of joints encoded.
    public var jointCount: Int { jointRanges.count }

    /// Input rows the encoder occupies: joints × (angleNeurons + errorNeurons).
    public var rowCount: Int { jointRanges.count * (angleNeurons + errorNeurons) }

    /// Row (relative to the encoder's first row) of neuron `neuron` of joint `joint`'s angle population.
    public func angleRow(joint: Int, neuron: Int) -> Int { joint * (angleNeurons + errorNeurons) + neuron }

    /// Row (relative to the encoder's first row) of neuron `neuron` of joint `joint`'s error population.
    public func errorRow(joint: Int, neuron: Int) -> Int { joint * (angleNeurons + errorNeurons) + angleNeurons + neuron }

    /// Centre of angle neuron `neuron` of joint `joint` (rad).
    public func angleCentre(joint: Int, neuron: Int) -> Double {
        let r = jointRanges[joint]
        return r.lowerBound + Double(neuron) * (r.upperBound - r.lowerBound) / Double(angleNeurons - 1)
    }

    /// Centre of error neuron `neuron` (rad; the same for every joint).
    public func errorCentre(neuron: Int) -> Double {
        -errorRange + Double(neuron) * 2 * errorRange / Double(errorNeurons - 1)
    }

    /// Sets every phase accumulator back to ½ (start of a trial).
    public mutating func reset() {
        for i in phases.indices { phases[i] = 0.5 }
    }

    /// Writes the firing probability of every neuron (`rowCount` values, in row order) for `angles` and
    /// `errors` (one per joint, rad) into `rates`.
    public func rates(angles: UnsafeBufferPointer<Double>, errors: UnsafeBufferPointer<Double>, into rates: UnsafeMutableBufferPointer<Double>) {
        precondition(angles.count == jointCount && errors.count == jointCount, "one angle and one error per joint")
        precondition(rates.count >= rowCount, "rates needs rowCount entries")
        let stride = angleNeurons + errorNeurons
        for j in 0..<jointCount {
            let range = jointRanges[j]
            let base = j * stride
            Self.population(value: angles[j], lower: range.lowerBound, upper: range.upperBound, count: angleNeurons,
                            peak: peakProbability, into: rates.baseAddress! + base)
            Self.population(value: errors[j], lower: -errorRange, upper: errorRange, count: errorNeurons,
                            peak: peakProbability, into: rates.baseAddress! + base + angleNeurons)
        }
    }

    /// The firing probabilities as an array (tests, plots).
    public func rates(angles: [Double], errors: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: rowCount)
        angles.withUnsafeBufferPointer { a in
            errors.withUnsafeBufferPointer { e in
                out.withUnsafeMutableBufferPointer { rates(angles: a, errors: e, into: $0) }
            }
        }
        return out
    }

    /// Advances every neuron's phase by its probability for `angles` and `errors` (one per joint, rad) and
    /// appends the rows that spike, offset by `firstRow`, in increasing order to `active`. Returns how
    /// many were appended. Allocates nothing once `active` has capacity for `rowCount` more entries.
    @discardableResult
    public mutating func encode(angles: UnsafeBufferPointer<Double>, errors: UnsafeBufferPointer<Double>, firstRow: Int = 0,
                                into active: inout [Int32]) -> Int {
        precondition(angles.count == jointCount && errors.count == jointCount, "one angle and one error per joint")
        let stride = angleNeurons + errorNeurons
        let before = active.count
        let peak = peakProbability
        let ranges = jointRanges
        let (na, ne, er) = (angleNeurons, errorNeurons, errorRange)
        phases.withUnsafeMutableBufferPointer { phase in
            for j in 0..<ranges.count {
                let base = j * stride
                Self.fire(value: angles[j], lower: ranges[j].lowerBound, upper: ranges[j].upperBound, count: na, peak: peak,
                          phases: phase.baseAddress! + base, firstRow: firstRow + base, into: &active)
                Self.fire(value: errors[j], lower: -er, upper: er, count: ne, peak: peak,
                          phases: phase.baseAddress! + base + na, firstRow: firstRow + base + na, into: &active)
            }
        }
        return active.count - before
    }

    /// `encode` for arrays.
    @discardableResult
    public mutating func encode(angles: [Double], errors: [Double], firstRow: Int = 0, into active: inout [Int32]) -> Int {
        angles.withUnsafeBufferPointer { a in
            errors.withUnsafeBufferPointer { e in encode(angles: a, errors: e, firstRow: firstRow, into: &active) }
        }
    }

    /// Gaussian tuning of one population: p_i for value x clamped to [lower, upper].
    @inline(__always)
    private static func population(value: Double, lower: Double, upper: Double, count: Int, peak: Double,
                                   into out: UnsafeMutablePointer<Double>) {
        let spacing = (upper - lower) / Double(count - 1)
        // NaN (a failed read) clamps to the lower end rather than silencing the population.
        let x = value.isNaN ? lower : min(max(value, lower), upper)
        let scale = -0.5 / (spacing * spacing)
        for i in 0..<count {
            let d = x - (lower + Double(i) * spacing)
            out[i] = peak * exp(scale * d * d)
        }
    }

    @inline(__always)
    private static func fire(value: Double, lower: Double, upper: Double, count: Int, peak: Double,
                             phases: UnsafeMutablePointer<Double>, firstRow: Int, into active: inout [Int32]) {
        let spacing = (upper - lower) / Double(count - 1)
        let x = value.isNaN ? lower : min(max(value, lower), upper)
        let scale = -0.5 / (spacing * spacing)
        for i in 0..<count {
            let d = x - (lower + Double(i) * spacing)
            var phase = phases[i] + peak * exp(scale * d * d)
            if phase >= 1 {
                phase -= 1
                active.append(Int32(firstRow + i))
            }
            phases[i] = phase
        }
    }
}
