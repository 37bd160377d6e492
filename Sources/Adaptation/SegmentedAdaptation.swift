import Foundation
import Kinematics
import Spiking
import Tensors
import Trajectories

/// How a demonstration of any length is cut into the trials of a whole-arm controller (docs/whole-arm.md):
/// consecutive segments of `steps` ticks, each starting `steps − handOver` ticks after the previous one, the
/// last one ending with the demonstration (so it may overlap its predecessor by more). Each segment is a
/// weight set on its own crossbar tiles, adapted by its own e-prop update from its slice; over the last
/// `handOver` ticks of a segment the command is cross-faded (smoothstep) to the next one.
public struct SegmentLayout: Sendable, Equatable {
    /// Ticks of the demonstration (and of the run).
    public let ticks: Int
    /// Steps of one segment's trial.
    public let steps: Int
    /// Ticks over which one segment hands over to the next.
    public let handOver: Int
    /// First tick of each segment's trial.
    public let starts: [Int]

    /// The layout of a `ticks`-tick demonstration in trials of `steps` with hand-overs of `handOver` ticks.
    public init(ticks: Int, steps: Int, handOver: Int) {
        precondition(ticks > 0 && steps > 0 && handOver >= 0 && handOver < steps, "a layout needs ticks > 0 and 0 ≤ handOver < steps")
        self.ticks = ticks
        self.steps = steps
        self.handOver = handOver
        var starts = [0]
        let stride = steps - handOver
        while starts.last! + steps < ticks {
            starts.append(min(starts.last! + stride, ticks - steps))
        }
        self.starts = starts
    }

    /// Segments.
    public var count: Int { starts.count }

    /// The weight of segment `k` in the command at tick `n` (weights of the segments covering a tick add up
    /// to 1): segment k + 1 fades in, by smoothstep, over the last `handOver` ticks of segment k's trial.
    public func weight(segment k: Int, tick n: Int) -> Double {
        let start = starts[k], end = start + steps
        guard n >= start, n < end else { return 0 }
        var w = 1.0
        if k > 0 { w = min(w, Self.fadeIn(tick: n, fadeEnd: starts[k - 1] + steps, length: handOver)) }
        if k + 1 < count { w = min(w, 1 - Self.fadeIn(tick: n, fadeEnd: end, length: handOver)) }
        return w
    }

    /// 0 before the fade, smoothstep inside the `length` ticks that end at `fadeEnd`, 1 from `fadeEnd` on.
    static func fadeIn(tick n: Int, fadeEnd: Int, length: Int) -> Double {
        guard length > 0 else { return n >= fadeEnd ? 1 : 0 }
        let x = Double(n - (fadeEnd - length) + 1) / Double(length + 1)
        let c = min(max(x, 0), 1)
        return c * c * (3 - 2 * c)
    }
}

/// A whole-arm target cut to one segment: `steps` ticks from `start` (past the end, the last pose held),
/// with the pose before its first tick.
public func segmentTarget(_ target: TargetTrajectory, startAngles: [Double], from start: Int, steps: Int) -> (target: TargetTrajectory, startAngles: [Double]) {
    let j = target.joints
    var angles = [Double](), omega = [Double](), ee = [SIMD3<Double>]()
    angles.reserveCapacity(steps * j)
    omega.reserveCapacity(steps * j)
    for t in start..<(start + steps) {
        let row = min(t, target.steps - 1)
        angles += target.angles[(row * j)..<((row + 1) * j)]
        if t < target.steps { omega += target.angularVelocity[(row * j)..<((row + 1) * j)] } else { omega += [Double](repeating: 0, count: j) }
        ee.append(target.endEffector[row])
    }
    let before = start == 0 ? startAngles : Array(target.angles[((start - 1) * j)..<(start * j)])
    return (TargetTrajectory(steps: steps, joints: j, angularVelocity: omega, angles: angles, endEffector: ee, stepSeconds: target.stepSeconds), before)
}

/// What adapting a whole-arm controller to a demonstration did: one one-shot adaptation per segment, and
/// the stitched command paths before and after (the integrated outputs of each segment's trial 1 and
/// trial 2 from the segment's start pose, cross-faded as the deployed policy does).
public struct SegmentedAdaptationResult: Sendable {
    /// The layout.
    public var layout: SegmentLayout
    /// Per segment, its adaptation.
    public var segments: [AdaptationResult]
    /// The stitched command path before the updates (ticks × joints, rad).
    public var pathBefore: [Double]
    /// The stitched command path after the updates (ticks × joints, rad).
    public var pathAfter: [Double]
    /// RMS over ticks of `pathBefore` − target per joint (degrees).
    public var perJointRMSDegreesBefore: [Double]
    /// RMS over ticks of `pathAfter` − target per joint (degrees).
    public var perJointRMSDegreesAfter: [Double]
    /// Mean over joints of the squared per-joint RMS, square-rooted: the RMS over ticks and joints (degrees).
    public var jointRMSDegreesBefore: Double { Self.rms(perJointRMSDegreesBefore) }
    /// The same after the updates.
    public var jointRMSDegreesAfter: Double { Self.rms(perJointRMSDegreesAfter) }

