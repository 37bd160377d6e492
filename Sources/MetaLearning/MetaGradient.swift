import Adaptation
import Foundation
import Kinematics
import PhaseChange
import Spiking
import Tensors

/// The recorded forward pass of one task's inner loop (trial 1 with eligibility, LSG, e-prop update,
/// trial 2, loss), kept for the backward pass. Allocated once per batch slot and reused every
/// iteration; nothing in it is allocated per step.
///
/// Time runs t = 0..<T; all states are zero before t = 0. Row-major [t, neuron] layouts.
final class MetaTaskTape<S: MetaScalar>: @unchecked Sendable {
    let n: Int, nl: Int, t: Int, k: Int, m: Int, u: Int

    // Trainee trials (index 0 = trial 1, 1 = trial 2).
    let v: [ScratchBuffer<S>]
    let z: [ScratchBuffer<S>]
    let active: [ScratchBuffer<S>]          // 1 where not refractory (r_{t-1} ≤ 0.1)
    let spikes: [ScratchBuffer<Int32>]       // per step: indices with z ≠ 0
    let spikeCounts: [ScratchBuffer<Int32>]
    let output: ScratchBuffer<S>             // trial-2 readout y [t, k]
    let outputGradient: ScratchBuffer<S>     // ∂(task loss)/∂y [t, k]

    // LSG.
    let lsgV: ScratchBuffer<S>
    let lsgZ: ScratchBuffer<S>
    let lsgActive: ScratchBuffer<S>
    let lsgThresholds: ScratchBuffer<S>      // A_t per neuron (= thr for LIF)
    let lsgSpikes: ScratchBuffer<Int32>
    let lsgSpikeCounts: ScratchBuffer<Int32>
    let lsgInputs: ScratchBuffer<Int32>      // per step: active LSG input rows (clock + code)
    let lsgInputCounts: ScratchBuffer<Int32>
    let learningSignals: ScratchBuffer<S>    // L [t, n]
    let filteredSignals: ScratchBuffer<S>    // H [t+1, n], H_t = L_t ψ_t + α H_{t+1}

    // Per-task weights (PCM mode for trial 1; always for trial 2), with gradient factors.
    let w0In: ScratchBuffer<S>, w0Rec: ScratchBuffer<S>, w0Out: ScratchBuffer<S>
    let gain0In: ScratchBuffer<S>, gain0Rec: ScratchBuffer<S>, gain0Out: ScratchBuffer<S>
    let w1In: ScratchBuffer<S>, w1Rec: ScratchBuffer<S>
    let gain1In: ScratchBuffer<S>, gain1Rec: ScratchBuffer<S>

    // Physical PCM crossbars of this task ([W_in; W_rec] and W_out), when that model is in the loop.
    var synapses: Crossbar? = nil
    var readout: Crossbar? = nil

    // Trainee input rows per step and trial (clock, then proprioception): [t, m] with counts.
    let inputs: [ScratchBuffer<Int32>]
    let inputCounts: [ScratchBuffer<Int32>]

    // Closed loop (architecture with proprioception): the arm of trial 2 and the trial's record.
    var encoder: ProprioceptiveEncoder?
    var velocityScored: [Bool]                // per tick of trial 2: the arm's velocity is the controller's doing
    var positionWeights: [Double]             // per tick of trial 2: factor on the position term (after a disturbance)
    let goalShifts: ScratchBuffer<Double>    // [t, k] push offset the servo adds to goal c(t+1) over tick t
    var plant: (any ClosedLoopPlant)? = nil
    let measured: ScratchBuffer<Double>      // [t + 1, k] measured angles of the driven joints at the start of tick t
    let commands: ScratchBuffer<Double>      // [t + 1, k] integrated command c(t)
    var plantAngles: [Double], plantGoals: [Double], plantErrors: [Double]
    var encoded: [Int32]

    // Scratch for the forward pass.
    let refractory: ScratchBuffer<S>
    let adaptation: ScratchBuffer<S>
    let angles: ScratchBuffer<Double>

    // Results.
    var loss = 0.0, velocityError = 0.0, positionError = 0.0
    var changedInput = 0, changedRecurrent = 0
    let traineeSpikeTotals: ScratchBuffer<S>  // per neuron, both trials
    let lsgSpikeTotals: ScratchBuffer<S>

    init(architecture a: MetaArchitecture) {
        n = a.traineeNeurons; nl = a.lsgNeurons; t = a.steps; k = a.outputs; m = a.traineeInputs; u = a.lsgInputs
        inputs = (0..<2).map { _ in ScratchBuffer(count: a.steps * a.traineeInputs, zero: 0) }
        inputCounts = (0..<2).map { _ in ScratchBuffer(count: a.steps, zero: 0) }
        encoder = a.proprioception?.makeEncoder()
        let closed = a.proprioception != nil
        measured = ScratchBuffer(count: closed ? (a.steps + 1) * a.outputs : 0, zero: 0)
        commands = ScratchBuffer(count: closed ? (a.steps + 1) * a.outputs : 0, zero: 0)
        plantAngles = [Double](repeating: 0, count: a.outputs)
        plantGoals = [Double](repeating: 0, count: a.outputs)
        plantErrors = [Double](repeating: 0, count: a.outputs)
        velocityScored = [Bool](repeating: true, count: a.steps)
        positionWeights = [Double](repeating: 1, count: a.steps)
        goalShifts = ScratchBuffer(count: closed ? a.steps * a.outputs : 0, zero: 0)
        encoded = []
        encoded.reserveCapacity(a.proprioception?.rowCount ?? 0)
        v = (0..<2).map { _ in ScratchBuffer(count: a.steps * a.traineeNeurons, zero: 0) }
        z = (0..<2).map { _ in ScratchBuffer(count: a.steps * a.traineeNeurons, zero: 0) }
        active = (0..<2).map { _ in ScratchBuffer(count: a.steps * a.traineeNeurons, zero: 0) }
        spikes = (0..<2).map { _ in ScratchBuffer(count: a.steps * a.traineeNeurons, zero: 0) }
        spikeCounts = (0..<2).map { _ in ScratchBuffer(count: a.steps, zero: 0) }
        output = ScratchBuffer(count: a.steps * a.outputs, zero: 0)
        outputGradient = ScratchBuffer(count: a.steps * a.outputs, zero: 0)
        lsgV = ScratchBuffer(count: a.steps * nl, zero: 0)
        lsgZ = ScratchBuffer(count: a.steps * nl, zero: 0)
        lsgActive = ScratchBuffer(count: a.steps * nl, zero: 0)
        lsgThresholds = ScratchBuffer(count: a.steps * nl, zero: 0)
        lsgSpikes = ScratchBuffer(count: a.steps * nl, zero: 0)
        lsgSpikeCounts = ScratchBuffer(count: a.steps, zero: 0)
        lsgInputs = ScratchBuffer(count: a.steps * u, zero: 0)
        lsgInputCounts = ScratchBuffer(count: a.steps, zero: 0)
        learningSignals = ScratchBuffer(count: a.steps * n, zero: 0)
        filteredSignals = ScratchBuffer(count: (a.steps + 1) * n, zero: 0)
        w0In = ScratchBuffer(count: m * n, zero: 0); w0Rec = ScratchBuffer(count: n * n, zero: 0)
        w0Out = ScratchBuffer(count: n * k, zero: 0)
        gain0In = ScratchBuffer(count: m * n, zero: 1); gain0Rec = ScratchBuffer(count: n * n, zero: 1)
        gain0Out = ScratchBuffer(count: n * k, zero: 1)
        w1In = ScratchBuffer(count: m * n, zero: 0); w1Rec = ScratchBuffer(count: n * n, zero: 0)
        gain1In = ScratchBuffer(count: m * n, zero: 1); gain1Rec = ScratchBuffer(count: n * n, zero: 1)
        refractory = ScratchBuffer(count: max(n, nl), zero: 0)
        adaptation = ScratchBuffer(count: nl, zero: 0)
        angles = ScratchBuffer(count: 16, zero: 0)
        traineeSpikeTotals = ScratchBuffer(count: n, zero: 0)
        lsgSpikeTotals = ScratchBuffer(count: nl, zero: 0)
    }
}

