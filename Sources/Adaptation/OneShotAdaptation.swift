import Foundation
import Kinematics
import Spiking
import Tensors
import Trajectories

/// Device clock of one adaptation (seconds): when the trainee is first programmed, when trial 1 is
/// read, when the update is programmed and when trial 2 is read. The paper's PCM mode ignores times
/// (its drift is fixed at t/t0 = 32); the physical mode drifts in these seconds.
public struct AdaptationTiming: Sendable, Equatable {
    /// Time of the first programming.
    public var initialProgramming: Double = 0
    /// Read time of trial 1.
    public var firstTrial: Double = 32
    /// Time the update is programmed.
    public var update: Double = 33
    /// Read time of trial 2.
    public var secondTrial: Double = 65
    /// The default timing.
    public init() {}
}

/// What one one-shot adaptation did.
public struct AdaptationResult: Sendable {
    /// Loss of trial 1 (before the update).
    public var lossBefore: TrajectoryLossValue
    /// Loss of trial 2 (after the update).
    public var lossAfter: TrajectoryLossValue
    /// Fraction of W_in entries the update changed.
    public var changedInput: Double
    /// Fraction of W_rec entries (off-diagonal) the update changed.
    public var changedRecurrent: Double
    /// Mean trainee firing rate over both trials (Hz).
    public var traineeRateHz: Double
    /// Mean LSG firing rate (Hz).
    public var lsgRateHz: Double
    /// Trainee output of trial 1, steps × joints (rad/s).
    public var outputBefore: [Float]
    /// Trainee output of trial 2, steps × joints (rad/s).
    public var outputAfter: [Float]

    /// A result from its parts.
    public init(lossBefore: TrajectoryLossValue, lossAfter: TrajectoryLossValue, changedInput: Double, changedRecurrent: Double,
                traineeRateHz: Double, lsgRateHz: Double, outputBefore: [Float], outputAfter: [Float]) {
        self.lossBefore = lossBefore
        self.lossAfter = lossAfter
        self.changedInput = changedInput
        self.changedRecurrent = changedRecurrent
        self.traineeRateHz = traineeRateHz
        self.lsgRateHz = lsgRateHz
        self.outputBefore = outputBefore
        self.outputAfter = outputAfter
    }
}

/// The paper's inner loop (paper-model.md §2.4), one task at a time, on preallocated buffers:
/// program the meta-learned trainee weights, run trial 1 recording ψ_t and the spikes, run the LSG on
/// (clock, target code), compute ΔW_in and ΔW_rec by natural e-prop, optionally round to 1/16, write
/// the change (a PCM crossbar re-programs only the changed devices), run trial 2 and score both trials.
///
/// `Weights` is `DenseSynapses` for the ideal model or a PhaseChange `Crossbar` for PCM; the LSG always
/// runs digitally on dense weights.
///
/// Closed-loop controllers (`architecture.proprioception` set; docs/closed-loop.md): the trainee's input
/// rows are the clock rows, then the `ProprioceptiveEncoder` rows. There is no arm here, so both trials
/// run on a perfectly tracking arm:
/// - trial 1 hears the demonstration executed perfectly: per step t the encoder (fresh, reset at the
///   trial's start, its phases advancing once per step) codes q_m(t) = c(t) = q_0 + Δt·Σ_{s<t} ω*_s from
///   the target's velocities and the start angles q_0, and e(t) = 0 (`firstTrialInputs`);
/// - the e-prop update covers every input row, clock and proprioceptive alike; `changedInput` counts
///   them all;
/// - trial 2 hears the network's own motion executed perfectly: q_m(t) = c(t) = q_0 + Δt·Σ_{s<t} ω_s with
///   ω its own outputs, e(t) = 0 (`secondTrialInputs`). Trial 2 with a real or simulated arm is the
///   deployment (`SpikingPolicy`).
/// Open-loop controllers run exactly the paper's loop (the clock alone, bit-identical results).
public struct OneShotAdaptation<Weights: Synapses, Kinematics: ForwardKinematics>: Sendable {
    /// The architecture.
    public let architecture: ControllerArchitecture
    /// The meta-learned weights the trainee starts from.
    public let weights: ControllerWeights
    /// The loss (and with it the arm's kinematics).
    public let loss: TrajectoryLoss<Kinematics>
    /// Whether the update is rounded to 1/16 before it is written.
    public var quantize: Bool
    /// Device times.
    public var timing: AdaptationTiming

