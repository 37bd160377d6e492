import EngramTestSupport
import Testing
import Tensors
@testable import Perception

/// A direct 3×3 stride-2 padding-1 convolution (NHWC input, HWIO kernel), the slow obvious way.
func directConvolution(_ x: [Float], batch: Int, size: Int, cin: Int, kernel: Matrix) -> [Float] {
    let out = (size + 2 - 3) / 2 + 1
    let cout = kernel.columns
    var y = [Float](repeating: 0, count: batch * out * out * cout)
    for b in 0..<batch {
        for oh in 0..<out {
            for ow in 0..<out {
                for co in 0..<cout {
                    var s: Float = 0
                    for kh in 0..<3 {
                        for kw in 0..<3 {
                            let ih = oh * 2 + kh - 1, iw = ow * 2 + kw - 1
                            guard ih >= 0, ih < size, iw >= 0, iw < size else { continue }
                            for ci in 0..<cin {
                                s += x[((b * size + ih) * size + iw) * cin + ci] * kernel[(kh * 3 + kw) * cin + ci, co]
                            }
                        }
                    }
                    y[((b * out + oh) * out + ow) * cout + co] = s
                }
            }
        }
    }
    return y
}

@Suite struct FeatureTapeTests {
    @Test func im2colProductMatchesDirectConvolution() {
        var rng = RandomSource(seed: 3)
        for (size, cin, cout) in [(7, 8, 16), (28, 1, 56), (4, 5, 3)] {
            let batch = 3
            let x = (0..<(batch * size * size * cin)).map { _ in Float(rng.normal()) }
            let kernel = Matrix.normal(rows: 9 * cin, columns: cout, std: 0.3, rng: &rng)
            let out = (size + 2 - 3) / 2 + 1
            var cols = [Float](repeating: 0, count: batch * out * out * 9 * cin)
            var z = [Float](repeating: 0, count: batch * out * out * cout)
            x.withUnsafeBufferPointer { xp in
                cols.withUnsafeMutableBufferPointer { cp in
                    FeatureTape.im2col(xp.baseAddress!, batch: batch, size: size, channels: cin, into: cp.baseAddress!)
                    var dense = DenseConvolutions(weights: [kernel])
                    z.withUnsafeMutableBufferPointer { zp in
                        dense.multiply(layer: 0, columns: UnsafePointer(cp.baseAddress!), rows: batch * out * out, into: zp.baseAddress!)
                    }
                }
            }
            let direct = directConvolution(x, batch: batch, size: size, cin: cin, kernel: kernel)
            #expect(maxAbsDifference(z, direct) < 1e-4, "size \(size), \(cin)→\(cout)")
        }
    }

