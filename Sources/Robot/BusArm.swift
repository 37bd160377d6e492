import ServoBus

/// A failure to set up a `BusArm`: one line naming the joint or servo and what to do.
public struct BusArmError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to do.
    public var description: String
    /// An error with `description`.
    public init(_ description: String) { self.description = description }
}

/// A real arm (or the emulator behind a pseudo-terminal) on a servo bus: the robot description names the
/// servos, the calibration turns ticks into joint angles.
///
/// Per tick `read` does one SYNC_READ of Present_Position for every joint and `write` one SYNC_WRITE of
/// Goal_Position; both reuse buffers made at creation, so neither allocates while the bus is healthy.
/// Velocities are the backward difference of the calibrated positions over the cycle's `period`.
///
/// Conversions (see `Calibration`): a servo whose Homing_Offset register is 0 reports raw ticks and the
/// host applies the calibration's offset (`radians(fromTicks:)`, `ticks(fromRadians:)`); a servo whose
/// register holds the calibration's offset in its own sign convention (what LeRobot writes) reports
/// calibrated ticks (`radians(fromCalibratedTicks:)`). The register is read once, at creation. A joint
/// whose register is 0 but whose range crosses the encoder's 4095 → 0 wrap in raw ticks is refused: the
/// servo would take a goal past the wrap the long way round.
///
/// Bus errors never throw from `read`/`write`: they return `.error` (timeouts, corrupted replies) or
/// `.deactivate` (a servo's hardware alarm, named from its Hardware_Error_Status or Status register; a
/// Present_Position outside the encoder's 0...4095; a transport failure; a closed arm), and `lastFault`
/// names the joint and servo. No raw reading is written back unchecked: a control loop activates the arm
/// with `activate(holding:)` (goals from its safety envelope), and `activate()` holds only readings
/// inside the joint limits plus a margin. A new arm is `.inactive` (its initialiser configured it) even
/// when the servos still hold torque from a previous owner; `setTorque(enabled: false)` switches it off.
public final class BusArm: Arm {
    /// The robot.
    public let robot: RobotDescription
    /// The calibration, one entry per joint in description order.
    public let calibration: Calibration
    /// The bus (owned: closed by `close()`).
    public let bus: ServoBus
    /// Why the last call failed, if it did.
    public private(set) var lastFault: ArmFault?
    /// Where the arm is in its lifecycle: `.active` once this arm has switched torque on.
    public var lifecycleState: ArmLifecycleState { isClosed ? .finalized : (torqueOn ? .active : .inactive) }
    private var torqueOn = false
    /// Per joint: whether the servo applies the homing offset itself (its register holds it).
    public let servoAppliesOffset: [Bool]
    /// When a reading is refused: `activate()` holds a pose only inside the joint limits
    /// plus this margin.
    public var plausibility = ReadingPlausibility()
    /// Per joint: the limits (rad) of the description and the calibration together.
    public let limits: [ClosedRange<Double>]

    private let ids: [UInt8]
    private let joints: [JointCalibration]
    private var tickValues: [Int]
    private var goalValues: [ServoValue]
    private var previousPositions: [Double]
    private var hasPrevious = false
    private var isClosed = false

