import Adaptation
import Foundation
import Control
import Kinematics
import MetaLearning
import Robot
import Tensors

/// `engram record`: records joint positions to a trajectory CSV while the user moves the arm by hand.
enum RecordCommand: EngramCommand {
    static let name = "record"
    static let abstract = "Record joint positions to a trajectory CSV (move the arm by hand)"
    static let discussion = """
        With torque off (the default) the servos are limp and you move the arm by hand; with --torque on
        the arm holds its pose. Rows are written as they come (one write per row), so a crash, a kill -9
        or a pulled cable loses at most the row being written; Ctrl-C (SIGINT) closes the file cleanly.

        With --sim, a simulated hand moves the simulated arm along a random smooth motion (seeded by --seed), so
        the whole record → adapt → run → replay workflow works without hardware: for a robot with a whole-arm
        controller (controller.whole_arm in robot.yaml) a person-like motion of every joint and the gripper,
        10 s unless --duration says otherwise; otherwise a motion of the driven joints from the task family.

        Example: engram record --robot Robots/so101 --port /dev/ttyACM0 --out wave.csv --duration 5
        """
    static let out = CommonOptions.out("csv", "Trajectory file to write", required: true)
    static let rate = Option<Double>("--rate", "hz", "Sampling rate", in: 1...5000, defaultNote: "the robot's control rate")
    static let duration = Option<Double>("--duration", "s", "Stop after this many seconds", in: 0.01...86_400,
                                         defaultNote: "until Ctrl-C; with --sim, one task motion")
    static let torque = Option<Switch>("--torque", "on|off", "Hold the pose (on) or let the arm be moved by hand (off)").defaulting(to: .off)
    static let seed = CommonOptions.seed("Seed of the simulated hand's motion (with --sim)")
    static let fast = Flag("--fast", "With --sim: run in simulated time, as fast as possible")

    static let options: [OptionSpec] = ArmConnection.options + [out.spec, rate.spec, duration.spec, torque.spec, seed.spec, fast.spec]
    static let rules = ArmConnection.rules + [.requires("--fast", anyOf: ["--sim"], message: "--fast runs the simulated arm in simulated time; it needs --sim")]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let out = try arguments.required(Self.out)
        let seed = arguments[Self.seed]
        let connection = try ArmConnection.open(arguments, simulatedSeed: seed)
        let robot = connection.robot
        let rate = arguments[Self.rate] ?? robot.controller.rateHz
        let torqueOn = arguments[Self.torque].isOn
        var duration = arguments[Self.duration]
        let arm = connection.arm

        // The simulated hand: a task-family motion of the driven joints (10 ms of robot time per step).
        var handMotion: [[Double]] = []
        if let sim = arm as? SimulatedArm {
            handMotion = demonstrationMotion(robot: robot, seed: seed, seconds: duration)
            if duration == nil { duration = Double(handMotion.count) / rate }
            sim.teleport(to: handMotion[0])
        }

        SignalMonitor.block()
        let metadata: [(String, String)] = [
            ("robot", robot.name), ("calibration", connection.calibrationPath ?? "none"), ("rate_hz", fmt(rate)),
            ("start_time", ISO8601DateFormatter().string(from: Date())), ("source", connection.source),
            ("torque", torqueOn ? "on" : "off"),
        ]
        let columns = robot.joints.map { "\($0.name).pos" }
        let recorder: TrajectoryRecorder
        do { recorder = try TrajectoryRecorder(path: out, columns: columns, metadata: metadata) } catch { throw RuntimeError("\(error)") }
        if arm.setTorque(enabled: torqueOn) != .ok {
            throw RuntimeError("could not switch torque \(torqueOn ? "on" : "off"): \(arm.lastFault?.description ?? "unknown"); check power and cabling")
        }
        let interactive = isatty(STDERR_FILENO) != 0
        if interactive { printError("recording \(robot.name) at \(fmt(rate)) Hz to \(out); Ctrl-C stops") }

        var state = JointState(jointCount: robot.joints.count)
        var pacer = LoopPacer(rateHz: rate)
        let simulatedTime = connection.source == "sim" && arguments[Self.fast]
        let period = 1 / rate
        let maxTicks = duration.map { Int(($0 * rate).rounded()) } ?? Int.max
        var tick = 0, failures = 0
        var stopReason = "duration reached"
        while tick < maxTicks {
            if let s = SignalMonitor.pending() { stopReason = s; break }
            if !handMotion.isEmpty, let sim = arm as? SimulatedArm {
                sim.teleport(to: handMotion[min(tick, handMotion.count - 1)])
            }
            let time = Double(tick) * period
            if arm.read(into: &state, time: time, period: period) == .ok {
                failures = 0
                do { try recorder.append(time: time, values: state.positions) } catch { throw RuntimeError("\(error)") }
            } else {
                failures += 1
                if failures > 10 {
                    recorder.close()
                    throw RuntimeError("reading the arm failed 10 times in a row (\(arm.lastFault?.description ?? "unknown")); \(recorder.rowCount) rows saved in \(out)")
                }
            }
            tick += 1
            if !simulatedTime { pacer.waitForNextTick() }
        }
        recorder.close()
        arm.close()
        let clock = simulatedTime ? "simulated time (--fast)" : "real time"
        print("recorded \(recorder.rowCount) rows (\(fmt(Double(recorder.rowCount) / rate)) s of \(clock)) to \(out); stopped: \(stopReason)")
        return 0
    }

    /// A smooth random motion of the robot's driven joints from its task family, as joint-angle rows
    /// (all joints; undriven joints at home).
    static func demonstrationMotion(robot: RobotDescription, seed: UInt64, seconds: Double? = nil) -> [[Double]] {
        if robot.controller.wholeArm != nil {
            // A robot with a whole-arm controller: a person-like motion of every joint and the gripper
            // (the evaluation generator, 10 s unless --duration says otherwise).
            let d = WholeArm.demonstrations(for: robot).demonstration(seed: seed, index: 0, seconds: seconds ?? 10)
            let n = robot.joints.count
            return [d.startAngles] + (0..<d.trajectory.steps).map { Array(d.trajectory.angles[($0 * n)..<(($0 + 1) * n)]) }
        }
        func sample<K: ForwardKinematics>(_ kinematics: K) -> [[Double]] {
            let driven = robot.drivenJointIndices
            let family = TaskFamily(kinematics: kinematics, drivenJoints: driven,
                                    jointLimits: driven.map { robot.joints[$0].limitsRadians }, restAngles: robot.homeRadians)
            var rng = RandomSource(seed: seed)
            let target = family.sample(&rng)
            return (0..<target.steps).map { k in
                var q = robot.homeRadians
                for (i, j) in driven.enumerated() { q[j] = target.angles[k * target.joints + i] }
                return q
            }
        }
        return sample(robot.forwardKinematics)
    }
}

func fmt(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(format: "%.3g", v)
}
