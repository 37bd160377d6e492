import PhaseChange
import Spiking
import Tensors
import Testing
@testable import Control

/// A small controller (30 trainee neurons, 40 LSG neurons, 150 steps) with the official initialisation,
/// readout scaled up so the outputs move the arm noticeably.
func smallController(seed: UInt64 = 3, steps: Int = 150) -> (ControllerArchitecture, ControllerWeights) {
    var a = ControllerArchitecture.paper
    a.traineeNeurons = 30
    a.lsgNeurons = 40
    a.lsgAdaptation = ThresholdAdaptation(count: 10)
    a.steps = steps
    var rng = RandomSource(seed: seed)
    var w = ControllerWeights(initializing: a, rng: &rng)
    for i in w.traineeReadout.storage.indices { w.traineeReadout.storage[i] *= 20 }
    return (a, w)
}

func network<W: Synapses>(_ a: ControllerArchitecture, _ w: ControllerWeights, at time: Double, seed: UInt64,
                          _ make: (Int, Int) -> W) -> RecurrentSpikingNetwork<W> {
    var net = RecurrentSpikingNetwork(inputCount: a.clockInputs, layer: LIFLayer(count: a.traineeNeurons, parameters: a.trainee),
                                      outputCount: a.outputs, synapses: make(a.traineeSynapseRows, a.traineeNeurons),
                                      readout: make(a.traineeNeurons, a.outputs))
    var rng = RandomSource(seed: seed)
    net.program(synapses: w.traineeStacked, readout: w.traineeReadout, at: time, rng: &rng)
    return net
}

@Suite struct SpikingPolicyTests {
    /// Goals are q_0 + Δt·Σω of the network's own trial outputs (bit for bit on dense synapses); joints not
    /// driven hold the start pose; after `steps` steps the policy holds and finishes.
    @Test func integratesTheTrialOutputsIntoGoals() {
        let (a, w) = smallController()
        let dense = { (r: Int, c: Int) in DenseSynapses(rows: r, columns: c) }
        var reference = network(a, w, at: 0, seed: 1, dense)
        var record = TrialRecord()
        var noise = RandomSource(seed: 9)
        reference.run(a.clock.raster(steps: a.steps), into: &record, at: 0, rng: &noise)

        var policy = SpikingPolicy(network: network(a, w, at: 0, seed: 1, dense), clock: a.clock, steps: a.steps,
                                   drivenJoints: [2, 0], deviceClock: DeviceClock(start: 0), rng: RandomSource(seed: 9))
        let start = [0.1, -0.2, 0.3, 0.4]
        policy.start(from: start)
        var goals = [Double](repeating: .nan, count: 4)
        var q = [start[2], start[0]]
        var moved = 0.0
        for t in 0..<a.steps {
            #expect(policy.goals(tick: t, time: Double(t) * 0.01, measured: start, into: &goals) == .running)
            for k in 0..<2 { q[k] += 0.01 * Double(record.outputs[t * 2 + k]) }
            #expect(goals[2] == q[0] && goals[0] == q[1], "step \(t)")
            #expect(goals[1] == start[1] && goals[3] == start[3])
            moved = max(moved, abs(goals[2] - start[2]))
        }
        #expect(moved > 0.01, "the test network should move the arm (max |Δq| \(moved))")
        #expect(policy.outputs == record.outputs)
        let last = goals
        #expect(policy.goals(tick: a.steps, time: 1.5, measured: start, into: &goals) == .finished)
        #expect(goals == last)
    }

    /// On a PCM crossbar the policy reads at the device clock's time and draws read noise from its own
    /// generator: the same as running the trial on an identical crossbar at that time with that seed.
    @Test func crossbarPolicyReadsAtTheDeviceClock() {
        let (a, w) = smallController(steps: 40)
        let pcm = { (r: Int, c: Int) in Crossbar(rows: r, columns: c, parameters: PCMParameters(kind: .physical)) }
        var reference = network(a, w, at: 0, seed: 5, pcm)
        var record = TrialRecord()
        var noise = RandomSource(seed: 11)
        reference.run(a.clock.raster(steps: a.steps), into: &record, at: 65, rng: &noise)

        var policy = SpikingPolicy(network: network(a, w, at: 0, seed: 5, pcm), clock: a.clock, steps: a.steps, drivenJoints: [0, 1],
                                   deviceClock: DeviceClock(start: 65), rng: RandomSource(seed: 11))
        policy.start(from: [0, 0, 0, 0])
        var goals = [0.0, 0, 0, 0]
        for t in 0..<a.steps { _ = policy.goals(tick: t, time: 0, measured: goals, into: &goals) }
        #expect(policy.outputs == record.outputs)
        #expect(policy.lastReadTime == 65)
    }

    @Test func deviceClockAdvancesInStepsOfItsResolution() {
        let (a, w) = smallController(steps: 10)
        var policy = SpikingPolicy(network: network(a, w, at: 0, seed: 1) { DenseSynapses(rows: $0, columns: $1) }, clock: a.clock,
                                   steps: a.steps, drivenJoints: [0, 1], deviceClock: DeviceClock(start: 32), rng: RandomSource(seed: 0))
        policy.readTimeResolution = 1
        #expect(policy.readTime(at: 0) == 32)
        #expect(policy.readTime(at: 0.99) == 32)
        #expect(policy.readTime(at: 1.0) == 33)
        #expect(policy.readTime(at: 2.5) == 34)
        policy.readTimeResolution = 0
        #expect(abs(policy.readTime(at: 2.5) - 34.5) < 1e-12)
    }
}

