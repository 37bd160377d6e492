import PhaseChange
import Tensors

/// PCM mode: every convolution's im2col weight matrix on crossbars of at most 256 rows, as in the paper
/// (conv2–4 have 3·3·56 = 504 input rows, split into two crossbars of 252 rows whose outputs are summed;
/// conv1's 9 rows fit one). Each im2col row is one analog MVM per crossbar, with read noise.
///
/// With `scaleToRange`, each layer is programmed as `W / max|W|` so its largest weight maps to G_max, and
/// the outputs are multiplied back digitally (the affine stage of the chip's local digital unit); the
/// official code instead programs the raw weights, clipped to [−1, 1].
public struct CrossbarConvolutions: ConvolutionMultiplier, Sendable {
    /// The crossbars of each layer, split along the rows.
    public private(set) var crossbars: [[Crossbar]]
    /// First row of each crossbar within its layer's weight matrix.
    public let rowOffsets: [[Int]]
    /// Digital output scale of each layer (max|W|, or 1 without range scaling).
    public let outputScales: [Float]
    /// Read time of the MVMs, seconds.
    public var readTime: Double
    /// Source of the read noise; set it per episode for reproducible draws.
    public var rng: RandomSource
    var partial: [Float]

    /// Programs `weights` (one matrix per layer) at `programmingTime`.
    public init(weights: [Matrix], parameters: PCMParameters, scaleToRange: Bool, programmingTime: Double,
                readTime: Double, rng: inout RandomSource) {
        var bars: [[Crossbar]] = []
        var offsets: [[Int]] = []
        var scales: [Float] = []
        let tile = PCMParameters.tileSize
        for w in weights {
            let parts = (w.rows + tile - 1) / tile
            let perPart = (w.rows + parts - 1) / parts
            let scale: Float = scaleToRange ? max(w.maxMagnitude, 1e-12) : 1
            var layerBars: [Crossbar] = []
            var layerOffsets: [Int] = []
            var start = 0
            while start < w.rows {
                let end = min(start + perPart, w.rows)
                let slice = Matrix(rows: end - start, columns: w.columns,
                                   storage: w.storage[(start * w.columns)..<(end * w.columns)].map { $0 / scale })
                var bar = Crossbar(rows: end - start, columns: w.columns, parameters: parameters)
                bar.programInitial(slice, at: programmingTime, rng: &rng)
                layerBars.append(bar)
                layerOffsets.append(start)
                start = end
            }
            bars.append(layerBars)
            offsets.append(layerOffsets)
            scales.append(scale)
        }
        crossbars = bars
        rowOffsets = offsets
        outputScales = scales
        self.readTime = readTime
        self.rng = rng.derived(0x636F_6E76)
        partial = [Float](repeating: 0, count: weights.map(\.columns).max() ?? 0)
    }

    public mutating func multiply(layer: Int, columns: UnsafePointer<Float>, rows: Int, into z: UnsafeMutablePointer<Float>) {
        let k = rowOffsets[layer].last! + crossbars[layer].last!.rows
        let c = crossbars[layer][0].columns
        let scale = outputScales[layer]
        let time = readTime
        partial.withUnsafeMutableBufferPointer { tmp in
            let t = tmp.baseAddress!
            for r in 0..<rows {
                let x = columns + r &* k
                let y = z + r &* c
                y.update(repeating: 0, count: c)
                for part in crossbars[layer].indices {
                    crossbars[layer][part].multiplyTransposed(x + rowOffsets[layer][part], into: t, at: time, rng: &rng)
                    for j in 0..<c { y[j] += t[j] }
                }
                if scale != 1 { for j in 0..<c { y[j] *= scale } }
            }
        }
    }

    /// The weights the crossbars represent at the read time (drift included, no read noise), stitched back
    /// into one matrix per layer in the caller's units.
    public func effectiveWeights() -> [Matrix] {
        crossbars.indices.map { l in
            var storage: [Float] = []
            for bar in crossbars[l] { storage += bar.weights(at: readTime).storage }
            let c = crossbars[l][0].columns
            return Matrix(rows: storage.count / c, columns: c, storage: storage.map { $0 * outputScales[l] })
        }
    }

    /// MVMs done so far, over all crossbars.
    public var mvms: Int { crossbars.joined().reduce(0) { $0 + $1.accounting.mvms } }
}

/// The readout on its own crossbar for one episode, adapted in place by the inner loop: each SGD step is
/// stochastically rounded to the 1/16 grid (unbiased: ⌊16Δ + u⌋/16, u uniform in [0, 1)) and only the
/// devices whose rounded update is non-zero are re-programmed.
public struct CrossbarReadout: Sendable {
    /// The crossbar (`channels × ways`).
    public private(set) var crossbar: Crossbar
    /// Digital output scale (see `CrossbarConvolutions`).
    public let outputScale: Float
    /// Time of the next read or programming, seconds.
    public var time: Double
    /// Update grid (1/16 of w_max).
    public static let step: Float = 1.0 / 16

    /// Programs `initial` at `time`.
    public init(initial: Matrix, parameters: PCMParameters, scaleToRange: Bool, time: Double, rng: inout RandomSource) {
        let scale: Float = scaleToRange ? max(initial.maxMagnitude, 1e-12) : 1
        outputScale = scale
        crossbar = Crossbar(rows: initial.rows, columns: initial.columns, parameters: parameters)
        crossbar.programInitial(Matrix(rows: initial.rows, columns: initial.columns, storage: initial.storage.map { $0 / scale }),
                                at: time, rng: &rng)
        self.time = time
    }

    /// Logits (`batch × ways`) of `features` (`batch × channels`), one noisy MVM per row.
    public mutating func logits(_ features: [Float], batch: Int, rng: inout RandomSource) -> [Float] {
        let c = crossbar.rows, n = crossbar.columns
        var out = [Float](repeating: 0, count: batch * n)
        let t = time
        features.withUnsafeBufferPointer { f in
            out.withUnsafeMutableBufferPointer { o in
                for b in 0..<batch {
                    crossbar.multiplyTransposed(f.baseAddress! + b * c, into: o.baseAddress! + b * n, at: t, rng: &rng)
                }
            }
        }
        if outputScale != 1 { for i in out.indices { out[i] *= outputScale } }
        return out
    }

    /// One inner SGD step with learning rate `rate` on the mean cross-entropy of `features`/`labels`;
    /// returns the number of devices re-programmed.
    public mutating func sgdStep(features: [Float], labels: [Int], rate: Float, rng: inout RandomSource) -> Int {
        let c = crossbar.rows, n = crossbar.columns
        var p = logits(features, batch: labels.count, rng: &rng)
        ReadoutLearning.softmaxInPlace(&p, ways: n)
        let g = ReadoutLearning.weightGradient(features: features, probabilities: p, labels: labels, channels: c, ways: n)
        var delta = Matrix(rows: c, columns: n)
        for i in g.indices {
            let d = -rate * g[i] / outputScale
            delta.storage[i] = (d / CrossbarReadout.step + rng.uniformFloat()).rounded(.down) * CrossbarReadout.step
        }
        return crossbar.applyUpdate(delta, at: time, rng: &rng).devicesProgrammed
    }
}