    static func rms(_ v: [Double]) -> Double { v.isEmpty ? 0 : (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot() }
}

/// The whole-arm inner loop over a demonstration of any length: per segment of `SegmentLayout`, program the
/// meta-learned weights on the segment's own synapses (crossbar tiles), run trial 1, the LSG on the slice's
/// joint code, one natural e-prop update written to the changed devices, and trial 2. The adapted trainees
/// (`networks`) are what `SegmentedSpikingPolicy` deploys, one per segment.
public struct SegmentedAdaptation<Weights: Synapses, Kinematics: ForwardKinematics>: Sendable {
    /// The controller's architecture (must have `jointTarget`).
    public let architecture: ControllerArchitecture
    /// The layout of the demonstration.
    public let layout: SegmentLayout
    /// Per segment, the adapted trainee (or, without the update, the programmed meta-learned one).
    public private(set) var networks: [RecurrentSpikingNetwork<Weights>] = []
    /// Per segment, the pose before its first tick (all joints, rad): where its integration starts.
    public private(set) var segmentStarts: [[Double]] = []
    /// Device read time of trial 2 (deployment reads from here on).
    public let readStart: Double

    /// Adapts (or, with `update: false`, only programs) one weight set per segment of `target`, a whole-arm
    /// demonstration (every joint, in the controller's output order) that starts from `startAngles`.
    public init(architecture a: ControllerArchitecture, weights: ControllerWeights, kinematics: Kinematics, target: TargetTrajectory,
                startAngles: [Double], quantize: Bool, update: Bool = true, timing: AdaptationTiming = AdaptationTiming(),
                rng: inout RandomSource, makeSynapses: (_ rows: Int, _ columns: Int) -> Weights) {
        precondition(a.jointTarget != nil, "segmented adaptation is for whole-arm controllers")
        precondition(target.joints == a.outputs && startAngles.count == a.outputs, "the target must cover every joint of the controller")
        architecture = a
        layout = SegmentLayout(ticks: target.steps, steps: a.steps, handOver: a.jointTarget!.handOverSteps)
        readStart = timing.secondTrial
        var results: [AdaptationResult] = []
        for start in layout.starts {
            let (slice, before) = segmentTarget(target, startAngles: startAngles, from: start, steps: a.steps)
            var loss = TrajectoryLoss(kinematics: kinematics, drivenJoints: Array(0..<a.outputs), restAngles: before)
            loss.jointSpace = true
            var adapter = OneShotAdaptation(architecture: a, weights: weights, loss: loss, quantize: quantize, timing: timing,
                                            makeSynapses: makeSynapses)
            if update {
                results.append(adapter.adapt(to: slice, startAngles: before, rng: &rng))
                networks.append(adapter.trainee)
            } else {
                var network = adapter.trainee
                network.program(synapses: weights.traineeStacked, readout: weights.traineeReadout, at: timing.initialProgramming, rng: &rng)
                networks.append(network)
            }
            segmentStarts.append(before)
        }
        self.results = results
    }

    /// Per segment, its adaptation (empty without the update).
    public let results: [AdaptationResult]

    /// The stitched command paths of the adaptation's trials 1 and 2 (no arm: each segment's outputs
    /// integrated from its start pose, cross-faded) and their errors against `target`.
    public func summary(target: TargetTrajectory) -> SegmentedAdaptationResult {
        let j = architecture.outputs, n = layout.ticks
        func stitch(_ outputs: (Int) -> [Float]) -> [Double] {
            var path = [Double](repeating: 0, count: n * j)
            for (k, start) in layout.starts.enumerated() {
                let out = outputs(k)
                var q = segmentStarts[k]
                for t in 0..<architecture.steps where start + t < n {
                    let w = layout.weight(segment: k, tick: start + t)
                    for o in 0..<j {
                        q[o] += target.stepSeconds * Double(out[t * j + o])
                        path[(start + t) * j + o] += w * q[o]
                    }
                }
            }
            return path
        }
        func perJoint(_ path: [Double]) -> [Double] {
            (0..<j).map { o in
                var s = 0.0
                for t in 0..<n { let e = path[t * j + o] - target.angles[t * j + o]; s += e * e }
                return (s / Double(n)).squareRoot() * 180 / .pi
            }
        }
        let before = stitch { results[$0].outputBefore }
        let after = stitch { results[$0].outputAfter }
        return SegmentedAdaptationResult(layout: layout, segments: results, pathBefore: before, pathAfter: after,
                                         perJointRMSDegreesBefore: perJoint(before), perJointRMSDegreesAfter: perJoint(after))
    }
}
