import Synchronization
import Tensors

/// One reply the emulator sends: bytes, after waiting `delaySeconds` from the end of the previous reply
/// (or from the instruction, for the first).
public struct EmulatorReply: Sendable, Equatable {
    /// Bytes on the wire (possibly corrupted or truncated by fault injection).
    public var bytes: [UInt8]
    /// Wait before sending, in seconds (return delay plus any injected delay).
    public var delaySeconds: Double
    /// Which servo sent it (0xFE for a combined FAST_SYNC_READ reply).
    public var servo: UInt8
}

/// A bad emulator configuration.
public struct EmulatorConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to do.
    public var description: String
}

/// The servo side of Dynamixel 2.0 or Feetech STS: answers instruction packets like a bus of real servos.
///
/// Each servo has its control table in memory (factory defaults from `ControlTable.defaults`), honours
/// Return_Delay_Time and Status_Return_Level / Response_Status_Level, refuses EEPROM writes with torque on
/// and writes to read-only registers (Dynamixel access error), and moves its present position toward
/// the goal through a pluggable `ServoPlant`. Faults (drop, corrupt, truncate, delay, silent) are drawn
/// per reply from a generator seeded per servo, so a run is reproducible under a seed.
///
/// `respond(to:at:)` is the pure core (time is an argument); `serve(_:until:)` runs it over a transport.
public final class ServoEmulator: Sendable {
    /// The protocol spoken.
    public let wireProtocol: ServoProtocol

    private struct State: Sendable {
        var servos: [EmulatedServo]
        var plantStates: [ServoPlantState]
        var lastTime: Double
        var repliesSent = 0
        var instructionsHandled = 0
    }

    private let state: Mutex<State>
    private let plant: any ServoPlant

    /// Creates servos `(id, model)` speaking `protocol`, with `plant` dynamics, `faults`, and `seed`.
    public init(protocol wireProtocol: ServoProtocol, servos: [(id: UInt8, model: ServoModel)],
                plant: any ServoPlant = FirstOrderLagPlant(), faults: FaultPlan = FaultPlan(), seed: UInt64 = 0) throws(EmulatorConfigurationError) {
        guard !servos.isEmpty else { throw EmulatorConfigurationError(description: "no servos given; pass --ids 1,2,3 or a robot description") }
        var seen = Set<UInt8>()
        var emulated: [EmulatedServo] = []
        var states: [ServoPlantState] = []
        let root = RandomSource(seed: seed)
        for s in servos {
            guard s.model.wireProtocol == wireProtocol else {
                throw EmulatorConfigurationError(description: "\(s.model.rawValue) speaks \(s.model.wireProtocol.rawValue), not \(wireProtocol.rawValue); pick a matching --model or --protocol")
            }
            guard s.id <= 0xFC else { throw EmulatorConfigurationError(description: "servo ID \(s.id) is reserved; use 0...252") }
            guard seen.insert(s.id).inserted else { throw EmulatorConfigurationError(description: "servo ID \(s.id) is given twice") }
            let servo = EmulatedServo(id: s.id, model: s.model, faults: faults.faults(for: s.id), rng: root.derived(UInt64(s.id)))
            var st = ServoPlantState(id: s.id, model: s.model, position: Double(servo.get(.presentPosition)))
            st.goalPosition = Double(servo.get(.goalPosition))
            emulated.append(servo)
            states.append(st)
        }
        self.wireProtocol = wireProtocol
        self.plant = plant
        self.state = Mutex(State(servos: emulated, plantStates: states, lastTime: 0))
    }

    // MARK: Inspection and set-up (tests, tools)

    /// The IDs served, in creation order (reflecting ID-register changes).
    public var ids: [UInt8] { state.withLock { $0.servos.map(\.id) } }

    /// Register `name` of servo `id` as the control table holds it (plant state is copied in first).
    public func value(_ name: RegisterName, of id: UInt8) -> Int? {
        state.withLock { s in
            guard let i = s.servos.firstIndex(where: { $0.id == id }), s.servos[i].table.register(name) != nil else { return nil }
            s.servos[i].store(s.plantStates[i], timeSeconds: s.lastTime)
            return s.servos[i].get(name)
        }
    }

    /// Sets register `name` of servo `id` directly (no protocol checks); present position moves the plant.
    public func setValue(_ name: RegisterName, _ value: Int, of id: UInt8) {
        state.withLock { s in
            guard let i = s.servos.firstIndex(where: { $0.id == id }) else { return }
            s.servos[i].set(name, value)
            if name == .presentPosition {
                s.plantStates[i].position = s.servos[i].actualPosition(fromPresent: Double(value))
            }
            Self.loadPlantInputs(&s, index: i)
        }
    }

