import Control
import Foundation
import MetaLearning
import Robot
import Spiking

/// The closed loop's new per-tick pieces: one `ProprioceptiveEncoder.encode` step (2 joints × 32 neurons,
/// the Scorbot's driven joints), and one disturbed `SimulatedArm` read + write (a payload window, the
/// costliest disturbance) against an undisturbed one.
func runClosedLoopGroundworkBenchmarks() {
    var encoder = ProprioceptiveEncoder(jointRanges: [-2.27 ... 2.27, -1.22 ... 1.22])
    var active: [Int32] = []
    active.reserveCapacity(encoder.rowCount)
    var angles = [0.3, -0.2], errors = [0.01, -0.03]
    var spikes = 0, calls = 0
    let encode = sampleMicroseconds(repeats: 41, inner: 1_000) {
        active.removeAll(keepingCapacity: true)
        angles[0] += 1e-4
        errors[1] = -errors[1]
        calls += 1
        spikes &+= encoder.encode(angles: angles, errors: errors, firstRow: 5, into: &active)
    }
    emit("proprioceptive_encode_step", ["median_us": quantile(encode, 0.5), "p90_us": quantile(encode, 0.9),
                                        "rows": encoder.rowCount, "spikes_per_step": Double(spikes) / Double(calls)])

    guard let robot = try? RobotDescription.load(fromFileAt: "Robots/scorbot-er7") else {
        emit("simulated_arm_disturbed_tick", ["skipped": "run from the repository root (Robots/scorbot-er7)"])
        return
    }
    for (label, disturbance) in [("none", ArmDisturbance.none),
                                 ("payload", .payload(joint: 0, speedFactor: 0.3, startTick: 0, ticks: Int.max / 2))] {
        let arm = SimulatedArm(robot: robot)
        arm.disturbance = disturbance
        _ = arm.setTorque(enabled: true)
        var state = JointState(jointCount: arm.jointCount)
        var goals = [Double](repeating: 0, count: arm.jointCount)
        var k = 0
        let tick = sampleMicroseconds(repeats: 41, inner: 200) {
            let t = Double(k) * 0.01
            _ = arm.read(into: &state, time: t, period: 0.01)
            goals[0] = 0.5 * sin(t)
            _ = arm.write(goals: goals, time: t, period: 0.01)
            k += 1
        }
        emit("simulated_arm_tick_\(label)", ["median_us": quantile(tick, 0.5), "p90_us": quantile(tick, 0.9), "joints": arm.jointCount])
    }
}