    /// Wraps an open bus. Checks that the calibration fits the description, pings every servo (its model
    /// must be the description's), reads each Homing_Offset register, and, where torque is off and
    /// `minimizeReturnDelay` is set, writes Return_Delay_Time 0 (as LeRobot does) so a sync read of six
    /// servos takes well under a millisecond.
    /// `fastSyncRead` asks Dynamixel servos with FAST_SYNC_READ (kept off when they do not answer it).
    public init(robot: RobotDescription, calibration: Calibration, bus: ServoBus, minimizeReturnDelay: Bool = true,
                fastSyncRead: Bool = false) throws(BusArmError) {
        guard let busDescription = robot.bus else {
            throw BusArmError("robot '\(robot.name)' has no bus in its robot.yaml (simulation only); use --sim")
        }
        if let mismatch = calibration.mismatch(with: robot) { throw BusArmError(mismatch) }
        guard busDescription.protocol == bus.wireProtocol else {
            throw BusArmError("robot '\(robot.name)' speaks \(busDescription.protocol.rawValue), the bus was opened for \(bus.wireProtocol.rawValue)")
        }
        self.robot = robot
        self.calibration = calibration
        self.bus = bus
        var ids: [UInt8] = [], joints: [JointCalibration] = []
        for joint in robot.joints {
            // `mismatch(with:)` returned nil, so every joint has an entry with the description's id.
            guard let entry = calibration.joint(named: joint.name) else { throw BusArmError("calibration has no entry for joint '\(joint.name)'") }
            guard (0...252).contains(entry.servoID) else { throw BusArmError("joint '\(joint.name)': servo id \(entry.servoID) is not a bus id (0...252)") }
            ids.append(UInt8(entry.servoID))
            joints.append(entry)
            if let model = joint.servoModel { bus.setModel(model, for: UInt8(entry.servoID)) }
        }
        self.ids = ids
        self.joints = joints
        limits = robot.jointLimitsRadians(calibration: calibration)
        tickValues = [Int](repeating: 0, count: ids.count)
        tickValues.reserveCapacity(ids.count)
        goalValues = ids.map { ServoValue(id: $0, value: 0) }
        previousPositions = [Double](repeating: 0, count: ids.count)

        var applies: [Bool] = []
        var wrapping: String?
        // Connecting is not a tick: give the first replies the bus's patient default policy (a servo
        // or an emulator on a loaded machine may take tens of milliseconds to answer the first ping),
        // then restore the caller's per-tick policy.
        let tickPolicy = bus.retryPolicy
        bus.retryPolicy = RetryPolicy(replyTimeoutMs: 100, perReplyTimeoutMs: 10, attempts: 4, budgetMs: 600)
        defer { bus.retryPolicy = tickPolicy }
        for (k, joint) in robot.joints.enumerated() {
            let id = ids[k], entry = joints[k]
            let name = "joint '\(joint.name)' (servo \(id))"
            do {
                let reply = try bus.ping(id)
                if let expected = joint.servoModel, reply.modelNumber != expected.modelNumber {
                    let found = reply.model?.rawValue ?? "model number \(reply.modelNumber)"
                    throw BusArmError("\(name) is a \(found), robot.yaml says \(expected.rawValue); fix servo_model or the servo id")
                }
                let register = try bus.read(.homingOffset, from: id)
                let expected = entry.servoHomingOffsetRegister(for: bus.wireProtocol)
                if register == 0 {
                    applies.append(false)
                    if entry.rangeCrossesRawWrap && wrapping == nil {
                        let raw = entry.rawRangeTicks
                        wrapping = "\(name): its range \(entry.rangeMinTicks)...\(entry.rangeMaxTicks) with homing_offset \(entry.homingOffsetTicks) spans raw ticks \(raw.lowerBound)...\(raw.upperBound), across the encoder's 4095 → 0 wrap, and the servo's Homing_Offset register is 0, so it would turn the long way round; run `engram calibrate` (it writes the offset into the servo) or write Homing_Offset \(expected) into it"
                    }
                } else if register == expected {
                    applies.append(true)
                } else {
                    throw BusArmError("\(name) has Homing_Offset \(register) in the servo, the calibration implies 0 or \(expected); recalibrate with `engram calibrate` or pass the matching --calibration")
                }
                if minimizeReturnDelay, try bus.read(.torqueEnable, from: id) == 0, try bus.read(.returnDelayTime, from: id) != 0 {
                    try bus.write(.returnDelayTime, 0, to: id)
                }
            } catch let e as ServoBusError {
                throw BusArmError("\(name): \(e)")
            } catch let e as BusArmError {
                throw e
            } catch {
                throw BusArmError("\(name): \(error)")
            }
        }
        // Checked after every servo answered, so a wrong model or id is reported first.
        if let wrapping { throw BusArmError(wrapping) }
        servoAppliesOffset = applies
        // Dynamixel X firmware ≥ 45 answers FAST_SYNC_READ with one combined packet (one wake-up per tick instead
        // of one per servo). Opt-in only: ServoBus decodes that packet into fresh arrays, an allocation per tick.
        if fastSyncRead && bus.wireProtocol == .dynamixel2 {
            bus.prefersFastSyncRead = true
            do { try bus.syncRead(.presentPosition, ids, into: &tickValues) } catch { bus.prefersFastSyncRead = false }
        }
    }

    /// Opens the serial port at `path` with the description's protocol and baud rate and wraps it.
    /// `retryPolicy` bounds each tick's bus calls (the default fits a 100 Hz period: 2.5 ms plus 0.25 ms
    /// per servo for an attempt, so a reply lost to noise is asked again within the tick; 8 ms in all);
    /// setting up uses the bus's default, longer budget.
    public static func open(robot: RobotDescription, calibration: Calibration, port path: String,
                            retryPolicy: RetryPolicy = RetryPolicy(replyTimeoutMs: 2.5, perReplyTimeoutMs: 0.25, attempts: 3, budgetMs: 8)) throws(BusArmError) -> BusArm {
        guard let description = robot.bus else {
            throw BusArmError("robot '\(robot.name)' has no bus in its robot.yaml (simulation only); use --sim")
        }
        let servos = robot.joints.enumerated().compactMap { k, j -> (id: UInt8, model: ServoModel)? in
            guard let id = j.servoID, let model = j.servoModel else { return nil }
            return (UInt8(id), model)
        }
        let bus: ServoBus
        do {
            bus = try ServoBus(path: path, baudRate: description.baud, protocol: description.protocol, servos: servos, retryPolicy: retryPolicy)
        } catch {
            throw BusArmError("\(path): \(error)")
        }
        do {
            return try BusArm(robot: robot, calibration: calibration, bus: bus)
        } catch {
            bus.close()
            throw error
        }
    }

