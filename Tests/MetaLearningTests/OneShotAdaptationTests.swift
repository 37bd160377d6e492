import Adaptation
import Foundation
import Kinematics
import Testing
import EngramTestSupport
import MetaLearning
import PhaseChange
import Spiking
import Tensors
import Trajectories

/// The inner loop end to end: determinism, agreement with an independent Float64 port, the official
/// checkpoint's behaviour on fixed tasks, and the PCM path.
struct OneShotAdaptationTests {
    let family = TaskFamily<ScorbotKinematics>.paperScorbot

    func targets(_ n: Int, seed: UInt64) -> [TargetTrajectory] {
        let base = RandomSource(seed: seed)
        return (0..<n).map { i in var r = base.derived(UInt64(2 * i)); return family.sample(&r) }
    }

    /// A freshly initialised controller with the official initialisation, scaled so that it spikes.
    func randomController(seed: UInt64) -> ControllerWeights {
        var rng = RandomSource(seed: seed)
        return ControllerWeights(initializing: .paper, rng: &rng)
    }

    /// max |a − b| / max |b|.
    func relativeDifference(_ a: [Float], _ b: [Double]) -> Double {
        var worst = 0.0, scale = 0.0
        for k in b.indices { worst = max(worst, abs(Double(a[k]) - b[k])); scale = max(scale, abs(b[k])) }
        return worst / scale
    }

    @Test func idealAdaptationIsDeterministic() {
        let w = randomController(seed: 5)
        var a = OneShotAdaptation(architecture: .paper, weights: w, loss: TrajectoryLoss(family: family), quantize: false)
        let t = targets(1, seed: 9)[0]
        var r1 = RandomSource(seed: 1), r2 = RandomSource(seed: 2)
        let x = a.adapt(to: t, rng: &r1), y = a.adapt(to: t, rng: &r2)
        #expect(x.lossBefore == y.lossBefore && x.lossAfter == y.lossAfter && x.outputAfter == y.outputAfter)
    }

    @Test func float32AgreesWithFloat64PortOnRandomController() {
        let w = randomController(seed: 11)
        var a = OneShotAdaptation(architecture: .paper, weights: w, loss: TrajectoryLoss(family: family), quantize: false)
        let reference = ReferenceInnerLoop64(.paper, w)
        for t in targets(2, seed: 3) {
            var rng = RandomSource(seed: 0)
            let r = a.adapt(to: t, rng: &rng)
            let d = reference.adapt(t)
            #expect(a.secondTrial.spikes.eventCount == d.spikes, "trial-2 spike counts must agree")
            #expect(isClose(r.lossBefore.total, d.before, relative: 5e-6), "before: float32 \(r.lossBefore.total), float64 \(d.before)")
            // The output agrees to a few ppm of its scale; the loss after the update is a small residual
            // (a few per cent of the signal), so its relative difference is amplified accordingly.
            let outputDifference = relativeDifference(r.outputAfter, d.output)
            #expect(outputDifference < 5e-6, "trial-2 output: max difference \(outputDifference) of its scale")
            #expect(isClose(r.lossAfter.total, d.after, relative: 1e-4), "after: float32 \(r.lossAfter.total), float64 \(d.after)")
            #expect(r.changedInput == d.changedIn)
        }
    }

