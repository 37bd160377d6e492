import EngramTestSupport
import Foundation
import Tensors
import Testing
@testable import Robot

private func scorbot() throws -> RobotDescription {
    try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
}

private let period = 0.01
private let tick = JointCalibration.radiansPerTick

/// Runs loop ticks `ticks` on `arm` (read at tick k, then write `goals(k)` at tick k, both at time k·period)
/// and returns the measured states, one per tick.
private func drive(_ arm: SimulatedArm, ticks: Range<Int>, goals: (Int) -> [Double]) -> [JointState] {
    var state = JointState(jointCount: arm.jointCount)
    var out: [JointState] = []
    for k in ticks {
        _ = arm.read(into: &state, time: Double(k) * period, period: period)
        out.append(state)
        _ = arm.write(goals: goals(k), time: Double(k) * period, period: period)
    }
    return out
}

/// A goal sequence that keeps every joint moving (so a disturbance has something to disturb).
private func sweep(_ k: Int) -> [Double] {
    let t = Double(k) * period
    return [0.6 * sin(2 * t), -0.4 * sin(3 * t), 0.2 * sin(t), 0]
}

@Suite struct ArmDisturbanceTests {
    @Test func noneIsBitIdenticalToNoDisturbance() throws {
        let robot = try scorbot()
        let plain = SimulatedArm(robot: robot), none = SimulatedArm(robot: robot)
        none.disturbance = .push(joint: 0, offsetRadians: 0.2, startTick: 0, ticks: 5)
        none.disturbance = .none
        _ = plain.setTorque(enabled: true)
        _ = none.setTorque(enabled: true)
        let a = drive(plain, ticks: 0..<200, goals: sweep)
        let b = drive(none, ticks: 0..<200, goals: sweep)
        #expect(a == b)
        #expect(plain.states == none.states)
        #expect(ArmDisturbance.none.endTick == 0 && !ArmDisturbance.none.isActive(atTick: 0))
    }

