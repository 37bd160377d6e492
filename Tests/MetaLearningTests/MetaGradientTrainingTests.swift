@testable import Adaptation
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
        var configuration = tinyTrainingConfiguration(seed: 42)
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

    /// `averageEvery` keeps the mean of the weights after every k-th iteration; it survives a checkpoint and
    /// resume bit for bit, restarts when `averageFrom` moves past its start, and `averagedController` ships it.
    @Test func weightAverageFollowsTheRunAcrossResume() throws {
        var configuration = tinyTrainingConfiguration(seed: 7)
        configuration.averageEvery = 2
        let sampler = tinySampler()
        var rng = RandomSource(seed: 5)
        let initial = MetaParameters<Float>(randomFor: configuration.architecture, rng: &rng)

        let straight = MetaTrainer(configuration: configuration, sampler: sampler, initial: initial)
        var snapshots: [[Float]] = []
        for i in 1...6 {
            straight.step()
            if i % 2 == 0 { snapshots.append(Array(UnsafeBufferPointer(start: straight.parameters.storage, count: straight.parameters.count))) }
        }
        let average = try #require(straight.state.average)
        #expect(average.count == 3 && average.first == 2 && average.last == 6 && average.every == 2)
        var largest: Float = 0
        for i in 0..<average.mean.count {
            let expected = (Double(snapshots[0][i]) + Double(snapshots[1][i]) + Double(snapshots[2][i])) / 3
            largest = max(largest, abs(average.mean[i] - Float(expected)))
        }
        #expect(largest < 1e-6, "running mean against the mean of the three snapshots: \(largest)")
        #expect(average.mean != snapshots[2], "the mean is not the last iterate")

        // Checkpoint after iteration 3 (one snapshot in the mean), resume, three more iterations.
        let first = MetaTrainer(configuration: configuration, sampler: sampler, initial: initial)
        for _ in 0..<3 { first.step() }
        let file = try SafeTensors(bytes: first.checkpoint().serialized(), source: "average-test")
        let weights = MetaParameters<Float>(try ControllerCheckpoint(file).weights)
        let state = try #require(try MetaTrainer.trainingState(in: file, parameterCount: weights.count))
        #expect(state.average?.count == 1)
        let resumed = MetaTrainer(configuration: configuration, sampler: sampler, initial: weights, state: state)
        for _ in 0..<3 { resumed.step() }
        #expect(resumed.state == straight.state, "the mean after resume equals the uninterrupted run's")

        // Moving the start past the mean's first snapshot restarts it.
        var later = configuration
        later.averageFrom = 4
        let restarted = MetaTrainer(configuration: later, sampler: sampler, initial: weights, state: state)
        for _ in 0..<3 { restarted.step() }
        #expect(restarted.state.average?.first == 4 && restarted.state.average?.count == 2)

        // Without averageEvery a resumed run carries the mean over unchanged.
        var plain = configuration
        plain.averageEvery = nil
        let carried = MetaTrainer(configuration: plain, sampler: sampler, initial: weights, state: state)
        carried.step()
        #expect(carried.state.average == state.average)

        // The shipping copy holds the mean as its weights.
        let shipped = try #require(try MetaTrainer.averagedController(in: try SafeTensors(bytes: straight.checkpoint().serialized(), source: "ship")))
        #expect(MetaParameters<Float>(shipped.weights).tensors.flatMap { $0 } == average.mean)
        #expect(shipped.metadata[MetaTrainer.Key.averaged] == "mean of 3 snapshots every 2 iterations, iterations 2–6")
        #expect(try MetaTrainer.averagedController(in: try SafeTensors(bytes: MetaTrainer(configuration: plain, sampler: sampler, initial: initial).checkpoint().serialized(), source: "none")) == nil)

        // A damaged span is an error that names the key.
        var damaged = file
        damaged.metadata[MetaTrainer.Key.averageSpan] = "2 two 2 1"
        #expect {
            try MetaTrainer.trainingState(in: damaged, parameterCount: weights.count)
        } throws: { error in
            (error as? CheckpointError)?.message.contains("engram.training.average '2 two 2 1'") == true
        }
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

