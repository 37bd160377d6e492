import Foundation
import Control
import MetaLearning
import Robot
import Trajectories

/// `engram replay`: plays a recorded trajectory on the arm.
enum ReplayCommand: EngramCommand {
    static let name = "replay"
    static let abstract = "Replay a trajectory CSV on the arm (eases in, follows the file's timing)"
    static let discussion = """
        Eases in from the current pose to the file's first pose, then follows the file's timing,
        resampled to the loop rate (linear interpolation), optionally faster or slower (--speed) and in
        a loop (--loop). Every goal passes the safety envelope (joint limits, speed). Ctrl-C stops by
        holding the last goal.

        A file whose joints are not the robot's, or whose positions leave the robot's limits, is refused
        with the joint and the value named.

        Example: engram replay wave.csv --robot Robots/so101 --port /dev/ttyACM0 --speed 0.5
        """
    static let speed = Option<Double>("--speed", "factor", "Playback speed (0.5 = half speed)", in: 0.01...100).defaulting(to: 1)
    static let easeIn = Option<Double>("--ease-in", "s", "Seconds to move from the current pose to the first pose", in: 0...60).defaulting(to: 1)
    static let loop = Flag("--loop", "Play again from the start after the end (until Ctrl-C)")
    static let lead = Option<Double>("--lead", "s", "Send each goal this much ahead of its time, to cancel the servos' lag", in: 0...1)
        .defaulting(to: 0.025)
    static let rate = Option<Double>("--rate", "hz", "Loop rate", in: 1...5000, defaultNote: "the robot's control rate")
    static let record = Option<String>("--record", "csv", "Also record what the arm did (positions and goals)")
    static let json = Flag("--json", "Print the result as JSON")
    static let fast = Flag("--fast", "With --sim: run in simulated time, as fast as possible")

    static let options: [OptionSpec] = ArmConnection.options
        + [speed.spec, easeIn.spec, loop.spec, lead.spec, rate.spec, record.spec, json.spec, fast.spec]
    static let rules = ArmConnection.rules + [.requires("--fast", anyOf: ["--sim"], message: "--fast runs the simulated arm in simulated time; it needs --sim")]
    static let positionals = [PositionalSpec(name: "file.csv", abstract: "The trajectory to replay")]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let speed = arguments[Self.speed]
        let easeIn = arguments[Self.easeIn]
        let file: TrajectoryFile
        do { file = try TrajectoryFile(contentsOfFile: path) } catch { throw RuntimeError("\(error)") }
        let (robot, _) = try ArmConnection.loadRobot(arguments)
        let positions = try matchedPositions(file, robot: robot, path: path)
        let rate = arguments[Self.rate] ?? robot.controller.rateHz
        let lead = arguments[Self.lead]
        let replay = ReplayPolicy(times: file.time, positions: positions, speed: speed, loops: arguments[Self.loop], lead: lead)
        // The run's log grows by one row a tick; the file's time span sets how many, so bound it (before
        // the port opens).
        let expected = ((replay.duration + easeIn) * rate).rounded(.up)
        guard expected <= Double(maximumTicks) else {
            throw RuntimeError(String(format: "%@: time_s spans %.6g s (%.6g to %.6g), %.6g ticks at %.6g Hz and --speed %.6g, more than the %d ticks (%.0f s at %.6g Hz) one replay may last; time_s must be in seconds (not ms or µs), or split the file", path, file.time.last! - file.time.first!, file.time.first!, file.time.last!, expected, rate, speed, maximumTicks, Double(maximumTicks) / rate, rate))
        }
        let connection = try ArmConnection.open(arguments)