/// Per-thread scratch of the backward pass and the thread's gradient accumulator.
final class MetaGradientWorker<S: MetaScalar>: @unchecked Sendable {
    let gradient: FlatParameters<S>
    let gW1In: ScratchBuffer<S>, gW1Rec: ScratchBuffer<S>
    let gW0In: ScratchBuffer<S>, gW0Rec: ScratchBuffer<S>, gWOut: ScratchBuffer<S>
    /// Tasks whose LSG backward passes run in lockstep (weight rows reused across them).
    let blockSize: Int
    let gLearningSignals: ScratchBuffer<S>   // [slot, t, n]
    let lsgGV: ScratchBuffer<S>              // [slot, 2, nl]: ∂/∂v at t (parity t) and t+1
    let lsgGB: ScratchBuffer<S>              // [slot, 2, nl]: ∂/∂b likewise
    let lsgGL: ScratchBuffer<S>              // [slot, n]: ∂/∂L_t accumulated through the readout leak
    let lsgPsi: ScratchBuffer<S>             // [slot, nl]: ψ of the LSG at the current step
    let lsgDots: ScratchBuffer<S>            // [slot]: W_out[j,:]·∂L + W_rec[j,:]·∂v_{t+1}
    let gExternalV: ScratchBuffer<S>         // [t, n] ∂/∂v from ψ inside ΔW
    let gExternalZ: ScratchBuffer<S>         // [t, n] ∂/∂z from the recurrent trace inside ΔW
    let gv: ScratchBuffer<S>, gvNext: ScratchBuffer<S>
    let gb: ScratchBuffer<S>, gbNext: ScratchBuffer<S>
    let gOut: ScratchBuffer<S>
    let gAccumulator: ScratchBuffer<S>
    let activeNeurons: ScratchBuffer<Int32>  // trainee neurons with ψ ≠ 0 at the current step
    let activePsi: ScratchBuffer<S>
    let activeDots: ScratchBuffer<S>

    init(architecture a: MetaArchitecture, blockSize: Int = 8) {
        let n = a.traineeNeurons, nl = a.lsgNeurons, m = a.traineeInputs
        self.blockSize = blockSize
        lsgGV = ScratchBuffer(count: blockSize * 2 * nl, zero: 0)
        lsgGB = ScratchBuffer(count: blockSize * 2 * nl, zero: 0)
        lsgGL = ScratchBuffer(count: blockSize * n, zero: 0)
        lsgPsi = ScratchBuffer(count: blockSize * nl, zero: 0)
        lsgDots = ScratchBuffer(count: blockSize, zero: 0)
        gradient = FlatParameters(zerosFor: a)
        gW1In = ScratchBuffer(count: m * n, zero: 0); gW1Rec = ScratchBuffer(count: n * n, zero: 0)
        gW0In = ScratchBuffer(count: m * n, zero: 0); gW0Rec = ScratchBuffer(count: n * n, zero: 0)
        gWOut = ScratchBuffer(count: n * a.outputs, zero: 0)
        gLearningSignals = ScratchBuffer(count: blockSize * a.steps * n, zero: 0)
        gExternalV = ScratchBuffer(count: a.steps * n, zero: 0)
        gExternalZ = ScratchBuffer(count: a.steps * n, zero: 0)
        gv = ScratchBuffer(count: max(n, nl), zero: 0); gvNext = ScratchBuffer(count: max(n, nl), zero: 0)
        gb = ScratchBuffer(count: nl, zero: 0); gbNext = ScratchBuffer(count: nl, zero: 0)
        gOut = ScratchBuffer(count: max(n, a.outputs), zero: 0)
        gAccumulator = ScratchBuffer(count: n, zero: 0)
        activeNeurons = ScratchBuffer(count: n, zero: 0)
        activePsi = ScratchBuffer(count: n, zero: 0)
        activeDots = ScratchBuffer(count: n, zero: 0)
    }
}

/// The differentiable inner loop of ../shared/design/paper-model.md §2.4–2.5 with its own tape: forward
/// (trial 1 with eligibility traces and ψ, LSG on clock + target code, ΔW = −η Σ_t L ψ ē for W_in and
/// W_rec, optional 1/16 rounding, optional PCM noise, trial 2, loss) and the exact backward pass by BPTT
/// through all of it with respect to the six meta-learned tensors.
///
/// Sparsity: spikes are 0/1, so forward synaptic input sums the rows of the neurons that spiked, ΔW is a
/// sum of sparse outer products (ΔW_rec = −η Σ_s z_s H_{s+1}ᵀ with H the α-filtered L ψ run backwards
/// in time), and weight gradients add gradient rows only for presynaptic spikes. In the backward pass
/// ∂/∂z is only formed for neurons whose pseudo-derivative is non-zero.
struct MetaGradientEngine<S: MetaScalar>: Sendable {
    let architecture: MetaArchitecture
    let options: MetaGradientOptions
    let kinematics: any ForwardKinematics
    /// Joint index in `kinematics` of each trainee output.
    let drivenJoints: [Int]
    /// All joint angles before the first step (the integration start).
    let restAngles: [Double]
    let alpha: S, kappa: S, rho: S
    let traineeThreshold: S, lsgThreshold: S, beta: S, gamma: S, eta: S
    let inverseTraineeThreshold: S, inverseLSGThreshold: S
    /// The sigmoid's sharpness, nil for the heaviside.
    let sharpness: Double?
    /// Clock spikes per step: bit k set when clock neuron k spikes.
    let clockMask: [UInt32]
    /// The LSG's binary target code (low bits of int((c+1)·2^(bits−1)), paper-model.md §2.2).
    let targetCode: TargetCode
    /// Device model and clock of `MetaPCMMode.physical`.
    var physicalParameters: PCMParameters { options.physicalModel }
    let timing = AdaptationTiming()

    init(architecture a: MetaArchitecture, options: MetaGradientOptions, kinematics: any ForwardKinematics, drivenJoints: [Int], restAngles: [Double]) {
        precondition(drivenJoints.count == a.outputs, "one driven joint per trainee output")
        precondition(restAngles.count == kinematics.jointCount, "one rest angle per joint")
        self.restAngles = restAngles
        precondition(a.clockInputs <= 32)
        architecture = a
        self.options = options
        self.kinematics = kinematics
        self.drivenJoints = drivenJoints
        alpha = S(exp(-1 / a.tauMembraneMs))
        kappa = S(exp(-1 / a.tauOutputMs))
        rho = S(exp(-1 / a.tauAdaptationMs))
        traineeThreshold = S(a.traineeThreshold)
        lsgThreshold = S(a.lsgThreshold)
        beta = S(a.adaptationStrength)
        gamma = S(a.dampening)
        eta = S(a.innerLearningRate)
        targetCode = TargetCode(bits: a.codeBits)
        inverseTraineeThreshold = 1 / traineeThreshold
        inverseLSGThreshold = 1 / lsgThreshold
        if case .sigmoid(let s) = options.spikeFunction { sharpness = s } else { sharpness = nil }
        let clock = ClockInput(neurons: a.clockInputs, windowSteps: a.clockWindowSteps, spikeEvery: a.clockSpikeInterval)
        clockMask = (0..<a.steps).map { t in clock.spikingNeuron(at: t).map { UInt32(1) << UInt32($0) } ?? 0 }
    }

    // MARK: Spike function

    /// Spike value at distance d = v − A (the official H((v − A)/thr > 0) is H(d > 0) for thr > 0).
    @inline(__always)
    func spike(_ d: S, inverseThreshold inv: S) -> S {
        if let s = sharpness { return S(1 / (1 + exp(-s * Double(d * inv)))) }
        return d > 0 ? 1 : 0
    }

    /// ψ = ∂z/∂v at distance d = v − A from the threshold, with 1/thr precomputed (no division in the
    /// hot loops): heaviside γ·max(0, 1 − |d|/thr)/thr; sigmoid s·σ(1−σ)/thr.
    @inline(__always)
    func pseudoDerivative(_ d: S, inverseThreshold inv: S) -> S {
        if let s = sharpness {
            let sg = 1 / (1 + exp(-s * Double(d * inv)))
            return S(s * sg * (1 - sg)) * inv
        }
        let a = 1 - abs(d) * inv
        return a > 0 ? gamma * a * inv : 0
    }