    /// The trainee (its synapses hold the adapted weights after `adapt`).
    public private(set) var trainee: RecurrentSpikingNetwork<Weights>
    /// The learning-signal generator.
    public private(set) var lsg: RecurrentSpikingNetwork<DenseSynapses>
    private var eprop: NaturalEProp
    private let stacked: Matrix
    private let clock: SpikeRaster
    private var lsgInputs: SpikeRaster
    private var scratch: [Int32] = []
    /// The proprioceptive encoder of a closed-loop controller (nil open-loop).
    private var encoder: ProprioceptiveEncoder?
    private var encoderAngles: [Double] = []
    private var encoderErrors: [Double] = []
    /// The trainee's inputs in trial 1: the clock, and for a closed-loop controller the proprioceptive
    /// rows of the demonstration's perfect execution (rows `clockInputs...`).
    public private(set) var firstTrialInputs: SpikeRaster
    /// The trainee's inputs in trial 2 (the clock; closed-loop, also the proprioceptive rows of its own
    /// motion executed perfectly).
    public private(set) var secondTrialInputs: SpikeRaster
    /// The trial-1 record (spikes, ψ, output) of the last adaptation.
    public private(set) var firstTrial = TrialRecord()
    /// The trial-2 record of the last adaptation.
    public private(set) var secondTrial = TrialRecord()
    /// The LSG record (learning signals as outputs) of the last adaptation.
    public private(set) var learningSignals = TrialRecord()
    /// The weight change [ΔW_in; ΔW_rec] of the last adaptation (after rounding, if any).
    public private(set) var delta: Matrix

    /// An inner loop for `weights`, whose trainee synapses are made by `makeSynapses(rows, columns)`.
    public init(architecture: ControllerArchitecture, weights: ControllerWeights, loss: TrajectoryLoss<Kinematics>,
                quantize: Bool, timing: AdaptationTiming = AdaptationTiming(),
                makeSynapses: (_ rows: Int, _ columns: Int) -> Weights) {
        let a = architecture
        precondition(weights.shapeMismatch(for: a) == nil, "weights do not match the architecture")
        precondition(loss.drivenJoints.count == a.outputs, "the loss drives \(loss.drivenJoints.count) joints, the trainee has \(a.outputs) outputs")
        self.architecture = a
        self.weights = weights
        self.loss = loss
        self.quantize = quantize
        self.timing = timing
        stacked = weights.traineeStacked
        let traineeLayer = LIFLayer(count: a.traineeNeurons, parameters: a.trainee)
        trainee = RecurrentSpikingNetwork(inputCount: a.traineeInputs, layer: traineeLayer, outputCount: a.outputs,
                                          synapses: makeSynapses(a.traineeSynapseRows, a.traineeNeurons),
                                          readout: makeSynapses(a.traineeNeurons, a.outputs))
        let lsgLayer = LIFLayer(count: a.lsgNeurons, parameters: a.lsg, adaptation: a.lsgAdaptation)
        lsg = RecurrentSpikingNetwork(inputCount: a.lsgInputs, layer: lsgLayer, outputCount: a.traineeNeurons,
                                      synapses: DenseSynapses(weights.lsgStacked), readout: DenseSynapses(weights.lsgReadout))
        eprop = NaturalEProp(inputs: a.traineeInputs, neurons: a.traineeNeurons, alpha: a.trainee.alpha, learningRate: a.innerLearningRate)
        clock = a.clock.raster(steps: a.steps)
        firstTrialInputs = clock
        secondTrialInputs = clock
        if let p = a.proprioception {
            precondition(p.jointRanges.count == a.outputs, "proprioception codes \(p.jointRanges.count) joints, the trainee drives \(a.outputs)")
            encoder = p.makeEncoder()
            encoderAngles = [Double](repeating: 0, count: a.outputs)
            encoderErrors = [Double](repeating: 0, count: a.outputs)
            firstTrialInputs = SpikeRaster(reservingSteps: a.steps, events: a.steps * (1 + p.rowCount))
            secondTrialInputs = firstTrialInputs
            scratch.reserveCapacity(max(a.lsgInputs, a.traineeInputs))
        }
        lsgInputs = SpikeRaster(reservingSteps: a.steps, events: a.steps * (a.clockInputs + a.coordinates * a.codeBits))
        delta = Matrix(rows: a.traineeSynapseRows, columns: a.traineeNeurons)
        scratch.reserveCapacity(a.lsgInputs)
    }