    /// The servo ids, in joint order.
    public var servoIDs: [UInt8] { ids }

    /// The goal register value (ticks) for joint `k` at angle `q` (rad).
    private func goalTicks(joint k: Int, radians q: Double, entry: JointCalibration, applied: Bool) -> Int {
        applied ? entry.calibratedTicks(fromRadians: q) : entry.ticks(fromRadians: q)
    }

    /// The joint angle (rad) for joint `k`'s Present_Position `ticks`.
    public func radians(joint k: Int, presentTicks ticks: Int) -> Double {
        servoAppliesOffset[k] ? joints[k].radians(fromCalibratedTicks: ticks) : joints[k].radians(fromTicks: ticks)
    }

    /// The Goal_Position value for joint `k` at angle `q` (rad).
    public func goalTicks(joint k: Int, radians q: Double) -> Int {
        goalTicks(joint: k, radians: q, entry: joints[k], applied: servoAppliesOffset[k])
    }

    /// One SYNC_READ of Present_Position; positions in rad, velocities by backward difference over `period`.
    public func read(into state: inout JointState, time: Double, period: Double) -> ArmStatus {
        guard !isClosed else { return fail(.closed, .deactivate) }
        let n = ids.count
        precondition(state.positions.count == n && state.velocities.count == n, "JointState sized for another robot")
        do {
            try bus.syncRead(.presentPosition, ids, into: &tickValues)
        } catch {
            return failure(error)
        }
        if let refused = encoderRangeFault() { return fail(refused, .deactivate) }
        for k in 0..<n {
            let q = servoAppliesOffset[k] ? joints[k].radians(fromCalibratedTicks: tickValues[k]) : joints[k].radians(fromTicks: tickValues[k])
            state.velocities[k] = hasPrevious && period > 0 ? (q - previousPositions[k]) / period : 0
            state.positions[k] = q
            previousPositions[k] = q
        }
        hasPrevious = true
        state.time = time
        lastFault = nil
        return .ok
    }

    /// One SYNC_WRITE of Goal_Position (no reply on the wire), on an active arm. Non-finite goals are
    /// refused before anything is sent.
    public func write(goals: [Double], time: Double, period: Double) -> ArmStatus {
        guard !isClosed else { return fail(.closed, .deactivate) }
        return sendGoals(goals, requireActive: true)
    }

    /// Checks `goals` and sends them in one SYNC_WRITE of Goal_Position.
    private func sendGoals(_ goals: [Double], requireActive: Bool) -> ArmStatus {
        let n = ids.count
        guard goals.count == n else { return fail(.goalCount(expected: n, found: goals.count), .error) }
        for k in 0..<n {
            guard goals[k].isFinite else { return fail(.nonFiniteGoal(joint: robot.joints[k].name), .error) }
            goalValues[k].value = goalTicks(joint: k, radians: goals[k], entry: joints[k], applied: servoAppliesOffset[k])
        }
        if requireActive && !torqueOn { return fail(.notActive(lifecycleState), .error) }
        do {
            try bus.syncWrite(.goalPosition, goalValues)
        } catch {
            return failure(error)
        }
        lastFault = nil
        return .ok
    }

    /// The first reading (in `tickValues`) outside the encoder's one turn, 0...4095, as a fault.
    private func encoderRangeFault() -> ArmFault? {
        for k in 0..<ids.count where !(0..<JointCalibration.ticksPerRevolution).contains(tickValues[k]) {
            return .implausibleReading("joint '\(robot.joints[k].name)' (servo \(ids[k])) read Present_Position \(tickValues[k]), outside the encoder's 0...\(JointCalibration.ticksPerRevolution - 1)")
        }
        return nil
    }

