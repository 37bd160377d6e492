import Foundation
import Kinematics
import Adaptation
import PhaseChange
import Robot
import Spiking
import Tensors
import Trajectories

/// Which synapses the trainee runs on.
public enum SynapseMode: String, Sendable, CaseIterable {
    /// Ideal float weights (`DenseSynapses`).
    case off
    /// The paper's PCM model on a crossbar.
    case paper
    /// The physical PCM model on a crossbar (drift in device seconds since programming).
    case physical
}

/// A run that cannot start: one line naming the file or setting and what to do.
public struct RunSessionError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to do.
    public var description: String
    /// An error with `description`.
    public init(_ description: String) { self.description = description }
}

/// How a run goes: rate, pacing, synapses, seed and the safety envelope's settings.
public struct RunSettings: Sendable {
    /// Loop rate (Hz); one network step per tick.
    public var rateHz: Double = 100
    /// Real-time pacing on an arm, simulated pacing for a simulated arm.
    public var pacing: LoopPacing = .simulated
    /// Stop after this long (s); nil runs the whole trial.
    public var duration: Double? = nil
    /// The trainee's synapses.
    public var pcm: SynapseMode = .physical
    /// Round the one-shot update to 1/16 of w_max (nil: on with PCM, off without, as `engram adapt`).
    public var quantize: Bool? = nil
    /// Seed of the device noise.
    public var seed: UInt64 = 0
    /// Ease-in time of the safety envelope (s).
    public var easeInSeconds: Double = 0.2
    /// Consecutive failed reads the watchdog tolerates.
    public var failedReadBudget: Int = 3
    /// What the watchdog does when the budget is exceeded.
    public var watchdogAction: WatchdogAction = .hold
    /// Poll SIGINT/SIGTERM each tick.
    public var watchSignals: Bool = true
    /// Speed of the move to the start pose before the trial, as a fraction of each joint's max speed.
    public var approachSpeedFraction: Double = 0.5
    /// Adapt to the target before running (false runs the controller as loaded and only measures
    /// tracking against the target: the "before" of a demo).
    public var adapt: Bool = true
    /// Ask for SCHED_FIFO priority and locked memory once the controller is ready (`RealTimeScheduling`).
    public var requestRealTime: Bool = false
    /// Defaults: 100 Hz, simulated pacing, physical PCM, seed 0.
    public init() {}
}

/// How closely the arm followed: measured joint angles one period after each network step against the
/// reference (the target trajectory, or without one the controller's own integrated goals).
public struct TrackingError: Sendable, Equatable {
    /// "target" or "goals".
    public var reference: String
    /// RMS angle error over the driven joints and steps (degrees).
    public var jointRMSDegrees: Double
    /// RMS angle error per driven joint (degrees).
    public var perJointRMSDegrees: [Double]
    /// Mean Euclidean end-effector error, both poses through the robot's forward kinematics (mm).
    public var endEffectorMeanMillimetres: Double
    /// Largest end-effector error (mm).
    public var endEffectorMaxMillimetres: Double
    /// Steps compared.
    public var samples: Int
}

/// What one run did.
public struct RunOutcome: Sendable {
    /// The loop's ticks, timing and safety report.
    public var loop: ControlLoopResult
    /// Tracking against the target (or the controller's goals).
    public var tracking: TrackingError?
    /// The one-shot adaptation, when a target was given (a two-joint controller).
    public var adaptation: AdaptationResult?
    /// The per-segment adaptations of a whole-arm controller, with the stitched command paths.
    public var segmented: SegmentedAdaptationResult? = nil
    /// PCM devices programmed and pulses for the whole session (initial programming plus the update); nil for ideal synapses.
    public var programming: ProgrammingReport?
    /// Network outputs ω, steps × driven joints (rad/s).
    public var networkOutputs: [Float]
    /// The controller's integrated goals of the driven joints, steps × driven joints (rad).
    public var integratedGoals: [Double]
    /// Device read time of the last network step (s).
    public var lastReadTime: Double
    /// Real-time requests that were refused (see `RunSettings.requestRealTime`).
    public var realTimeWarnings: [String] = []
}

