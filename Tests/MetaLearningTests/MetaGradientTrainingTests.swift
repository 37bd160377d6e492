import Foundation
import Testing
import PhaseChange
import Tensors
@testable import MetaLearning

@Suite("Meta-training")
struct MetaGradientTrainingTests {
    /// Adam's first two updates against the formula evaluated in Double (Keras form, ε = 1e-7).
    @Test func adamMatchesHandComputedSteps() {
        let adam = Adam()
        var state = AdamState(count: 3)
        var theta: [Float] = [0.5, -0.25, 1]
        let g1: [Float] = [0.2, -0.01, 0], g2: [Float] = [-0.1, 0.03, 0.5]
        var m = [Double](repeating: 0, count: 3), v = [Double](repeating: 0, count: 3)
        var expected = theta.map(Double.init)
        for (step, g) in [g1, g2].enumerated() {
            let t = Double(step + 1)
            let lrT = 1.5e-3 * (1 - pow(0.999, t)).squareRoot() / (1 - pow(0.9, t))
            for i in 0..<3 {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                expected[i] -= lrT * m[i] / (v[i].squareRoot() + 1e-7)
            }
            g.withUnsafeBufferPointer { gp in
                theta.withUnsafeMutableBufferPointer { tp in
                    adam.update(tp.baseAddress!, gradient: gp.baseAddress!, count: 3, state: &state)
                }
            }
        }
        #expect(state.step == 2)
        for i in 0..<3 {
            // Float32 arithmetic on values of order 1: a few ulps.
            #expect(abs(Double(theta[i]) - expected[i]) < 1e-6, "θ[\(i)] = \(theta[i]), expected \(expected[i])")
        }
    }

    /// The schedule: 1.5e-3 until step 499, then ×0.99 every 500 steps.
    @Test func learningRateSchedule() {
        let adam = Adam()
        #expect(adam.learningRate(atStep: 0) == 1.5e-3)
        #expect(adam.learningRate(atStep: 499) == 1.5e-3)
        #expect(isCloseRelative(adam.learningRate(atStep: 500), 1.5e-3 * 0.99))
        #expect(isCloseRelative(adam.learningRate(atStep: 1_250), 1.5e-3 * 0.99 * 0.99))
    }

    /// Two iterations, a checkpoint through safetensors bytes, a resumed trainer and one more iteration give
    /// bit-for-bit the weights and Adam state of three uninterrupted iterations.
    @Test func resumeReproducesUninterruptedRun() throws {
        var configuration = MetaTrainingConfiguration()
        configuration.architecture = tinyArchitecture()
        configuration.batchSize = 2
        configuration.threads = 1
        configuration.seed = 42
        configuration.command = "test"
        let sampler = tinySampler()
        var rng = RandomSource(seed: 3)
        let initial = MetaParameters<Float>(randomFor: configuration.architecture, rng: &rng)

        let straight = MetaTrainer(configuration: configuration, sampler: sampler, initial: initial)
        for _ in 0..<3 { straight.step() }

        let first = MetaTrainer(configuration: configuration, sampler: sampler, initial: initial)
        for _ in 0..<2 { first.step() }
        let bytes = first.checkpoint().serialized()
        let file = try SafeTensors(bytes: bytes, source: "resume-test")
        let controller = try ControllerCheckpoint(file)
        let architecture = MetaArchitecture(controller.architecture)
        #expect(architecture == configuration.architecture)
        let weights = MetaParameters<Float>(controller.weights)
        let state = try #require(try MetaTrainer.trainingState(in: file, parameterCount: weights.count))
        #expect(state.iteration == 2)
        #expect(file.metadata[MetaTrainer.Key.command] == "test")
        let resumed = MetaTrainer(configuration: configuration, sampler: sampler, initial: weights, state: state)
        resumed.step()

        #expect(resumed.state == straight.state, "Adam state and iteration after resume equal the uninterrupted run's")
        #expect(resumed.parameters.parameters == straight.parameters.parameters, "weights after resume equal the uninterrupted run's")
        #expect(resumed.parameters.parameters != initial, "training moved the weights")
    }

