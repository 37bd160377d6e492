import Adaptation
import Foundation
import Control
import Kinematics
import MetaLearning
import PhaseChange
import Robot
import Spiking
import Tensors

/// One-shot adaptation of a 10 s whole-arm demonstration of the SO-101 on one core: per segment, programming
/// of the segment's crossbar tiles, trial 1, the LSG, the e-prop update, its rounding and writing, trial 2.
/// Target: under 1 s (issue: whole-arm teaching).
func runWholeArmBenchmarks() {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    guard let robot = try? RobotDescription.load(fromFileAt: root + "/Robots/so101") else {
        FileHandle.standardError.write(Data("engram-bench whole-arm: Robots/so101 not found beside the sources\n".utf8))
        return
    }
    let a = WholeArm.architecture(for: robot)
    var rng = RandomSource(seed: 5)
    let weights = (try? ControllerCheckpoint(contentsOfFile: root + "/Robots/so101/controller-whole-arm.safetensors").weights)
        ?? ControllerWeights(initializing: a, rng: &rng)
    let demo = WholeArm.demonstrations(for: robot).demonstration(seed: 1, index: 0, seconds: 10)
    let kinematics = AnyKinematics(robot.forwardKinematics)
    func time<W: Synapses>(_ name: String, quantize: Bool, note: String, _ make: @escaping (Int, Int) -> W) {
        var noise = RandomSource(seed: 6)
        var segments = 0
        let samples = sampleMicroseconds(repeats: 7, inner: 1, warmup: 1) {
            let s = SegmentedAdaptation(architecture: a, weights: weights, kinematics: kinematics, target: demo.trajectory, startAngles: demo.startAngles,
                                        quantize: quantize, rng: &noise, makeSynapses: make)
            segments = s.layout.count
        }
        let median = quantile(samples, 0.5)
        let motion = Double(demo.trajectory.steps) * 0.01
        emit(name, ["median_us": median, "p90_us": quantile(samples, 0.9), "target_us": 1_000_000.0,
                    "motion_us": motion * 1e6, "segments": segments,
                    "us_per_second_of_motion": median / motion, "threads": 1, "note": note])
    }
    time("whole_arm_adaptation_10s_ideal", quantize: false, note: "SO-101, 6 joints, dense float32 trainees") { DenseSynapses(rows: $0, columns: $1) }
    time("whole_arm_adaptation_10s_pcm_paper", quantize: true, note: "SO-101, paper PCM: each segment's tiles programmed, 1/16 update, changed devices re-programmed") {
        Crossbar(rows: $0, columns: $1, parameters: .paper)
    }
    time("whole_arm_adaptation_10s_pcm_physical", quantize: true, note: "SO-101, physical PCM: program-and-verify of 2 devices per weight") {
        Crossbar(rows: $0, columns: $1, parameters: .physical)
    }
}