    @Test func col2imIsTheAdjointOfIm2col() {
        // ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for random x and c.
        var rng = RandomSource(seed: 4)
        let (batch, size, ch) = (2, 7, 3)
        let out = 4
        let x = (0..<(batch * size * size * ch)).map { _ in Float(rng.normal()) }
        let c = (0..<(batch * out * out * 9 * ch)).map { _ in Float(rng.normal()) }
        var cols = [Float](repeating: 0, count: c.count)
        var back = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in cols.withUnsafeMutableBufferPointer { FeatureTape.im2col(xp.baseAddress!, batch: batch, size: size, channels: ch, into: $0.baseAddress!) } }
        c.withUnsafeBufferPointer { cp in back.withUnsafeMutableBufferPointer { FeatureTape.col2im(cp.baseAddress!, batch: batch, size: size, channels: ch, into: $0.baseAddress!) } }
        let lhs = zip(cols, c).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        #expect(isClose(lhs, rhs, absolute: 1e-3, relative: 1e-5))
    }

    @Test func batchNormAndMaxPoolFollowTheirDefinitions() {
        let arch = CNNArchitecture(imageSize: 8, channels: 8, layerCount: 2)
        let model = FewShotCNN(architecture: arch, ways: 3, seed: 9)
        var rng = RandomSource(seed: 10)
        let batch = 4
        let images = (0..<(batch * 64)).map { _ in rng.uniformFloat() }
        let tape = FeatureTape(architecture: arch)
        var dense = DenseConvolutions(weights: model.convolutions)
        images.withUnsafeBufferPointer { tape.forward(images: $0.baseAddress!, batch: batch, multiplier: &dense) }
        // Layer 0 by hand: conv, ReLU, normalise every channel over images × positions (biased variance).
        let z = directConvolution(images, batch: batch, size: 8, cin: 1, kernel: model.convolutions[0])
        let m = batch * 16
        for ch in 0..<8 {
            let a = (0..<m).map { max(z[$0 * 8 + ch], 0) }
            let mean = a.reduce(0, +) / Float(m)
            let variance = a.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(m)
            for r in 0..<m {
                let expected = (a[r] - mean) / (variance + 1e-3).squareRoot()
                #expect(abs(tape.normalized[0][r * 8 + ch] - expected) < 1e-4)
            }
        }
        // Global max-pool: the feature is the largest normalised value of the last layer's 2×2 positions.
        for b in 0..<batch {
            for ch in 0..<8 {
                let values = (0..<4).map { tape.normalized[1][(b * 4 + $0) * 8 + ch] }
                #expect(tape.features[b * 8 + ch] == values.max()!)
            }
        }
    }

    @Test func backwardMatchesFiniteDifferencesOfAFeatureFunctional() throws {
        // L = Σ g ⊙ features for a fixed random g; compare ∂L/∂W from `backward` with central differences.
        let arch = CNNArchitecture(imageSize: 8, channels: 8, layerCount: 2)
        var model = FewShotCNN(architecture: arch, ways: 3, seed: 1)
        var rng = RandomSource(seed: 2)
        let batch = 5
        let images = (0..<(batch * 64)).map { _ in rng.uniformFloat() }
        let g = (0..<(batch * 8)).map { _ in Float(rng.normal()) }
        let tape = FeatureTape(architecture: arch)
        func loss(_ m: FewShotCNN) -> Double {
            var dense = DenseConvolutions(weights: m.convolutions)
            images.withUnsafeBufferPointer { tape.forward(images: $0.baseAddress!, batch: batch, multiplier: &dense) }
            return zip(tape.features, g).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
        _ = loss(model)
        var grads = model.convolutions.map { Matrix(rows: $0.rows, columns: $0.columns) }
        g.withUnsafeBufferPointer { tape.backward(featureGradient: $0.baseAddress!, weights: model.convolutions, gradients: &grads) }
        var analytic: [Double] = [], numeric: [Double] = []
        for l in 0..<2 {
            for _ in 0..<12 {
                let i = rng.int(below: model.convolutions[l].count)
                let h: Float = 2e-3
                let saved = model.convolutions[l].storage[i]
                model.convolutions[l].storage[i] = saved + h
                let up = loss(model)
                model.convolutions[l].storage[i] = saved - h
                let down = loss(model)
                model.convolutions[l].storage[i] = saved
                numeric.append((up - down) / Double(2 * h))
                analytic.append(Double(grads[l].storage[i]))
            }
        }
        let error = zip(analytic, numeric).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        let norm = numeric.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        #expect(error < 0.03 * norm, "relative gradient error \(error / norm)")
    }

    @Test func denseProductMatchesNaiveLoops() {
        var rng = RandomSource(seed: 5)
        for (m, k, n) in [(7, 13, 56), (5, 9, 21), (4, 504, 16), (1, 3, 5)] {
            let a = (0..<(m * k)).map { _ in Float(rng.normal()) }
            let b = (0..<(k * n)).map { _ in Float(rng.normal()) }
            var c = (0..<(m * n)).map { _ in Float(rng.normal()) }
            let c0 = c
            DenseProducts.multiply(a, b, into: &c, m: m, k: k, n: n, accumulate: true)
            var expected = c0
            for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += a[i * k + p] * b[p * n + j] } } }
            #expect(maxAbsDifference(c, expected) < 1e-3)
        }
    }
}