/// A closed-loop controller's policy: each tick the encoder hears the measured angles and the tracking
/// errors of the driven joints (docs/closed-loop.md, "One tick").
@Suite struct SpikingPolicyClosedLoopTests {
    /// A small closed-loop controller: driven joints coded over [−1, 1] and [−0.5, 0.5].
    func closedLoopNetwork(silentReadout: Bool) -> (ControllerArchitecture, RecurrentSpikingNetwork<DenseSynapses>) {
        var (a, _) = smallController(steps: 40)
        a.proprioception = ProprioceptionSettings(jointRanges: [-1.0...1.0, -0.5...0.5])
        var rng = RandomSource(seed: 3)
        var w = ControllerWeights(initializing: a, rng: &rng)
        for i in w.traineeReadout.storage.indices { w.traineeReadout.storage[i] *= silentReadout ? 0 : 20 }
        var net = RecurrentSpikingNetwork(inputCount: a.traineeInputs, layer: LIFLayer(count: a.traineeNeurons, parameters: a.trainee),
                                          outputCount: a.outputs, synapses: DenseSynapses(rows: a.traineeSynapseRows, columns: a.traineeNeurons),
                                          readout: DenseSynapses(rows: a.traineeNeurons, columns: a.outputs))
        net.program(synapses: w.traineeStacked, readout: w.traineeReadout, at: 0, rng: &rng)
        return (a, net)
    }

    /// Known measured angles and a known command: with a silent readout c(t) stays the start pose, so
    /// e = start − measured; the rows of the driven joint's angle and error neurons at those values fire.
    @Test func encodesMeasuredAnglesAndTrackingErrorsOfTheDrivenJoints() {
        let (a, net) = closedLoopNetwork(silentReadout: true)
        let p = a.proprioception!
        var policy = SpikingPolicy(network: net, clock: a.clock, steps: a.steps, drivenJoints: [2, 0], deviceClock: DeviceClock(start: 0),
                                   rng: RandomSource(seed: 1), proprioception: p)
        var reference = p.makeEncoder()
        // Driven joint 1 (arm joint 0): measured at the centre of angle neuron 7, error at the centre of error neuron 12.
        let angle = reference.angleCentre(joint: 1, neuron: 7), error = reference.errorCentre(neuron: 12)
        let start = [angle + error, 0.9, 0.4, 0.0]
        policy.start(from: start)
        var measured = start
        measured[0] = angle
        measured[2] = -0.3  // driven joint 0: e = 0.4 − (−0.3) = 0.7, beyond ±0.2: the end error neuron
        var goals = [Double](repeating: 0, count: 4)
        var counts = [Int](repeating: 0, count: p.rowCount)
        let clock = a.clock.raster(steps: a.steps)
        for t in 0..<30 {
            _ = policy.goals(tick: t, time: Double(t) * 0.01, measured: measured, into: &goals)
            var expected = Array(clock[t])
            reference.encode(angles: [measured[2], measured[0]], errors: [start[2] - measured[2], start[0] - measured[0]],
                             firstRow: a.clockInputs, into: &expected)
            #expect(policy.activeInputs == expected, "tick \(t)")
            for r in policy.activeInputs where Int(r) >= a.clockInputs { counts[Int(r) - a.clockInputs] += 1 }
        }
        #expect(policy.integratedGoals.allSatisfy { $0 == 0.4 || $0 == angle + error }, "a silent readout holds the command")
        // Over 30 ticks a neuron at its centre fires 3 times (100 Hz); its neighbours less.
        let e = reference
        #expect(counts[e.angleRow(joint: 1, neuron: 7)] == 3)
        #expect(counts[e.errorRow(joint: 1, neuron: 12)] == 3)
        #expect(counts[e.angleRow(joint: 1, neuron: 6)] < 3 && counts[e.errorRow(joint: 1, neuron: 11)] < 3)
        #expect(counts[e.errorRow(joint: 0, neuron: 15)] == 3, "an error beyond the range drives the end neuron")
        #expect(counts[e.angleRow(joint: 0, neuron: 0)] == 0 && counts[e.angleRow(joint: 1, neuron: 0)] == 0)
    }

    /// The error is the integrated command before the step minus the measured angle: with the arm following
    /// the goals exactly the error population hears e = 0, and the policy equals a run fed those inputs.
    @Test func perfectTrackingMeansZeroErrorAndMatchesTheTrialOnThoseInputs() {
        let (a, net) = closedLoopNetwork(silentReadout: false)
        let p = a.proprioception!
        var policy = SpikingPolicy(network: net, clock: a.clock, steps: a.steps, drivenJoints: [0, 1], deviceClock: DeviceClock(start: 0),
                                   rng: RandomSource(seed: 1), proprioception: p)
        var reference = p.makeEncoder()
        var measured = [0.1, -0.1, 0, 0]
        policy.start(from: measured)
        var goals = measured
        var inputs: [[Int]] = []
        let clock = a.clock.raster(steps: a.steps)
        for t in 0..<a.steps {
            var expected = Array(clock[t])
            reference.encode(angles: [measured[0], measured[1]], errors: [0, 0], firstRow: a.clockInputs, into: &expected)
            _ = policy.goals(tick: t, time: Double(t) * 0.01, measured: measured, into: &goals)
            #expect(policy.activeInputs == expected, "tick \(t)")
            inputs.append(expected.map(Int.init))
            measured = goals  // the arm reaches every goal
        }
        var again = closedLoopNetwork(silentReadout: false).1
        var record = TrialRecord()
        var noise = RandomSource(seed: 1)
        again.run(SpikeRaster(inputs), into: &record, at: 0, rng: &noise)
        #expect(policy.outputs == record.outputs)
        #expect(policy.outputs.contains { abs($0) > 0.01 }, "the test network should move")
    }
}