/// What `engram run` does, reusable by `engram demo`: a robot, its controller checkpoint and an optional
/// target; `run(on:)` adapts the controller once to the target (natural e-prop, written to the crossbar's
/// changed devices), runs the trainee as a `SpikingPolicy` in the `ControlLoop` on an arm behind the
/// `SafetyEnvelope`, and measures the tracking error.
///
/// A closed-loop checkpoint (`architecture.proprioception`) runs the same way: the adaptation's trial 1 hears
/// the demonstration's perfect execution from `startPose`, and the policy hears the arm's measured angles
/// and tracking errors every tick (docs/closed-loop.md).
public struct RunSession: Sendable {
    /// The robot.
    public let robot: RobotDescription
    /// The calibration (limits are the description's ∩ the calibrated ranges).
    public let calibration: Calibration?
    /// The controller.
    public let checkpoint: ControllerCheckpoint
    /// The target to adapt to and track, if any.
    public let target: TargetTrajectory?
    /// Rate, pacing, synapses, seed, safety.
    public var settings: RunSettings

    /// Robot time per network step (s): the paper integrates each step as 10 ms.
    public static let stepSeconds = 0.01

    /// Checks that the controller fits the robot (one output per driven joint) and the target fits both.
    public init(robot: RobotDescription, calibration: Calibration?, checkpoint: ControllerCheckpoint, target: TargetTrajectory?,
                settings: RunSettings) throws(RunSessionError) {
        let a = checkpoint.architecture
        let driven = robot.controller.drivenJoints
        if a.jointTarget != nil {
            // A whole-arm controller: one output per joint of the robot, and a target of any length over them all.
            guard a.outputs == robot.joints.count else {
                throw RunSessionError("the whole-arm controller has \(a.outputs) outputs but robot '\(robot.name)' has \(robot.joints.count) joints; use a whole-arm controller meta-trained for this robot ('engram meta-train --robot <dir> --whole-arm')")
            }
            if let target {
                guard target.joints == robot.joints.count else {
                    throw RunSessionError("the target has \(target.joints) joints; the whole-arm controller needs all \(robot.joints.count) of \(robot.name)")
                }
                let most = Int((WholeArm.maximumSeconds * settings.rateHz).rounded())
                guard target.steps <= most else {
                    throw RunSessionError("the target has \(target.steps) ticks; a whole-arm run takes at most \(most) (\(Int(WholeArm.maximumSeconds)) s at \(Int(settings.rateHz)) Hz)")
                }
            } else {
                throw RunSessionError("a whole-arm controller learns a demonstration: give --target <csv> with every joint of \(robot.name)")
            }
            if let calibration, let mismatch = calibration.mismatch(with: robot) { throw RunSessionError(mismatch) }
            self.robot = robot
            self.calibration = calibration
            self.checkpoint = checkpoint
            self.target = target
            self.settings = settings
            return
        }
        guard a.outputs == driven.count else {
            throw RunSessionError("the controller has \(a.outputs) outputs but robot '\(robot.name)' drives \(driven.count) joints (\(driven.joined(separator: ", "))); use a controller meta-trained for this robot")
        }
        if let target {
            guard target.joints == driven.count, target.steps == a.steps else {
                throw RunSessionError("the target has \(target.steps) steps × \(target.joints) joints; the controller needs \(a.steps) × \(driven.count)")
            }
        }
        if let calibration, let mismatch = calibration.mismatch(with: robot) { throw RunSessionError(mismatch) }
        if let p = a.proprioception, p.jointRanges.count != driven.count {
            throw RunSessionError("the controller's proprioception codes \(p.jointRanges.count) joints but robot '\(robot.name)' drives \(driven.count); use a closed-loop controller meta-trained for this robot")
        }
        self.robot = robot
        self.calibration = calibration
        self.checkpoint = checkpoint
        self.target = target
        self.settings = settings
    }

    /// Whether the controller is a whole-arm one (every joint, segments; docs/whole-arm.md).
    public var isWholeArm: Bool { checkpoint.architecture.jointTarget != nil }