    /// ∂ψ/∂v at distance d = v − A.
    @inline(__always)
    func pseudoDerivativeSlope(_ d: S, inverseThreshold inv: S) -> S {
        if let s = sharpness {
            let sg = 1 / (1 + exp(-s * Double(d * inv)))
            return S(s * s * sg * (1 - sg) * (1 - 2 * sg)) * inv * inv
        }
        let u = d * inv
        guard abs(u) < 1 else { return 0 }
        return (u > 0 ? -gamma : (u < 0 ? gamma : 0)) * inv * inv
    }

    // MARK: Forward

    /// Runs the inner loop of one task, recording the tape. `parameters` are the meta-learned tensors;
    /// `rng` draws the PCM noise (unused with `pcm == .off`). Fills the task loss, ∂loss/∂y, spike counts.
    @_specialize(exported: false, where S == Float)
    func forward(_ tape: MetaTaskTape<S>, parameters p: FlatParameters<S>, target: MetaTaskTarget, rng: inout RandomSource) {
        let a = architecture
        let n = tape.n, m = tape.m, k = tape.k
        let dimensions = a.jointTarget == nil ? 3 : a.outputs
        precondition(target.velocities.count == a.steps * a.outputs && target.positions.count == a.steps * dimensions,
                     "target needs \(a.steps)×\(a.outputs) velocities and \(a.steps)×\(dimensions) positions")

        // LSG input rows: clock + target code bits (the LSG does not hear proprioception).
        let clockRows = a.clockInputs
        for t in 0..<a.steps {
            var c: Int32 = 0
            let row = tape.lsgInputs.pointer + t * tape.u
            for i in 0..<clockRows where clockMask[t] & (1 << UInt32(i)) != 0 { row[Int(c)] = Int32(i); c += 1 }
            for coordinate in 0..<a.codedCoordinates {
                let value = target.positions[t * dimensions + coordinate]
                let code = a.jointTarget?.channels(value, joint: coordinate, bits: a.codeBits) ?? targetCode.code(value)
                for bit in 0..<a.codeBits where (code >> UInt64(bit)) & 1 == 1 {
                    row[Int(c)] = Int32(clockRows + coordinate * a.codeBits + bit); c += 1
                }
            }
            tape.lsgInputCounts[t] = c
        }

        // Trial-1 weights.
        var w0In = UnsafePointer(p.pointer(.traineeInput))
        var w0Rec = UnsafePointer(p.pointer(.traineeRecurrent))
        var w0Out = UnsafePointer(p.pointer(.traineeOutput))
        if options.pcm == .physical {
            programPhysical(tape, parameters: p, rng: &rng)
            w0In = UnsafePointer(tape.w0In.pointer)
            w0Rec = UnsafePointer(tape.w0Rec.pointer)
            w0Out = UnsafePointer(tape.w0Out.pointer)
        } else if options.pcm == .paper {
            programInitial(p.pointer(.traineeInput), into: tape.w0In, gains: tape.gain0In, count: m * n, rng: &rng)
            programInitial(p.pointer(.traineeRecurrent), into: tape.w0Rec, gains: tape.gain0Rec, count: n * n, rng: &rng)
            programInitial(p.pointer(.traineeOutput), into: tape.w0Out, gains: tape.gain0Out, count: n * k, rng: &rng)
            w0In = UnsafePointer(tape.w0In.pointer)
            w0Rec = UnsafePointer(tape.w0Rec.pointer)
            w0Out = UnsafePointer(tape.w0Out.pointer)
        }

        fillInputs(tape, target: target)
        if let arm = options.closedLoop, tape.encoder != nil {
            tape.plant = arm.makePlant(&rng)
        } else {
            precondition(tape.encoder == nil, "a closed-loop architecture needs MetaGradientOptions.closedLoop (the arm of trial 2)")
        }

        tape.traineeSpikeTotals.fill(0)
        runTrainee(tape, trial: 0, wIn: w0In, wRec: w0Rec, wOut: w0Out)
        runLSG(tape, parameters: p)
        applyUpdate(tape, w0In: w0In, w0Rec: w0Rec, rng: &rng)
        runTrainee(tape, trial: 1, wIn: UnsafePointer(tape.w1In.pointer), wRec: UnsafePointer(tape.w1Rec.pointer), wOut: w0Out)
        tape.plant = nil
        evaluateLoss(tape, target: target)
    }

    /// Trial 1's input rows (clock, and for a closed-loop controller the proprioception of a perfect execution
    /// of the target: measured = command = q₀ + Δt·Σ_{s<t} ω*_s, error 0), and trial 2's clock rows for an
    /// open-loop controller (a closed-loop trial 2 fills its rows as the arm moves).
    private func fillInputs(_ tape: MetaTaskTape<S>, target: MetaTaskTarget) {
        let a = architecture, m = tape.m, k = tape.k
        let closed = tape.encoder != nil
        for trial in 0..<(closed ? 1 : 2) {
            let lists = tape.inputs[trial].pointer, counts = tape.inputCounts[trial].pointer
            for t in 0..<a.steps {
                var c: Int32 = 0
                let row = lists + t * m
                for i in 0..<a.clockInputs where clockMask[t] & (1 << UInt32(i)) != 0 { row[Int(c)] = Int32(i); c += 1 }
                counts[t] = c
            }
        }
        guard closed else { return }
        tape.encoder!.reset()
        for o in 0..<k { tape.plantAngles[o] = restAngles[drivenJoints[o]]; tape.plantErrors[o] = 0 }
        let lists = tape.inputs[0].pointer, counts = tape.inputCounts[0].pointer
        for t in 0..<a.steps {
            encodeProprioception(tape, row: lists + t * m, count: &counts[t])
            for o in 0..<k { tape.plantAngles[o] += a.robotSecondsPerStep * target.velocities[t * k + o] }
        }
    }

    /// Appends the encoder's active rows for (`tape.plantAngles`, `tape.plantErrors`) after the clock rows.
    private func encodeProprioception(_ tape: MetaTaskTape<S>, row: UnsafeMutablePointer<Int32>, count: inout Int32) {
        tape.encoded.removeAll(keepingCapacity: true)
        _ = tape.encoder!.encode(angles: tape.plantAngles, errors: tape.plantErrors, firstRow: architecture.clockInputs, into: &tape.encoded)
        for r in tape.encoded { row[Int(count)] = r; count += 1 }
    }

    /// Physical model: programs fresh crossbars with the meta-learned weights and reads trial-1 [W_in; W_rec]
    /// and trial-2 W_out (only trial 2's readout is used), drift-compensated, into the tape.
    private func programPhysical(_ tape: MetaTaskTape<S>, parameters p: FlatParameters<S>, rng: inout RandomSource) {
        let n = tape.n, m = tape.m, k = tape.k
        var stacked = Matrix(rows: m + n, columns: n)
        for i in 0..<(m * n) { stacked.storage[i] = Float(p.pointer(.traineeInput)[i]) }
        for i in 0..<(n * n) { stacked.storage[m * n + i] = Float(p.pointer(.traineeRecurrent)[i]) }
        var out = Matrix(rows: n, columns: k)
        for i in 0..<(n * k) { out.storage[i] = Float(p.pointer(.traineeOutput)[i]) }
        var synapses = Crossbar(rows: m + n, columns: n, parameters: physicalParameters)
        var readout = Crossbar(rows: n, columns: k, parameters: physicalParameters)
        synapses.programInitial(stacked, at: timing.initialProgramming, rng: &rng)
        readout.programInitial(out, at: timing.initialProgramming, rng: &rng)
        let w = Self.compensatedWeights(&synapses, at: timing.firstTrial)
        for i in 0..<(m * n) { tape.w0In[i] = S(w.storage[i]) }
        for i in 0..<(n * n) { tape.w0Rec[i] = S(w.storage[m * n + i]) }
        let wo = Self.compensatedWeights(&readout, at: timing.secondTrial)
        for i in 0..<(n * k) { tape.w0Out[i] = S(wo.storage[i]) }
        tape.synapses = synapses
        tape.readout = readout
    }

    /// The weights a crossbar represents at `time`, times its drift-compensation factor when that is on.
    static func compensatedWeights(_ crossbar: inout Crossbar, at time: Double) -> Matrix {
        var w = crossbar.weights(at: time)
        if crossbar.parameters.driftCompensation {
            let f = crossbar.driftCompensationFactor(at: time)
            for i in 0..<w.count { w.storage[i] *= f }
        }
        return w
    }