    /// The plant state of servo `id`.
    public func plantState(of id: UInt8) -> ServoPlantState? {
        state.withLock { s in s.servos.firstIndex(where: { $0.id == id }).map { s.plantStates[$0] } }
    }

    /// Replaces the faults of servo `id` (or of every servo when nil).
    public func setFaults(_ faults: ServoFaults, for id: UInt8? = nil) {
        state.withLock { s in
            for i in s.servos.indices where id == nil || s.servos[i].id == id { s.servos[i].faults = faults }
        }
    }

    /// Replies sent and instruction packets handled so far.
    public var counters: (replies: Int, instructions: Int) { state.withLock { ($0.repliesSent, $0.instructionsHandled) } }

    // MARK: The protocol core

    /// Answers one decoded instruction packet at `time` seconds (monotonic, from any origin): advances the
    /// plant, applies writes, and returns the replies to send, in order, with fault injection applied.
    public func respond(to packet: ServoPacket, at time: Double) -> [EmulatorReply] {
        state.withLock { s in
            s.instructionsHandled += 1
            let dt = time - s.lastTime
            if dt > 0 {
                plant.advance(&s.plantStates, by: dt)
                s.lastTime = time
            }
            for i in s.servos.indices { s.servos[i].store(s.plantStates[i], timeSeconds: s.lastTime) }
            var replies: [EmulatorReply] = []
            switch wireProtocol {
            case .dynamixel2: Self.respondDynamixel(packet, &s, &replies)
            case .feetechSTS: Self.respondFeetech(packet, &s, &replies)
            }
            s.repliesSent += replies.count
            return replies
        }
    }

    /// Copies goal, torque and homing changes from the control table into the plant state.
    private static func loadPlantInputs(_ s: inout State, index i: Int) {
        let servo = s.servos[i]
        s.plantStates[i].torqueEnabled = servo.get(.torqueEnable) != 0
        s.plantStates[i].goalPosition = servo.actualPosition(fromPresent: Double(servo.get(.goalPosition)))
    }

    private static func index(of id: UInt8, in s: State) -> Int? { s.servos.firstIndex { $0.id == id } }

    /// Wraps one servo's status packet with its return delay and faults; nil when dropped or silent.
    private static func deliver(_ bytes: [UInt8], from i: Int, _ s: inout State) -> EmulatorReply? {
        var servo = s.servos[i]
        defer { s.servos[i] = servo }
        let f = servo.faults
        if f.silent { return nil }
        if f.dropProbability > 0 && servo.rng.uniform() < f.dropProbability { return nil }
        var out = bytes
        var delay = servo.returnDelaySeconds
        if f.delayMs > 0 && (f.delayProbability >= 1 || servo.rng.uniform() < f.delayProbability) { delay += f.delayMs / 1000 }
        if f.corruptProbability > 0 && servo.rng.uniform() < f.corruptProbability {
            // Flip one bit after the header, so the packet still looks like one but fails its check.
            let headerLength = servo.model.wireProtocol == .dynamixel2 ? 4 : 2
            let at = headerLength + servo.rng.int(below: out.count - headerLength)
            out[at] ^= UInt8(1) << UInt8(servo.rng.int(below: 8))
        }
        if f.truncateProbability > 0 && servo.rng.uniform() < f.truncateProbability {
            out.removeLast(1 + servo.rng.int(below: out.count - 1))
        }
        return EmulatorReply(bytes: out, delaySeconds: delay, servo: servo.id)
    }

    private static func status(_ wire: ServoProtocol, id: UInt8, error: UInt8, _ parameters: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        switch wire {
        case .dynamixel2: DynamixelCodec.appendStatus(id: id, error: error, parameters: parameters, to: &out)
        case .feetechSTS: FeetechCodec.appendStatus(id: id, error: error, parameters: parameters, to: &out)
        }
        return out
    }

    // MARK: Dynamixel 2.0

    /// Whether a Dynamixel servo answers `instruction` given its Status_Return_Level (0 ping only, 1 + reads, 2 all).
    private static func dynamixelAnswers(_ servo: EmulatedServo, _ instruction: UInt8) -> Bool {
        switch servo.get(.statusReturnLevel) {
        case 0: return instruction == DynamixelInstruction.ping
        case 1: return [DynamixelInstruction.ping, DynamixelInstruction.read, DynamixelInstruction.syncRead,
                        DynamixelInstruction.fastSyncRead, DynamixelInstruction.bulkRead].contains(instruction)
        default: return true
        }
    }

