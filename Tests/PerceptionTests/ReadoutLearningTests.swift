import EngramTestSupport
import Testing
import Tensors
@testable import Perception

@Suite struct ReadoutLearningTests {
    /// A tiny task on a tiny network: 3 ways, 2 shots, 2 queries of 8×8 images.
    static func tinyTask() -> (FewShotCNN, Episode) {
        let arch = CNNArchitecture(imageSize: 8, channels: 8, layerCount: 2)
        let model = FewShotCNN(architecture: arch, ways: 3, seed: 21)
        let data = StrokeGlyphs.tiny.dataset(alphabets: 1, characters: 3, drawers: 4, seed: 5)
        let sampler = try! EpisodeSampler(dataset: data, ways: 3, shots: 2, queries: 2)
        var rng = RandomSource(seed: 6)
        return (model, sampler.sample(rng: &rng))
    }

    @Test func secondOrderMetaGradientMatchesFiniteDifferences() {
        var (model, episode) = ReadoutLearningTests.tinyTask()
        let inner = InnerLoop(steps: 3, learningRate: 0.5)
        let worker = TaskWorker(architecture: model.architecture)
        let analytic = worker.metaGradient(model: model, episode: episode, inner: inner).gradient
        func loss(_ p: [Float]) -> Double {
            model.setFlatParameters(p)
            return Double(worker.metaGradient(model: model, episode: episode, inner: inner).loss)
        }
        let p0 = model.flatParameters
        var rng = RandomSource(seed: 7)
        // Every readout weight, and a sample of each convolution's.
        let readoutStart = p0.count - model.readout.count
        var indices = Array(readoutStart..<p0.count)
        indices += (0..<16).map { _ in rng.int(below: model.convolutions[0].count) }
        indices += (0..<16).map { _ in model.convolutions[0].count + rng.int(below: model.convolutions[1].count) }
        var numeric: [Double] = [], exact: [Double] = []
        func difference(_ i: Int, _ h: Float) -> Double {
            var up = p0, down = p0
            up[i] += h; down[i] -= h
            return (loss(up) - loss(down)) / Double(2 * h)
        }
        var skipped = 0
        for i in indices {
            if i >= readoutStart {
                numeric.append(difference(i, 2e-3))
            } else {
                // ReLU and max-pool switches make the loss piecewise smooth: compare only where central
                // differences at h and 2h agree (no switch within reach).
                let d1 = difference(i, 5e-4), d2 = difference(i, 1e-3)
                guard abs(d1 - d2) <= 0.02 * max(abs(d1), 0.02) else { skipped += 1; continue }
                numeric.append(d1)
            }
            exact.append(Double(analytic[i]))
        }
        #expect(skipped <= 12, "\(skipped) of 32 convolution weights sit near a switch")
        model.setFlatParameters(p0)
        func relativeError(_ a: [Double], _ b: [Double]) -> Double {
            zip(a, b).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() / b.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        }
        let readoutCount = model.readout.count
        let secondOrderError = relativeError(Array(exact.prefix(readoutCount)), Array(numeric.prefix(readoutCount)))
        #expect(secondOrderError < 0.01, "readout: relative error \(secondOrderError)")
        let convError = relativeError(Array(exact.dropFirst(readoutCount)), Array(numeric.dropFirst(readoutCount)))
        #expect(convError < 0.02, "convolutions: relative error \(convError)")

        // The first-order approximation (gradient at the adapted readout) is clearly worse, so the test
        // does see the second-order terms.
        let tape = FeatureTape(architecture: model.architecture)
        var dense = DenseConvolutions(weights: model.convolutions)
        let fs = TaskWorker.features(tape, pixels: episode.supportPixels, batch: 6, multiplier: &dense)
        let fq = TaskWorker.features(tape, pixels: episode.queryPixels, batch: 6, multiplier: &dense)
        let trace = ReadoutLearning.adapt(support: fs, labels: episode.supportLabels, initial: model.readout.storage,
                                          channels: 8, ways: 3, inner: inner)
        var pq: [Float] = []
        _ = ReadoutLearning.probabilities(features: fq, weights: trace.weights[3], labels: episode.queryLabels, channels: 8, ways: 3, into: &pq)
        let firstOrder = ReadoutLearning.weightGradient(features: fq, probabilities: pq, labels: episode.queryLabels, channels: 8, ways: 3).map(Double.init)
        let firstOrderError = relativeError(firstOrder, Array(numeric.prefix(readoutCount)))
        #expect(firstOrderError > 10 * secondOrderError, "first-order \(firstOrderError) vs second-order \(secondOrderError)")
    }

    @Test func widerReadoutStartsFromTheMeanColumn() {
        var model = FewShotCNN(architecture: CNNArchitecture(imageSize: 8, channels: 4, layerCount: 1), ways: 2, seed: 1)
        model.readout = Matrix(rows: 4, columns: 2, storage: [1, 3, 0, 2, -1, 1, 5, 5])
        let wide = model.withWays(3)
        #expect(wide.readout == Matrix(rows: 4, columns: 3, storage: [2, 2, 2, 1, 1, 1, 0, 0, 0, 5, 5, 5]))
        #expect(model.withWays(2) == model)
    }

    @Test func innerLoopLowersTheSupportLoss() {
        let (model, episode) = ReadoutLearningTests.tinyTask()
        let tape = FeatureTape(architecture: model.architecture)
        var dense = DenseConvolutions(weights: model.convolutions)
        let fs = TaskWorker.features(tape, pixels: episode.supportPixels, batch: 6, multiplier: &dense)
        let trace = ReadoutLearning.adapt(support: fs, labels: episode.supportLabels, initial: model.readout.storage,
                                          channels: 8, ways: 3, inner: InnerLoop(steps: 4, learningRate: 0.1))
        var p: [Float] = []
        let before = ReadoutLearning.probabilities(features: fs, weights: trace.weights[0], labels: episode.supportLabels, channels: 8, ways: 3, into: &p).loss
        let after = ReadoutLearning.probabilities(features: fs, weights: trace.weights[4], labels: episode.supportLabels, channels: 8, ways: 3, into: &p).loss
        #expect(after < before)
    }
}

extension StrokeGlyphs {
    /// 8×8 glyphs for tiny test networks.
    static var tiny: StrokeGlyphs {
        var g = StrokeGlyphs()
        g.imageSize = 8
        return g
    }
}