    private func programInitial(_ w: UnsafeMutablePointer<S>, into out: ScratchBuffer<S>, gains: ScratchBuffer<S>, count: Int, rng: inout RandomSource) {
        for i in 0..<count {
            let r = PaperPCMNoise.initial(Double(w[i]), rng: &rng)
            out[i] = S(r.value)
            gains[i] = S(r.gain)
        }
    }

    /// One trainee trial. v_t = α v_{t−1} + W_inᵀ x_t + (W_rec ⊙ (1−I))ᵀ z_{t−1} − thr z_{t−1};
    /// z_t = H(v_t − thr) unless refractory; r_t = clip(r_{t−1} + n_ref z_t − 1, 0, n_ref);
    /// y_t = κ y_{t−1} + W_outᵀ z_t (trial 2 only).
    private func runTrainee(_ tape: MetaTaskTape<S>, trial: Int, wIn: UnsafePointer<S>, wRec: UnsafePointer<S>, wOut: UnsafePointer<S>) {
        let n = tape.n, k = tape.k, steps = tape.t
        let v = tape.v[trial].pointer, z = tape.z[trial].pointer, act = tape.active[trial].pointer
        let spikes = tape.spikes[trial].pointer, counts = tape.spikeCounts[trial].pointer
        let r = tape.refractory.pointer
        r.update(repeating: 0, count: n)
        let thr = traineeThreshold, nRef = S(architecture.refractorySteps)
        let y = tape.output.pointer
        let totals = tape.traineeSpikeTotals.pointer
        let closedTrial = trial == 1 && tape.plant != nil
        if closedTrial { startArm(tape) }
        for t in 0..<steps {
            let vt = v + t * n, zt = z + t * n, at = act + t * n
            if t == 0 {
                vt.update(repeating: 0, count: n)
            } else {
                let vp = v + (t - 1) * n, zp = z + (t - 1) * n
                for j in 0..<n { vt[j] = alpha * vp[j] - thr * zp[j] }
            }
            let inputs = tape.inputs[trial].pointer + t * tape.m
            if closedTrial { armTick(tape, t: t, row: inputs, count: &tape.inputCounts[trial].pointer[t]) }
            for s in 0..<Int(tape.inputCounts[trial][t]) { vectorAdd(wIn + Int(inputs[s]) * n, vt, n) }
            if t > 0 {
                let list = spikes + (t - 1) * n
                let zp = z + (t - 1) * n
                for s in 0..<Int(counts[t - 1]) {
                    let i = Int(list[s])
                    let zi = zp[i]
                    vectorAXPY(zi, wRec + i * n, vt, n)
                    vt[i] -= zi * wRec[i * n + i]
                }
            }
            var c: Int32 = 0
            let list = spikes + t * n
            for j in 0..<n {
                let free = r[j] <= 0.1
                at[j] = free ? 1 : 0
                let zj: S = free ? spike(vt[j] - thr, inverseThreshold: inverseTraineeThreshold) : 0
                zt[j] = zj
                r[j] = min(max(r[j] + nRef * zj - 1, 0), nRef)
                if zj != 0 { list[Int(c)] = Int32(j); c += 1; totals[j] += zj }
            }
            counts[t] = c
            if trial == 1 {
                let yt = y + t * k
                for o in 0..<k { yt[o] = t == 0 ? 0 : kappa * y[(t - 1) * k + o] }
                for s in 0..<Int(c) {
                    let i = Int(list[s])
                    for o in 0..<k { yt[o] += zt[i] * wOut[i * k + o] }
                }
                if closedTrial { sendCommand(tape, t: t) }
            }
        }
        if closedTrial {
            // The arm after the last tick (the loss's last position).
            tape.plant!.measure(tick: steps, into: &tape.plantAngles)
            for o in 0..<k { tape.measured[steps * k + o] = tape.plantAngles[o] }
            for t in 0..<steps {
                tape.velocityScored[t] = tape.plant!.scoresVelocity(tick: t)
                tape.positionWeights[t] = tape.plant!.isAfterDisturbance(tick: t) ? options.afterDisturbanceWeight : 1
                for o in 0..<k { tape.goalShifts[t * k + o] = tape.plant!.goalShift(tick: t + 1, output: o) }
            }
        }
    }

    /// Puts the arm at the driven joints' rest angles and the command there (c(0)), encoder reset.
    private func startArm(_ tape: MetaTaskTape<S>) {
        let k = tape.k
        for o in 0..<k { tape.plantAngles[o] = restAngles[drivenJoints[o]]; tape.commands[o] = tape.plantAngles[o] }
        tape.plant!.start(angles: tape.plantAngles)
        tape.encoder!.reset()
    }

    /// Tick t of a closed-loop trial, before the network step: measure, then write the step's input rows,
    /// the clock's and the encoded (measured angle, command − measured).
    private func armTick(_ tape: MetaTaskTape<S>, t: Int, row: UnsafeMutablePointer<Int32>, count: inout Int32) {
        let k = tape.k
        tape.plant!.measure(tick: t, into: &tape.plantAngles)
        for o in 0..<k {
            tape.measured[t * k + o] = tape.plantAngles[o]
            tape.plantErrors[o] = tape.commands[t * k + o] - tape.plantAngles[o]
        }
        var c: Int32 = 0
        let clock = clockMask[t]
        for i in 0..<architecture.clockInputs where clock & (1 << UInt32(i)) != 0 { row[Int(c)] = Int32(i); c += 1 }
        encodeProprioception(tape, row: row, count: &c)
        count = c
    }

    /// After the step's readout: c(t+1) = c(t) + Δt·ω_t, sent as the goal of tick t.
    private func sendCommand(_ tape: MetaTaskTape<S>, t: Int) {
        let k = tape.k, dt = architecture.robotSecondsPerStep
        let y = tape.output.pointer + t * k
        for o in 0..<k {
            tape.commands[(t + 1) * k + o] = tape.commands[t * k + o] + dt * Double(y[o])
            tape.plantGoals[o] = tape.commands[(t + 1) * k + o]
        }
        tape.plant!.command(tick: t, goals: tape.plantGoals)
    }

    /// The LSG on (clock, target code). ALIF (the last `lsgAdaptiveNeurons`): b_t = ρ b_{t−1} + z_{t−1},
    /// A_t = thr + β b_t, reset −A_t z_{t−1}, spike when (v_t − A_t)/thr > 0. Readout L_t = κ L_{t−1} + W_outᵀ z_t.
    private func runLSG(_ tape: MetaTaskTape<S>, parameters p: FlatParameters<S>) {
        let nl = tape.nl, n = tape.n, steps = tape.t
        let wIn = p.pointer(.lsgInput), wRec = p.pointer(.lsgRecurrent), wOut = p.pointer(.lsgOutput)
        let v = tape.lsgV.pointer, z = tape.lsgZ.pointer, act = tape.lsgActive.pointer, thrs = tape.lsgThresholds.pointer
        let spikes = tape.lsgSpikes.pointer, counts = tape.lsgSpikeCounts.pointer
        let r = tape.refractory.pointer, b = tape.adaptation.pointer
        r.update(repeating: 0, count: nl)
        b.update(repeating: 0, count: nl)
        let thr = lsgThreshold, nRef = S(architecture.refractorySteps)
        let firstALIF = architecture.lsgPlainNeurons
        let L = tape.learningSignals.pointer
        let totals = tape.lsgSpikeTotals.pointer
        totals.update(repeating: 0, count: nl)
        for t in 0..<steps {
            let vt = v + t * nl, zt = z + t * nl, at = act + t * nl, At = thrs + t * nl
            for j in 0..<firstALIF { At[j] = thr }
            for j in firstALIF..<nl {
                b[j] = rho * b[j] + (t > 0 ? z[(t - 1) * nl + j] : 0)
                At[j] = thr + beta * b[j]
            }
            if t == 0 {
                vt.update(repeating: 0, count: nl)
            } else {
                let vp = v + (t - 1) * nl, zp = z + (t - 1) * nl
                for j in 0..<nl { vt[j] = alpha * vp[j] - At[j] * zp[j] }
            }
            let inputs = tape.lsgInputs.pointer + t * tape.u
            for s in 0..<Int(tape.lsgInputCounts[t]) { vectorAdd(wIn + Int(inputs[s]) * nl, vt, nl) }
            if t > 0 {
                let list = spikes + (t - 1) * nl
                let zp = z + (t - 1) * nl
                for s in 0..<Int(counts[t - 1]) {
                    let i = Int(list[s])
                    let zi = zp[i]
                    vectorAXPY(zi, wRec + i * nl, vt, nl)
                    vt[i] -= zi * wRec[i * nl + i]
                }
            }
            var c: Int32 = 0
            let list = spikes + t * nl
            for j in 0..<nl {
                let free = r[j] <= 0.1
                at[j] = free ? 1 : 0
                let zj: S = free ? spike(vt[j] - At[j], inverseThreshold: inverseLSGThreshold) : 0
                zt[j] = zj
                r[j] = min(max(r[j] + nRef * zj - 1, 0), nRef)
                if zj != 0 { list[Int(c)] = Int32(j); c += 1; totals[j] += zj }
            }
            counts[t] = c
            let Lt = L + t * n
            if t == 0 { Lt.update(repeating: 0, count: n) } else {
                let Lp = L + (t - 1) * n
                for j in 0..<n { Lt[j] = kappa * Lp[j] }
            }
            for s in 0..<Int(c) {
                let i = Int(list[s])
                vectorAXPY(zt[i], wOut + i * n, Lt, n)
            }
        }
    }

