import Testing
@testable import MetaLearning
import Trajectories

struct TrajectoryResamplingTests {
    @Test func resamplingMapsTheWholeDurationOntoTheTrial() {
        // 5 s of a linear ramp at 50 Hz onto 249 steps of 10 ms: positions stay on the ramp, time is the
        // controller's, and the note says the motion plays about 2× faster.
        let rows = 251
        let time = (0..<rows).map { Double($0) * 0.02 }
        let file = TrajectoryFile(joints: ["base"], time: time, positions: time.map { 0.1 * $0 })
        let r = file.resampled(rows: 249, stepSeconds: 0.01)
        #expect(r.rows == 249)
        #expect(r.time.last! == 2.48)
        #expect(abs(r.positions.first! - 0) < 1e-12 && abs(r.positions.last! - 0.5) < 1e-12)
        #expect(abs(r.positions[124] - 0.25) < 1e-9)
        #expect(r.velocities == nil)
        #expect(r.notes.last!.contains("2.02× faster"), "\(r.notes)")
    }
}
