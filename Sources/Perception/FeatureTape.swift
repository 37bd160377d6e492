import Tensors

/// The forward pass of the CNN over one batch of images, kept for the hand-written backward pass.
///
/// A batch is a support set or a query set: BatchNorm normalises each channel over the whole batch
/// (images × positions), as the official code does with `training=True` in every call. Buffers grow to
/// the largest batch seen and are then reused, so repeated passes do not allocate.
public final class FeatureTape {
    /// The network shape the tape is laid out for.
    public let architecture: CNNArchitecture
    /// Images in the current batch.
    public private(set) var count = 0

    var columns: [[Float]]
    var preActivation: [[Float]]
    var normalized: [[Float]]
    var inverseStd: [[Float]]
    var layerGradient: [[Float]]
    var poolIndex: [Int32] = []
    /// Pooled features of the batch, `count × channels`, row-major.
    public private(set) var features: [Float] = []
    var transposedColumns: [Float] = []
    var columnGradient: [Float] = []
    var transposedWeights: [Float] = []

    /// An empty tape for `architecture`.
    public init(architecture: CNNArchitecture) {
        self.architecture = architecture
        let l = architecture.layerCount
        columns = Array(repeating: [], count: l)
        preActivation = Array(repeating: [], count: l)
        normalized = Array(repeating: [], count: l)
        inverseStd = Array(repeating: [Float](repeating: 0, count: architecture.channels), count: l)
        layerGradient = Array(repeating: [], count: l)
    }

    private func reserve(_ batch: Int) {
        count = batch
        let a = architecture
        let c = a.channels
        for l in 0..<a.layerCount {
            let m = batch * a.outputSize(l) * a.outputSize(l)
            if columns[l].count < m * a.kernelRows(l) { columns[l] = [Float](repeating: 0, count: m * a.kernelRows(l)) }
            if preActivation[l].count < m * c {
                preActivation[l] = [Float](repeating: 0, count: m * c)
                normalized[l] = [Float](repeating: 0, count: m * c)
                layerGradient[l] = [Float](repeating: 0, count: m * c)
            }
        }
        if features.count < batch * c {
            features = [Float](repeating: 0, count: batch * c)
            poolIndex = [Int32](repeating: 0, count: batch * c)
        }
    }

    /// Runs `images` (`batch × imageSize²`, values as given) through the network and returns nothing;
    /// read `features`. `multiplier` computes the convolution products.
    public func forward<M: ConvolutionMultiplier>(images: UnsafePointer<Float>, batch: Int, multiplier: inout M) {
        reserve(batch)
        let a = architecture
        let c = a.channels
        for l in 0..<a.layerCount {
            let sIn = a.inputSize(l), sOut = a.outputSize(l), cin = a.inputChannels(l)
            let m = batch * sOut * sOut
            columns[l].withUnsafeMutableBufferPointer { colBuf in
                let cols = colBuf.baseAddress!
                if l == 0 {
                    FeatureTape.im2col(images, batch: batch, size: sIn, channels: cin, into: cols)
                } else {
                    normalized[l - 1].withUnsafeBufferPointer { x in
                        FeatureTape.im2col(x.baseAddress!, batch: batch, size: sIn, channels: cin, into: cols)
                    }
                }
                preActivation[l].withUnsafeMutableBufferPointer { z in
                    multiplier.multiply(layer: l, columns: UnsafePointer(cols), rows: m, into: z.baseAddress!)
                }
            }
            // ReLU, then BatchNorm over the m rows of each channel.
            preActivation[l].withUnsafeBufferPointer { z in
                normalized[l].withUnsafeMutableBufferPointer { y in
                    inverseStd[l].withUnsafeMutableBufferPointer { inv in
                        var mean = [Double](repeating: 0, count: c)
                        var sq = [Double](repeating: 0, count: c)
                        for r in 0..<m {
                            let row = r &* c
                            for ch in 0..<c {
                                let v = max(z[row &+ ch], 0)
                                y[row &+ ch] = v
                                mean[ch] += Double(v)
                            }
                        }
                        for ch in 0..<c { mean[ch] /= Double(m) }
                        for r in 0..<m {
                            let row = r &* c
                            for ch in 0..<c {
                                let d = Double(y[row &+ ch]) - mean[ch]
                                sq[ch] += d * d
                            }
                        }
                        var meanF = [Float](repeating: 0, count: c)
                        for ch in 0..<c {
                            let variance = sq[ch] / Double(m)
                            inv[ch] = Float(1 / (variance + Double(a.batchNormEpsilon)).squareRoot())
                            meanF[ch] = Float(mean[ch])
                        }
                        for r in 0..<m {
                            let row = r &* c
                            for ch in 0..<c { y[row &+ ch] = (y[row &+ ch] - meanF[ch]) * inv[ch] }
                        }
                    }
                }
            }
        }
        // Global max-pool over the last layer's positions.
        let last = a.layerCount - 1
        let positions = a.outputSize(last) * a.outputSize(last)
        normalized[last].withUnsafeBufferPointer { y in
            for b in 0..<batch {
                for ch in 0..<c {
                    var best = -Float.infinity
                    var where_: Int32 = 0
                    for p in 0..<positions {
                        let v = y[(b &* positions &+ p) &* c &+ ch]
                        if v > best { best = v; where_ = Int32(p) }
                    }
                    features[b * c + ch] = best
                    poolIndex[b * c + ch] = where_
                }
            }
        }
    }

