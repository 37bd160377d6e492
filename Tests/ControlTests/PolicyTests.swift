import Testing
@testable import Control

struct PolicyTests {
    @Test func replayInterpolatesAtTickTimes() {
        var p = ReplayPolicy(times: [0, 0.1, 0.2], positions: [[0, nil], [1, nil], [3, nil]])
        p.start(from: [9, 7])
        var g = [0.0, 0.0]
        #expect(p.goals(tick: 0, time: 0.05, measured: [0, 0], into: &g) == .running)
        #expect(abs(g[0] - 0.5) < 1e-12 && g[1] == 7)
        _ = p.goals(tick: 1, time: 0.15, measured: [0, 0], into: &g)
        #expect(abs(g[0] - 2) < 1e-12)
        #expect(p.goals(tick: 2, time: 0.3, measured: [0, 0], into: &g) == .finished)
        #expect(g[0] == 3)
    }

    @Test func replaySpeedAndLoop() {
        var p = ReplayPolicy(times: [0, 1], positions: [[0], [1]], speed: 2, loops: true)
        p.start(from: [0])
        var g = [0.0]
        _ = p.goals(tick: 0, time: 0.25, measured: [0], into: &g)
        #expect(abs(g[0] - 0.5) < 1e-12)
        #expect(p.goals(tick: 1, time: 0.75, measured: [0], into: &g) == .running)
        #expect(abs(g[0] - 0.5) < 1e-12)
        #expect(p.duration == 0.5)
    }

    @Test func holdKeepsTheStartPose() {
        var p = HoldPolicy(duration: 1)
        p.start(from: [0.3, -0.1])
        var g = [0.0, 0.0]
        #expect(p.goals(tick: 0, time: 0.5, measured: [1, 1], into: &g) == .running)
        #expect(g == [0.3, -0.1])
        #expect(p.goals(tick: 1, time: 1.0, measured: [1, 1], into: &g) == .finished)
    }
}

struct EaseInPolicyTests {
    @Test func easesFromThePoseToTheFirstGoalThenRunsTheInnerPolicy() {
        var p = EaseInPolicy(ReplayPolicy(times: [0, 1], positions: [[1], [2]]), seconds: 0.5)
        p.start(from: [0])
        var g = [0.0]
        _ = p.goals(tick: 0, time: 0, measured: [0], into: &g)
        #expect(g[0] == 0)
        _ = p.goals(tick: 25, time: 0.25, measured: [0], into: &g)
        #expect(abs(g[0] - 0.5) < 1e-12)
        _ = p.goals(tick: 50, time: 0.5, measured: [0], into: &g)
        #expect(abs(g[0] - 1) < 1e-12)
        #expect(p.goals(tick: 100, time: 1.0, measured: [0], into: &g) == .running)
        #expect(abs(g[0] - 1.5) < 1e-12)
        #expect(p.goals(tick: 150, time: 1.5, measured: [0], into: &g) == .finished)
    }
}
