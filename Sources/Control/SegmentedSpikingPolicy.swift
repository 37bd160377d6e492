import Adaptation
import Spiking
import Tensors

/// A whole-arm controller deployed over a demonstration of any length (docs/whole-arm.md): one trainee per
/// segment of a `SegmentLayout`, each on its own synapses (crossbar tiles) with the weights its own one-shot
/// update left, run on the clock from its zero state during its segment's ticks. Each segment integrates its
/// outputs ω (rad/s, `stepSeconds` of robot time per step) from its own start pose, the demonstration's pose
/// before its first tick; the goal of every joint is the cross-faded sum of the running segments' integrated
/// angles (`SegmentLayout.weight`), so a segment hands over to the next without a jump and errors do not pile
/// up from one segment to the next. The run lasts the demonstration's ticks; then the policy holds the last
/// goal for one tick (so the arm's response to it is measured) and finishes. Like `SpikingPolicy` it counts
/// its own steps (a tick the loop skips delays the run), reads PCM at the device clock, and `goals` allocates
/// nothing.
public struct SegmentedSpikingPolicy<Weights: Synapses>: Policy {
    /// The segments' trainees.
    public private(set) var networks: [RecurrentSpikingNetwork<Weights>]
    /// The layout of the run.
    public let layout: SegmentLayout
    /// Per segment, the pose before its first tick (every joint, rad).
    public let segmentStarts: [[Double]]
    /// Robot time per network step (s).
    public let stepSeconds: Double
    /// The PCM read clock.
    public let deviceClock: DeviceClock
    /// The blended goals of every tick so far, ticks × joints (rad).
    public private(set) var integratedGoals: [Double]
    /// The outputs ω of the segment with the largest weight at every tick so far, ticks × joints (rad/s).
    public private(set) var outputs: [Float]
    /// Device read time of the last step (s).
    public private(set) var lastReadTime = 0.0
    /// Granularity of the device clock (s), as `SpikingPolicy.readTimeResolution`.
    public var readTimeResolution: Double = 5
    /// Ticks taken.
    public private(set) var stepsTaken = 0

    private let clock: SpikeRaster
    private var rng: RandomSource
    private var angles: [[Double]]
    private var last: [Double]

    /// A policy over the segments' programmed trainees (`SegmentedAdaptation.networks`).
    public init(networks: [RecurrentSpikingNetwork<Weights>], layout: SegmentLayout, segmentStarts: [[Double]], clock: ClockInput,
                stepSeconds: Double = 0.01, deviceClock: DeviceClock, rng: RandomSource) {
        precondition(networks.count == layout.count && segmentStarts.count == layout.count, "one network and start pose per segment")
        let joints = networks.first?.outputCount ?? 0
        precondition(segmentStarts.allSatisfy { $0.count == joints }, "start poses cover every joint")
        self.networks = networks
        self.layout = layout
        self.segmentStarts = segmentStarts
        self.stepSeconds = stepSeconds
        self.deviceClock = deviceClock
        self.rng = rng
        self.clock = clock.raster(steps: layout.steps)
        angles = segmentStarts
        last = segmentStarts[0]
        integratedGoals = []
        integratedGoals.reserveCapacity(layout.ticks * joints)
        outputs = []
        outputs.reserveCapacity(layout.ticks * joints)
    }

    public mutating func start(from pose: [Double]) {
        for k in networks.indices { networks[k].reset() }
        angles = segmentStarts
        last = segmentStarts[0]
        stepsTaken = 0
        integratedGoals.removeAll(keepingCapacity: true)
        outputs.removeAll(keepingCapacity: true)
    }

    /// Device read time at loop time `time` (s), as `SpikingPolicy.readTime(at:)`.
    public func readTime(at time: Double) -> Double {
        deviceClock.readTime(at: time, resolution: readTimeResolution)
    }

    public mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        let joints = last.count
        guard stepsTaken < layout.ticks else {
            for j in 0..<joints { goals[j] = last[j] }
            return .finished
        }
        let n = stepsTaken
        let t = readTime(at: time)
        lastReadTime = t
        for j in 0..<joints { last[j] = 0 }
        var strongest = 0, strongestWeight = -1.0
        for k in 0..<layout.count {
            let local = n - layout.starts[k]
            guard local >= 0, local < layout.steps else { continue }
            clock.withStep(local) { active in networks[k].step(activeInputs: active, at: t, rng: &rng) }
            let w = layout.weight(segment: k, tick: n)
            for j in 0..<joints {
                angles[k][j] += stepSeconds * Double(networks[k].output[j])
                last[j] += w * angles[k][j]
            }
            if w > strongestWeight { strongest = k; strongestWeight = w }
        }
        for j in 0..<joints {
            goals[j] = last[j]
            integratedGoals.append(last[j])
            outputs.append(networks[strongest].output[j])
        }
        stepsTaken += 1
        return .running
    }
}
