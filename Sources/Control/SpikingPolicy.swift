import Spiking
import Tensors

/// The PCM device clock of a deployed controller: device seconds since programming, `start` at loop time 0.
///
/// The device clock runs on the loop's clock: the read time at loop time t (the tick's measured time, which
/// the loop passes to the policy) is `start + t`, in simulated and in real time alike. It never reads a
/// clock itself, so a tick that starts late after an overrun reads the crossbar at the late time.
public struct DeviceClock: Sendable, Equatable {
    /// Device seconds since programming at loop time 0 (s).
    public var start: Double

    /// A device clock at `start` seconds since programming when the loop starts.
    public init(start: Double) { self.start = start }

    /// The read time at loop time `time` (s): `start + time`, the elapsed part rounded down to `resolution`
    /// (0: not rounded).
    public func readTime(at time: Double, resolution: Double) -> Double {
        guard resolution > 0 else { return start + time }
        return start + (time / resolution).rounded(.down) * resolution
    }
}

/// The trainee network of a learning-to-learn controller as a control policy.
///
/// Each tick advances the network one step (1 ms of model time) on the clock input; its outputs are the
/// angular velocities ω (rad/s) of the driven joints, integrated as `stepSeconds` (10 ms) of robot time
/// per step into goal angles: q_t = q_0 + Δt · Σ_{s ≤ t} ω_s, with q_0 the pose measured at start — the
/// same integration as the paper's loss. Joints the controller does not drive hold their start pose.
/// After the trial's `steps` network steps the policy holds the last goal for one more tick (so the arm's
/// response to the last step is measured) and finishes. The policy counts its own steps: a tick the loop
/// skips (a failed bus read) delays the trial by one tick instead of skipping a clock input.
///
/// A closed-loop controller (`proprioception` given; docs/closed-loop.md) also hears the arm: each tick,
/// before its step, a `ProprioceptiveEncoder` (reset at `start`, phases advancing once per step) codes per
/// driven joint the angle measured at the start of the tick q_m(t) and the error e(t) = c(t) − q_m(t), with
/// c(t) the integrated command before the step (c(0) = the pose measured at start); the network steps on
/// the clock rows ∪ the encoder's rows (after the clock's). A skipped tick (failed read) feeds nothing.
///
/// The synapses are whatever the network was built on: a PhaseChange `Crossbar` (reads drift with the
/// device clock and carry read noise drawn from the policy's seeded generator) or `DenseSynapses`.
/// `goals` allocates nothing.
public struct SpikingPolicy<Weights: Synapses>: Policy {
    /// The trainee.
    public private(set) var network: RecurrentSpikingNetwork<Weights>
    /// Indices of the driven joints among the arm's joints, in output order.
    public let drivenJoints: [Int]
    /// Robot time per network step (s).
    public let stepSeconds: Double
    /// Network steps in a trial.
    public let steps: Int
    /// The PCM read clock.
    public let deviceClock: DeviceClock
    /// The network outputs ω of every step so far, steps × outputs (rad/s).
    public private(set) var outputs: [Float]
    /// The integrated goal angles of the driven joints of every step, steps × outputs (rad).
    public private(set) var integratedGoals: [Double]
    /// Device read time of the last step (s).
    public private(set) var lastReadTime = 0.0
    /// Granularity of the device clock (s): the read time advances in steps of this size, so a physical
    /// crossbar recomputes its drifted conductances (one exp per device, about a millisecond for the
    /// trainee) at most once per step instead of every tick. Drift goes with log(t), so over a 2.5 s trial
    /// starting 32 s after programming the conductances change by under 0.2 % anyway.
    public var readTimeResolution: Double = 5

    /// The pose q_0 to integrate from (all joints, rad); nil takes the pose measured at start.
    public var initialPose: [Double]?

    private let clock: SpikeRaster
    private var rng: RandomSource
    /// The proprioceptive encoder of a closed-loop controller (nil open-loop).
    public private(set) var encoder: ProprioceptiveEncoder?
    /// Input rows of the clock (the encoder's rows follow).
    private let clockRows: Int
    /// The last step's active input rows of a closed-loop controller (clock, then proprioception),
    /// preallocated; empty open-loop.
    public private(set) var activeInputs: [Int32] = []
    private var measuredAngles: [Double] = []
    private var trackingErrors: [Double] = []
    private var startPose: [Double] = []
    private var angles: [Double]
    /// Network steps taken in this trial.
    public private(set) var stepsTaken = 0