    /// The largest LEN a Dynamixel 2.0 packet can state (two bytes).
    private static let maximumDynamixelLength = 0xFFFF

    /// Reads `count` bytes at `address`, or nil when out of the table.
    private static func readMemory(_ servo: EmulatedServo, _ address: Int, _ count: Int) -> [UInt8]? {
        guard count >= 0, address >= 0, address + count <= servo.memory.count else { return nil }
        return Array(servo.memory[address..<(address + count)])
    }

    /// Applies a Dynamixel write; returns the status error code (0 = done).
    private static func writeDynamixel(_ s: inout State, _ i: Int, address: Int, data: [UInt8]) -> UInt8 {
        var servo = s.servos[i]
        guard address >= 0, address + data.count <= servo.memory.count, !data.isEmpty else { return DynamixelStatusError.accessError }
        if servo.touchesReadOnly(address: address, count: data.count) { return DynamixelStatusError.accessError }
        if servo.get(.torqueEnable) != 0 && servo.touchesEEPROM(address: address, count: data.count) {
            return DynamixelStatusError.accessError
        }
        let saved = servo.memory
        servo.memory.replaceSubrange(address..<(address + data.count), with: data)
        // IDs 253 and up are reserved (0xFD header byte, 0xFE broadcast): a real servo refuses them.
        if servo.touches(.id, address: address, count: data.count) && servo.get(.id) > 0xFC {
            servo.memory = saved
            return DynamixelStatusError.dataRange
        }
        // Position mode: a goal outside the position limits is refused (data limit error).
        if servo.touches(.goalPosition, address: address, count: data.count) && servo.get(.operatingMode) == 3 {
            let goal = servo.get(.goalPosition)
            if goal < servo.get(.minPositionLimit) || goal > servo.get(.maxPositionLimit) {
                servo.memory = saved
                return DynamixelStatusError.dataLimit
            }
        }
        s.servos[i] = servo
        loadPlantInputs(&s, index: i)
        return 0
    }