    /// Back-propagates `featureGradient` (`count × channels`, ∂L/∂features) through the batch recorded
    /// by the last `forward`, adding ∂L/∂W_l to `gradients[l]` (same layout as the weights). `weights`
    /// are the matrices the forward pass multiplied by (effective weights in PCM mode).
    public func backward(featureGradient: UnsafePointer<Float>, weights: [Matrix], gradients: inout [Matrix]) {
        let a = architecture
        let c = a.channels
        let batch = count
        let last = a.layerCount - 1
        let positions = a.outputSize(last) * a.outputSize(last)
        layerGradient[last].withUnsafeMutableBufferPointer { g in
            g.baseAddress!.update(repeating: 0, count: batch * positions * c)
            for b in 0..<batch {
                for ch in 0..<c {
                    let p = Int(poolIndex[b * c + ch])
                    g[(b * positions + p) * c + ch] = featureGradient[b * c + ch]
                }
            }
        }
        for l in stride(from: last, through: 0, by: -1) {
            let sOut = a.outputSize(l)
            let m = batch * sOut * sOut
            let k = a.kernelRows(l)
            // BatchNorm then ReLU backward, in place: dz = [z > 0] · σ⁻¹ (dy − mean(dy) − ŷ·mean(dy·ŷ)).
            layerGradient[l].withUnsafeMutableBufferPointer { g in
                normalized[l].withUnsafeBufferPointer { y in
                    preActivation[l].withUnsafeBufferPointer { z in
                        var meanG = [Double](repeating: 0, count: c)
                        var meanGY = [Double](repeating: 0, count: c)
                        for r in 0..<m {
                            let row = r &* c
                            for ch in 0..<c {
                                meanG[ch] += Double(g[row &+ ch])
                                meanGY[ch] += Double(g[row &+ ch] * y[row &+ ch])
                            }
                        }
                        var mg = [Float](repeating: 0, count: c), mgy = [Float](repeating: 0, count: c)
                        for ch in 0..<c { mg[ch] = Float(meanG[ch] / Double(m)); mgy[ch] = Float(meanGY[ch] / Double(m)) }
                        let inv = inverseStd[l]
                        for r in 0..<m {
                            let row = r &* c
                            for ch in 0..<c {
                                let i = row &+ ch
                                g[i] = z[i] > 0 ? inv[ch] * (g[i] - mg[ch] - y[i] * mgy[ch]) : 0
                            }
                        }
                    }
                }
            }
            // ∂W = colsᵀ · dz.
            if transposedColumns.count < m * k { transposedColumns = [Float](repeating: 0, count: m * k) }
            columns[l].withUnsafeBufferPointer { cols in
                transposedColumns.withUnsafeMutableBufferPointer { t in
                    DenseProducts.transpose(cols.baseAddress!, rows: m, columns: k, into: t.baseAddress!)
                    layerGradient[l].withUnsafeBufferPointer { g in
                        gradients[l].storage.withUnsafeMutableBufferPointer { dw in
                            DenseProducts.multiply(UnsafePointer(t.baseAddress!), g.baseAddress!, into: dw.baseAddress!,
                                                   m: k, k: m, n: c, accumulate: true)
                        }
                    }
                }
            }
            guard l > 0 else { break }
            // ∂cols = dz · Wᵀ, then col2im into the previous layer's output gradient.
            if columnGradient.count < m * k { columnGradient = [Float](repeating: 0, count: m * k) }
            if transposedWeights.count < k * c { transposedWeights = [Float](repeating: 0, count: k * c) }
            weights[l].storage.withUnsafeBufferPointer { w in
                transposedWeights.withUnsafeMutableBufferPointer { wt in
                    DenseProducts.transpose(w.baseAddress!, rows: k, columns: c, into: wt.baseAddress!)
                    layerGradient[l].withUnsafeBufferPointer { g in
                        columnGradient.withUnsafeMutableBufferPointer { dc in
                            DenseProducts.multiply(g.baseAddress!, UnsafePointer(wt.baseAddress!), into: dc.baseAddress!,
                                                   m: m, k: c, n: k)
                        }
                    }
                }
            }
            let sIn = a.inputSize(l)
            columnGradient.withUnsafeBufferPointer { dc in
                layerGradient[l - 1].withUnsafeMutableBufferPointer { dx in
                    FeatureTape.col2im(dc.baseAddress!, batch: batch, size: sIn, channels: a.inputChannels(l),
                                       into: dx.baseAddress!)
                }
            }
        }
    }

