import Testing
@testable import Robot

/// When a reading is refused (issue 19, item 1).
@Suite struct ReadingPlausibilityTests {
    let check = ReadingPlausibility()
    let lower = [-1.0, -2.0], upper = [1.0, 2.0], speed = [Double.pi, Double.pi]

    @Test func readingsInsideTheLimitsPlusTheMarginAndWithinReachPass() {
        #expect(check.implausibility(of: [0.5, -1.5], lower: lower, upper: upper, maxSpeed: speed, previous: nil, elapsed: 0) == nil)
        // 9.9° past the limit is overshoot, not an error.
        #expect(check.implausibility(of: [1 + 9.9 * .pi / 180, 0], lower: lower, upper: upper, maxSpeed: speed, previous: nil, elapsed: 0) == nil)
        // 10 ms at 180°/s × 2 + 2° slack = 5.6°: a 5.5° move is possible.
        #expect(check.implausibility(of: [5.5 * .pi / 180, 0], lower: lower, upper: upper, maxSpeed: speed, previous: [0, 0], elapsed: 0.01) == nil)
    }

    @Test func impossibleReadingsNameTheJointValueAndBound() {
        let far = check.implausibility(of: [0, 2.5], lower: lower, upper: upper, maxSpeed: speed, previous: nil, elapsed: 0)
        #expect(far == ImplausibleReading(joint: 1, value: 2.5, kind: .outsideLimits(lower: -2, upper: 2, margin: 10 * .pi / 180)))
        let jump = check.implausibility(of: [5.7 * .pi / 180, 0], lower: lower, upper: upper, maxSpeed: speed, previous: [0, 0], elapsed: 0.01)
        guard case .jump(let from, let bound, let elapsed)? = jump?.kind else { Issue.record("expected a jump, got \(String(describing: jump))"); return }
        #expect(jump?.joint == 0 && from == 0 && elapsed == 0.01)
        #expect(abs(bound - 5.6 * .pi / 180) < 1e-12)
        #expect(check.implausibility(of: [.nan, 0], lower: lower, upper: upper, maxSpeed: speed, previous: nil, elapsed: 0)?.kind == .notFinite)
        // A longer gap (failed reads in between) allows a longer move.
        #expect(check.implausibility(of: [0.5, 0], lower: lower, upper: upper, maxSpeed: speed, previous: [0, 0], elapsed: 0.1) == nil)
    }

    @Test func theRefusalReadsAsOneLine() throws {
        let robot = try RobotDescription.load(fromFileAt: repositoryFile("Robots/scorbot-er7"))
        let refused = ImplausibleReading(joint: 1, value: 1453 * JointCalibration.radiansPerTick, kind: .outsideLimits(lower: -70 * .pi / 180, upper: 70 * .pi / 180, margin: 10 * .pi / 180))
        #expect(refused.description(robot: robot) == "joint 'shoulder' (servo 2) read 127.7°, outside its limits -70.0°...70.0° by more than the 10.0° margin")
    }
}