    /// Indices of the joints the controller drives, in output order: every joint for a whole-arm controller.
    public var drivenIndices: [Int] { isWholeArm ? Array(robot.joints.indices) : robot.drivenJointIndices }

    /// The robot's kinematics, type-erased.
    public var kinematics: AnyKinematics { AnyKinematics(robot.forwardKinematics) }

    /// The paper's task family on `robot`: its driven joints, their limits, the other joints at home.
    public static func taskFamily(for robot: RobotDescription, steps: Int = 249) -> TaskFamily<AnyKinematics> {
        let limits = robot.jointLimitsRadians()
        let driven = robot.drivenJointIndices
        return TaskFamily(kinematics: AnyKinematics(robot.forwardKinematics), drivenJoints: driven,
                          jointLimits: driven.map { limits[$0] }, restAngles: robot.homeRadians, steps: steps, stepSeconds: stepSeconds)
    }

    /// Reads a target trajectory CSV for `robot`: its columns must be joints of the robot and include the
    /// driven ones; velocities and end effector are derived where missing; it must have `steps` rows.
    public static func loadTarget(fromFileAt path: String, robot: RobotDescription, steps: Int) throws(RunSessionError) -> TargetTrajectory {
        let file: TrajectoryFile
        do {
            file = try TrajectoryFile(contentsOfFile: path)
        } catch {
            throw RunSessionError("\(error)")
        }
        var indices: [Int] = []
        for name in file.joints {
            guard let i = robot.jointIndex(named: name) else {
                throw RunSessionError("\(path): column '\(name).pos' is not a joint of \(robot.name) (\(robot.joints.map(\.name).joined(separator: ", "))); rename or remove it")
            }
            indices.append(i)
        }
        for name in robot.controller.drivenJoints where !file.joints.contains(name) {
            throw RunSessionError("\(path): missing column '\(name).pos'; \(robot.name)'s controller drives \(robot.controller.drivenJoints.joined(separator: ", "))")
        }
        do {
            try file.checkPositions(within: Dictionary(uniqueKeysWithValues: robot.joints.map { ($0.name, $0.limitsRadians) }), source: path)
        } catch {
            throw RunSessionError(error.description)
        }
        let fitted = file.rows == steps || file.rows < 2 ? file : file.resampled(rows: steps, stepSeconds: stepSeconds)
        let full = fitted.derivingMissing(kinematics: AnyKinematics(robot.forwardKinematics), jointIndices: indices, restAngles: robot.homeRadians)
        guard full.rows == steps else {
            throw RunSessionError("\(path): has \(full.rows) rows; the controller runs \(steps) steps, so give \(steps) rows (\(String(format: "%.2f", Double(steps) * stepSeconds)) s at \(Int((1 / stepSeconds).rounded())) Hz)")
        }
        do {
            return try full.target(joints: robot.controller.drivenJoints, stepSeconds: stepSeconds, source: path)
        } catch {
            throw RunSessionError("\(error)")
        }
    }

    /// Whether the update is rounded to 1/16.
    public var quantizesUpdate: Bool { settings.quantize ?? (settings.pcm != .off) }

    /// Adapts (when there is a target) and runs the controller on `arm`; `recorder`, when given, receives
    /// one row per tick (measured positions, then goals).
    public func run(on arm: any Arm, recorder: TrajectoryRecorder? = nil) -> RunOutcome {
        switch settings.pcm {
        case .off:
            return run(on: arm, recorder: recorder) { DenseSynapses(rows: $0, columns: $1) }
        case .paper, .physical:
            let parameters = PCMParameters(kind: settings.pcm == .paper ? .paper : .physical)
            return run(on: arm, recorder: recorder) { Crossbar(rows: $0, columns: $1, parameters: parameters) }
        }
    }

