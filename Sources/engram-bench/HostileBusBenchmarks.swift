import Control
import Foundation
import Robot
import ServoBus

/// Issue 19's hostile bus over many seeds: `HostileBusTrial` (300 ticks of a swinging policy on the emulated
/// Scorbot, Dynamixel, and SO-101, Feetech, behind a pseudo-terminal whose peer replaces some of the position replies
/// (`HostileBusTrial.randomScript`: 0.2 % to 3 % by seed) with random wrong positions, silence, garbage,
/// corrupted, truncated, malformed or misaddressed packets, and on every fifth seed alarms) for `ENGRAM_HOSTILE_SEEDS` seeds per robot (default 50). One
/// line per robot: runs, ticks run, goals checked, rule violations (must be 0), how the runs ended, the longest run's
/// wall time, and resident memory after the first and the last run (flat: no growth with the seed count).
func runHostileBusBenchmarks() {
    let seeds = ProcessInfo.processInfo.environment["ENGRAM_HOSTILE_SEEDS"].flatMap(Int.init) ?? 50
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    for name in ["scorbot-er7", "so101"] {
        do {
            let robot = try RobotDescription.load(fromFileAt: root + "/Robots/\(name)")
            var goals = 0, violations = 0, faults = 0, tampered = 0, ticks = 0
            var longest = 0.0, firstResident = 0
            var reasons: [String: Int] = [:]
            var example = ""
            for seed in 0..<seeds {
                let report = try HostileBusTrial.run(robot: robot, script: HostileBusTrial.randomScript(seed: UInt64(seed)), ticks: 300)
                ticks += report.ticks
                goals += report.goals
                violations += report.violations.count
                if example.isEmpty, let v = report.violations.first { example = "seed \(seed): \(v)" }
                if report.stoppedOnFault { faults += 1 }
                tampered += report.tampered.values.reduce(0, +)
                longest = max(longest, report.seconds)
                let kind = report.stopReason.split(separator: ":").first.map(String.init) ?? report.stopReason
                reasons[kind, default: 0] += 1
                if seed == 0 { firstResident = RealTimeScheduling.residentBytes() }
            }
            emit("hostile_bus", ["robot": name, "seeds": seeds, "ticks": ticks, "goals_checked": goals, "violations": violations,
                                 "first_violation": example, "runs_stopped_on_fault": faults, "replies_tampered": tampered,
                                 "stop_reasons": reasons.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "),
                                 "longest_run_s": longest, "rss_after_first_mb": Double(firstResident) / 1_048_576,
                                 "rss_after_last_mb": Double(RealTimeScheduling.residentBytes()) / 1_048_576])
        } catch {
            FileHandle.standardError.write("engram-bench hostile-bus: \(error)\n".data(using: .utf8)!)
        }
    }
}