    /// ψ of trainee trial 1 at (t, j).
    @inline(__always)
    private func traineePsi(_ tape: MetaTaskTape<S>, _ index: Int) -> S {
        let thr = traineeThreshold
        return tape.active[0][index] != 0 ? pseudoDerivative(tape.v[0][index] - thr, inverseThreshold: inverseTraineeThreshold) : 0
    }

    /// ΔW_in = −η Σ_s x_s H_sᵀ and ΔW_rec = −η Σ_s z_s H_{s+1}ᵀ with H_t = L_t ψ_t + α H_{t+1}
    /// (equal to −η Σ_t ē_t (L_t ψ_t)ᵀ with ē^in_t = α ē^in_{t−1} + x_t, ē^rec_t = α ē^rec_{t−1} + z_{t−1}),
    /// then rounding and PCM programming into the trial-2 weights.
    private func applyUpdate(_ tape: MetaTaskTape<S>, w0In: UnsafePointer<S>, w0Rec: UnsafePointer<S>, rng: inout RandomSource) {
        let n = tape.n, m = tape.m, steps = tape.t
        let H = tape.filteredSignals.pointer, L = tape.learningSignals.pointer
        (H + steps * n).update(repeating: 0, count: n)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let Ht = H + t * n, Hn = H + (t + 1) * n, Lt = L + t * n
            for j in 0..<n { Ht[j] = Lt[j] * traineePsi(tape, t * n + j) + alpha * Hn[j] }
        }
        let dIn = tape.w1In.pointer, dRec = tape.w1Rec.pointer
        dIn.update(repeating: 0, count: m * n)
        dRec.update(repeating: 0, count: n * n)
        let minusEta = -eta
        for s in 0..<steps {
            let inputs = tape.inputs[0].pointer + s * m
            for q in 0..<Int(tape.inputCounts[0][s]) { vectorAXPY(minusEta, H + s * n, dIn + Int(inputs[q]) * n, n) }
            if s + 1 < steps {
                let list = tape.spikes[0].pointer + s * n, zs = tape.z[0].pointer + s * n
                for q in 0..<Int(tape.spikeCounts[0][s]) {
                    let i = Int(list[q])
                    vectorAXPY(minusEta * zs[i], H + (s + 1) * n, dRec + i * n, n)
                }
            }
        }
        tape.changedInput = finishUpdate(delta: dIn, base: w0In, gains: tape.gain1In, count: m * n, diagonalOf: 0, rng: &rng)
        tape.changedRecurrent = finishUpdate(delta: dRec, base: w0Rec, gains: tape.gain1Rec, count: n * n, diagonalOf: n, rng: &rng)
        if options.pcm == .physical, var synapses = tape.synapses {
            // finishUpdate left the (rounded) ΔW in place: program it and read trial 2's weights.
            var delta = Matrix(rows: m + n, columns: n)
            for i in 0..<(m * n) { delta.storage[i] = Float(dIn[i]) }
            for i in 0..<(n * n) where i / n != i % n { delta.storage[m * n + i] = Float(dRec[i]) }
            let _: ProgrammingReport = synapses.applyUpdate(delta, at: timing.update, rng: &rng)
            let w = Self.compensatedWeights(&synapses, at: timing.secondTrial)
            for i in 0..<(m * n) { dIn[i] = S(w.storage[i]) }
            for i in 0..<(n * n) { dRec[i] = S(w.storage[m * n + i]) }
            tape.synapses = nil
            tape.readout = nil
        }
    }

    /// Turns the ΔW in `delta` into the trial-2 weight in place; returns how many entries changed.
    private func finishUpdate(delta: UnsafeMutablePointer<S>, base: UnsafePointer<S>, gains: ScratchBuffer<S>, count: Int, diagonalOf size: Int, rng: inout RandomSource) -> Int {
        var changed = 0
        for i in 0..<count {
            var d = delta[i]
            if options.quantizeUpdate { d = (d * 16).rounded(.toNearestOrEven) / 16 }
            let isDiagonal = size > 0 && i / size == i % size
            if d != 0 && !isDiagonal { changed += 1 }
            if options.pcm == .paper {
                if d != 0 {
                    let r = PaperPCMNoise.reprogrammed(Double(base[i] + d), rng: &rng)
                    delta[i] = S(r.value)
                    gains[i] = S(r.gain)
                } else {
                    delta[i] = base[i]
                    gains[i] = 1
                }
            } else if options.pcm == .physical {
                delta[i] = d
            } else {
                delta[i] = base[i] + d
            }
        }
        return changed
    }

    /// loss = 0.5·mean((ω̂ − ω)²) + 0.5·w·mean(a_t·(FK(q̂) − p)²), q̂ = q0 + Δt·cumsum(ω̂) (closed loop: the
    /// measured angles), w the position weight, a_t the after-disturbance weight (1 open loop), and ∂loss/∂ω̂.
    private func evaluateLoss(_ tape: MetaTaskTape<S>, target: MetaTaskTarget) {
        let steps = tape.t, k = tape.k
        let dt = architecture.robotSecondsPerStep
        let y = tape.output.pointer, gy = tape.outputGradient.pointer
        if architecture.jointTarget != nil {
            evaluateJointLoss(tape, target: target)
            return
        }
        var q = restAngles
        var velocitySum = 0.0, positionSum = 0.0, weightedPositionSum = 0.0
        // Forward: positions and the per-step joint gradient of the position term, accumulated backwards.
        var jointGradients = [Double](repeating: 0, count: steps * k)
        let closed = tape.encoder != nil
        for t in 0..<steps {
            if closed {
                // The arm's measured angles after tick t.
                for o in 0..<k { q[drivenJoints[o]] = tape.measured[(t + 1) * k + o] }
            } else {
                for o in 0..<k { q[drivenJoints[o]] += dt * Double(y[t * k + o]) }
            }
            let p = kinematics.position(q)
            let e = SIMD3(p.x - target.positions[t * 3], p.y - target.positions[t * 3 + 1], p.z - target.positions[t * 3 + 2])
            let stepWeight = closed ? tape.positionWeights[t] : 1
            positionSum += (e * e).sum()
            weightedPositionSum += stepWeight * (e * e).sum()
            let jac = kinematics.jacobian(q)
            for o in 0..<k { jointGradients[t * k + o] += options.positionWeight * stepWeight * (jac[drivenJoints[o]] * e).sum() / Double(steps * 3) }
            for o in 0..<k {
                if closed {
                    // Closed loop: the arm's velocity over tick t, (q(t+1) − q(t))/Δt, against the target's: the
                    // loss scores what the arm does, so a command that corrects a disturbed arm is not penalised.
                    let v = (tape.measured[(t + 1) * k + o] - tape.measured[t * k + o]) / dt
                    let d = tape.velocityScored[t] ? v - target.velocities[t * k + o] : 0
                    velocitySum += d * d
                    let g = d / (Double(steps * k) * dt)
                    jointGradients[t * k + o] += g
                    if t > 0 { jointGradients[(t - 1) * k + o] -= g }
                } else {
                    let d = Double(y[t * k + o]) - target.velocities[t * k + o]
                    velocitySum += d * d
                }
            }
        }
        let velocityError = velocitySum / Double(steps * k)
        let positionError = positionSum / Double(steps * 3)
        tape.velocityError = velocityError
        tape.positionError = positionError
        tape.loss = 0.5 * velocityError + 0.5 * options.positionWeight * weightedPositionSum / Double(steps * 3)
        if closed, let arm = options.closedLoop {
            // Through the arm: q(t+1) = q(t) + g_t·(c(t+1) + s_t − q(t)) with g_t the secant of tick t (see
            // docs/closed-loop.md), s_t a push's goal shift, c(t+1) = c(t) + Δt·ω_t. Adjoints A(t+1) = ∂/∂q(t+1),
            // C(t+1) = ∂/∂c(t+1).
            var a = [Double](repeating: 0, count: k), c = [Double](repeating: 0, count: k)
            var gNext = [Double](repeating: 1, count: k)
            for t in stride(from: steps - 1, through: 0, by: -1) {
                for o in 0..<k {
                    let before = tape.measured[t * k + o], after = tape.measured[(t + 1) * k + o]
                    let distance = tape.commands[(t + 1) * k + o] + tape.goalShifts[t * k + o] - before
                    let g = abs(distance) < arm.secantFloor ? arm.nominalResponse : min(max((after - before) / distance, 0), 1)
                    a[o] = jointGradients[t * k + o] + (1 - gNext[o]) * a[o]
                    c[o] = g * a[o] + c[o]
                    gNext[o] = g
                    gy[t * k + o] = S(dt * c[o])
                }
            }
            return
        }
        var running = [Double](repeating: 0, count: k)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for o in 0..<k {
                running[o] += jointGradients[t * k + o]
                let d = Double(y[t * k + o]) - target.velocities[t * k + o]
                gy[t * k + o] = S(d / Double(steps * k) + dt * running[o])
            }
        }
    }

    /// The whole-arm loss (docs/whole-arm.md): the position term in joint space,
    /// loss = 0.5·mean((ω̂ − ω)²) + 0.5·w·mean((q̂ − q)²), q̂ = q0 + Δt·cumsum(ω̂) from the task's start angles,
    /// means over steps × joints; and ∂loss/∂ω̂.
    private func evaluateJointLoss(_ tape: MetaTaskTape<S>, target: MetaTaskTarget) {
        let steps = tape.t, k = tape.k
        let dt = architecture.robotSecondsPerStep
        let y = tape.output.pointer, gy = tape.outputGradient.pointer
        var q = target.startAngles.isEmpty ? drivenJoints.map { restAngles[$0] } : target.startAngles
        var velocitySum = 0.0, positionSum = 0.0
        var positionGradients = [Double](repeating: 0, count: steps * k)
        let scale = Double(steps * k)
        for t in 0..<steps {
            for o in 0..<k {
                q[o] += dt * Double(y[t * k + o])
                let e = q[o] - target.positions[t * k + o]
                positionSum += e * e
                positionGradients[t * k + o] = options.positionWeight * e / scale
                let d = Double(y[t * k + o]) - target.velocities[t * k + o]
                velocitySum += d * d
            }
        }
        tape.velocityError = velocitySum / scale
        tape.positionError = positionSum / scale
        tape.loss = 0.5 * tape.velocityError + 0.5 * options.positionWeight * tape.positionError
        var running = [Double](repeating: 0, count: k)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            for o in 0..<k {
                running[o] += positionGradients[t * k + o]
                let d = Double(y[t * k + o]) - target.velocities[t * k + o]
                gy[t * k + o] = S(d / scale + dt * running[o])
            }
        }
    }

    // MARK: Backward

    /// Adds the gradients of `tapes` (at most `worker.blockSize` tasks) to `worker.gradient`: ∂/∂θ of
    /// `lossScale`·(task loss) plus the rate regulariser's share, given the regulariser's per-spike
    /// coefficients (`traineeRateCoefficients`: ∂L_reg/∂z for every trainee spike variable,
    /// `lsgRateCoefficients` for the LSG). The trainee part runs task by task; the LSG part in lockstep.
    @_specialize(exported: false, where S == Float)
    func backward(_ tapes: [MetaTaskTape<S>], parameters p: FlatParameters<S>, worker w: MetaGradientWorker<S>,
                  lossScale: S, traineeRateCoefficients: UnsafePointer<S>, lsgRateCoefficients: UnsafePointer<S>) {
        precondition(tapes.count <= w.blockSize)
        for (slot, tape) in tapes.enumerated() {
            traineeBackward(tape, slot: slot, parameters: p, worker: w, lossScale: lossScale, traineeRateCoefficients: traineeRateCoefficients)
        }
        lsgBackward(tapes, parameters: p, worker: w, rate: lsgRateCoefficients)
    }

    /// The trainee part of one task's backward pass: trial 2, the update, trial 1; leaves ∂/∂L in the
    /// worker's learning-signal slot `slot`.
    private func traineeBackward(_ tape: MetaTaskTape<S>, slot: Int, parameters p: FlatParameters<S>, worker w: MetaGradientWorker<S>,
                                 lossScale: S, traineeRateCoefficients: UnsafePointer<S>) {
        let n = tape.n, m = tape.m, k = tape.k, steps = tape.t
        // Paper: drift factors scale the gradient; physical: all device effects are straight-through.
        let pcm = options.pcm == .paper
        let ownWeights = options.pcm != .off
        let w0Rec = ownWeights ? UnsafePointer(tape.w0Rec.pointer) : UnsafePointer(p.pointer(.traineeRecurrent))
        let w0Out = ownWeights ? UnsafePointer(tape.w0Out.pointer) : UnsafePointer(p.pointer(.traineeOutput))

        // Trial 2.
        w.gW1In.fill(0); w.gW1Rec.fill(0); w.gWOut.fill(0)
        trialBackward(tape, trial: 1, worker: w, wRec: UnsafePointer(tape.w1Rec.pointer), wOut: w0Out,
                        rate: traineeRateCoefficients, lossScale: lossScale,
                        gIn: w.gW1In.pointer, gRec: w.gW1Rec.pointer, externalV: nil, externalZ: nil)
        for i in 0..<n { w.gW1Rec[i * n + i] = 0 }
        // Through programming: gW' = gW1 ⊙ gain; gΔ = gW'; gW0e starts at gW'.
        if pcm {
            for i in 0..<(m * n) { w.gW1In[i] *= tape.gain1In[i] }
            for i in 0..<(n * n) { w.gW1Rec[i] *= tape.gain1Rec[i] }
        }
        w.gW0In.pointer.update(from: w.gW1In.pointer, count: m * n)
        w.gW0Rec.pointer.update(from: w.gW1Rec.pointer, count: n * n)

        // Through ΔW: ∂/∂H_s, then ∂/∂(Lψ)_t = Σ_{s≤t} α^{t−s} ∂/∂H_s, then ∂/∂L, ∂/∂ψ and ∂/∂z of the trace.
        let H = tape.filteredSignals.pointer, L = tape.learningSignals.pointer
        let gL = w.gLearningSignals.pointer + slot * steps * n, gvx = w.gExternalV.pointer, gzx = w.gExternalZ.pointer
        let acc = w.gAccumulator.pointer
        acc.update(repeating: 0, count: n)
        let minusEta = -eta
        let thr = traineeThreshold
        let activeNeurons = w.activeNeurons.pointer, activeDots = w.activeDots.pointer
        for s in 0..<steps {
            // acc ← α acc + ∂/∂H_s
            for j in 0..<n { acc[j] *= alpha }
            let inputs = tape.inputs[0].pointer + s * m
            for q in 0..<Int(tape.inputCounts[0][s]) { vectorAXPY(minusEta, w.gW1In.pointer + Int(inputs[q]) * n, acc, n) }
            if s > 0 {
                let list = tape.spikes[0].pointer + (s - 1) * n, zp = tape.z[0].pointer + (s - 1) * n
                for q in 0..<Int(tape.spikeCounts[0][s - 1]) {
                    let i = Int(list[q])
                    vectorAXPY(minusEta * zp[i], w.gW1Rec.pointer + i * n, acc, n)
                }
            }
            let base = s * n
            var active = 0
            for j in 0..<n {
                let psi = traineePsi(tape, base + j)
                gL[base + j] = acc[j] * psi
                let gPsi = acc[j] * L[base + j]
                if tape.active[0][base + j] != 0 && gPsi != 0 {
                    gvx[base + j] = gPsi * pseudoDerivativeSlope(tape.v[0][base + j] - thr, inverseThreshold: inverseTraineeThreshold)
                } else {
                    gvx[base + j] = 0
                }
                gzx[base + j] = 0
                if psi != 0 { activeNeurons[active] = Int32(j); active += 1 }
            }
            // ∂/∂z_s[j] from ΔW_rec = −η Σ_s z_s H_{s+1}ᵀ, only where ψ ≠ 0 (elsewhere it is not consumed).
            if s + 1 < steps {
                rowDots(w.gW1Rec.pointer, rows: activeNeurons, count: active, columns: n, with: H + (s + 1) * n, into: activeDots)
                for q in 0..<active { gzx[base + Int(activeNeurons[q])] = minusEta * activeDots[q] }
            }
        }

        // Trial 1.
        trialBackward(tape, trial: 0, worker: w, wRec: w0Rec, wOut: w0Out, rate: traineeRateCoefficients,
                        lossScale: lossScale, gIn: w.gW0In.pointer, gRec: w.gW0Rec.pointer, externalV: gvx, externalZ: gzx)

        // Into the accumulator, through the initial programming.
        let gIn = w.gradient.pointer(.traineeInput), gRec = w.gradient.pointer(.traineeRecurrent)
        let gOut = w.gradient.pointer(.traineeOutput)
        for i in 0..<(m * n) { gIn[i] += w.gW0In[i] * (pcm ? tape.gain0In[i] : 1) }
        for i in 0..<(n * n) where i / n != i % n { gRec[i] += w.gW0Rec[i] * (pcm ? tape.gain0Rec[i] : 1) }
        for i in 0..<(n * k) { gOut[i] += w.gWOut[i] * (pcm ? tape.gain0Out[i] : 1) }

    }

    /// BPTT through one trainee trial. Upstream: ∂/∂y (trial 2, from the tape, times `lossScale`), the
    /// rate coefficients on every z, and for trial 1 the external ∂/∂v (ψ inside ΔW) and ∂/∂z (trace).
    private func trialBackward(_ tape: MetaTaskTape<S>, trial: Int, worker w: MetaGradientWorker<S>,
                                 wRec: UnsafePointer<S>, wOut: UnsafePointer<S>, rate: UnsafePointer<S>, lossScale: S,
                                 gIn: UnsafeMutablePointer<S>, gRec: UnsafeMutablePointer<S>,
                                 externalV: UnsafePointer<S>?, externalZ: UnsafePointer<S>?) {
        let n = tape.n, k = tape.k, m = tape.m, steps = tape.t
        let thr = traineeThreshold
        let v = tape.v[trial].pointer, z = tape.z[trial].pointer, act = tape.active[trial].pointer
        let spikes = tape.spikes[trial].pointer, counts = tape.spikeCounts[trial].pointer
        var gv = w.gv.pointer, gvn = w.gvNext.pointer
        gvn.update(repeating: 0, count: n)
        let gy = w.gOut.pointer
        gy.update(repeating: 0, count: k)
        let gWOut = w.gWOut.pointer
        let dy = tape.outputGradient.pointer
        let activeNeurons = w.activeNeurons.pointer, activePsi = w.activePsi.pointer, activeDots = w.activeDots.pointer
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let base = t * n
            if trial == 1 {
                for o in 0..<k { gy[o] = lossScale * dy[t * k + o] + kappa * gy[o] }
                let list = spikes + base
                for q in 0..<Int(counts[t]) {
                    let i = Int(list[q])
                    for o in 0..<k { gWOut[i * k + o] += z[base + i] * gy[o] }
                }
            }
            // Neurons whose ψ_t ≠ 0 (only they pass ∂/∂z_t on), then W_rec[j,:]·∂v_{t+1} for them, four
            // rows per pass over ∂v_{t+1}.
            var active = 0
            for j in 0..<n where act[base + j] != 0 {
                let psi = pseudoDerivative(v[base + j] - thr, inverseThreshold: inverseTraineeThreshold)
                if psi != 0 { activeNeurons[active] = Int32(j); activePsi[active] = psi; active += 1 }
            }
            if t + 1 < steps { rowDots(wRec, rows: activeNeurons, count: active, columns: n, with: gvn, into: activeDots) }
            for j in 0..<n {
                var g = alpha * gvn[j]
                if let externalV { g += externalV[base + j] }
                gv[j] = g
            }
            for q in 0..<active {
                let j = Int(activeNeurons[q])
                var gz = rate[j]
                if let externalZ { gz += externalZ[base + j] }
                if trial == 1 { for o in 0..<k { gz += wOut[j * k + o] * gy[o] } }
                if t + 1 < steps { gz += activeDots[q] - wRec[j * n + j] * gvn[j] - thr * gvn[j] }
                gv[j] += activePsi[q] * gz
            }
            let inputs = tape.inputs[trial].pointer + t * m
            for q in 0..<Int(tape.inputCounts[trial][t]) { vectorAdd(gv, gIn + Int(inputs[q]) * n, n) }
            if t > 0 {
                let list = spikes + (t - 1) * n, zp = z + (t - 1) * n
                for q in 0..<Int(counts[t - 1]) {
                    let i = Int(list[q])
                    vectorAXPY(zp[i], gv, gRec + i * n, n)
                }
            }
            swap(&gv, &gvn)
        }
    }

    /// BPTT through the LSG for a block of tasks given ∂/∂L (the worker's learning-signal slots) and the
    /// rate coefficients. Time runs backwards in lockstep over the block; for each neuron j the rows
    /// W_rec[j, :] and W_out[j, :] are loaded once and used for every task whose ψ_j is non-zero.
    private func lsgBackward(_ tapes: [MetaTaskTape<S>], parameters p: FlatParameters<S>, worker w: MetaGradientWorker<S>, rate: UnsafePointer<S>) {
        let n = architecture.traineeNeurons, nl = architecture.lsgNeurons, steps = architecture.steps
        let count = tapes.count
        let wRec = p.pointer(.lsgRecurrent), wOut = p.pointer(.lsgOutput)
        let gIn = w.gradient.pointer(.lsgInput), gRec = w.gradient.pointer(.lsgRecurrent), gOutW = w.gradient.pointer(.lsgOutput)
        let firstALIF = architecture.lsgPlainNeurons
        let fullThresholdGradient = options.adaptiveThresholdSpikeGradient
        w.lsgGV.fill(0); w.lsgGB.fill(0); w.lsgGL.fill(0)
        let GV = w.lsgGV.pointer, GB = w.lsgGB.pointer, GL = w.lsgGL.pointer
        let psiSlot = w.lsgPsi.pointer
        let dots = w.lsgDots.pointer
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let cur = t & 1, nxt = (t + 1) & 1
            let base = t * nl
            for b in 0..<count {
                let tape = tapes[b]
                let gLt = w.gLearningSignals.pointer + (b * steps + t) * n
                let gL = GL + b * n
                for j in 0..<n { gL[j] = gLt[j] + kappa * gL[j] }
                let z = tape.lsgZ.pointer, list = tape.lsgSpikes.pointer + base
                for q in 0..<Int(tape.lsgSpikeCounts[t]) {
                    let i = Int(list[q])
                    vectorAXPY(z[base + i], gL, gOutW + i * n, n)
                }
                let v = tape.lsgV.pointer + base, act = tape.lsgActive.pointer + base, A = tape.lsgThresholds.pointer + base
                let psi = psiSlot + b * nl
                if sharpness == nil {
                    // The heaviside case as a branch-free loop the compiler vectorises.
                    let g = gamma * inverseLSGThreshold, inv = inverseLSGThreshold
                    for j in 0..<nl { psi[j] = act[j] * max(0, 1 - abs(v[j] - A[j]) * inv) * g }
                } else {
                    for j in 0..<nl { psi[j] = act[j] != 0 ? pseudoDerivative(v[j] - A[j], inverseThreshold: inverseLSGThreshold) : 0 }
                }
            }
            let last = t + 1 == steps
            for j in 0..<nl {
                let rowRec = wRec + j * nl, rowOut = wOut + j * n
                let diagonal = rowRec[j]
                // W_out[j,:]·∂L and W_rec[j,:]·∂v_{t+1} for every task of the block that needs them,
                // four tasks per pass over the rows where possible.
                var group = 0
                while group < count {
                    let size = min(4, count - group)
                    var needed = 0
                    for b in group..<(group + size) where psiSlot[b * nl + j] != 0 { needed += 1 }
                    if size == 4 && needed >= 2 {
                        let o = vectorDot4(rowOut, GL + group * n, GL + (group + 1) * n, GL + (group + 2) * n, GL + (group + 3) * n, n)
                        let r: SIMD4<S> = last ? SIMD4() : vectorDot4(rowRec, GV + (group * 2 + nxt) * nl, GV + ((group + 1) * 2 + nxt) * nl,
                                                                  GV + ((group + 2) * 2 + nxt) * nl, GV + ((group + 3) * 2 + nxt) * nl, nl)
                        for q in 0..<4 { dots[group + q] = o[q] + r[q] }
                    } else if needed > 0 {
                        for b in group..<(group + size) where psiSlot[b * nl + j] != 0 {
                            dots[b] = vectorDot(rowOut, GL + b * n, n) + (last ? 0 : vectorDot(rowRec, GV + (b * 2 + nxt) * nl, nl))
                        }
                    }
                    group += size
                }
                for b in 0..<count {
                    let gv = GV + (b * 2 + cur) * nl, gvn = GV + (b * 2 + nxt) * nl
                    let gb = GB + (b * 2 + cur) * nl, gbn = GB + (b * 2 + nxt) * nl
                    let psi = psiSlot[b * nl + j]
                    var g = alpha * gvn[j]
                    var gSpikeThreshold: S = 0
                    if psi != 0 {
                        var gz = rate[j] + dots[b]
                        if !last {
                            let aNext = tapes[b].lsgThresholds[base + nl + j]
                            gz += -diagonal * gvn[j] - aNext * gvn[j]
                            if j >= firstALIF { gz += gbn[j] }
                        }
                        g += psi * gz
                        if fullThresholdGradient { gSpikeThreshold = -psi * gz }
                    }
                    gv[j] = g
                    if j >= firstALIF {
                        // v_t has −A_t z_{t−1}; z_t depends on A_t (when the full gradient is asked for); A_t = thr + β b_t.
                        let zPrev: S = t > 0 ? tapes[b].lsgZ[base - nl + j] : 0
                        gb[j] = rho * gbn[j] + beta * (-zPrev * g + gSpikeThreshold)
                    }
                }
            }
            for b in 0..<count {
                let tape = tapes[b]
                let gv = GV + (b * 2 + cur) * nl
                let inputs = tape.lsgInputs.pointer + t * tape.u
                for s in 0..<Int(tape.lsgInputCounts[t]) { vectorAdd(gv, gIn + Int(inputs[s]) * nl, nl) }
                if t > 0 {
                    let listPrev = tape.lsgSpikes.pointer + (t - 1) * nl, zp = tape.lsgZ.pointer + (t - 1) * nl
                    for q in 0..<Int(tape.lsgSpikeCounts[t - 1]) {
                        let i = Int(listPrev[q])
                        vectorAXPY(zp[i], gv, gRec + i * nl, nl)
                    }
                }
            }
        }
    }
}