    /// The trainee programmed with the checkpoint's (or, with a target, the adapted) weights, and when it
    /// should next be read (device seconds).
    func prepareNetwork<W: Synapses>(rng: inout RandomSource, makeSynapses: (Int, Int) -> W)
        -> (network: RecurrentSpikingNetwork<W>, readStart: Double, adaptation: AdaptationResult?) {
        let a = checkpoint.architecture
        if let target, settings.adapt {
            // The loss integrates ω̂ from the pose the trial starts at, as the arm will.
            let loss = TrajectoryLoss(kinematics: kinematics, drivenJoints: robot.drivenJointIndices, restAngles: startPose)
            var adapter = OneShotAdaptation(architecture: a, weights: checkpoint.weights, loss: loss, quantize: quantizesUpdate,
                                            makeSynapses: makeSynapses)
            let start = startPose
            let result = adapter.adapt(to: target, startAngles: robot.drivenJointIndices.map { start[$0] }, rng: &rng)
            return (adapter.trainee, adapter.timing.secondTrial, result)
        }
        var network = RecurrentSpikingNetwork(
            inputCount: a.traineeInputs, layer: LIFLayer(count: a.traineeNeurons, parameters: a.trainee), outputCount: a.outputs,
            synapses: makeSynapses(a.traineeSynapseRows, a.traineeNeurons), readout: makeSynapses(a.traineeNeurons, a.outputs))
        let timing = AdaptationTiming()
        network.program(synapses: checkpoint.weights.traineeStacked, readout: checkpoint.weights.traineeReadout,
                        at: timing.initialProgramming, rng: &rng)
        return (network, timing.firstTrial, nil)
    }

    /// The pose the trial starts from (rad, all joints): home, with the driven joints at the target's
    /// q_0 = q_1 − Δt·ω_1 (the pose before its first step) when there is a target.
    public var startPose: [Double] {
        var pose = robot.homeRadians
        if let target {
            for (m, j) in drivenIndices.enumerated() {
                pose[j] = target.angles[m] - Self.stepSeconds * target.angularVelocity[m]
            }
        }
        let limits = robot.jointLimitsRadians(calibration: calibration)
        for j in pose.indices { pose[j] = min(max(pose[j], limits[j].lowerBound), limits[j].upperBound) }
        return pose
    }

    /// The safety envelope for this robot, calibration and rate.
    public func makeEnvelope() -> SafetyEnvelope {
        let limits = robot.jointLimitsRadians(calibration: calibration)
        return SafetyEnvelope(
            limits: SafetyLimits(lower: limits.map(\.lowerBound), upper: limits.map(\.upperBound),
                                 maxSpeed: robot.joints.map(\.maxSpeedRadiansPerSecond)),
            period: 1 / settings.rateHz, easeInSeconds: settings.easeInSeconds,
            failedReadBudget: settings.failedReadBudget, watchdogAction: settings.watchdogAction)
    }

    func run<W: Synapses>(on arm: any Arm, recorder: TrajectoryRecorder?, makeSynapses: (Int, Int) -> W) -> RunOutcome {
        let a = checkpoint.architecture
        let root = RandomSource(seed: settings.seed)
        var rng = root.derived(0)
        if isWholeArm { return runWholeArm(on: arm, recorder: recorder, rng: &rng, root: root, makeSynapses: makeSynapses) }
        let (network, readStart, adaptation) = prepareNetwork(rng: &rng, makeSynapses: makeSynapses)
        var policy = SpikingPolicy(network: network, clock: a.clock, steps: a.steps, drivenJoints: robot.drivenJointIndices,
                                   stepSeconds: Self.stepSeconds, deviceClock: DeviceClock(start: readStart), rng: root.derived(1),
                                   proprioception: a.proprioception)
        let start = startPose
        policy.initialPose = start
        // Everything the loop touches exists now: this is the moment to pin memory and raise priority.
        let warnings = settings.requestRealTime ? RealTimeScheduling.request() : []
        // Bring the arm to the trial's start pose first (unrecorded), so the trial starts where the target does.
        let clock = settings.pacing.makeClock()
        if let stopped = approach(arm, to: start, clock: clock) {
            return RunOutcome(loop: stopped, tracking: nil, adaptation: adaptation, programming: nil, networkOutputs: [],
                              integratedGoals: [], lastReadTime: 0, realTimeWarnings: warnings)
        }
        var envelope = makeEnvelope()
        let result = trialLoop(recorder: recorder, clock: clock).run(arm: arm, policy: &policy, envelope: &envelope, expectedTicks: a.steps + 2)
        var programming: ProgrammingReport? = nil
        if let synapses = policy.network.synapses as? Crossbar, let readout = policy.network.readout as? Crossbar {
            programming = ProgrammingReport(devicesProgrammed: synapses.accounting.devicesProgrammed + readout.accounting.devicesProgrammed,
                                            pulses: synapses.accounting.pulses + readout.accounting.pulses)
        }
        let tracking = Self.trackingError(log: result.log, robot: robot, target: target, integratedGoals: policy.integratedGoals)
        return RunOutcome(loop: result, tracking: tracking, adaptation: adaptation, programming: programming,
                          networkOutputs: policy.outputs, integratedGoals: policy.integratedGoals, lastReadTime: policy.lastReadTime,
                          realTimeWarnings: warnings)
    }

