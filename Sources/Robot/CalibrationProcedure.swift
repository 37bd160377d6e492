import ServoBus
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The operator side of a guided calibration: prompts out, Enter in.
public protocol CalibrationConsole: AnyObject {
    /// Shows a prompt or a result line.
    func show(_ text: String)
    /// Blocks until the operator presses Enter. Throws when the input ended (EOF) instead.
    func waitForEnter() throws(BusArmError)
    /// Whether the operator has pressed Enter, waiting at most `seconds` for it (the sweep samples between calls).
    func enterPressed(waitingUpTo seconds: Double) -> Bool
}

/// A console on file descriptors: lines from `input` (standard input by default), prompts to `output`.
public final class TerminalConsole: CalibrationConsole {
    /// The descriptor Enter is read from.
    public let input: Int32
    private let output: (String) -> Void
    private var buffer = [UInt8](repeating: 0, count: 256)

    /// A console reading `input` and showing text with `output` (default: print to standard output).
    public init(input: Int32 = STDIN_FILENO, output: @escaping (String) -> Void = { print($0); fflush(stdout) }) {
        self.input = input
        self.output = output
    }

    /// Prints `text`.
    public func show(_ text: String) { output(text) }

    /// Reads until a newline arrives; throws at end of input.
    public func waitForEnter() throws(BusArmError) {
        while true {
            switch readLine(timeoutMs: -1) {
            case .newline: return
            case .endOfInput: throw BusArmError("the input ended before Enter was pressed; run 'engram calibrate' in a terminal")
            case .nothing: continue
            }
        }
    }

    /// Polls for a newline for up to `seconds`; end of input counts as Enter.
    public func enterPressed(waitingUpTo seconds: Double) -> Bool {
        switch readLine(timeoutMs: Int32(max(0, seconds * 1000).rounded())) {
        case .newline, .endOfInput: return true
        case .nothing: return false
        }
    }

    private enum LineEvent { case newline, endOfInput, nothing }

    /// Waits (poll) for input and consumes what is there; reports whether it held a newline.
    private func readLine(timeoutMs: Int32) -> LineEvent {
        var descriptor = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMs)
        guard ready > 0 else { return .nothing }
        let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, $0.count) }
        if n == 0 { return .endOfInput }
        if n < 0 { return errno == EINTR || errno == EAGAIN ? .nothing : .endOfInput }
        return buffer[0..<n].contains(UInt8(ascii: "\n")) ? .newline : .nothing
    }
}

/// The guided calibration of `engram calibrate`, as in LeRobot: torque off, the operator puts every joint
/// in the middle of its range and presses Enter (homing offset = raw reading − 2047, so the middle reads
/// 2047 = angle 0), then sweeps every joint through its whole range and presses Enter (range_min/max = the
/// extreme calibrated ticks seen). The servos' own Homing_Offset registers are cleared first, so the middle
/// pose is read raw; then each servo gets its offset in its register (in its own sign convention, as LeRobot
/// writes it), so from then on it reports calibrated ticks and a range that crosses the encoder's 4095 → 0
/// wrap in raw ticks still lies inside 0…4095 for the servo's own position control.
public struct CalibrationProcedure {
    /// The robot being calibrated.
    public let robot: RobotDescription
    /// Seconds between position samples during the sweep.
    public var sampleInterval: Double = 0.02
    /// A joint whose sweep spans fewer ticks than this is reported as not moved.
    public var minimumRangeTicks: Int = 20
    /// Drive directions to keep (e.g. from an earlier calibration); others are `normal`.
    public var directions: [String: DriveDirection] = [:]

    /// A procedure for `robot`.
    public init(robot: RobotDescription) { self.robot = robot }