/// `out[q] = W[rows[q], :]·x` for the listed rows of a row-major matrix with `columns` columns, four
/// rows per pass over x.
@inline(__always)
func rowDots<S: MetaScalar>(_ w: UnsafePointer<S>, rows: UnsafePointer<Int32>, count: Int, columns: Int,
                            with x: UnsafePointer<S>, into out: UnsafeMutablePointer<S>) {
    var q = 0
    while q + 4 <= count {
        let d = vectorDot4(x, w + Int(rows[q]) * columns, w + Int(rows[q + 1]) * columns,
                           w + Int(rows[q + 2]) * columns, w + Int(rows[q + 3]) * columns, columns)
        out[q] = d[0]; out[q + 1] = d[1]; out[q + 2] = d[2]; out[q + 3] = d[3]
        q += 4
    }
    while q < count { out[q] = vectorDot(w + Int(rows[q]) * columns, x, columns); q += 1 }
}

// MARK: - Small generic SIMD kernels
// They live in this file so that the engine's specialisations for Float and Double inline them even
// in builds without whole-module optimisation (debug builds compile each file on its own).

@inline(__always)
func vectorAXPY<S: MetaScalar>(_ alpha: S, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int) {
    let av = SIMD8<S>(repeating: alpha)
    var c = 0
    while c &+ 8 <= n {
        var yv = UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self)
        yv.addProduct(av, UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self))
        UnsafeMutableRawPointer(y + c).storeBytes(of: yv, as: SIMD8<S>.self)
        c &+= 8
    }
    while c < n { y[c] += alpha * x[c]; c &+= 1 }
}