    @Test(.enabled(if: SharedData.path("reference/robot-l2l-official.safetensors") != nil, "needs ../shared/reference/robot-l2l-official.safetensors"))
    func officialCheckpointAdaptsFixedTasksAndAgreesWithFloat64() throws {
        let path = try #require(SharedData.path("reference/robot-l2l-official.safetensors"))
        let checkpoint = try ControllerCheckpoint(contentsOfFile: path)
        var ideal = OneShotAdaptation(architecture: checkpoint.architecture, weights: checkpoint.weights, loss: TrajectoryLoss(family: family), quantize: false)
        var rounded = OneShotAdaptation(architecture: checkpoint.architecture, weights: checkpoint.weights, loss: TrajectoryLoss(family: family), quantize: true)
        let reference = ReferenceInnerLoop64(checkpoint.architecture, checkpoint.weights)
        var before = 0.0, after = 0.0, afterRounded = 0.0, changedRounded = 0.0, rate = 0.0
        let tasks = targets(12, seed: 2024)
        for (i, t) in tasks.enumerated() {
            var rng = RandomSource(seed: 0)
            let r = ideal.adapt(to: t, rng: &rng)
            let q = rounded.adapt(to: t, rng: &rng)
            before += r.lossBefore.total; after += r.lossAfter.total; afterRounded += q.lossAfter.total
            changedRounded += q.changedInput; rate += r.traineeRateHz
            if i < 2 {
                let d = reference.adapt(t)
                let outputDifference = relativeDifference(r.outputAfter, d.output)
                print("float32 vs float64, official checkpoint task \(i): output \(outputDifference) of scale; loss before \(abs(r.lossBefore.total - d.before) / d.before), after \(abs(r.lossAfter.total - d.after) / d.after) relative")
                #expect(outputDifference < 5e-6, "task \(i): trial-2 output differs by \(outputDifference) of its scale")
                #expect(isClose(r.lossBefore.total, d.before, relative: 5e-6), "task \(i): float32 \(r.lossBefore.total), float64 \(d.before)")
                #expect(isClose(r.lossAfter.total, d.after, relative: 1e-4), "task \(i): float32 \(r.lossAfter.total), float64 \(d.after)")
            }
        }
        let n = Double(tasks.count)
        // The update must help a lot on average (population: 0.32 → 0.0126 ideal, 0.0274 rounded).
        #expect(after / n < 0.2 * before / n, "ideal: \(before / n) → \(after / n)")
        #expect(afterRounded / n < 0.3 * before / n, "rounded: \(before / n) → \(afterRounded / n)")
        #expect(changedRounded / n > 0.02 && changedRounded / n < 0.10, "rounded update changes a few per cent of W_in")
        #expect(rate / n > 15 && rate / n < 25, "trainee rate about 20 Hz, got \(rate / n)")
    }

    @Test func paperPCMAdaptationProgramsOnlyChangedDevicesAndIsSeeded() {
        let w = randomController(seed: 21)
        let loss = TrajectoryLoss(family: family)
        func make() -> OneShotAdaptation<Crossbar, ScorbotKinematics> {
            OneShotAdaptation(architecture: .paper, weights: w, loss: loss, quantize: true) { Crossbar(rows: $0, columns: $1, parameters: .paper) }
        }
        var a = make(), b = make()
        let t = targets(1, seed: 4)[0]
        var r1 = RandomSource(seed: 8), r2 = RandomSource(seed: 8)
        let x = a.adapt(to: t, rng: &r1), y = b.adapt(to: t, rng: &r2)
        #expect(x.lossAfter == y.lossAfter, "same seed, same numbers")
        let changed = a.delta.storage.filter { $0 != 0 }.count
        let programmed = a.trainee.synapses.accounting.devicesProgrammed
        #expect(programmed == 255 * 250 + changed, "initial programming plus one device per changed weight")
    }

    @Test func parallelResultsDoNotDependOnTheThreadCount() {
        let w = randomController(seed: 31)
        let loss = TrajectoryLoss(family: family)
        let tasks = targets(5, seed: 77)
        func run(_ threads: Int) -> [Double] {
            ParallelJobs.run(count: tasks.count, threads: threads, makeWorker: {
                OneShotAdaptation(architecture: .paper, weights: w, loss: loss, quantize: true) { Crossbar(rows: $0, columns: $1, parameters: .paper) }
            }) { adapter, i in
                var rng = RandomSource(seed: 100 + UInt64(i))
                return adapter.adapt(to: tasks[i], rng: &rng).lossAfter.total
            }
        }
        let one = run(1), two = run(2)
        #expect(one == two)
        let summary = AdaptationSummary(one.map { l in
            AdaptationResult(lossBefore: .init(total: 1, velocity: 0, endEffector: 0, meanEndEffectorError: 0),
                             lossAfter: .init(total: l, velocity: 0, endEffector: 0, meanEndEffectorError: 0),
                             changedInput: 0, changedRecurrent: 0, traineeRateHz: 20, lsgRateHz: 10, outputBefore: [], outputAfter: [])
        })
        #expect(isClose(summary.meanLossAfter, one.reduce(0, +) / 5, relative: 1e-12))
        #expect(summary.medianLossAfter == one.sorted()[2])
    }
}

/// The inner loop of a closed-loop controller (docs/closed-loop.md): trial 1 hears the demonstration's
/// perfect execution through the proprioceptive encoder, the update covers every input row.
struct OneShotAdaptationClosedLoopTests {
    /// A small closed-loop controller on the Scorbot family (30 trainee, 40 LSG neurons, 150 steps).
    func setup(seed: UInt64 = 4) -> (ControllerArchitecture, ControllerWeights, TaskFamily<ScorbotKinematics>) {
        var family = TaskFamily<ScorbotKinematics>.paperScorbot
        family.steps = 150
        var a = ControllerArchitecture.paper
        a.traineeNeurons = 30
        a.lsgNeurons = 40
        a.lsgAdaptation = ThresholdAdaptation(count: 10)
        a.steps = 150
        a.proprioception = ProprioceptionSettings(jointRanges: family.jointLimits)
        var rng = RandomSource(seed: seed)
        return (a, ControllerWeights(initializing: a, rng: &rng), family)
    }