    /// The LSG's input for a target: the clock plus the binary code of the end-effector path (a whole-arm
    /// controller: of every joint's angle, `JointTargetSettings`).
    public mutating func encodeLearningSignalInput(_ target: TargetTrajectory) {
        let code = TargetCode(bits: architecture.codeBits)
        let clockNeurons = architecture.clockInputs
        lsgInputs.removeAll()
        for t in 0..<architecture.steps {
            scratch.removeAll(keepingCapacity: true)
            for i in clock[t] { scratch.append(i) }
            let row = min(t, target.steps - 1)
            if let joints = architecture.jointTarget {
                // A whole-arm controller: the code of every joint's angle over its range.
                for k in 0..<joints.joints {
                    let value = joints.channels(target.angles[row * target.joints + k], joint: k, bits: architecture.codeBits)
                    for bit in 0..<architecture.codeBits where (value >> UInt64(bit)) & 1 == 1 {
                        scratch.append(Int32(clockNeurons + k * architecture.codeBits + bit))
                    }
                }
            } else {
                let p = target.endEffector[row]
                for c in 0..<min(architecture.coordinates, 3) {
                    code.appendActiveChannels(p[c], offset: clockNeurons + c * architecture.codeBits, to: &scratch)
                }
            }
            lsgInputs.append(scratch)
        }
    }

    /// The start angles of the driven joints (output order) when `adapt` is not given them: the loss's
    /// rest angles at the driven joints (`RunSession` sets those to the run's start pose).
    public var defaultStartAngles: [Double] { loss.drivenJoints.map { loss.restAngles[$0] } }

    /// Appends to `active` the clock's step `t` and, when there is an encoder, its spikes for the driven
    /// joints' angles `angles` with errors `errors` (rows after the clock's).
    private static func appendInputs(clock: SpikeRaster, step t: Int, encoder: inout ProprioceptiveEncoder?, firstRow: Int,
                                     angles: [Double], errors: [Double], into active: inout [Int32]) {
        clock.withStep(t) { active.append(contentsOf: $0) }
        guard encoder != nil else { return }
        encoder!.encode(angles: angles, errors: errors, firstRow: firstRow, into: &active)
    }

    /// Trial 1's inputs of a closed-loop controller: the clock and the encoder on the demonstration's
    /// angles before each step, q_0 + Δt·Σ_{s<t} ω*_s, with zero error.
    private mutating func encodeFirstTrialInputs(_ target: TargetTrajectory, startAngles: [Double]) {
        let j = architecture.outputs
        encoder!.reset()
        for k in 0..<j { encoderAngles[k] = startAngles[k]; encoderErrors[k] = 0 }
        firstTrialInputs.removeAll()
        for t in 0..<architecture.steps {
            scratch.removeAll(keepingCapacity: true)
            Self.appendInputs(clock: clock, step: t, encoder: &encoder, firstRow: architecture.clockInputs,
                              angles: encoderAngles, errors: encoderErrors, into: &scratch)
            firstTrialInputs.append(scratch)
            for k in 0..<j { encoderAngles[k] += target.stepSeconds * target.angularVelocity[t * j + k] }
        }
    }

    /// Trial 2 of a closed-loop controller, step by step: the encoder hears the trainee's own integrated
    /// output, q_m(t) = c(t) = q_0 + Δt·Σ_{s<t} ω_s, e = 0. Records like `RecurrentSpikingNetwork.run`.
    private mutating func runClosedLoopSecondTrial(startAngles: [Double], stepSeconds: Double, at time: Double, rng: inout RandomSource) {
        let a = architecture
        let j = a.outputs
        encoder!.reset()
        for k in 0..<j { encoderAngles[k] = startAngles[k]; encoderErrors[k] = 0 }
        trainee.reset()
        secondTrialInputs.removeAll()
        var record = TrialRecord()
        swap(&record, &secondTrial)
        defer { swap(&record, &secondTrial) }
        record.steps = a.steps
        record.spikes.removeAll()
        if record.outputs.count != a.steps * j { record.outputs = [Float](repeating: 0, count: a.steps * j) }
        record.pseudoDerivatives.removeAll(keepingCapacity: true)
        record.voltages.removeAll(keepingCapacity: true)
        var active: [Int32] = []
        swap(&active, &scratch)
        defer { swap(&active, &scratch) }
        for t in 0..<a.steps {
            active.removeAll(keepingCapacity: true)
            Self.appendInputs(clock: clock, step: t, encoder: &encoder, firstRow: a.clockInputs,
                              angles: encoderAngles, errors: encoderErrors, into: &active)
            secondTrialInputs.append(active)
            active.withUnsafeBufferPointer { trainee.step(activeInputs: $0, at: time, rng: &rng) }
            let state = trainee.state
            state.spikeIndices.withUnsafeBufferPointer { s in
                record.spikes.append(UnsafeBufferPointer(rebasing: s[0..<state.spikeCount]))
            }
            for k in 0..<j {
                let omega = trainee.output[k]
                record.outputs[t * j + k] = omega
                encoderAngles[k] += stepSeconds * Double(omega)
            }
        }
    }