    @Test func pushHoldsTheJointOffItsGoalForTheWindowOnly() throws {
        let robot = try scorbot()
        let reference = SimulatedArm(robot: robot), pushed = SimulatedArm(robot: robot), resisted = SimulatedArm(robot: robot)
        let push = ArmDisturbance.push(joint: 1, offsetRadians: -0.25, startTick: 80, ticks: 40)
        pushed.disturbance = push
        resisted.disturbance = push
        #expect(push.endTick == 120)
        for arm in [reference, pushed, resisted] { _ = arm.setTorque(enabled: true) }
        let a = drive(reference, ticks: 0..<200, goals: sweep)
        let b = drive(pushed, ticks: 0..<200, goals: sweep)
        // Before the window: identical.
        for k in 0..<80 { #expect(a[k] == b[k], "tick \(k)") }
        // In the window joint 1's servo settles 0.25 rad off its goal, following the goal as it moves; the
        // other joints do not notice.
        #expect(abs(b[85].positions[1] - a[85].positions[1]) > 0.05, "the push shows within 5 ticks")
        for k in 110..<120 {
            let off = b[k].positions[1] - a[k].positions[1]
            #expect(abs(off + 0.25) < 0.01, "tick \(k): \(off) rad off the undisturbed path")
            #expect(b[k].positions[0] == a[k].positions[0] && b[k].positions[2] == a[k].positions[2])
        }
        // Released at tick 120, the servo returns to its goal.
        let errorAtRelease = abs(b[120].positions[1] - a[120].positions[1])
        let errorLater = abs(b[199].positions[1] - a[199].positions[1])
        #expect(errorLater < 0.05 * errorAtRelease, "recovered from \(errorAtRelease) to \(errorLater) rad")
        // Compliance: moving the goal by −offset during the window brings the pushed joint back onto its path.
        let c = drive(resisted, ticks: 0..<200) { k in
            var g = sweep(k)
            if push.isActive(atTick: k + 1) { g[1] += 0.25 }  // the goal written at tick k acts over tick k + 1
            return g
        }
        for k in 80..<120 {
            #expect(abs(c[k].positions[1] - a[k].positions[1]) <= 2 * tick, "tick \(k): resisted push")
        }
        // A loop that starts its clock again (time 0) meets the push again.
        _ = drive(pushed, ticks: 0..<80, goals: { _ in [0, 0, 0, 0] })
        let again = drive(pushed, ticks: 80..<110, goals: { _ in [0, 0, 0, 0] })
        #expect(abs(again[29].positions[1] - (-0.25)) <= 1.5 * tick)
    }

    @Test func payloadSlowsOneJointDuringTheWindow() throws {
        let robot = try scorbot()
        let vmax = robot.joints[0].maxSpeedRadiansPerSecond
        let reference = SimulatedArm(robot: robot), loaded = SimulatedArm(robot: robot)
        loaded.disturbance = .payload(joint: 0, speedFactor: 0.25, startTick: 10, ticks: 50)
        _ = reference.setTorque(enabled: true)
        _ = loaded.setTorque(enabled: true)
        // Base and shoulder each move 1.5 rad from tick 0 on.
        let goals: (Int) -> [Double] = { _ in [1.5, 1.2, 0, 0] }
        let a = drive(reference, ticks: 0..<150, goals: goals)
        let b = drive(loaded, ticks: 0..<150, goals: goals)
        for k in 0..<10 { #expect(a[k] == b[k]) }
        // Acceleration is unchanged, so the base brakes from full speed to the slowed limit within a few ticks,
        // then moves at 0.25 · vmax while the full-speed reference moves at vmax.
        for k in 20..<60 {
            #expect(abs(b[k].velocities[0]) <= 0.25 * vmax * (1 + 1e-12), "tick \(k): \(b[k].velocities[0])")
            #expect(abs(b[k].velocities[0] - 0.25 * vmax) < 1e-9 || abs(b[k].positions[0] - 1.5) < 0.01)
            #expect(b[k].positions[1] == a[k].positions[1])  // the shoulder is not loaded
        }
        #expect(a[30].velocities[0] > 0.99 * vmax)
        // After the window the full speed is back.
        let peakAfter = (60..<150).map { b[$0].velocities[0] }.max()!
        #expect(peakAfter > 0.9 * vmax, "peak after the window \(peakAfter) rad/s")
        // Gain: at rest 10 ticks off its goal, with an acceleration limit too high to bind, one servo sub-step
        // reaches the commanded velocity gain · error: the loaded servo's is 0.25 × the reference's.
        var stiff = SimulatedArm.Configuration()
        stiff.accelerationPerSpeed = 1_000
        let x = SimulatedArm(robot: robot, configuration: stiff), y = SimulatedArm(robot: robot, configuration: stiff)
        y.disturbance = .payload(joint: 2, speedFactor: 0.25, startTick: 0, ticks: 10)
        _ = x.setTorque(enabled: true)
        _ = y.setTorque(enabled: true)
        let small = [0, 0, 10 * tick, 0]
        var s = JointState(jointCount: 4)
        _ = x.write(goals: small, time: 0, period: period)
        _ = y.write(goals: small, time: 0, period: period)
        _ = x.read(into: &s, time: 0, period: 0.0005)  // one servo sub-step
        _ = y.read(into: &s, time: 0, period: 0.0005)
        let vx = x.states[2].velocityTicksPerSecond, vy = y.states[2].velocityTicksPerSecond
        #expect(abs(vx - 40 * 10) < 1e-9, "reference \(vx) ticks/s")
        #expect(abs(vy - 0.25 * vx) < 1e-9 * vx, "loaded \(vy) vs \(vx) ticks/s")
    }

    @Test func latencyDelaysGoalsWrittenInTheWindowByOneCycle() throws {
        let robot = try scorbot()
        let reference = SimulatedArm(robot: robot), slow = SimulatedArm(robot: robot)
        slow.disturbance = .latency(extraTicks: 1, startTick: 20, ticks: 40)
        _ = reference.setTorque(enabled: true)
        _ = slow.setTorque(enabled: true)
        // A step of the base goal written at tick 25 (inside the window), held; another at tick 100 (after it).
        let goals: (Int) -> [Double] = { k in [k >= 100 ? -0.3 : (k >= 25 ? 0.5 : 0), 0, 0, 0] }
        let a = drive(reference, ticks: 0..<160, goals: goals)
        let b = drive(slow, ticks: 0..<160, goals: goals)
        for k in 0..<26 { #expect(a[k] == b[k], "tick \(k)") }
        // The reference moves at tick 26 (the read after the write); the delayed arm only at tick 27.
        #expect(a[26].positions[0] > 0 && b[26].positions[0] == 0)
        // Inside and after the window, while the goal is held, the delayed arm is the reference one tick late.
        for k in 26..<99 { #expect(b[k + 1].positions[0] == a[k].positions[0], "tick \(k)") }
        // After the window the second step acts at once, as on the reference (both were at rest at 0.5).
        #expect(a[99] == b[99])
        for k in 100..<160 { #expect(a[k] == b[k], "tick \(k)") }
        #expect(a[101].positions[0] < 0.5)
    }

    @Test func randomDisturbancesFollowTheirRanges() {
        var rng = RandomSource(seed: 5)
        var joints: Set<Int> = []
        for _ in 0..<200 {
            let push = ArmDisturbance.random(kind: .push, joints: [0, 1], trialTicks: 249, rng: &rng)
            guard case .push(let j, let offset, let start, let ticks) = push else { Issue.record("not a push"); return }
            joints.insert(j)
            #expect((0.15...0.3).contains(abs(offset)))
            #expect((60...120).contains(start) && (30...60).contains(ticks) && push.endTick < 249)
            let payload = ArmDisturbance.random(kind: .payload, joints: [0, 1], trialTicks: 249, rng: &rng)
            guard case .payload(_, let factor, let s2, let n2) = payload else { Issue.record("not a payload"); return }
            #expect((0.25...0.4).contains(factor) && (60...120).contains(s2) && (30...60).contains(n2))
            let latency = ArmDisturbance.random(kind: .latency, joints: [0, 1], trialTicks: 249, rng: &rng)
            guard case .latency(1, let s3, let n3) = latency else { Issue.record("not a 1-tick latency"); return }
            #expect((60...120).contains(s3) && (60...100).contains(n3) && latency.endTick < 249)
        }
        #expect(joints == [0, 1])
        // Seeded: the same stream gives the same disturbance; short trials move the window earlier.
        var r1 = RandomSource(seed: 9), r2 = RandomSource(seed: 9)
        #expect(ArmDisturbance.random(kind: .latency, joints: [1], trialTicks: 249, rng: &r1)
                == ArmDisturbance.random(kind: .latency, joints: [1], trialTicks: 249, rng: &r2))
        var r3 = RandomSource(seed: 9)
        let short = ArmDisturbance.random(kind: .latency, joints: [1], trialTicks: 150, rng: &r3)
        #expect(short.endTick < 150 && short.startTick >= 0)
        var r4 = RandomSource(seed: 3)
        #expect(ArmDisturbance.random(kind: .none, joints: [0], trialTicks: 249, rng: &r4) == .none)
        #expect(r4.stateWords == RandomSource(seed: 3).stateWords)
    }
}
