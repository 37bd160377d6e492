import Foundation
import Robot
import ServoBus

/// A policy that swings the first two joints ±3 rad around the start pose (far past most limits) and holds
/// the others, so that a safety envelope clamps and rate-limits all the time. For hostile-bus trials.
public struct SwingPolicy: Policy {
    private var from: [Double] = []
    /// A swing.
    public init() {}
    /// Swings around `pose`.
    public mutating func start(from pose: [Double]) { from = pose }
    /// `from[j] + 3 sin(4t + j)` for joints 0 and 1, `from[j]` for the others; never finishes.
    public mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        for j in goals.indices { goals[j] = from[j] + (j < 2 ? 3 * sin(4 * time + Double(j)) : 0) }
        return .running
    }
}

/// One run of the control loop on an arm behind a `HostilePeer` (a robot's emulated bus on a
/// pseudo-terminal whose replies a script or a seed tampers with), and what reached the servos: the test
/// tool of issue 19, shared by `swift test` and `engram-bench hostile-bus`.
public struct HostileBusTrial {
    /// What one trial did and every rule it saw broken (none, for a safe stack).
    public struct Report: Sendable {
        /// The loop's ticks.
        public var ticks: Int
        /// Why the loop ended.
        public var stop: StopReason
        /// Wall time of the loop (s).
        public var seconds: Double
        /// Goals the servos received.
        public var goals: Int
        /// Replies the peer tampered with, by kind.
        public var tampered: [String: Int]
        /// Broken rules: a goal outside the limits, a goal step beyond the speed limit, a first goal that
        /// is not the true start pose.
        public var violations: [String]

        /// `stop` as the command line prints it.
        public var stopReason: String { stop.description }
        /// Whether it ended on a fault.
        public var stoppedOnFault: Bool { stop.isFault }
    }

    /// The random script of seed `seed`: 0.2 %, 0.5 %, 1 % or 3 % of the position replies tampered with (by
    /// `seed % 4`), alarms among them on every fifth seed.
    public static func randomScript(seed: UInt64) -> HostileScript {
        HostileScript(randomProbability: [0.002, 0.005, 0.01, 0.03][Int(seed % 4)], randomAlarms: seed % 5 == 4, seed: seed)
    }

    /// Runs `SwingPolicy` for `ticks` ticks (simulated pacing: as fast as the bus answers) on `robot`'s
    /// emulated bus behind a peer following `script`, with `retry` per bus call.
    public static func run(robot: RobotDescription, script: HostileScript, ticks: Int = 150,
                           retry: RetryPolicy = RetryPolicy(replyTimeoutMs: 10, perReplyTimeoutMs: 1, attempts: 3, budgetMs: 40)) throws -> Report {
        let emulator = try ServoEmulator.simulating(robot, seed: script.seed)
        let pty = try PseudoTerminal()
        var models: [UInt8: ServoModel] = [:]
        for joint in robot.joints {
            guard let id = joint.servoID, let model = joint.servoModel else { throw BusArmError("joint '\(joint.name)' has no servo") }
            models[UInt8(id)] = model
        }
        let peer = HostilePeer(emulator: emulator, models: models, script: script, serving: pty.master)
        defer { peer.stop(); pty.close() }
        let arm = try BusArm.open(robot: robot, calibration: .uncalibrated(for: robot), port: pty.path, retryPolicy: retry)
        defer { arm.disconnect(keepingTorque: false) }
        var start: [UInt8: Int] = [:]
        for id in models.keys { start[id] = emulator.value(.presentPosition, of: id) }
        let limits = robot.jointLimitsRadians()
        var envelope = SafetyEnvelope(limits: SafetyLimits(lower: limits.map(\.lowerBound), upper: limits.map(\.upperBound),
                                                           maxSpeed: robot.joints.map(\.maxSpeedRadiansPerSecond)),
                                      period: 0.01, easeInSeconds: 0.2)
        var policy = SwingPolicy()
        let loop = ControlLoop(rateHz: 100, pacing: .simulated, duration: Double(ticks) / 100, watchSignals: false)
        let began = ContinuousClock.now
        let result = loop.run(arm: arm, policy: &policy, envelope: &envelope, expectedTicks: ticks)
        let seconds = began.duration(to: .now).seconds
        _ = try? arm.bus.ping(models.keys.min() ?? 1)  // sync writes have no reply: a ping's reply orders them
        let log = peer.log
        return Report(ticks: result.ticks, stop: result.stop, seconds: seconds,
                      goals: log.goals.count, tampered: log.tampered,
                      violations: violations(log.goals, arm: arm, envelope: envelope, trueStart: start))
    }

    /// The goals in `goals` (as the peer saw them) that break the envelope: outside the joint limits by more
    /// than half a tick, a step from the servo's previous goal beyond one rate-limited step plus a tick of
    /// rounding, or a first goal more than a tick from the servo's true position at start.
    public static func violations(_ goals: [ObservedWrite], arm: BusArm, envelope: SafetyEnvelope, trueStart: [UInt8: Int]) -> [String] {
        let tick = 2 * Double.pi / 4096
        var previous: [UInt8: Int] = [:]
        var found: [String] = []
        for g in goals {
            guard let k = arm.servoIDs.firstIndex(of: g.servo) else { found.append("a goal for unknown servo \(g.servo)"); continue }
            let q = arm.radians(joint: k, presentTicks: g.value)
            if q < envelope.limits.lower[k] - tick / 2 || q > envelope.limits.upper[k] + tick / 2 {
                found.append("servo \(g.servo): goal \(g.value) (\(q) rad) outside \(envelope.limits.lower[k])...\(envelope.limits.upper[k]) rad")
            }
            if let p = previous[g.servo] {
                let bound = Int((envelope.maxStep(joint: k) / tick).rounded(.up)) + 1
                if abs(g.value - p) > bound { found.append("servo \(g.servo): goal step \(g.value - p) ticks, more than \(bound)") }
            } else if let s = trueStart[g.servo], abs(g.value - s) > 1 {
                found.append("servo \(g.servo): first goal \(g.value), the servo was at \(s)")
            }
            previous[g.servo] = g.value
        }
        return found
    }
}