    /// Moves the arm to `start` at a fraction of each joint's top speed (unrecorded) behind its own envelope,
    /// on `clock` (the trial's); nil when it got there, else the loop's result (a fault or a signal).
    func approach(_ arm: any Arm, to start: [Double], clock: any LoopClock) -> ControlLoopResult? {
        var envelope = makeEnvelope()
        var policy = ApproachPolicy(goal: start, maxSpeed: robot.joints.map { $0.maxSpeedRadiansPerSecond * settings.approachSpeedFraction })
        let loop = ControlLoop(rateHz: settings.rateHz, pacing: settings.pacing, clock: clock, duration: nil, recorder: nil,
                               watchSignals: settings.watchSignals)
        let result = loop.run(arm: arm, policy: &policy, envelope: &envelope, expectedTicks: 64)
        return result.stop == .policyFinished ? nil : result
    }

    /// The loop of the trial itself on `clock` (recorded when `recorder` is given).
    func trialLoop(recorder: TrajectoryRecorder?, clock: any LoopClock) -> ControlLoop {
        ControlLoop(rateHz: settings.rateHz, pacing: settings.pacing, clock: clock, duration: settings.duration, recorder: recorder,
                    watchSignals: settings.watchSignals)
    }

    /// A whole-arm run: one weight set per segment of the target, each adapted by its own update (or, with
    /// `adapt` off, programmed with the meta-learned weights), deployed as a `SegmentedSpikingPolicy` for as
    /// many ticks as the target has rows.
    func runWholeArm<W: Synapses>(on arm: any Arm, recorder: TrajectoryRecorder?, rng: inout RandomSource, root: RandomSource,
                                  makeSynapses: (Int, Int) -> W) -> RunOutcome {
        let a = checkpoint.architecture
        let target = target!
        let start = startPose
        let adaptation = SegmentedAdaptation(architecture: a, weights: checkpoint.weights, kinematics: kinematics, target: target,
                                             startAngles: start, quantize: quantizesUpdate, update: settings.adapt, rng: &rng,
                                             makeSynapses: makeSynapses)
        var policy = SegmentedSpikingPolicy(networks: adaptation.networks, layout: adaptation.layout, segmentStarts: adaptation.segmentStarts,
                                            clock: a.clock, stepSeconds: Self.stepSeconds, deviceClock: DeviceClock(start: adaptation.readStart),
                                            rng: root.derived(1))
        let warnings = settings.requestRealTime ? RealTimeScheduling.request() : []
        let segmented = settings.adapt ? adaptation.summary(target: target) : nil
        let clock = settings.pacing.makeClock()
        if let stopped = approach(arm, to: start, clock: clock) {
            return RunOutcome(loop: stopped, tracking: nil, adaptation: nil, segmented: segmented, programming: nil, networkOutputs: [],
                              integratedGoals: [], lastReadTime: 0, realTimeWarnings: warnings)
        }
        var envelope = makeEnvelope()
        let result = trialLoop(recorder: recorder, clock: clock).run(arm: arm, policy: &policy, envelope: &envelope, expectedTicks: target.steps + 2)
        var programming: ProgrammingReport? = nil
        var devices = 0, pulses = 0, crossbars = 0
        for network in policy.networks {
            if let synapses = network.synapses as? Crossbar, let readout = network.readout as? Crossbar {
                devices += synapses.accounting.devicesProgrammed + readout.accounting.devicesProgrammed
                pulses += synapses.accounting.pulses + readout.accounting.pulses
                crossbars += 1
            }
        }
        if crossbars > 0 { programming = ProgrammingReport(devicesProgrammed: devices, pulses: pulses) }
        let tracking = Self.trackingError(log: result.log, robot: robot, target: target, integratedGoals: policy.integratedGoals, driven: drivenIndices)
        return RunOutcome(loop: result, tracking: tracking, adaptation: nil, segmented: segmented, programming: programming,
                          networkOutputs: policy.outputs, integratedGoals: policy.integratedGoals, lastReadTime: policy.lastReadTime,
                          realTimeWarnings: warnings)
    }

