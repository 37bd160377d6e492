import Foundation
import Control
import MetaLearning
import Robot
import Tensors
import Trajectories

extension DemoCommand {
    /// Length of the demo's simulated demonstration (s).
    static let wholeArmSeconds = 8.0

    /// The demo of a robot with a whole-arm controller: a demonstration of every joint and the gripper (the
    /// evaluation generator's, or --target), run through the emulated bus without and with one update per
    /// segment, with a plot of one panel per joint. `controller` is robot.yaml's `controller.whole_arm`.
    static func runWholeArm(_ arguments: ParsedArguments, robot: RobotDescription, robotDir: String, controller: String, seed: UInt64,
                            json: Bool) throws -> Int32 {
        let checkpointPath = (robotDir as NSString).appendingPathComponent(controller)
        let checkpoint = try RobotFiles.loadController(checkpointPath, robotPath: robotDir, robot: robot)
        guard checkpoint.architecture.jointTarget != nil else {
            throw RuntimeError("\(checkpointPath): robot.yaml names it as the whole-arm controller, but it is not one (no jointTarget in its architecture); replace it with one from 'engram meta-train --robot \(robotDir) --whole-arm'")
        }
        let say: (String) -> Void = { if !json { print($0) } }
        let bus = try EmulatedArm(robot: robot, robotDir: robotDir, seed: seed)
        defer { bus.close() }
        let target: TargetTrajectory
        let targetText: String
        if let path = arguments[Self.target] {
            do { target = try WholeArm.loadTarget(fromFileAt: path, robot: robot, calibration: bus.calibration, rateHz: robot.controller.rateHz).trajectory } catch {
                throw RuntimeError(error.description)
            }
            targetText = path
        } else {
            target = WholeArm.demonstrations(for: robot).demonstration(seed: seed, index: 0, seconds: wholeArmSeconds).trajectory
            targetText = "a simulated demonstration (seed \(seed))"
        }
        let settings = demoSettings(arguments, robot: robot, checkpoint: checkpoint, seed: seed)
        let plotPath = arguments[Self.plot]
        say("Engram demo: whole-arm one-shot learning on \(robot.name)")
        say("  arm         emulated \(robot.bus.map { $0.protocol.rawValue } ?? "") bus on \(bus.pty.path) (\(robot.joints.count) joints), driven through BusArm")
        say("  controller  \(checkpointPath) (whole arm: one readout per joint)")
        say("  target      \(targetText): \(String(format: "%.2f", Double(target.steps + 1) * RunSession.stepSeconds)) s of all \(robot.joints.count) joints, \(target.steps + 1) ticks")
        SignalMonitor.block()
        var beforeSettings = settings
        beforeSettings.adapt = false
        let before: RunOutcome, after: RunOutcome
        do {
            before = try RunSession(robot: robot, calibration: bus.calibration, checkpoint: checkpoint, target: target, settings: beforeSettings).run(on: bus.arm)
            after = try RunSession(robot: robot, calibration: bus.calibration, checkpoint: checkpoint, target: target, settings: settings).run(on: bus.arm)
        } catch {
            throw RuntimeError("\(error)")
        }
        for outcome in [before, after] where outcome.loop.stoppedOnFault {
            throw RuntimeError("the run stopped: \(outcome.loop.stopReason)")
        }
        guard let tb = before.tracking, let ta = after.tracking, let segmented = after.segmented else {
            throw RuntimeError("the runs ended before the demonstration (\(before.loop.stopReason); \(after.loop.stopReason))")
        }
        let names = robot.joints.map(\.name)
        let f2 = { (x: Double) in String(format: "%.2f", x) }
        say("  before      joint RMS \(f2(tb.jointRMSDegrees))° over all joints (the meta-trained controller, no update), \(before.loop.ticks) ticks")
        say("  update      one e-prop update per segment: \(segmented.layout.count) segments of \(segmented.layout.steps) ticks, each on its own crossbar tiles; \(after.programming?.devicesProgrammed ?? 0) PCM devices programmed (\(settings.pcm.rawValue) model)")
        say("  after       joint RMS \(f2(ta.jointRMSDegrees))° (\(String(format: "%.1f", tb.jointRMSDegrees / max(ta.jointRMSDegrees, 1e-9)))× smaller), \(after.loop.ticks) ticks")
        say("  per joint   " + names.indices.map { "\(names[$0]) \(f2(tb.perJointRMSDegrees[$0]))° → \(f2(ta.perJointRMSDegrees[$0]))°" }.joined(separator: ", "))

        // One panel per joint: the demonstration, and the arm before and after.
        let period = RunSession.stepSeconds
        var series: [PlotSeries] = []
        let targetTime = (0..<target.steps).map { Double($0 + 1) * period }
        series.append(PlotSeries(label: "demonstration", time: targetTime,
                                 joints: names.indices.map { j in (name: names[j], radians: (0..<target.steps).map { target.angles[$0 * target.joints + j] }) },
                                 role: .target))
        for (label, role, outcome) in [("measured before the update", PlotRole.before, before), ("measured after one update per segment", PlotRole.measured, after)] {
            let log = outcome.loop.log
            series.append(PlotSeries(label: label, time: (0..<log.count).map { log.time[$0] },
                                     joints: names.indices.map { j in (name: names[j], radians: (0..<log.count).map { log.measured(tick: $0, joint: j) }) },
                                     role: role))
        }
        let svg = TrajectoryPlot.svg(series, title: "engram demo: \(robot.name), whole arm, one e-prop update per segment (seed \(seed))")
        do { try svg.write(toFile: plotPath, atomically: true, encoding: .utf8) } catch {
            throw RuntimeError("\(plotPath): cannot write the plot (\(error.localizedDescription))")
        }
        say("  plot        \(plotPath)")
        if json {
            let object: [String: Any] = [
                "robot": robot.name, "seed": Int(seed), "pcm": settings.pcm.rawValue, "checkpoint": checkpointPath, "whole_arm": true,
                "ticks": ["before": before.loop.ticks, "after": after.loop.ticks, "demonstration": target.steps + 1],
                "before": ["joint_rms_deg": tb.jointRMSDegrees, "per_joint_rms_deg": Dictionary(uniqueKeysWithValues: zip(names, tb.perJointRMSDegrees))],
                "after": ["joint_rms_deg": ta.jointRMSDegrees, "per_joint_rms_deg": Dictionary(uniqueKeysWithValues: zip(names, ta.perJointRMSDegrees))],
                "update": ["segments": segmented.layout.count, "devices_programmed": after.programming?.devicesProgrammed ?? 0],
                "plot": plotPath,
            ]
            try JSONOutput.print(object)
        } else {
            print("""

                Try next (engram is not on your PATH: run it through swift from this folder):
                  swift run -c release engram record --robot \(robotDir) --sim --fast --out demo.csv    a 10 s demonstration of every joint
                  swift run -c release engram run --robot \(robotDir) --sim --target demo.csv --plot run.svg
                  swift run -c release engram evaluate --whole-arm --robot \(robot.name)    20 demonstrations, before and after
                  swift run -c release engram demo --robot \(robotDir) --open-loop    the paper's two-joint controller
                """)
        }
        return 0
    }
}