    /// Runs the procedure on `bus` with `console`; returns the calibration (not yet written).
    public func run(bus: ServoBus, console: CalibrationConsole) throws(BusArmError) -> Calibration {
        guard robot.bus != nil else { throw BusArmError("robot '\(robot.name)' has no bus in its robot.yaml; there is nothing to calibrate") }
        var ids: [UInt8] = []
        for (k, joint) in robot.joints.enumerated() {
            guard let id = joint.servoID, let model = joint.servoModel else {
                throw BusArmError("joint '\(joint.name)' has no servo_id or servo_model in robot.yaml")
            }
            ids.append(UInt8(id))
            bus.setModel(model, for: UInt8(id))
            _ = k
        }
        func step(_ what: String, _ body: () throws(ServoBusError) -> Void) throws(BusArmError) {
            do { try body() } catch { throw BusArmError("\(what): \(error)") }
        }
        // Torque off and the servo-side offset cleared, so readings are raw and the arm moves by hand.
        for (joint, id) in zip(robot.joints, ids) {
            try step("joint '\(joint.name)' (servo \(id))") { () throws(ServoBusError) in
                _ = try bus.ping(id)
                try bus.write(.torqueEnable, 0, to: id)
                if bus.wireProtocol == .feetechSTS { try bus.write(.lock, 0, to: id) }
                if try bus.read(.homingOffset, from: id) != 0 { try bus.write(.homingOffset, 0, to: id) }
            }
        }
        console.show("Torque is off. Move every joint of \(robot.name) to the middle of its range, then press Enter.")
        try console.waitForEnter()
        var raw: [Int] = []
        try step("reading the middle pose") { () throws(ServoBusError) in try bus.syncRead(.presentPosition, ids, into: &raw) }
        // raw − 2047 lies in −2047…2048; a Feetech register holds at most ±2047 (sign–magnitude), so a middle
        // pose at raw 4095 takes 2047 and reads 2048, one tick (0.09°) off zero.
        let offsets = raw.map { min($0 - JointCalibration.homeTicks, 2047) }
        for (k, joint) in robot.joints.enumerated() {
            let entry = JointCalibration(name: joint.name, servoID: Int(ids[k]), homingOffsetTicks: offsets[k], rangeMinTicks: 0, rangeMaxTicks: 4095)
            try step("joint '\(joint.name)' (servo \(ids[k])): writing Homing_Offset") { () throws(ServoBusError) in
                try bus.write(.homingOffset, entry.servoHomingOffsetRegister(for: bus.wireProtocol), to: ids[k])
            }
        }
        var low = [Int](repeating: Int.max, count: ids.count), high = [Int](repeating: Int.min, count: ids.count)
        console.show("Now move each joint through its whole range (end to end), then press Enter.")
        repeat {
            try step("reading positions during the sweep") { () throws(ServoBusError) in try bus.syncRead(.presentPosition, ids, into: &raw) }
            for k in ids.indices {
                // The servo applies the offset now: its reading is calibrated, modulo a turn.
                let c = ((raw[k] % JointCalibration.ticksPerRevolution) + JointCalibration.ticksPerRevolution) % JointCalibration.ticksPerRevolution
                low[k] = min(low[k], c)
                high[k] = max(high[k], c)
            }
        } while !console.enterPressed(waitingUpTo: sampleInterval)
        var joints: [JointCalibration] = []
        for (k, joint) in robot.joints.enumerated() {
            guard high[k] - low[k] >= minimumRangeTicks else {
                throw BusArmError("joint '\(joint.name)' (servo \(ids[k])) barely moved during the sweep (ticks \(low[k])...\(high[k])); run again and move it end to end")
            }
            joints.append(JointCalibration(name: joint.name, servoID: Int(ids[k]), homingOffsetTicks: offsets[k],
                                           direction: directions[joint.name] ?? .normal, rangeMinTicks: low[k], rangeMaxTicks: high[k]))
            console.show("\(joint.name): homing_offset \(offsets[k]), range \(low[k])...\(high[k])")
        }
        return Calibration(robot: robot.name, joints: joints)
    }
}
