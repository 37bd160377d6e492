import Foundation

/// Adam's state: both moments and the step count. Saved in checkpoints so a resumed run continues
/// exactly where it stopped.
public struct AdamState: Sendable, Equatable {
    /// First moments, one per parameter (flat, `MetaParameterName` order).
    public var firstMoment: [Float]
    /// Second moments.
    public var secondMoment: [Float]
    /// Updates applied so far.
    public var step: Int

    /// Fresh state for `count` parameters.
    public init(count: Int) {
        firstMoment = [Float](repeating: 0, count: count)
        secondMoment = [Float](repeating: 0, count: count)
        step = 0
    }
}

/// Adam (Kingma and Ba 2015) with the Keras defaults the paper used (β1 0.9, β2 0.999, ε 1e-7) and
/// the paper's schedule: learning rate 1.5e-3, multiplied by 0.99 every 500 iterations (§2.5).
public struct Adam: Sendable, Equatable {
    /// Base learning rate (1.5e-3).
    public var learningRate = 1.5e-3
    /// Factor applied every `decayInterval` iterations (0.99).
    public var decayFactor = 0.99
    /// Iterations between decays (500).
    public var decayInterval = 500
    /// Decay of the first moment (0.9).
    public var beta1 = 0.9
    /// Decay of the second moment (0.999).
    public var beta2 = 0.999
    /// ε in the denominator (1e-7, the Keras default).
    public var epsilon = 1e-7

    /// The paper's settings.
    public init() {}

    /// The learning rate used for the update with index `step` (0-based): lr·0.99^⌊step/500⌋.
    public func learningRate(atStep step: Int) -> Double {
        learningRate * pow(decayFactor, Double(step / decayInterval))
    }

    /// θ ← θ − lr_t·m̂/(√v̂ + ε) with bias-corrected moments (Keras form: lr_t = lr·√(1−β2^t)/(1−β1^t)).
    public func update(_ parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, count: Int, state: inout AdamState) {
        precondition(state.firstMoment.count == count && state.secondMoment.count == count, "Adam state does not match the parameter count")
        let lr = learningRate(atStep: state.step)
        state.step += 1
        let t = Double(state.step)
        let lrT = Float(lr * (1 - pow(beta2, t)).squareRoot() / (1 - pow(beta1, t)))
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        state.firstMoment.withUnsafeMutableBufferPointer { m in
            state.secondMoment.withUnsafeMutableBufferPointer { v in
                for i in 0..<count {
                    let g = gradient[i]
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    parameters[i] -= lrT * m[i] / (v[i].squareRoot() + eps)
                }
            }
        }
    }
}