/// Training settings of the tiny network: batch 2, one thread, `seed`.
func tinyTrainingConfiguration(seed: UInt64) -> MetaTrainingConfiguration {
    var configuration = MetaTrainingConfiguration()
    configuration.architecture = tinyArchitecture()
    configuration.batchSize = 2
    configuration.threads = 1
    configuration.seed = seed
    return configuration
}

func isCloseRelative(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    abs(a - b) <= tolerance * abs(b)
}

@Suite("Mixed inner-loop settings")
struct MixedBatchTests {
    /// A batch mixing two settings (ideal, and ideal with the 1/16 rounding of the update) gives each task the
    /// loss of its own setting, and, without the rate regulariser, the gradient is the batch mean of the
    /// single-setting gradients of each task.
    @Test func mixedBatchTakesEachTasksOwnSetting() {
        var a = tinyArchitecture()
        a.rateRegularization = 0
        a.innerLearningRate = 5  // updates of the order of the 1/16 rounding step, so the settings differ
        let sampler = tinySampler()
        let tasks = tinyTasks(a, count: 4, seed: 21)
        let parameters = FlatParameters(tinyParameters(a, seed: 5), architecture: a)
        // Smooth spikes, so that the rounded update changes the trial-2 output (with 8 neurons and 20 steps the
        // heaviside spike trains often come out identical).
        var ideal = MetaGradientOptions()
        ideal.spikeFunction = .sigmoid(sharpness: 4)
        var rounded = ideal
        rounded.quantizeUpdate = true

        let mixed = MetaBatchEvaluator<Double>(architecture: a, optionSets: [ideal, rounded], tasks: sampler, batchSize: 4, threads: 2)
        let mixedGradient = FlatParameters<Double>(zerosFor: a)
        let result = mixed.evaluate(parameters, tasks: tasks, noiseSeed: 1, gradient: mixedGradient)

        let expectedGradient = FlatParameters<Double>(zerosFor: a)
        var expectedLosses: [Double] = []
        var roundingMatters = false
        for (b, task) in tasks.enumerated() {
            let own = b % 2 == 0 ? ideal : rounded
            let single = MetaBatchEvaluator<Double>(architecture: a, options: own, tasks: sampler, batchSize: 1, threads: 1)
            let g = FlatParameters<Double>(zerosFor: a)
            let r = single.evaluate(parameters, tasks: [task], noiseSeed: 1, gradient: g)
            expectedLosses.append(r.taskLoss)
            expectedGradient.add(g)
            let other = MetaBatchEvaluator<Double>(architecture: a, options: b % 2 == 0 ? rounded : ideal, tasks: sampler, batchSize: 1, threads: 1)
            if abs(other.evaluate(parameters, tasks: [task], noiseSeed: 1, gradient: nil).taskLoss - r.taskLoss) > 1e-9 { roundingMatters = true }
        }
        #expect(roundingMatters, "the two settings must differ on these tasks for the test to mean anything")
        for b in 0..<4 { #expect(abs(result.taskLosses[b] - expectedLosses[b]) < 1e-12, "task \(b)") }
        #expect(result.taskLossByOptions.count == 2)
        #expect(abs(result.taskLossByOptions[0] - (expectedLosses[0] + expectedLosses[2]) / 2) < 1e-12)
        #expect(abs(result.taskLossByOptions[1] - (expectedLosses[1] + expectedLosses[3]) / 2) < 1e-12)
        var worst = 0.0, scale = 0.0
        for i in 0..<parameters.count {
            let e = expectedGradient.storage[i] / 4
            worst = max(worst, abs(mixedGradient.storage[i] - e))
            scale = max(scale, abs(e))
        }
        #expect(scale > 0)
        #expect(worst <= 1e-12 * max(1, scale), "largest gradient difference \(worst) (scale \(scale))")
    }
}