    /// Tracking error of a run's log: the pose measured at tick k + 1 (one period after step k's goal was
    /// sent) against step k of `target` (or, without a target, of `integratedGoals`, driven joints × steps).
    /// Joints not driven are taken as measured; nil when fewer than two ticks were logged. `driven` are the
    /// joints compared (default: the robot's driven joints; every joint for a whole-arm run).
    public static func trackingError(log: RunLog, robot: RobotDescription, target: TargetTrajectory?, integratedGoals: [Double],
                                     driven given: [Int]? = nil) -> TrackingError? {
        let driven = given ?? robot.drivenJointIndices
        let d = driven.count
        guard d > 0 else { return nil }
        let referenceSteps = target?.steps ?? integratedGoals.count / d
        let samples = min(referenceSteps, log.count - 1)
        guard samples > 0 else { return nil }
        let fk = robot.forwardKinematics
        var squared = [Double](repeating: 0, count: d)
        var eeSum = 0.0, eeMax = 0.0
        var measured = [Double](repeating: 0, count: robot.joints.count)
        var reference = measured
        for k in 0..<samples {
            for j in 0..<robot.joints.count { measured[j] = log.measured(tick: k + 1, joint: j) }
            reference = measured
            for (m, j) in driven.enumerated() {
                let r = target.map { $0.angles[k * d + m] } ?? integratedGoals[k * d + m]
                reference[j] = r
                squared[m] += (measured[j] - r) * (measured[j] - r)
            }
            let targetPoint = target.map { $0.endEffector[k] } ?? fk.position(reference)
            let e = fk.position(measured) - targetPoint
            let distance = (e * e).sum().squareRoot()
            eeSum += distance
            eeMax = max(eeMax, distance)
        }
        let perJoint = squared.map { ($0 / Double(samples)).squareRoot() * 180 / .pi }
        let rms = (squared.reduce(0, +) / Double(samples * d)).squareRoot() * 180 / .pi
        return TrackingError(reference: target == nil ? "goals" : "target", jointRMSDegrees: rms, perJointRMSDegrees: perJoint,
                             endEffectorMeanMillimetres: eeSum / Double(samples) * 1000, endEffectorMaxMillimetres: eeMax * 1000,
                             samples: samples)
    }
}

extension SynapseMode {
    /// The PCM model a controller was meta-trained with (`engram.training.pcm` in its metadata), which
    /// is the one it runs best on; `.physical` (Engram's default device model) when the checkpoint
    /// does not say or was trained without PCM.
    public static func trainedFor(_ checkpoint: ControllerCheckpoint) -> SynapseMode {
        // A mixed run lists its models ("off,paper"); the PCM model among them is the one it was made for.
        let models = (checkpoint.metadata["engram.training.pcm"] ?? "").split(separator: ",")
        switch models.last(where: { $0 != "off" }) {
        case "paper": return .paper
        default: return .physical
        }
    }
}