@inline(__always)
func vectorAdd<S: MetaScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int) {
    var c = 0
    while c &+ 8 <= n {
        let yv = UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self)
            + UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self)
        UnsafeMutableRawPointer(y + c).storeBytes(of: yv, as: SIMD8<S>.self)
        c &+= 8
    }
    while c < n { y[c] += x[c]; c &+= 1 }
}

@inline(__always)
func vectorDot<S: MetaScalar>(_ x: UnsafePointer<S>, _ y: UnsafePointer<S>, _ n: Int) -> S {
    var a0 = SIMD8<S>(), a1 = SIMD8<S>()
    var c = 0
    while c &+ 16 <= n {
        a0.addProduct(UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self), UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self))
        a1.addProduct(UnsafeRawPointer(x + (c &+ 8)).loadUnaligned(as: SIMD8<S>.self), UnsafeRawPointer(y + (c &+ 8)).loadUnaligned(as: SIMD8<S>.self))
        c &+= 16
    }
    if c &+ 8 <= n {
        a0.addProduct(UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self), UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self))
        c &+= 8
    }
    var s = (a0 + a1).sum()
    while c < n { s += x[c] * y[c]; c &+= 1 }
    return s
}

/// Four dot products sharing one row: (x·y0, x·y1, x·y2, x·y3). Each load of x feeds four FMA chains,
/// unrolled twice so eight chains hide the FMA latency.
@inline(__always)
func vectorDot4<S: MetaScalar>(_ x: UnsafePointer<S>, _ y0: UnsafePointer<S>, _ y1: UnsafePointer<S>,
                               _ y2: UnsafePointer<S>, _ y3: UnsafePointer<S>, _ n: Int) -> SIMD4<S> {
    var a0 = SIMD8<S>(), a1 = SIMD8<S>(), a2 = SIMD8<S>(), a3 = SIMD8<S>()
    var b0 = SIMD8<S>(), b1 = SIMD8<S>(), b2 = SIMD8<S>(), b3 = SIMD8<S>()
    @inline(__always) func load(_ p: UnsafePointer<S>, _ c: Int) -> SIMD8<S> {
        UnsafeRawPointer(p + c).loadUnaligned(as: SIMD8<S>.self)
    }
    var c = 0
    while c &+ 16 <= n {
        let xv = load(x, c), xw = load(x, c &+ 8)
        a0.addProduct(xv, load(y0, c)); b0.addProduct(xw, load(y0, c &+ 8))
        a1.addProduct(xv, load(y1, c)); b1.addProduct(xw, load(y1, c &+ 8))
        a2.addProduct(xv, load(y2, c)); b2.addProduct(xw, load(y2, c &+ 8))
        a3.addProduct(xv, load(y3, c)); b3.addProduct(xw, load(y3, c &+ 8))
        c &+= 16
    }
    if c &+ 8 <= n {
        let xv = load(x, c)
        a0.addProduct(xv, load(y0, c)); a1.addProduct(xv, load(y1, c))
        a2.addProduct(xv, load(y2, c)); a3.addProduct(xv, load(y3, c))
        c &+= 8
    }
    var r = SIMD4<S>((a0 + b0).sum(), (a1 + b1).sum(), (a2 + b2).sum(), (a3 + b3).sum())
    while c < n {
        let xc = x[c]
        r[0] += xc * y0[c]; r[1] += xc * y1[c]; r[2] += xc * y2[c]; r[3] += xc * y3[c]
        c &+= 1
    }
    return r
}
