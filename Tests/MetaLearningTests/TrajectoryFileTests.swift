import Adaptation
import Foundation
import Kinematics
import Testing
import MetaLearning
import Tensors
import Trajectories

/// Trajectory CSV: round trip, derivation of missing columns, and errors with line numbers.
struct TrajectoryFileTests {
    func expectError(_ csv: String, line: Int?, containing text: String) {
        do {
            _ = try TrajectoryFile(csv: csv, source: "t.csv")
            Issue.record("expected an error containing '\(text)'")
        } catch let e as TrajectoryFileError {
            #expect(e.line == line, "\(e)")
            #expect(e.description.contains(text), "\(e)")
            if let line { #expect(e.description.hasPrefix("t.csv:\(line): "), "\(e)") }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func roundTripKeepsEveryColumnAndTheMetadata() throws {
        var rng = RandomSource(seed: 3)
        let target = TaskFamily<ScorbotKinematics>.paperScorbot.sample(&rng)
        let file = TrajectoryFile(target: target, joints: ["base", "shoulder"], metadata: [.init("robot", "scorbot-er7"), .init("rate_hz", "100")])
        let text = file.csv()
        #expect(text.hasPrefix("# engram-trajectory 1\n# robot: scorbot-er7\n# rate_hz: 100\ntime_s,base.pos,shoulder.pos,base.vel,shoulder.vel,ee.x,ee.y,ee.z\n"))
        let back = try TrajectoryFile(csv: text)
        #expect(back.metadata == file.metadata)
        #expect(back.joints == ["base", "shoulder"])
        #expect(back.rows == 249)
        #expect(back.notes.isEmpty)
        let t = try back.target(joints: ["base", "shoulder"], stepSeconds: 0.01)
        for i in t.angularVelocity.indices {
            #expect(abs(t.angularVelocity[i] - target.angularVelocity[i]) <= 5e-10)
            #expect(abs(t.angles[i] - target.angles[i]) <= 5e-10)
        }
        for s in 0..<249 { let d = t.endEffector[s] - target.endEffector[s]; #expect(max(abs(d.x), abs(d.y), abs(d.z)) <= 5e-10) }
    }

    @Test func missingVelocityAndEndEffectorAreDerivedAndReported() throws {
        let csv = "time_s,base.pos,shoulder.pos\n0,0,0\n0.01,0.01,-0.02\n0.02,0.03,-0.04\n"
        let file = try TrajectoryFile(csv: csv)
        #expect(file.velocities == nil && file.endEffector == nil)
        let full = file.derivingMissing(kinematics: ScorbotKinematics(), jointIndices: [0, 1])
        let v = try #require(full.velocities)
        let expected: [Double] = [1, -2, 1, -2, 2, -2]
        for i in 0..<6 { #expect(abs(v[i] - expected[i]) < 1e-9, "ω[\(i)] = \(v[i])") }
        #expect(full.endEffector?[2] == ScorbotKinematics().position([0.03, -0.04, 0, 0]))
        #expect(full.notes.count == 2)
    }

    @Test func missingColumnIsReportedOnTheHeaderLine() {
        expectError("# engram-trajectory 1\n# robot: x\nbase.pos,shoulder.pos\n0,0\n", line: 3, containing: "missing column 'time_s'")
        expectError("time_s,base.pos,shoulder.pos,base.vel\n0,0,0,0\n", line: 1, containing: "missing column 'shoulder.vel'")
        expectError("time_s,base.pos,ee.x,ee.y\n0,0,0,0\n", line: 1, containing: "missing column 'ee.z'")
        expectError("time_s,foo\n0,0\n", line: 1, containing: "no '<joint>.pos' column")
    }

    @Test func nonNumericCellNamesLineAndColumn() {
        expectError("time_s,base.pos\n0,0\n0.01,abc\n0.02,0\n", line: 3, containing: "column 'base.pos' has 'abc'")
    }

    @Test func raggedRowNamesItsLine() {
        expectError("# engram-trajectory 1\ntime_s,base.pos,shoulder.pos\n0,0,0\n0.01,0\n0.02,0,0\n", line: 4, containing: "row has 2 cells, the header has 3 columns")
    }

    @Test func timeMustIncrease() {
        expectError("time_s,base.pos\n0,0\n0,1\n", line: 3, containing: "does not increase")
    }

    @Test func cutOffLastRowIsSkippedAndReported() throws {
        let file = try TrajectoryFile(csv: "time_s,base.pos,shoulder.pos\n0,0,0\n0.01,0.1,0.2\n0.02,0.")
        #expect(file.rows == 2)
        #expect(file.notes == ["line 4: last row cut off (2 of 3 cells), skipped"])
        let partialNumber = try TrajectoryFile(csv: "time_s,base.pos\n0,0\n0.01,-")
        #expect(partialNumber.rows == 1)
        #expect(partialNumber.notes.first?.contains("line 3: last row cut off") == true)
    }

    /// Issue 19 item 9: CRLF files (Windows editors, spreadsheets) got "has no header row".
    @Test func crlfFilesReadLikeLFFiles() throws {
        let lf = "# engram-trajectory 1\n# robot: scorbot-er7\ntime_s,base.pos,shoulder.pos\n0,0,0\n0.01,0.1,0.2\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        let a = try TrajectoryFile(csv: lf, source: "lf.csv"), b = try TrajectoryFile(csv: crlf, source: "crlf.csv")
        #expect(b == a)
        #expect(b.rows == 2 && b.notes.isEmpty)
        // A CRLF recording cut off mid-row is still recognised as cut off.
        let cut = try TrajectoryFile(csv: crlf + "0.02,0.1", source: "cut.csv")
        #expect(cut.rows == 2 && cut.notes.count == 1, "\(cut.notes)")
    }

    /// Issue 19 item 8: a target far outside the joint limits is refused with the row, joint and bound.
    @Test func positionsOutsideLimitsAreNamed() throws {
        let file = try TrajectoryFile(csv: "time_s,base.pos,shoulder.pos\n0,0,0\n0.01,1e308,0\n", source: "t.csv")
        do {
            try file.checkPositions(within: ["base": -1...1, "shoulder": -1...1], source: "t.csv")
            Issue.record("accepted 1e308")
        } catch {
            #expect(error.description.hasPrefix("t.csv: row 2 (time_s 0.01): base.pos is 1e+308 rad"), "\(error)")
            #expect(error.description.contains("outside the joint's limits [-57.3°, 57.3°]"), "\(error)")
        }
        try file.checkPositions(within: ["shoulder": -1...1], source: "t.csv")
    }
}