    @Test func trialOneHearsTheEncoderOnTheDemonstrationAngles() {
        let (a, w, family) = setup()
        var rng = RandomSource(seed: 8)
        let target = family.sample(&rng)
        var adapter = OneShotAdaptation(architecture: a, weights: w, loss: TrajectoryLoss(family: family), quantize: false)
        let start = [0.3, -0.2]
        var noise = RandomSource(seed: 0)
        _ = adapter.adapt(to: target, startAngles: start, rng: &noise)
        // Independently: a fresh encoder on q_0 + Δt·Σ_{s<t} ω*_s, zero error, rows after the 5 clock rows.
        var encoder = a.proprioception!.makeEncoder()
        let clock = a.clock.raster(steps: a.steps)
        var q = start
        var proprioceptiveSpikes = 0
        for t in 0..<a.steps {
            var expected = Array(clock[t])
            proprioceptiveSpikes += encoder.encode(angles: q, errors: [0, 0], firstRow: a.clockInputs, into: &expected)
            #expect(Array(adapter.firstTrialInputs[t]) == expected, "step \(t)")
            for k in 0..<2 { q[k] += target.stepSeconds * target.angularVelocity[t * 2 + k] }
        }
        // Two joints × two populations, ≈ 0.25 spikes per population per step.
        #expect(proprioceptiveSpikes > a.steps / 2, "the encoder should fire (\(proprioceptiveSpikes) spikes)")
        // Without start angles the loss's rest angles (the family's: 0, 0) are q_0.
        _ = adapter.adapt(to: target, rng: &noise)
        var zero = a.proprioception!.makeEncoder()
        var first: [Int32] = Array(clock[0])
        zero.encode(angles: [0, 0], errors: [0, 0], firstRow: a.clockInputs, into: &first)
        #expect(Array(adapter.firstTrialInputs[0]) == first)
    }

    @Test func updateCoversTheProprioceptiveRows() {
        let (a, w, family) = setup()
        var rng = RandomSource(seed: 21)
        let target = family.sample(&rng)
        var adapter = OneShotAdaptation(architecture: a, weights: w, loss: TrajectoryLoss(family: family), quantize: false)
        var noise = RandomSource(seed: 0)
        let result = adapter.adapt(to: target, rng: &noise)
        #expect(adapter.delta.rows == a.traineeSynapseRows && a.traineeSynapseRows == 5 + 64 + 30)
        var proprioceptiveRowsChanged = 0
        for r in a.clockInputs..<a.traineeInputs where (0..<a.traineeNeurons).contains(where: { adapter.delta[r, $0] != 0 }) {
            proprioceptiveRowsChanged += 1
        }
        #expect(proprioceptiveRowsChanged > 8, "rows that spiked in trial 1 get a change (\(proprioceptiveRowsChanged) of 64 did)")
        // changedInput counts every input row: clock and proprioception.
        #expect(result.changedInput == UpdateQuantizer.fractionChanged(adapter.delta, rows: 0..<a.traineeInputs))
        // The adapted input weights are the 69 rows plus their changes.
        let adapted = adapter.adaptedWeights()
        #expect(adapted.traineeInput.rows == a.traineeInputs)
        #expect(maxAbsDifference(adapted.traineeInput.storage, zip(w.traineeInput.storage, adapter.delta.storage).map { $0 + $1 }) < 1e-6)
        // Trial 2 hears its own motion executed perfectly: the encoder on q_0 + Δt·Σ_{s<t} ω_s.
        var encoder = a.proprioception!.makeEncoder()
        var q = [0.0, 0.0]
        for t in 0..<a.steps {
            var expected = Array(a.clock.raster(steps: a.steps)[t])
            encoder.encode(angles: q, errors: [0, 0], firstRow: a.clockInputs, into: &expected)
            #expect(Array(adapter.secondTrialInputs[t]) == expected, "step \(t)")
            for k in 0..<2 { q[k] += target.stepSeconds * Double(result.outputAfter[t * 2 + k]) }
        }
        #expect(result.lossAfter.total.isFinite && result.lossBefore.total.isFinite)
    }
}
