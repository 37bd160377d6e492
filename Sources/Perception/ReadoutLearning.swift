/// The MAML inner loop's settings: plain SGD on the readout only.
public struct InnerLoop: Sendable, Equatable {
    /// Gradient steps on the support set (the paper: 4).
    public var steps: Int
    /// SGD learning rate (the paper: 0.1).
    public var learningRate: Float

    /// The paper's inner loop by default.
    public init(steps: Int = 4, learningRate: Float = 0.1) {
        self.steps = steps
        self.learningRate = learningRate
    }
}

/// What one task contributes to the meta-gradient.
public struct TaskMetaGradient: Sendable {
    /// Query cross-entropy after the inner loop.
    public var loss: Float
    /// Query accuracy after the inner loop.
    public var accuracy: Float
    /// ∂loss/∂(initial readout), `channels × ways`.
    public var readout: [Float]
    /// ∂loss/∂(support features), `support × channels` (through the inner updates: second order).
    public var supportFeatures: [Float]
    /// ∂loss/∂(query features), `query × channels`.
    public var queryFeatures: [Float]
}

/// The readout's softmax classifier and the MAML inner loop over pooled features, with the exact
/// second-order gradient of the post-adaptation query loss.
///
/// With only the readout adapted, the features of the support set do not change during the inner loop,
/// so the inner loop runs on `features × channels` arrays and the backward pass through it needs only
/// Hessian-vector products of the softmax cross-entropy (derived in the comments of `metaGradient`).
public enum ReadoutLearning {
    /// Softmax probabilities of `features · weights` (`batch × ways`), the mean cross-entropy against
    /// `labels`, and the number of correct arg-max predictions.
    public static func probabilities(features: [Float], weights: [Float], labels: [Int], channels: Int, ways: Int,
                                     into p: inout [Float]) -> (loss: Float, correct: Int) {
        let batch = labels.count
        if p.count != batch * ways { p = [Float](repeating: 0, count: batch * ways) }
        var loss: Double = 0
        var correct = 0
        for b in 0..<batch {
            var best = 0
            var maxLogit = -Float.infinity
            for n in 0..<ways {
                var s: Float = 0
                for c in 0..<channels { s += features[b * channels + c] * weights[c * ways + n] }
                p[b * ways + n] = s
                if s > maxLogit { maxLogit = s; best = n }
            }
            var sum: Float = 0
            for n in 0..<ways {
                let e = expf(p[b * ways + n] - maxLogit)
                p[b * ways + n] = e
                sum += e
            }
            for n in 0..<ways { p[b * ways + n] /= sum }
            loss -= Double(logf(max(p[b * ways + labels[b]], 1e-30)))
            if best == labels[b] { correct += 1 }
        }
        return (Float(loss / Double(max(batch, 1))), correct)
    }

    /// Replaces each row of `logits` (`rows × ways`) by its softmax.
    public static func softmaxInPlace(_ logits: inout [Float], ways: Int) {
        for b in 0..<(logits.count / ways) {
            var m = -Float.infinity
            for n in 0..<ways { m = max(m, logits[b * ways + n]) }
            var sum: Float = 0
            for n in 0..<ways { let e = expf(logits[b * ways + n] - m); logits[b * ways + n] = e; sum += e }
            for n in 0..<ways { logits[b * ways + n] /= sum }
        }
    }

    /// The mean-cross-entropy gradient ∂L/∂W = Fᵀ(P − Y)/B (`channels × ways`).
    public static func weightGradient(features: [Float], probabilities p: [Float], labels: [Int], channels: Int,
                                      ways: Int) -> [Float] {
        let batch = labels.count
        var g = [Float](repeating: 0, count: channels * ways)
        let scale = 1 / Float(batch)
        for b in 0..<batch {
            for n in 0..<ways {
                let d = (p[b * ways + n] - (labels[b] == n ? 1 : 0)) * scale
                if d == 0 { continue }
                for c in 0..<channels { g[c * ways + n] += features[b * channels + c] * d }
            }
        }
        return g
    }