    private static func respondDynamixel(_ p: ServoPacket, _ s: inout State, _ replies: inout [EmulatorReply]) {
        let wire = ServoProtocol.dynamixel2
        let params = p.parameters
        func word(_ at: Int) -> Int { Int(params[at]) | Int(params[at + 1]) << 8 }
        func reply(_ i: Int, error: UInt8, _ data: [UInt8] = []) {
            guard dynamixelAnswers(s.servos[i], p.instruction) || error != 0 else { return }
            if let r = deliver(status(wire, id: s.servos[i].id, error: error, data), from: i, &s) { replies.append(r) }
        }
        let isBroadcast = p.id == broadcastID
        let target = isBroadcast ? nil : index(of: p.id, in: s)
        switch p.instruction {
        case DynamixelInstruction.ping:
            let order = isBroadcast ? s.servos.indices.sorted { s.servos[$0].id < s.servos[$1].id } : (target.map { [$0] } ?? [])
            for i in order {
                let model = UInt16(s.servos[i].get(.modelNumber))
                reply(i, error: 0, le16(model) + [UInt8(s.servos[i].get(.firmwareVersion))])
            }
        case DynamixelInstruction.read:
            guard let i = target else { return }
            guard params.count == 4 else { return reply(i, error: DynamixelStatusError.dataLength) }
            guard let data = readMemory(s.servos[i], word(0), word(2)) else { return reply(i, error: DynamixelStatusError.accessError) }
            reply(i, error: 0, data)
        case DynamixelInstruction.write, DynamixelInstruction.registeredWrite:
            guard params.count >= 3 else {
                if let i = target { reply(i, error: DynamixelStatusError.dataLength) }
                return
            }
            let address = word(0)
            let data = Array(params[2...])
            let indices = isBroadcast ? Array(s.servos.indices) : (target.map { [$0] } ?? [])
            for i in indices {
                let code: UInt8
                if p.instruction == DynamixelInstruction.write {
                    code = writeDynamixel(&s, i, address: address, data: data)
                } else {
                    s.servos[i].pendingWrite = (address, data)
                    code = 0
                }
                if !isBroadcast { reply(i, error: code) }
            }
        case DynamixelInstruction.action:
            let indices = isBroadcast ? Array(s.servos.indices) : (target.map { [$0] } ?? [])
            for i in indices {
                var code: UInt8 = 0
                if let w = s.servos[i].pendingWrite {
                    code = writeDynamixel(&s, i, address: w.address, data: w.data)
                    s.servos[i].pendingWrite = nil
                }
                if !isBroadcast { reply(i, error: code) }
            }
        case DynamixelInstruction.factoryReset, DynamixelInstruction.reboot, DynamixelInstruction.clear:
            guard let i = target else { return }
            if p.instruction == DynamixelInstruction.factoryReset {
                let keepID = params.first != 0xFF
                s.servos[i].resetMemory(keepingID: keepID ? s.servos[i].id : 1)
            } else if p.instruction == DynamixelInstruction.reboot {
                s.servos[i].set(.torqueEnable, 0)
                s.servos[i].set(.hardwareErrorStatus, 0)
            }
            loadPlantInputs(&s, index: i)
            reply(i, error: 0)
        case DynamixelInstruction.syncRead, DynamixelInstruction.fastSyncRead:
            guard params.count >= 5 else { return }
            let address = word(0), length = word(2)
            let requested = params[4...]
            if p.instruction == DynamixelInstruction.syncRead {
                for id in requested {
                    guard let i = index(of: id, in: s) else { continue }
                    guard let data = readMemory(s.servos[i], address, length) else { reply(i, error: DynamixelStatusError.accessError); continue }
                    reply(i, error: 0, data)
                }
            } else {
                var entries: [DynamixelCodec.FastSyncReadEntry] = []
                var members: [Int] = []
                for id in requested {
                    guard let i = index(of: id, in: s) else { continue }
                    let f = s.servos[i].faults
                    if f.silent || (f.dropProbability > 0 && s.servos[i].rng.uniform() < f.dropProbability) { continue }
                    // A range outside the table is refused by that servo alone (access error, no data):
                    // the combined reply carries `length` data bytes per entry, which it cannot fill.
                    guard let data = readMemory(s.servos[i], address, length) else {
                        reply(i, error: DynamixelStatusError.accessError)
                        continue
                    }
                    entries.append(.init(id: id, error: 0, data: data))
                    members.append(i)
                }
                // The combined reply must fit LEN (16 bits) even fully stuffed (one FD per 3 bytes): each
                // entry takes error, ID, data and a CRC. A longer one is not sent.
                guard let first = members.first, (entries.count * (length + 4) + 8) * 4 / 3 <= Self.maximumDynamixelLength else { return }
                // The combined packet carries the first member's corrupt/truncate/delay draws.
                var saved = s.servos[first].faults
                saved.dropProbability = 0
                let original = s.servos[first].faults
                s.servos[first].faults = saved
                if var r = deliver(DynamixelCodec.fastSyncReadReply(entries), from: first, &s) {
                    r.servo = broadcastID
                    replies.append(r)
                }
                s.servos[first].faults = original
            }
        case DynamixelInstruction.syncWrite:
            guard params.count >= 4 else { return }
            let address = word(0), length = word(2)
            guard length > 0 else { return }
            var at = 4
            while at + 1 + length <= params.count {
                if let i = index(of: params[at], in: s) {
                    _ = writeDynamixel(&s, i, address: address, data: Array(params[(at + 1)..<(at + 1 + length)]))
                }
                at += 1 + length
            }
        case DynamixelInstruction.bulkRead:
            var at = 0
            while at + 5 <= params.count {
                let id = params[at], address = word(at + 1), length = word(at + 3)
                at += 5
                guard let i = index(of: id, in: s) else { continue }
                guard let data = readMemory(s.servos[i], address, length) else { reply(i, error: DynamixelStatusError.accessError); continue }
                reply(i, error: 0, data)
            }
        case DynamixelInstruction.bulkWrite:
            var at = 0
            while at + 5 <= params.count {
                let id = params[at], address = word(at + 1), length = word(at + 3)
                guard at + 5 + length <= params.count else { break }
                if let i = index(of: id, in: s) {
                    _ = writeDynamixel(&s, i, address: address, data: Array(params[(at + 5)..<(at + 5 + length)]))
                }
                at += 5 + length
            }
        default:
            if let i = target { reply(i, error: DynamixelStatusError.instructionError) }
        }
    }

    // MARK: Feetech STS

