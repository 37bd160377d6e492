import Foundation
import ServoBus
import Testing
@testable import Robot
#if canImport(Glibc)
import Glibc
#endif

/// An operator made of a script: it moves the emulated joints (present positions injected into the
/// servos, as a hand would) and types Enter into a pipe that a real `TerminalConsole` reads, so the
/// procedure runs its terminal path against scripted standard input.
final class ScriptedOperator: CalibrationConsole {
    let rig: EmulatedRig
    let middle: [Int]
    let sweep: [[Int]]
    let terminal: TerminalConsole
    private let writeEnd: Int32
    private var frame = 0
    private var typedSweepEnter = false
    var shown: [String] = []

    init(rig: EmulatedRig, middle: [Int], sweep: [[Int]]) {
        self.rig = rig
        self.middle = middle
        self.sweep = sweep
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        writeEnd = fds[1]
        terminal = TerminalConsole(input: fds[0], output: { _ in })
    }

    deinit {
        close(writeEnd)
        close(terminal.input)
    }

    private func typeEnter() { _ = "\n".withCString { write(writeEnd, $0, 1) } }

    func show(_ text: String) { shown.append(text) }

    func waitForEnter() throws(BusArmError) {
        rig.place(raw: middle)
        typeEnter()
        try terminal.waitForEnter()
    }

    func enterPressed(waitingUpTo seconds: Double) -> Bool {
        if frame < sweep.count {
            rig.place(raw: sweep[frame])
            frame += 1
        } else if !typedSweepEnter {
            typedSweepEnter = true
            typeEnter()
        }
        return terminal.enterPressed(waitingUpTo: seconds)
    }
}

@Suite struct CalibrationProcedureTests {
    /// The whole guided procedure against the emulated SO-101 (Feetech): offsets from the middle pose, ranges
    /// from the sweep (including a joint whose range crosses the encoder's 4095 → 0 wrap), stale servo offsets
    /// cleared before the middle pose is read and the new ones written into the servos after it.
    @Test func guidedCalibrationOfAnEmulatedArm() throws {
        let robot = try shippedRobot("so101")
        let rig = try EmulatedRig(robot: robot)
        rig.emulator.setValue(.homingOffset, 300, of: 2)  // left over from another tool: must be cleared
        let middle = [1024, 3437, 445, 3022, 1692, 2500]
        let sweep = [
            [600, 3000, 100, 2500, 1000, 2400],
            [1500, 4000, 4000, 3500, 2500, 3300],
            [1800, 3900, 900, 3600, 3600, 3400],
        ]
        let console = ScriptedOperator(rig: rig, middle: middle, sweep: sweep)
        var procedure = CalibrationProcedure(robot: robot)
        procedure.sampleInterval = 0.001
        procedure.directions = ["wrist_flex": .reversed]
        let calibration = try procedure.run(bus: rig.bus, console: console)

        #expect(calibration.robot == "so101")
        for k in 0..<6 {
            let j = calibration.joints[k]
            #expect(j.name == robot.joints[k].name && j.servoID == k + 1)
            #expect(j.homingOffsetTicks == middle[k] - 2047)
            let seen = ([middle] + sweep).map { j.calibratedTicks(fromRawTicks: $0[k]) }
            #expect(j.rangeMinTicks == seen.min()! && j.rangeMaxTicks == seen.max()!, "joint \(k): \(j)")
            #expect(rig.emulator.value(.homingOffset, of: UInt8(k + 1)) == j.servoHomingOffsetRegister(for: .feetechSTS))
            #expect(rig.emulator.value(.torqueEnable, of: UInt8(k + 1)) == 0)
        }
        #expect(calibration.joints[3].direction == .reversed && calibration.joints[0].direction == .normal)
        // The middle pose is angle 0 for every joint.
        #expect(calibration.joints.enumerated().allSatisfy { k, j in j.radians(fromTicks: middle[k]) == 0 })
        // elbow_flex swept 4000 → 100 through the wrap: calibrated ticks stay continuous around 2047.
        #expect(calibration.joints[2].rangeMinTicks < 2047 && calibration.joints[2].rangeMaxTicks > 2047)
        #expect(console.shown.first?.contains("middle of its range") == true)
        #expect(console.shown.contains { $0.hasPrefix("shoulder_pan: homing_offset -1023") })

        // The written file loads back, and a bus arm built on it reads the middle pose as zero.
        let text = calibration.yamlText(comment: "test")
        let reloaded = try Calibration.parse(text, file: "so101.yaml")
        #expect(reloaded == calibration)
        let arm = try BusArm(robot: robot, calibration: reloaded, bus: rig.bus)
        #expect(arm.servoAppliesOffset == [Bool](repeating: true, count: 6))
        rig.place(raw: middle)
        var state = JointState(jointCount: 6)
        #expect(arm.read(into: &state, time: 0, period: 0.01) == .ok)
        #expect(state.positions.allSatisfy { $0 == 0 })
    }

    @Test func aJointThatNeverMovedIsReported() throws {
        let robot = try shippedRobot("scorbot-er7")
        let rig = try EmulatedRig(robot: robot)
        let middle = [2047, 2100, 2000, 2047]
        let sweep = [[1000, 1500, 1200, 2047], [3000, 2700, 3100, 2050]]
        let console = ScriptedOperator(rig: rig, middle: middle, sweep: sweep)
        var procedure = CalibrationProcedure(robot: robot)
        procedure.sampleInterval = 0.001
        do {
            _ = try procedure.run(bus: rig.bus, console: console)
            Issue.record("expected the unmoved wrist to be reported")
        } catch {
            #expect(error.description == "joint 'wrist' (servo 4) barely moved during the sweep (ticks 2047...2050); run again and move it end to end")
        }
    }

    @Test func endOfInputBeforeEnterIsAnError() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[1])
        let console = TerminalConsole(input: fds[0], output: { _ in })
        #expect(throws: BusArmError.self) { try console.waitForEnter() }
        #expect(console.enterPressed(waitingUpTo: 0))
        close(fds[0])
    }
}
