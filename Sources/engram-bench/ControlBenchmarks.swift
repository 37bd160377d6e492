import Control
import Foundation
import Robot
import ServoBus

/// The control loop in real time against an in-process servo emulator behind a real pseudo-terminal:
/// the Koch arm's six Dynamixel servos (XL430/XL330, Protocol 2.0 at 1 Mbaud, the ServoDynamics plant),
/// a `BusArm` doing one SYNC_READ and one SYNC_WRITE per tick, a looping replay of a smooth motion
/// through the safety envelope. At 100 Hz and at 1 kHz for `ENGRAM_BENCH_SECONDS` seconds (default 60):
/// ticks, overruns, read → write latency percentiles, failed reads (the watchdog is set not to stop the
/// measurement), bus retries and peak resident memory.
func runControlBenchmarks() {
    let seconds = ProcessInfo.processInfo.environment["ENGRAM_BENCH_SECONDS"].flatMap(Double.init) ?? 60
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let robot: RobotDescription
    do {
        robot = try RobotDescription.load(fromFileAt: root + "/Robots/koch")
    } catch {
        FileHandle.standardError.write("engram-bench control: \(error)\n".data(using: .utf8)!)
        return
    }
    // The pty runs are the acceptance measurement; the socket pair (no pty, no tty flush work queue in the
    // kernel) at 100 Hz separates the loop's own cost from the pseudo-terminal's wake-up latency.
    for (rate, pty) in [(100.0, true), (1000.0, true), (100.0, false)] {
        do {
            try benchLoop(robot: robot, rateHz: rate, seconds: seconds, overPseudoTerminal: pty)
        } catch {
            FileHandle.standardError.write("engram-bench control at \(rate) Hz: \(error)\n".data(using: .utf8)!)
        }
    }
}

private func benchLoop(robot: RobotDescription, rateHz: Double, seconds: Double, overPseudoTerminal: Bool) throws {
    // SCHED_FIFO first, so the emulator thread inherits it: it stands in for servos, which have CPUs of their own.
    _ = RealTimeScheduling.request(lockMemory: false)
    let emulator = try ServoEmulator.simulating(robot)
    let pty = overPseudoTerminal ? try PseudoTerminal() : nil
    let pair = overPseudoTerminal ? nil : try BytePipe.makePair()
    let thread = emulator.start(serving: pty?.master ?? pair!.0)
    defer {
        thread.stop()
        pty?.close()
    }
    // A tick must fit its period: one reply timeout of half a period, one retry.
    let periodMs = 1000 / rateHz
    let retry = RetryPolicy(replyTimeoutMs: periodMs * 0.6, perReplyTimeoutMs: 0.05, attempts: 2, budgetMs: periodMs * 0.9)
    let arm: BusArm
    if let pty {
        arm = try BusArm.open(robot: robot, calibration: .uncalibrated(for: robot), port: pty.path, retryPolicy: retry)
    } else {
        arm = try BusArm(robot: robot, calibration: .uncalibrated(for: robot),
                         bus: ServoBus(transport: pair!.1, protocol: .dynamixel2, servos: [], retryPolicy: retry))
    }
    defer { arm.disconnect(keepingTorque: false) }
    // A smooth looping motion of every joint: 20° amplitude, 2 s period, 201 samples.
    let times = (0...200).map { Double($0) * 0.01 }
    let positions: [[Double?]] = times.map { t in robot.joints.indices.map { j in 0.35 * sin(2 * Double.pi * t / 2 + Double(j)) } }
    var policy = ReplayPolicy(times: times, positions: positions, speed: 1, loops: true)
    let limits = robot.jointLimitsRadians()
    var envelope = SafetyEnvelope(limits: SafetyLimits(lower: limits.map(\.lowerBound), upper: limits.map(\.upperBound),
                                                       maxSpeed: robot.joints.map(\.maxSpeedRadiansPerSecond)),
                                  period: 1 / rateHz, easeInSeconds: 0.5, failedReadBudget: 1_000_000)
    // Locked memory once everything exists.
    let warnings = RealTimeScheduling.request()
    let loop = ControlLoop(rateHz: rateHz, pacing: .realTime, duration: seconds, watchSignals: false)
    let ticks = Int(seconds * rateHz)
    let result = loop.run(arm: arm, policy: &policy, envelope: &envelope, expectedTicks: ticks)
    let stats = arm.bus.statistics
    emit("control_loop_\(overPseudoTerminal ? "pty" : "socketpair")_\(Int(rateHz))hz", [
        "median_us": result.latencyP50Microseconds,
        "rate_hz": rateHz, "duration_us": seconds * 1e6, "servos": robot.joints.count, "protocol": "dynamixel2", "baud": 1_000_000,
        "ticks": result.ticks, "overruns": result.overruns,
        "overrun_pct": 100 * Double(result.overruns) / Double(max(result.ticks, 1)), "missed_cycles": result.missedCycles,
        "latency_p50_us": result.latencyP50Microseconds, "latency_p99_us": result.latencyP99Microseconds,
        "latency_max_us": result.latencyMaxMicroseconds, "failed_reads": result.safety.failedReads,
        "bus_retries": stats.retries, "bus_timeouts": stats.timeouts, "stop_reason": result.stopReason,
        "sched_fifo_and_mlockall": warnings.isEmpty,
        "rss_mb": Double(RealTimeScheduling.peakResidentBytes()) / 1_048_576,
    ])
}