    /// The ideal inner loop: returns the readout after each step (`steps + 1` arrays, the first being
    /// `initial`) and the support probabilities at each step.
    public static func adapt(support: [Float], labels: [Int], initial: [Float], channels: Int, ways: Int,
                             inner: InnerLoop) -> (weights: [[Float]], probabilities: [[Float]]) {
        var ws = [initial]
        var ps: [[Float]] = []
        var w = initial
        var p: [Float] = []
        for _ in 0..<inner.steps {
            _ = probabilities(features: support, weights: w, labels: labels, channels: channels, ways: ways, into: &p)
            ps.append(p)
            let g = weightGradient(features: support, probabilities: p, labels: labels, channels: channels, ways: ways)
            for i in w.indices { w[i] -= inner.learningRate * g[i] }
            ws.append(w)
        }
        return (ws, ps)
    }

    /// The query loss after the ideal inner loop and its exact gradient with respect to the initial
    /// readout, the support features and the query features (full second-order MAML).
    public static func metaGradient(support: [Float], supportLabels: [Int], query: [Float], queryLabels: [Int],
                                    initial: [Float], channels: Int, ways: Int, inner: InnerLoop) -> TaskMetaGradient {
        let trace = adapt(support: support, labels: supportLabels, initial: initial, channels: channels, ways: ways,
                          inner: inner)
        let final = trace.weights[inner.steps]
        var pq: [Float] = []
        let (loss, correct) = probabilities(features: query, weights: final, labels: queryLabels, channels: channels,
                                            ways: ways, into: &pq)
        let bq = queryLabels.count, bs = supportLabels.count
        // Query: D = (P − Y)/B; ∂W_K = F_qᵀ D; ∂F_q = D W_Kᵀ.
        var dq = pq
        for b in 0..<bq { dq[b * ways + queryLabels[b]] -= 1 }
        for i in dq.indices { dq[i] /= Float(bq) }
        var adjoint = [Float](repeating: 0, count: channels * ways)
        var dFq = [Float](repeating: 0, count: bq * channels)
        for b in 0..<bq {
            for n in 0..<ways {
                let d = dq[b * ways + n]
                for c in 0..<channels {
                    adjoint[c * ways + n] += query[b * channels + c] * d
                    dFq[b * channels + c] += d * final[c * ways + n]
                }
            }
        }
        // Inner step k: W_{k+1} = W_k − α G_k with G_k = F_sᵀ (P_k − Y)/B, P_k = softmax(F_s W_k).
        // For the adjoint Â of W_{k+1}, φ = ⟨Â, G_k⟩ = (1/B) Σ_b ⟨U_b, D_b⟩ with U = F_s Â, D = P_k − Y.
        // ∂φ/∂Z_b = (1/B) J_b U_b with J_b = diag(p_b) − p_b p_bᵀ; call it R. Then
        // ∂φ/∂W_k = F_sᵀ R and ∂φ/∂F_s = (1/B) D Âᵀ + R W_kᵀ, so
        // Â_k = Â − α F_sᵀ R and ∂F_s −= α ((1/B) D Âᵀ + R W_kᵀ).
        var dFs = [Float](repeating: 0, count: bs * channels)
        let alpha = inner.learningRate
        let invB = 1 / Float(bs)
        var u = [Float](repeating: 0, count: ways)
        var r = [Float](repeating: 0, count: ways)
        for k in stride(from: inner.steps - 1, through: 0, by: -1) {
            let p = trace.probabilities[k]
            let w = trace.weights[k]
            var next = adjoint
            for b in 0..<bs {
                let f = b * channels
                for n in 0..<ways {
                    var s: Float = 0
                    for c in 0..<channels { s += support[f + c] * adjoint[c * ways + n] }
                    u[n] = s
                }
                var pu: Float = 0
                for n in 0..<ways { pu += p[b * ways + n] * u[n] }
                for n in 0..<ways { r[n] = invB * p[b * ways + n] * (u[n] - pu) }
                for c in 0..<channels {
                    var s: Float = 0
                    for n in 0..<ways {
                        let d = p[b * ways + n] - (supportLabels[b] == n ? 1 : 0)
                        s += invB * d * adjoint[c * ways + n] + r[n] * w[c * ways + n]
                        next[c * ways + n] -= alpha * support[f + c] * r[n]
                    }
                    dFs[f + c] -= alpha * s
                }
            }
            adjoint = next
        }
        return TaskMetaGradient(loss: loss, accuracy: Float(correct) / Float(max(bq, 1)), readout: adjoint,
                                supportFeatures: dFs, queryFeatures: dFq)
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