    /// A plain controller checkpoint (no training state) is not resumable; damaged state is an error.
    @Test func trainingStateErrors() throws {
        var file = SafeTensors()
        #expect(try MetaTrainer.trainingState(in: file, parameterCount: 4) == nil)
        file.metadata[MetaTrainer.Key.iteration] = "7"
        file.metadata[MetaTrainer.Key.seed] = "1"
        file.metadata[MetaTrainer.Key.adamStep] = "7"
        file.set(MetaTrainer.Key.firstMoment, floats: [0, 0, 0], shape: [3])
        file.set(MetaTrainer.Key.secondMoment, floats: [0, 0, 0], shape: [3])
        #expect(throws: CheckpointError.self) { try MetaTrainer.trainingState(in: file, parameterCount: 4) }
        file.metadata[MetaTrainer.Key.iteration] = "seven"
        #expect(throws: CheckpointError.self) { try MetaTrainer.trainingState(in: file, parameterCount: 3) }
    }

    /// With a PCM model in the loop the objective is finite and seeded by the noise seed, and the gradient
    /// is non-zero.
    @Test(arguments: [MetaPCMMode.paper, .physical])
    func pcmInTheLoop(_ mode: MetaPCMMode) {
        let a = tinyArchitecture()
        var options = MetaGradientOptions()
        options.pcm = mode
        options.quantizeUpdate = true
        let sampler = tinySampler()
        let tasks = tinyTasks(a, count: 2, seed: 4)
        let evaluator = MetaBatchEvaluator<Float>(architecture: a, options: options, tasks: sampler, batchSize: 2, threads: 1)
        let p = FlatParameters(tinyParameters(a, seed: 8).converted(to: Float.self), architecture: a)
        let g = FlatParameters<Float>(zerosFor: a)
        let r1 = evaluator.evaluate(p, tasks: tasks, noiseSeed: 9, gradient: g)
        let r2 = evaluator.evaluate(p, tasks: tasks, noiseSeed: 9, gradient: nil)
        let r3 = evaluator.evaluate(p, tasks: tasks, noiseSeed: 10, gradient: nil)
        #expect(r1.loss.isFinite)
        #expect(r1.loss == r2.loss, "same noise seed, same objective")
        #expect(r1.loss != r3.loss, "the noise seed matters")
        var norm: Float = 0
        for i in 0..<g.count { norm += g.storage[i] * g.storage[i] }
        #expect(norm > 0)
    }

    /// The physical model with every device effect switched off reproduces the ideal objective and gradient
    /// (weights within ±1, no rounding): the crossbar path adds nothing but the device effects.
    @Test func noiselessPhysicalEqualsIdeal() {
        let a = tinyArchitecture()
        let sampler = tinySampler()
        let tasks = tinyTasks(a, count: 2, seed: 6)
        var params = tinyParameters(a, seed: 2).converted(to: Float.self)
        params.tensors = params.tensors.map { $0.map { max(-0.99, min(0.99, $0)) } }
        let p = FlatParameters(params, architecture: a)
        var results: [(Double, [Float])] = []
        for mode in [MetaPCMMode.off, .physical] {
            var options = MetaGradientOptions()
            options.pcm = mode
            options.physicalModel = PCMParameters.physical.noiseless
            let evaluator = MetaBatchEvaluator<Float>(architecture: a, options: options, tasks: sampler, batchSize: 2, threads: 1)
            let g = FlatParameters<Float>(zerosFor: a)
            let r = evaluator.evaluate(p, tasks: tasks, noiseSeed: 1, gradient: g)
            results.append((r.loss, Array(UnsafeBufferPointer(start: g.storage, count: g.count))))
        }
        // Conductance round trips (w·25 µS / 25 µS) may change the last bit of a weight.
        #expect(abs(results[0].0 - results[1].0) <= 1e-5 * abs(results[0].0), "loss \(results[0].0) vs \(results[1].0)")
        var maxDiff: Float = 0, maxAbs: Float = 0
        for i in results[0].1.indices {
            maxDiff = max(maxDiff, abs(results[0].1[i] - results[1].1[i])); maxAbs = max(maxAbs, abs(results[0].1[i]))
        }
        #expect(maxDiff <= 1e-4 * maxAbs, "gradients differ by \(maxDiff) (max |g| \(maxAbs))")
    }
}

func isCloseRelative(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    abs(a - b) <= tolerance * abs(b)
}
