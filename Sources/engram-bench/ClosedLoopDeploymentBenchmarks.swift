import Adaptation
import Control
import Foundation
import Kinematics
import MetaLearning
import PhaseChange
import Spiking
import Tensors

/// What closing the loop costs in deployment: one `SpikingPolicy` tick of the paper-sized trainee (250
/// neurons) open-loop (5 clock rows) and closed-loop (5 + 64 rows, the encoder run each tick), on ideal
/// weights and on the paper's PCM crossbar; and one ideal one-shot adaptation (both trials, LSG, update)
/// of each. Random weights (`ControllerWeights(initializing:)`), the Scorbot's driven joints.
func runClosedLoopDeploymentBenchmarks() {
    let family = TaskFamily<ScorbotKinematics>.paperScorbot
    var open = ControllerArchitecture.paper
    open.proprioception = nil
    var closed = ControllerArchitecture.paper
    closed.proprioception = ProprioceptionSettings(jointRanges: family.jointLimits)
    for (label, a) in [("open", open), ("closed", closed)] {
        var rng = RandomSource(seed: 1)
        let w = ControllerWeights(initializing: a, rng: &rng)
        func tick<W: Synapses>(_ synapses: String, _ make: (Int, Int) -> W) {
            var net = RecurrentSpikingNetwork(inputCount: a.traineeInputs, layer: LIFLayer(count: a.traineeNeurons, parameters: a.trainee),
                                              outputCount: a.outputs, synapses: make(a.traineeSynapseRows, a.traineeNeurons),
                                              readout: make(a.traineeNeurons, a.outputs))
            var noise = RandomSource(seed: 2)
            net.program(synapses: w.traineeStacked, readout: w.traineeReadout, at: 0, rng: &noise)
            var policy = SpikingPolicy(network: net, clock: a.clock, steps: a.steps, drivenJoints: [0, 1],
                                       deviceClock: DeviceClock(start: 32), rng: RandomSource(seed: 3), proprioception: a.proprioception)
            var measured = [0.1, -0.2, 0, 0]
            var goals = measured
            var k = 0
            policy.start(from: measured)
            let samples = sampleMicroseconds(repeats: 31, inner: 200) {
                if policy.stepsTaken >= a.steps { policy.start(from: measured) }
                _ = policy.goals(tick: k, time: Double(k) * 0.01, measured: measured, into: &goals)
                measured[0] = 0.5 * measured[0] + 0.5 * goals[0]  // an arm that lags its goals
                measured[1] = 0.5 * measured[1] + 0.5 * goals[1]
                k += 1
            }
            emit("spiking_policy_tick", ["loop": label, "synapses": synapses, "input_rows": a.traineeInputs,
                                         "median_us": quantile(samples, 0.5), "p90_us": quantile(samples, 0.9)])
        }
        tick("dense") { DenseSynapses(rows: $0, columns: $1) }
        tick("pcm-paper") { Crossbar(rows: $0, columns: $1, parameters: PCMParameters(kind: .paper)) }

        var adapter = OneShotAdaptation(architecture: a, weights: w, loss: TrajectoryLoss(family: family), quantize: false)
        var taskRNG = RandomSource(seed: 4)
        let target = family.sample(&taskRNG)
        var noise = RandomSource(seed: 5)
        var changed = 0.0
        let adapt = sampleMicroseconds(repeats: 9, inner: 1, warmup: 1) { changed = adapter.adapt(to: target, rng: &noise).changedInput }
        emit("one_shot_adaptation_ideal", ["loop": label, "input_rows": a.traineeInputs, "median_us": quantile(adapt, 0.5),
                                           "changed_input": changed])
    }
}