    /// Runs the inner loop on `target` (which must have `architecture.steps` steps); `rng` drives PCM noise.
    /// `startAngles` (driven joints, output order, rad) is q_0 of a closed-loop controller's proprioceptive
    /// inputs — the pose the demonstration and the run start from; nil takes `defaultStartAngles`. An
    /// open-loop controller ignores it.
    public mutating func adapt(to target: TargetTrajectory, startAngles: [Double]? = nil, rng: inout RandomSource) -> AdaptationResult {
        precondition(target.steps == architecture.steps, "target has \(target.steps) steps, the controller runs \(architecture.steps)")
        let a = architecture
        let start = startAngles ?? defaultStartAngles
        precondition(start.count == a.outputs, "give one start angle per driven joint (\(a.outputs))")
        // 1. Program the meta-learned trainee weights.
        trainee.program(synapses: stacked, readout: weights.traineeReadout, at: timing.initialProgramming, rng: &rng)
        // 2. Trial 1 with ψ_t (closed loop: on the demonstration's perfect execution).
        if encoder != nil { encodeFirstTrialInputs(target, startAngles: start) }
        trainee.run(firstTrialInputs, into: &firstTrial, at: timing.firstTrial, rng: &rng, recordPseudoDerivatives: true)
        // 3. The LSG on (clock, target code).
        encodeLearningSignalInput(target)
        lsg.run(lsgInputs, into: &learningSignals, at: 0, rng: &rng)
        // 4. ΔW by natural e-prop; 5. optional rounding to 1/16.
        eprop.weightChange(inputs: firstTrialInputs, spikes: firstTrial.spikes, pseudoDerivatives: firstTrial.pseudoDerivatives,
                           learningSignals: learningSignals.outputs, into: &delta)
        if quantize { UpdateQuantizer.quantize(&delta) }
        let changedInput = UpdateQuantizer.fractionChanged(delta, rows: 0..<a.traineeInputs)
        let changedRecurrent = UpdateQuantizer.fractionChanged(delta, rows: a.traineeInputs..<a.traineeSynapseRows, diagonalOffset: a.traineeInputs)
        // 6. Write the change (only non-zero entries are programmed).
        trainee.applyUpdate(delta, at: timing.update, rng: &rng)
        // 7. Trial 2 from the zero state (closed loop: on its own motion executed perfectly).
        if encoder != nil {
            runClosedLoopSecondTrial(startAngles: start, stepSeconds: target.stepSeconds, at: timing.secondTrial, rng: &rng)
        } else {
            trainee.run(clock, into: &secondTrial, at: timing.secondTrial, rng: &rng)
        }
        let before = loss.evaluate(output: firstTrial.outputs, target: target)
        let after = loss.evaluate(output: secondTrial.outputs, target: target)
        let traineeRate = Double(firstTrial.spikes.eventCount + secondTrial.spikes.eventCount)
            / Double(2 * a.steps * a.traineeNeurons) * 1000
        return AdaptationResult(lossBefore: before, lossAfter: after, changedInput: changedInput, changedRecurrent: changedRecurrent,
                                traineeRateHz: traineeRate, lsgRateHz: learningSignals.meanRateHz(neurons: a.lsgNeurons),
                                outputBefore: firstTrial.outputs, outputAfter: secondTrial.outputs)
    }

    /// The controller with the trainee's adapted input and recurrent weights as currently represented
    /// (read at the trial-2 time, without read noise); the recurrent diagonal keeps its original values.
    public func adaptedWeights() -> ControllerWeights {
        let w = trainee.synapses.weights(at: timing.secondTrial)
        var (input, recurrent) = ControllerWeights.split(w, inputs: architecture.traineeInputs)
        for j in 0..<architecture.traineeNeurons { recurrent[j, j] = weights.traineeRecurrent[j, j] }
        var out = weights
        out.traineeInput = input
        out.traineeRecurrent = recurrent
        out.traineeReadout = trainee.readout.weights(at: timing.secondTrial)
        return out
    }
}

extension OneShotAdaptation where Weights == DenseSynapses {
    /// The ideal inner loop: float weights, no device noise (deterministic for a given target).
    public init(architecture: ControllerArchitecture, weights: ControllerWeights, loss: TrajectoryLoss<Kinematics>, quantize: Bool) {
        self.init(architecture: architecture, weights: weights, loss: loss, quantize: quantize) { DenseSynapses(rows: $0, columns: $1) }
    }
}

