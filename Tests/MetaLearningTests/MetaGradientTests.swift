@testable import Adaptation
import Foundation
import Kinematics
import Testing
import Tensors
@testable import MetaLearning

/// A tiny model (8 trainee, 8 LIF + 4 ALIF LSG neurons, 20 steps) for gradient checks.
func tinyArchitecture() -> MetaArchitecture {
    var a = MetaArchitecture()
    a.traineeNeurons = 8
    a.lsgPlainNeurons = 8
    a.lsgAdaptiveNeurons = 4
    a.steps = 20
    a.clockWindowSteps = 4
    a.clockSpikeInterval = 2
    a.innerLearningRate = 0.05
    return a
}

func tinySampler() -> TaskFamily<ScorbotKinematics> {
    var s = TaskFamily.paperScorbot
    s.steps = 20
    s.windowLength = 10
    s.brownianScale = 3
    return s
}

func tinyTasks(_ a: MetaArchitecture, count: Int, seed: UInt64) -> [MetaTaskTarget] {
    var rng = RandomSource(seed: seed)
    let sampler = tinySampler()
    return (0..<count).map { _ in sampler.sampleTarget(&rng) }
}

/// Parameters scaled so the smooth network sits in a sensitive regime.
func tinyParameters(_ a: MetaArchitecture, seed: UInt64) -> MetaParameters<Double> {
    var rng = RandomSource(seed: seed)
    var p = MetaParameters<Double>(randomFor: a, rng: &rng)
    p.tensors[MetaParameterName.traineeOutput.index] = p[.traineeOutput].map { $0 * 40 }
    p.tensors[MetaParameterName.lsgOutput.index] = p[.lsgOutput].map { $0 * 2 }
    return p
}

struct GradientCheckReport {
    var relativeErrors: [MetaParameterName: Double] = [:]
    var analyticNorms: [MetaParameterName: Double] = [:]
}

/// Analytic gradient vs central differences (step h) on up to `perTensor` entries of every tensor.
func gradientCheck(options: MetaGradientOptions, batch: Int, threads: Int, perTensor: Int = 16, h: Double = 1e-6,
                   architecture a: MetaArchitecture = tinyArchitecture(), noiseSeed: UInt64 = 3,
                   sampler: any MetaTaskSampler = tinySampler(), tasks given: [MetaTaskTarget]? = nil) -> GradientCheckReport {
    let tasks = given ?? tinyTasks(a, count: batch, seed: 11)
    let evaluator = MetaBatchEvaluator<Double>(architecture: a, options: options, tasks: sampler, batchSize: batch, threads: threads)
    let base = tinyParameters(a, seed: 5)
    let flat = FlatParameters(base, architecture: a)
    let gradient = FlatParameters<Double>(zerosFor: a)
    _ = evaluator.evaluate(flat, tasks: tasks, noiseSeed: noiseSeed, gradient: gradient)
    var report = GradientCheckReport()
    var pick = RandomSource(seed: 99)
    for name in MetaParameterName.allCases {
        let count = base[name].count
        var indices = Array(0..<count)
        pick.shuffle(&indices)
        let (rows, columns) = a.shape(of: name)
        let recurrent = name == .traineeRecurrent || name == .lsgRecurrent
        let chosen = indices.filter { !recurrent || $0 / columns != $0 % columns }.prefix(perTensor)
        _ = rows
        var diff2 = 0.0, ref2 = 0.0, norm2 = 0.0
        for i in chosen {
            let p = flat.pointer(name)
            let original = p[i]
            p[i] = original + h
            let plus = evaluator.evaluate(flat, tasks: tasks, noiseSeed: noiseSeed, gradient: nil).loss
            p[i] = original - h
            let minus = evaluator.evaluate(flat, tasks: tasks, noiseSeed: noiseSeed, gradient: nil).loss
            p[i] = original
            let numeric = (plus - minus) / (2 * h)
            let analytic = gradient.pointer(name)[i]
            diff2 += (analytic - numeric) * (analytic - numeric)
            ref2 += numeric * numeric
            norm2 += analytic * analytic
        }
        report.relativeErrors[name] = (diff2 / max(ref2, 1e-300)).squareRoot()
        report.analyticNorms[name] = norm2.squareRoot()
    }
    return report
}

@Suite("Meta-gradient")
struct MetaGradientTests {
    /// The acceptance check: exact BPTT through trial 1, the LSG, the e-prop update and trial 2 agrees with
    /// central finite differences (smooth surrogate, Float64) to a relative error below 1e-3 per tensor.
    @Test func analyticGradientMatchesFiniteDifferences() {
        var options = MetaGradientOptions()
        options.spikeFunction = .sigmoid(sharpness: 2)
        options.adaptiveThresholdSpikeGradient = true
        let report = gradientCheck(options: options, batch: 2, threads: 1)
        for name in MetaParameterName.allCases {
            let e = report.relativeErrors[name]!
            print("gradient check \(name.rawValue): relative error \(e), |g| \(report.analyticNorms[name]!)")
            #expect(e < 1e-3, "\(name.rawValue): relative error \(e) ≥ 1e-3 (|g| = \(report.analyticNorms[name]!))")
            #expect(report.analyticNorms[name]! > 0, "\(name.rawValue): zero gradient, the check would be vacuous")
        }
    }

    /// Splitting the batch over two threads gives the same objective and gradient as one thread.
    @Test func threadsAgreeWithSingleThread() {
        let a = tinyArchitecture()
        let sampler = tinySampler()
        let tasks = tinyTasks(a, count: 3, seed: 2)
        let base = FlatParameters(tinyParameters(a, seed: 1).converted(to: Float.self), architecture: a)
        var results: [[Float]] = []
        var losses: [Double] = []
        for threads in [1, 2] {
            let ev = MetaBatchEvaluator<Float>(architecture: a, options: MetaGradientOptions(), tasks: sampler, batchSize: 3, threads: threads)
            let g = FlatParameters<Float>(zerosFor: a)
            losses.append(ev.evaluate(base, tasks: tasks, noiseSeed: 1, gradient: g).loss)
            results.append(Array(UnsafeBufferPointer(start: g.storage, count: g.count)))
        }
        #expect(losses[0] == losses[1], "the forward pass does not depend on the thread count")
        var maxDiff: Float = 0, maxAbs: Float = 0
        for i in results[0].indices { maxDiff = max(maxDiff, abs(results[0][i] - results[1][i])); maxAbs = max(maxAbs, abs(results[0][i])) }
        #expect(maxDiff <= 1e-5 * maxAbs, "gradients differ by \(maxDiff) (max |g| \(maxAbs))")
    }
}