    /// Torque on holding where the arm is: reads the present positions and, when each is a plausible reading
    /// (inside the encoder's range and the joint's limits plus `plausibility.marginRadians`), writes them as
    /// goals and enables torque; an implausible reading leaves torque off (`.deactivate`). A control loop
    /// uses `activate(holding:)` instead.
    public func activate() -> ArmStatus {
        if let refused = refuseTransition(.activate) { return refused }
        do { try bus.syncRead(.presentPosition, ids, into: &tickValues) } catch { return failure(error) }
        if let refused = encoderRangeFault() { return fail(refused, .deactivate) }
        for k in 0..<ids.count {
            let q = radians(joint: k, presentTicks: tickValues[k])
            let margin = plausibility.marginRadians
            if q < limits[k].lowerBound - margin || q > limits[k].upperBound + margin {
                let refused = ImplausibleReading(joint: k, value: q, kind: .outsideLimits(lower: limits[k].lowerBound, upper: limits[k].upperBound, margin: margin))
                return fail(.implausibleReading(refused.description(robot: robot) + "; torque left off"), .deactivate)
            }
            goalValues[k].value = tickValues[k]
        }
        do { try bus.syncWrite(.goalPosition, goalValues) } catch { return failure(error) }
        return switchTorque(true)
    }

    /// Torque on holding `goals` (rad), which the caller's safety envelope has passed: one SYNC_WRITE of
    /// Goal_Position, then one of Torque_Enable. Nothing read from the bus is written back.
    public func activate(holding goals: [Double]) -> ArmStatus {
        if let refused = refuseTransition(.activate) { return refused }
        let written = sendGoals(goals, requireActive: false)
        guard written == .ok else { return written }
        return switchTorque(true)
    }

    /// Torque off on every servo.
    public func deactivate() -> ArmStatus {
        if let refused = refuseTransition(.deactivate) { return refused }
        return switchTorque(false)
    }

    /// Torque as a switch (see `Arm.setTorque(enabled:)`); off is sent even to an inactive arm, whose
    /// servos may still hold torque from a previous owner (`disconnect(keepingTorque: true)`).
    public func setTorque(enabled: Bool) -> ArmStatus {
        guard !isClosed else { return fail(.closed, .deactivate) }
        if enabled { return torqueOn ? .ok : activate() }
        return switchTorque(false)
    }

    /// The status of a transition asked from the wrong state (nil when it may go ahead).
    private func refuseTransition(_ transition: ArmTransition) -> ArmStatus? {
        guard !isClosed else { return fail(.closed, .deactivate) }
        guard torqueOn == (transition == .deactivate) else { return fail(.invalidTransition(transition, from: lifecycleState), .error) }
        return nil
    }

    private func switchTorque(_ enabled: Bool) -> ArmStatus {
        for k in 0..<ids.count { goalValues[k].value = enabled ? 1 : 0 }
        do { try bus.syncWrite(.torqueEnable, goalValues) } catch { return failure(error) }
        torqueOn = enabled
        lastFault = nil
        return .ok
    }

    /// Torque off (best effort) and closes the port; later calls return `.deactivate`.
    public func close() { disconnect(keepingTorque: false) }

    /// Closes the port; with `keepingTorque` the servos keep holding their last goal (an arm under
    /// gravity does not drop), otherwise torque is switched off first (best effort). Later calls return
    /// `.deactivate`.
    public func disconnect(keepingTorque: Bool) {
        guard !isClosed else { return }
        if !keepingTorque {
            for k in 0..<ids.count { goalValues[k].value = 0 }
            // Best effort: the port may already be gone (a pulled cable); there is nothing more to do then.
            do { try bus.syncWrite(.torqueEnable, goalValues) } catch {}
            torqueOn = false
        }
        isClosed = true
        bus.close()
    }

    private func fail(_ fault: ArmFault, _ status: ArmStatus) -> ArmStatus {
        lastFault = fault
        return status
    }

    /// Turns a bus error into a fault naming the joint and servo. A hardware alarm is named from the
    /// servo's own register (Hardware_Error_Status or Status), read once, and deactivates the arm.
    private func failure(_ error: ServoBusError) -> ArmStatus {
        var joint = "the bus"
        if let id = error.servo, let k = ids.firstIndex(of: id) { joint = "joint '\(robot.joints[k].name)'" }
        if case .statusError(let byte) = error.kind {
            let name = error.servo.flatMap { id in ids.firstIndex(of: id).map { robot.joints[$0].name } } ?? "?"
            if let id = error.servo, ServoAlarm.isAlarm(statusByte: byte, protocol: bus.wireProtocol) {
                let register = try? bus.readFlagged(ServoAlarm.registerName(for: bus.wireProtocol), from: id).value
                let alarm = ServoAlarm(protocol: bus.wireProtocol, statusByte: byte, register: register)
                return fail(.hardwareAlarm(joint: name, servo: Int(id), alarm: alarm.description), .deactivate)
            }
            return fail(.servo(joint: name, "\(error)"), .error)
        }
        if case .transport = error.kind { return fail(.communication("\(joint): \(error)"), .deactivate) }
        return fail(.communication("\(joint), \(error)"), .error)
    }
}