    /// Applies a Feetech write: read-only bytes are ignored; Torque_Enable 128 re-centres present to 2048.
    private static func writeFeetech(_ s: inout State, _ i: Int, address: Int, data: [UInt8]) {
        var servo = s.servos[i]
        for (k, b) in data.enumerated() {
            let a = address + k
            guard a < servo.memory.count, !servo.touchesReadOnly(address: a, count: 1) else { continue }
            // IDs above 253 (0xFE is broadcast) are reserved: the byte is ignored, as a real STS servo does.
            if servo.touches(.id, address: a, count: 1) && b > 0xFD { continue }
            servo.memory[a] = b
        }
        if servo.touches(.torqueEnable, address: address, count: data.count) && servo.get(.torqueEnable) == 128 {
            // Make the present position read 2048: Present = Actual − Homing_Offset.
            let actual = s.plantStates[i].position
            servo.set(.homingOffset, Int((actual - 2048).rounded()))
            servo.set(.torqueEnable, 1)
        }
        if servo.touches(.goalPosition, address: address, count: data.count) && servo.get(.operatingMode) == 0 {
            let lo = servo.get(.minPositionLimit), hi = servo.get(.maxPositionLimit)
            if lo < hi { servo.set(.goalPosition, min(max(servo.get(.goalPosition), lo), hi)) }
        }
        s.servos[i] = servo
        loadPlantInputs(&s, index: i)
    }

    private static func respondFeetech(_ p: ServoPacket, _ s: inout State, _ replies: inout [EmulatorReply]) {
        let wire = ServoProtocol.feetechSTS
        let params = p.parameters
        func reply(_ i: Int, _ data: [UInt8] = [], always: Bool = false) {
            // Response_Status_Level 0: only PING and READ are answered.
            guard always || s.servos[i].get(.responseStatusLevel) != 0 else { return }
            let error = UInt8(truncatingIfNeeded: s.servos[i].get(.status))
            if let r = deliver(status(wire, id: s.servos[i].id, error: error, data), from: i, &s) { replies.append(r) }
        }
        func readBytes(_ i: Int, _ address: Int, _ count: Int) -> [UInt8] {
            (0..<count).map { k in address + k < s.servos[i].memory.count ? s.servos[i].memory[address + k] : 0 }
        }
        let isBroadcast = p.id == broadcastID
        let target = isBroadcast ? nil : index(of: p.id, in: s)
        switch p.instruction {
        case FeetechInstruction.ping:
            guard let i = target else { return }
            reply(i, always: true)
        case FeetechInstruction.read:
            // A reply longer than a frame holds (READ of 245 bytes or more) cannot be sent: STS status
            // frames have no "bad instruction" bit, so the servo stays silent, as a real one does.
            guard let i = target, params.count == 2, Int(params[1]) <= FeetechCodec.maximumParameterCount else { return }
            reply(i, readBytes(i, Int(params[0]), Int(params[1])), always: true)
        case FeetechInstruction.write, FeetechInstruction.registeredWrite:
            guard params.count >= 2 else { return }
            let indices = isBroadcast ? Array(s.servos.indices) : (target.map { [$0] } ?? [])
            for i in indices {
                if p.instruction == FeetechInstruction.write {
                    writeFeetech(&s, i, address: Int(params[0]), data: Array(params[1...]))
                } else {
                    s.servos[i].pendingWrite = (Int(params[0]), Array(params[1...]))
                }
                if !isBroadcast { reply(i) }
            }
        case FeetechInstruction.action:
            let indices = isBroadcast ? Array(s.servos.indices) : (target.map { [$0] } ?? [])
            for i in indices {
                if let w = s.servos[i].pendingWrite {
                    writeFeetech(&s, i, address: w.address, data: w.data)
                    s.servos[i].pendingWrite = nil
                }
                if !isBroadcast { reply(i) }
            }
        case FeetechInstruction.reset, FeetechInstruction.reboot:
            guard let i = target else { return }
            if p.instruction == FeetechInstruction.reset { s.servos[i].resetMemory(keepingID: s.servos[i].id) } else { s.servos[i].set(.torqueEnable, 0) }
            loadPlantInputs(&s, index: i)
            reply(i)
        case FeetechInstruction.syncRead:
            guard params.count >= 3 else { return }
            let address = Int(params[0]), length = Int(params[1])
            guard length <= FeetechCodec.maximumParameterCount else { return }
            for id in params[2...] {
                guard let i = index(of: id, in: s) else { continue }
                reply(i, readBytes(i, address, length), always: true)
            }
        case FeetechInstruction.syncWrite:
            guard params.count >= 2 else { return }
            let address = Int(params[0]), length = Int(params[1])
            guard length > 0 else { return }
            var at = 2
            while at + 1 + length <= params.count {
                if let i = index(of: params[at], in: s) {
                    writeFeetech(&s, i, address: address, data: Array(params[(at + 1)..<(at + 1 + length)]))
                }
                at += 1 + length
            }
        default:
            // Unknown instructions (backup, calibrate, reset status): acknowledged without effect.
            if let i = target { reply(i) }
        }
    }
}
