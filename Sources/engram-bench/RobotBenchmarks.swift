import Foundation
import Robot

/// Robot module costs: one SimulatedArm cycle (read + write, 6 servos), DH forward kinematics, and loading
/// a robot description (YAML through libyaml, with validation). Run from the repository root.
func runRobotBenchmarks() {
    let path = "Robots/so101/robot.yaml"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        emit("robot_benchmarks_skipped", ["reason": "run from the repository root: \(path) not found"])
        return
    }
    let robot: RobotDescription
    do {
        robot = try RobotDescription.parse(text, file: path)
    } catch {
        emit("robot_benchmarks_skipped", ["reason": error.description])
        return
    }

    let load = sampleMicroseconds(repeats: 31, inner: 20) {
        _ = try? RobotDescription.parse(text, file: path)
    }
    emit("robot_description_load_so101", ["median_us": quantile(load, 0.5), "p90_us": quantile(load, 0.9)])

    let arm = SimulatedArm(robot: robot)
    _ = arm.setTorque(enabled: true)
    var state = JointState(jointCount: robot.joints.count)
    var goals = [Double](repeating: 0, count: robot.joints.count)
    var t = 0.0
    let cycle = sampleMicroseconds(repeats: 41, inner: 1_000) {
        t += 0.01
        goals[0] = 0.5 * sin(t)
        _ = arm.read(into: &state, time: t, period: 0.01)
        _ = arm.write(goals: goals, time: t, period: 0.01)
    }
    emit("simulated_arm_cycle_so101_100hz", ["median_us": quantile(cycle, 0.5), "p90_us": quantile(cycle, 0.9), "servos": robot.joints.count])

    let fk = robot.forwardKinematics
    var q = [0.1, 0.2, 0.3, 0.4, 0.5, 0.0]
    var sink = SIMD3<Double>.zero
    let fkSamples = sampleMicroseconds(repeats: 41, inner: 10_000) {
        q[0] += 1e-9
        sink += fk.position(q)
    }
    emit("dh_forward_kinematics_so101", ["median_us": quantile(fkSamples, 0.5), "p90_us": quantile(fkSamples, 0.9), "check": sink.x.isFinite])
}