        SignalMonitor.block()
        var recorder: TrajectoryRecorder? = nil
        if let out = arguments[Self.record] {
            let columns = robot.joints.map { "\($0.name).pos" } + robot.joints.map { "\($0.name).goal" }
            do {
                recorder = try TrajectoryRecorder(path: out, columns: columns, metadata: [
                    ("robot", robot.name), ("rate_hz", fmt(rate)), ("source", connection.source), ("replay_of", path),
                    ("start_time", ISO8601DateFormatter().string(from: Date())),
                ])
            } catch { throw RuntimeError("\(error)") }
        }
        var policy = EaseInPolicy(replay, seconds: easeIn)
        var envelope = SafetyEnvelope(limits: safetyLimits(robot, calibration: connection.calibration, rate: rate), period: 1 / rate, easeInSeconds: 0)
        let pacing: LoopPacing = connection.source == "sim" && arguments[Self.fast] ? .simulated : .realTime
        let loop = ControlLoop(rateHz: rate, pacing: pacing, recorder: recorder)
        let result = loop.run(arm: connection.arm, policy: &policy, envelope: &envelope, expectedTicks: Int(expected) + 10)
        recorder?.close()
        connection.arm.close()
        // Tracking against the file (after ease-in), for the driven and recorded joints.
        var se = 0.0, count = 0
        let easeTicks = Int((easeIn * rate).rounded())
        if result.log.count > easeTicks {
            var q = ReplayPolicy(times: file.time, positions: positions, speed: speed, loops: arguments[Self.loop])
            var goal = [Double](repeating: 0, count: robot.joints.count)
            q.start(from: robot.homeRadians)
            for k in easeTicks..<result.log.count {
                _ = q.goals(tick: k - easeTicks, time: result.log.time[k] - easeIn, measured: goal, into: &goal)
                for j in 0..<robot.joints.count where positions[0][j] != nil {
                    let e = result.log.measured(tick: k, joint: j) - goal[j]
                    se += e * e; count += 1
                }
            }
        }
        let rms = count > 0 ? (se / Double(count)).squareRoot() * 180 / .pi : 0
        if arguments[Self.json] {
            // Overruns mean something only against a real clock.
            var object: [String: Any] = ["ticks": result.ticks, "clock": pacing == .simulated ? "simulated" : "real",
                                         "rms_error_deg": rms, "stop": result.stopReason, "safety": result.safetyJSON]
            if pacing != .simulated { object["overruns"] = result.overruns }
            try JSONOutput.print(object)
        } else {
            let clock = pacing == .simulated ? "simulated time (--fast)" : "real time, \(result.overruns) overruns"
            print("replayed \(path) on \(robot.name) (\(connection.source)) in \(clock): \(result.ticks) ticks, RMS error \(String(format: "%.3f", rms))°; stopped: \(result.stopReason)")
        }
        return result.stoppedOnFault ? 1 : 0
    }

    /// The most ticks one pass of a replay may take (2.8 hours at 100 Hz): the log keeps every tick.
    static let maximumTicks = 1_000_000

    /// The file's positions mapped to the robot's joints (nil for joints the file lacks), or an error
    /// naming a joint the robot lacks or a value outside the robot's limits.
    static func matchedPositions(_ file: TrajectoryFile, robot: RobotDescription, path: String) throws -> [[Double?]] {
        let names = robot.joints.map(\.name)
        for j in file.joints where !names.contains(j) {
            throw RuntimeError("\(path): joint '\(j)' is not a joint of \(robot.name) (\(names.joined(separator: ", "))); record with --robot \(robot.name) or pick the matching robot")
        }
        let map = robot.joints.map { file.joints.firstIndex(of: $0.name) }
        let n = file.joints.count
        var rows: [[Double?]] = []
        rows.reserveCapacity(file.rows)
        for k in 0..<file.rows {
            var row = [Double?](repeating: nil, count: robot.joints.count)
            for (j, m) in map.enumerated() {
                guard let m else { continue }
                let v = file.positions[k * n + m]
                let limits = robot.joints[j].limitsRadians
                if !(limits.contains(v)) {
                    throw RuntimeError(String(format: "%@: joint '%@' goes to %.1f° at t = %.3f s, outside %@'s limits [%.1f°, %.1f°]; the file does not fit this robot", path, robot.joints[j].name, v * 180 / .pi, file.time[k], robot.name, limits.lowerBound * 180 / .pi, limits.upperBound * 180 / .pi))
                }
                row[j] = v
            }
            rows.append(row)
        }
        return rows
    }
}

/// The safety limits of a robot at a loop rate: joint limits (the description's within the calibrated
/// range), max speed, and a step limit of one period at max speed.
func safetyLimits(_ robot: RobotDescription, calibration: Calibration?, rate: Double) -> SafetyLimits {
    let limits = robot.jointLimitsRadians(calibration: calibration)
    return SafetyLimits(lower: limits.map(\.lowerBound), upper: limits.map(\.upperBound),
                 maxSpeed: robot.joints.map { $0.maxSpeedRadiansPerSecond },
                 maxStepPerTick: robot.joints.map { $0.maxSpeedRadiansPerSecond / rate })
}
