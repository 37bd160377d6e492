import Foundation
import Robot
import Tensors

/// A `SimulatedArm` as the arm of closed-loop meta-training (docs/closed-loop.md): the same servo model,
/// encoder and disturbances as `engram run --sim` and `engram evaluate --disturbance`, driven through the
/// same read-then-write order as the control loop, one tick per network step.
public final class SimulatedArmPlant: ClosedLoopPlant {
    /// The arm.
    public let arm: SimulatedArm
    /// Indices (into the robot's joints) of the driven joints, in controller output order.
    public let drivenJoints: [Int]
    /// The pose of every joint at the start of a trial; the driven ones are replaced by `start(angles:)`.
    public let restPose: [Double]
    /// Loop period (s).
    public let period: Double
    private var state: JointState
    private var goals: [Double]
    private let limits: [ClosedRange<Double>]

    /// A plant over a fresh simulated `robot` carrying `disturbance`.
    public init(robot: RobotDescription, disturbance: ArmDisturbance, restPose: [Double]? = nil, period: Double = 0.01,
                configuration: SimulatedArm.Configuration = SimulatedArm.Configuration()) {
        arm = SimulatedArm(robot: robot, configuration: configuration)
        drivenJoints = robot.drivenJointIndices
        self.restPose = restPose ?? robot.homeRadians
        self.period = period
        state = JointState(jointCount: robot.joints.count)
        limits = robot.joints.map(\.limitsRadians)
        goals = self.restPose
        _ = arm.setTorque(enabled: true)
        arm.disturbance = disturbance
    }

    public func start(angles: [Double]) {
        goals = restPose
        for (k, j) in drivenJoints.enumerated() { goals[j] = angles[k] }
        arm.teleport(to: goals)
        let d = arm.disturbance
        arm.disturbance = d  // rearm the push and the latency line at the new pose
    }

    public func measure(tick: Int, into angles: inout [Double]) {
        _ = arm.read(into: &state, time: Double(tick) * period, period: period)
        for (k, j) in drivenJoints.enumerated() { angles[k] = state.positions[j] }
    }

    /// Goals are clamped to the joint limits, as the control loop's safety envelope does before a write.
    public func command(tick: Int, goals driven: [Double]) {
        for (k, j) in drivenJoints.enumerated() { goals[j] = min(max(driven[k], limits[j].lowerBound), limits[j].upperBound) }
        _ = arm.write(goals: goals, time: Double(tick) * period, period: period)
    }

    /// From the disturbance window's end on (measurement `tick + 1` at or after `endTick`), as
    /// `DisturbanceEvaluation.windowed` counts "after".
    public func isAfterDisturbance(tick: Int) -> Bool {
        arm.disturbance != .none && tick + 1 >= arm.disturbance.endTick
    }

    /// Ticks after a push during which the servo's return is not scored as the controller's velocity.
    public static let pushRecoveryTicks = 20

    public func scoresVelocity(tick: Int) -> Bool {
        guard case .push = arm.disturbance else { return true }
        // Measurement `tick + 1` integrates the tick's period: the hold starts to show at the window's start.
        return tick + 1 < arm.disturbance.startTick || tick + 1 >= arm.disturbance.endTick + Self.pushRecoveryTicks
    }

    /// A push's offset while it acts on the driven joint `output` (the servo settles at goal + offset).
    public func goalShift(tick: Int, output: Int) -> Double {
        guard case .push(let joint, let offset, _, _) = arm.disturbance, joint == drivenJoints[output],
              arm.disturbance.isActive(atTick: tick) else { return 0 }
        return offset
    }

    /// The arm setting of closed-loop meta-training on `robot`: each task gets a fresh simulated arm with a
    /// disturbance of a kind drawn uniformly from `kinds` (`ArmDisturbance.random`) acting on a driven joint.
    public static func trainingArm(robot: RobotDescription, kinds: [ArmDisturbance.Kind], steps: Int) -> ClosedLoopArm {
        precondition(!kinds.isEmpty)
        let driven = robot.drivenJointIndices
        let configuration = SimulatedArm.Configuration()
        let response = 1 - exp(-configuration.positionGainPerSecond * 0.01)
        let label = "\(robot.name) simulated servos, disturbances \(kinds.map(\.rawValue).joined(separator: "/"))"
        return ClosedLoopArm(label: label, nominalResponse: response) { rng in
            let kind = kinds[rng.int(below: kinds.count)]
            let disturbance = ArmDisturbance.random(kind: kind, joints: driven, trialTicks: steps, rng: &rng)
            return SimulatedArmPlant(robot: robot, disturbance: disturbance, configuration: configuration)
        }
    }
}