/// Population statistics of many adaptations (means over tasks; rates with their spread).
public struct AdaptationSummary: Sendable, Equatable {
    /// Number of tasks.
    public var tasks: Int
    /// Mean loss before the update.
    public var meanLossBefore: Double
    /// Mean loss after the update.
    public var meanLossAfter: Double
    /// Standard error of the mean of the loss after the update.
    public var standardErrorLossAfter: Double
    /// Median loss after the update.
    public var medianLossAfter: Double
    /// Mean velocity MSE after the update.
    public var meanVelocityAfter: Double
    /// Mean end-effector MSE after the update.
    public var meanEndEffectorAfter: Double
    /// Mean Euclidean end-effector error after the update (m).
    public var meanEndEffectorErrorAfter: Double
    /// Mean fraction of W_in changed.
    public var meanChangedInput: Double
    /// Mean fraction of W_rec changed.
    public var meanChangedRecurrent: Double
    /// Mean and standard deviation over tasks of the trainee rate (Hz).
    public var traineeRateHz: (mean: Double, std: Double)
    /// Mean and standard deviation over tasks of the LSG rate (Hz).
    public var lsgRateHz: (mean: Double, std: Double)

    public static func == (a: Self, b: Self) -> Bool {
        a.tasks == b.tasks && a.meanLossBefore == b.meanLossBefore && a.meanLossAfter == b.meanLossAfter
            && a.meanChangedInput == b.meanChangedInput && a.meanChangedRecurrent == b.meanChangedRecurrent
            && a.traineeRateHz == b.traineeRateHz && a.lsgRateHz == b.lsgRateHz
    }

    /// Summarises `results`.
    public init(_ results: [AdaptationResult]) {
        let n = Double(max(results.count, 1))
        func mean(_ f: (AdaptationResult) -> Double) -> Double { results.reduce(0) { $0 + f($1) } / n }
        func std(_ f: (AdaptationResult) -> Double) -> Double {
            let m = mean(f)
            return results.count > 1 ? (results.reduce(0) { $0 + (f($1) - m) * (f($1) - m) } / (n - 1)).squareRoot() : 0
        }
        tasks = results.count
        meanLossBefore = mean { $0.lossBefore.total }
        meanLossAfter = mean { $0.lossAfter.total }
        standardErrorLossAfter = std { $0.lossAfter.total } / n.squareRoot()
        let sorted = results.map { $0.lossAfter.total }.sorted()
        medianLossAfter = sorted.isEmpty ? 0 : (sorted.count % 2 == 1 ? sorted[sorted.count / 2] : 0.5 * (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]))
        meanVelocityAfter = mean { $0.lossAfter.velocity }
        meanEndEffectorAfter = mean { $0.lossAfter.endEffector }
        meanEndEffectorErrorAfter = mean { $0.lossAfter.meanEndEffectorError }
        meanChangedInput = mean { $0.changedInput }
        meanChangedRecurrent = mean { $0.changedRecurrent }
        traineeRateHz = (mean { $0.traineeRateHz }, std { $0.traineeRateHz })
        lsgRateHz = (mean { $0.lsgRateHz }, std { $0.lsgRateHz })
    }
}

/// Runs independent jobs on several threads, each thread with its own worker state, and returns the
/// results in job order (so the output does not depend on the thread count or scheduling).
public enum ParallelJobs {
    private final class Slots<R>: @unchecked Sendable {
        var values: [R?]
        var done = 0
        let lock = NSLock()
        init(_ n: Int) { values = [R?](repeating: nil, count: n) }
        func set(_ i: Int, _ v: R) -> Int { lock.lock(); values[i] = v; done += 1; let d = done; lock.unlock(); return d }
    }

    /// Runs `body(&worker, job)` for every job in `0..<count` on `threads` threads; each thread makes
    /// its worker with `makeWorker` and takes jobs i ≡ thread (mod threads). `progress` gets the number of
    /// finished jobs after each one.
    public static func run<Worker, R>(count: Int, threads: Int, progress: (@Sendable (Int) -> Void)? = nil, makeWorker: @Sendable () -> Worker,
                                      _ body: @Sendable (inout Worker, Int) -> R) -> [R] {
        let threads = max(1, min(threads, count))
        let slots = Slots<R>(count)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var worker = makeWorker()
            var job = thread
            while job < count {
                let done = slots.set(job, body(&worker, job))
                progress?(done)
                job += threads
            }
        }
        return slots.values.map { $0! }
    }
}