    /// im2col for a 3×3, stride-2, padding-1 convolution: `x` is `batch × size × size × channels`
    /// (NHWC); row `(b, oh, ow)` of the result holds the patch in `(kh, kw, c)` order (zeros outside).
    public static func im2col(_ x: UnsafePointer<Float>, batch: Int, size: Int, channels: Int,
                              into cols: UnsafeMutablePointer<Float>) {
        let out = (size + 2 - 3) / 2 + 1
        let k = 9 &* channels
        var row = cols
        for b in 0..<batch {
            let image = x + b &* size &* size &* channels
            for oh in 0..<out {
                for ow in 0..<out {
                    var dst = row
                    for kh in 0..<3 {
                        let ih = oh &* 2 &+ kh &- 1
                        for kw in 0..<3 {
                            let iw = ow &* 2 &+ kw &- 1
                            if ih >= 0 && ih < size && iw >= 0 && iw < size {
                                dst.update(from: image + (ih &* size &+ iw) &* channels, count: channels)
                            } else {
                                dst.update(repeating: 0, count: channels)
                            }
                            dst += channels
                        }
                    }
                    row += k
                }
            }
        }
    }

    /// The adjoint of `im2col`: sums every patch gradient back onto `dx` (overwritten).
    public static func col2im(_ cols: UnsafePointer<Float>, batch: Int, size: Int, channels: Int,
                              into dx: UnsafeMutablePointer<Float>) {
        let out = (size + 2 - 3) / 2 + 1
        let k = 9 &* channels
        dx.update(repeating: 0, count: batch &* size &* size &* channels)
        var row = cols
        for b in 0..<batch {
            let image = dx + b &* size &* size &* channels
            for oh in 0..<out {
                for ow in 0..<out {
                    var src = row
                    for kh in 0..<3 {
                        let ih = oh &* 2 &+ kh &- 1
                        for kw in 0..<3 {
                            let iw = ow &* 2 &+ kw &- 1
                            if ih >= 0 && ih < size && iw >= 0 && iw < size {
                                let d = image + (ih &* size &+ iw) &* channels
                                for ch in 0..<channels { d[ch] += src[ch] }
                            }
                            src += channels
                        }
                    }
                    row += k
                }
            }
        }
    }
}