    /// A policy over `network` (already programmed), driving `drivenJoints` (one per network output). With
    /// `proprioception` (a closed-loop controller's settings, one joint range per driven joint) the network's
    /// inputs are the clock's rows then the encoder's; without, the clock feeds every input.
    public init(network: RecurrentSpikingNetwork<Weights>, clock: ClockInput, steps: Int, drivenJoints: [Int],
                stepSeconds: Double = 0.01, deviceClock: DeviceClock, rng: RandomSource, proprioception: ProprioceptionSettings? = nil) {
        precondition(drivenJoints.count == network.outputCount, "one driven joint per network output")
        precondition(clock.neurons + (proprioception?.rowCount ?? 0) == network.inputCount,
                     "the clock and the proprioceptive encoder must feed every network input")
        clockRows = clock.neurons
        if let proprioception {
            precondition(proprioception.jointRanges.count == drivenJoints.count, "proprioception must code every driven joint")
            encoder = proprioception.makeEncoder()
            activeInputs.reserveCapacity(clock.neurons + proprioception.rowCount)
            measuredAngles = [Double](repeating: 0, count: drivenJoints.count)
            trackingErrors = [Double](repeating: 0, count: drivenJoints.count)
        }
        self.network = network
        self.drivenJoints = drivenJoints
        self.stepSeconds = stepSeconds
        self.steps = steps
        self.deviceClock = deviceClock
        self.clock = clock.raster(steps: steps)
        self.rng = rng
        outputs = []
        outputs.reserveCapacity(steps * drivenJoints.count)
        integratedGoals = []
        integratedGoals.reserveCapacity(steps * drivenJoints.count)
        angles = [Double](repeating: 0, count: drivenJoints.count)
    }

    /// Resets the network to its zero state and takes `initialPose`, or else the measured `pose`, as q_0.
    public mutating func start(from pose: [Double]) {
        startPose = initialPose ?? pose
        for (k, j) in drivenJoints.enumerated() { angles[k] = pose[j] }
        network.reset()
        encoder?.reset()
        stepsTaken = 0
        outputs.removeAll(keepingCapacity: true)
        integratedGoals.removeAll(keepingCapacity: true)
    }

    /// Device read time at loop time `time` (s): the device clock's start plus `time`, rounded down to
    /// `readTimeResolution`.
    public func readTime(at time: Double) -> Double {
        deviceClock.readTime(at: time, resolution: readTimeResolution)
    }

    /// One network step on the clock input (closed loop: and on the encoded `measured` angles and tracking
    /// errors of the driven joints), ω integrated into the driven joints' goals.
    public mutating func goals(tick: Int, time: Double, measured: [Double], into goals: inout [Double]) -> PolicyStatus {
        for j in 0..<goals.count { goals[j] = startPose[j] }
        guard stepsTaken < steps else {
            for (k, j) in drivenJoints.enumerated() { goals[j] = angles[k] }
            return .finished
        }
        let t = readTime(at: time)
        lastReadTime = t
        if encoder != nil {
            // q_m(t) and e(t) = c(t) − q_m(t), c(t) the integrated command before this step.
            for (k, j) in drivenJoints.enumerated() {
                measuredAngles[k] = measured[j]
                trackingErrors[k] = angles[k] - measured[j]
            }
            activeInputs.removeAll(keepingCapacity: true)
            clock.withStep(stepsTaken) { activeInputs.append(contentsOf: $0) }
            encoder!.encode(angles: measuredAngles, errors: trackingErrors, firstRow: clockRows, into: &activeInputs)
            activeInputs.withUnsafeBufferPointer { active in
                network.step(activeInputs: active, at: t, rng: &rng)
            }
        } else {
            clock.withStep(stepsTaken) { active in
                network.step(activeInputs: active, at: t, rng: &rng)
            }
        }
        stepsTaken += 1
        for k in 0..<drivenJoints.count {
            let omega = network.output[k]
            outputs.append(omega)
            angles[k] += stepSeconds * Double(omega)
            integratedGoals.append(angles[k])
            goals[drivenJoints[k]] = angles[k]
        }
        return .running
    }
}
