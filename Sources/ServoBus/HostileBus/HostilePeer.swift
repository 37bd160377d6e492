import Foundation
import Synchronization
import Tensors

/// What a hostile servo does with one reply to a Present_Position read (a SYNC_READ or READ of it).
public enum HostileReply: Sendable, Equatable, CustomStringConvertible {
    /// The true reply.
    case pass
    /// A well-formed reply (valid checksum) reporting this Present_Position instead of the true one.
    case position(Int)
    /// A well-formed reply reporting the true position plus this many ticks.
    case shift(Int)
    /// A hardware alarm from now on: the servo's alarm register (Dynamixel Hardware_Error_Status, Feetech
    /// Status) holds these bits and every later reply of the servo flags it, as a real servo does.
    case alarm(UInt8)
    /// A hardware alarm flagged in this reply only (a momentary overload or voltage dip): the alarm
    /// register holds these bits until the next Present_Position read.
    case alarmOnce(UInt8)
    /// No reply.
    case silent
    /// This many random bytes instead of the reply.
    case garbage(Int)
    /// One bit of the reply flipped (its checksum fails).
    case corrupt
    /// The reply cut short.
    case truncate
    /// A reply with a valid checksum and one data byte too many.
    case malformed
    /// The true reply under another servo's ID.
    case wrongID

    /// One word for reports.
    public var description: String {
        switch self {
        case .pass: "pass"
        case .position(let v): "position(\(v))"
        case .shift(let d): "shift(\(d))"
        case .alarm(let bits): "alarm(0x\(String(bits, radix: 16)))"
        case .alarmOnce(let bits): "alarm-once(0x\(String(bits, radix: 16)))"
        case .silent: "silent"
        case .garbage(let n): "garbage(\(n))"
        case .corrupt: "corrupt"
        case .truncate: "truncate"
        case .malformed: "malformed"
        case .wrongID: "wrong-id"
        }
    }
}

/// Which replies a `HostilePeer` tampers with: scripted ones by read index and servo, and, with a
/// probability, random ones drawn from a seeded generator.
public struct HostileScript: Sendable {
    /// Per Present_Position read (counted from 0 over the peer's life, one per SYNC_READ or READ) and
    /// servo ID: what that servo does.
    public var scripted: [Int: [UInt8: HostileReply]]
    /// Probability that a reply not scripted is replaced by a random hostile one.
    public var randomProbability: Double
    /// Whether random draws may include `.alarm` (which ends any run).
    public var randomAlarms: Bool
    /// Seed of the random draws.
    public var seed: UInt64

    /// A script; by default nothing is tampered with.
    public init(scripted: [Int: [UInt8: HostileReply]] = [:], randomProbability: Double = 0, randomAlarms: Bool = false, seed: UInt64 = 0) {
        self.scripted = scripted
        self.randomProbability = randomProbability
        self.randomAlarms = randomAlarms
        self.seed = seed
    }

    /// `reply` from servo `servo` at read `read`.
    public static func at(read: Int, servo: UInt8, _ reply: HostileReply) -> HostileScript {
        HostileScript(scripted: [read: [servo: reply]])
    }
}

/// One Goal_Position or Torque_Enable value the host put on the wire (decoded from its WRITE or SYNC_WRITE).
public struct ObservedWrite: Sendable, Equatable {
    /// Index of the instruction packet among all the peer received.
    public var instruction: Int
    /// Present_Position reads the peer had answered before it.
    public var afterReads: Int
    /// The servo.
    public var servo: UInt8
    /// The value, in register counts.
    public var value: Int
}

/// What a `HostilePeer` saw and did.
public struct HostileLog: Sendable, Equatable {
    /// Every Goal_Position the host wrote, in order.
    public var goals: [ObservedWrite] = []
    /// Every Torque_Enable the host wrote, in order.
    public var torque: [ObservedWrite] = []
    /// Present_Position reads answered (or not).
    public var positionReads = 0
    /// Instruction packets received.
    public var instructions = 0
    /// Replies tampered with, by kind (`HostileReply.description` without arguments).
    public var tampered: [String: Int] = [:]
    /// Creates an empty log.
    public init() {}
}

/// A hostile servo bus for tests and benchmarks: a `ServoEmulator` behind a transport (a pseudo-terminal's
/// master end, typically) whose replies to Present_Position reads are replaced, as a script says, by
/// plausible-but-wrong positions, hardware alarms, silence, garbage, corrupted, truncated, malformed or
/// misaddressed packets. It records every goal and torque value the host writes, so a test can check what
/// reached the servos. `stopListening()` makes it stop reading the line (a peer that hangs).
///
/// Everything but the position replies is the emulator's own answer, so a host can connect (ping, read
/// Homing_Offset) as to a real bus.
public final class HostilePeer: Sendable {
    /// The emulator behind the peer (its servos' registers and plant).
    public let emulator: ServoEmulator
    private let presentPosition: [UInt8: Register]
    private let goalPosition: [UInt8: Register]
    private let torqueEnable: [UInt8: Register]
    private let state: Mutex<PeerState>
    private let stopFlag = Atomic<Bool>(false)
    private let deaf = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let joined = Atomic<Bool>(false)

    private struct PeerState: Sendable {
        var script: HostileScript
        var rng: RandomSource
        var latched: [UInt8: UInt8] = [:]
        var momentary: Set<UInt8> = []
        var log = HostileLog()
    }

    /// Serves `transport` (ownership passes to the peer's thread, which closes it when stopped) with
    /// `emulator`'s servos, `models` by ID, tampering as `script` says.
    public init(emulator: ServoEmulator, models: [UInt8: ServoModel], script: HostileScript, serving transport: any SerialTransport) {
        self.emulator = emulator
        var present: [UInt8: Register] = [:], goal: [UInt8: Register] = [:], torque: [UInt8: Register] = [:]
        for (id, model) in models {
            present[id] = model.controlTable.register(.presentPosition)
            goal[id] = model.controlTable.register(.goalPosition)
            torque[id] = model.controlTable.register(.torqueEnable)
        }
        presentPosition = present
        goalPosition = goal
        torqueEnable = torque
        state = Mutex(PeerState(script: script, rng: RandomSource(seed: script.seed)))
        let box = HostileTransportBox(transport)
        let thread = Thread { [self] in
            self.serve(box.transport)
            box.transport.close()
            self.finished.signal()
        }
        thread.name = "engram.hostile-peer"
        thread.start()
    }

    /// What the peer saw and did so far.
    public var log: HostileLog { state.withLock { $0.log } }

    /// Replaces the script (scripted read indices keep counting from the peer's start).
    public func setScript(_ script: HostileScript) {
        state.withLock { $0.script = script; $0.rng = RandomSource(seed: script.seed) }
    }

    /// Stops reading the line: the host's bytes pile up unread and nothing is answered.
    public func stopListening() { deaf.store(true, ordering: .releasing) }

    /// Stops serving and waits for the thread to end.
    public func stop() {
        stopFlag.store(true, ordering: .releasing)
        if !joined.exchange(true, ordering: .acquiringAndReleasing) { finished.wait() }
    }

    deinit { stop() }

    private func serve(_ transport: any SerialTransport) {
        let wire = emulator.wireProtocol
        var decoder = PacketDecoder(protocol: wire, direction: .instruction)
        var packet = ServoPacket()
        var buffer = [UInt8](repeating: 0, count: 1024)
        let origin = ContinuousClock.now
        while !stopFlag.load(ordering: .acquiring) {
            if deaf.load(ordering: .acquiring) {
                sleepThread(seconds: 0.005)
                continue
            }
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes { raw throws(SerialError) in try transport.read(into: raw, until: .after(milliseconds: 10)) }
            } catch {
                return
            }
            guard n > 0 else { continue }
            decoder.append(contentsOf: buffer[0..<n])
            while true {
                let step = decoder.next(into: &packet)
                if step == .needMoreBytes { break }
                guard step == .packet else { continue }
                let out = answer(packet, at: origin.duration(to: .now).seconds)
                if !out.isEmpty { _ = try? transport.write(out) }
            }
        }
    }

    /// The bytes to send for one instruction packet, after recording writes and tampering with replies.
    private func answer(_ packet: ServoPacket, at time: Double) -> [UInt8] {
        let wire = emulator.wireProtocol
        let isPositionRead: Bool
        let p = packet.parameters
        let address: Int? = p.isEmpty ? nil : (wire == .dynamixel2 ? (p.count >= 2 ? Int(p[0]) | Int(p[1]) << 8 : nil) : Int(p[0]))
        let readsPosition = address != nil && address == presentPosition.values.first.map { Int($0.address) }
        switch packet.instruction {
        case DynamixelInstruction.syncRead, DynamixelInstruction.read: isPositionRead = readsPosition
        default: isPositionRead = false
        }
        return state.withLock { s -> [UInt8] in
            s.log.instructions += 1
            record(packet, into: &s)
            // Latched alarms are in the servos' registers before the emulator answers; a momentary one
            // lasts until the next position read.
            if isPositionRead {
                for id in s.momentary { emulator.setValue(ServoAlarm.registerName(for: wire), 0, of: id) }
                s.momentary.removeAll()
            }
            for (id, bits) in s.latched { emulator.setValue(ServoAlarm.registerName(for: wire), Int(bits), of: id) }
            let replies = emulator.respond(to: packet, at: time)
            var out: [UInt8] = []
            var read = -1
            if isPositionRead {
                read = s.log.positionReads
                s.log.positionReads += 1
            }
            for r in replies {
                var action = HostileReply.pass
                if read >= 0 {
                    if let scripted = s.script.scripted[read]?[r.servo] {
                        action = scripted
                    } else if s.script.randomProbability > 0 && s.rng.uniform() < s.script.randomProbability {
                        action = Self.randomReply(&s.rng, alarms: s.script.randomAlarms)
                    }
                }
                var flag = s.latched[r.servo]
                if case .alarm(let bits) = action {
                    s.latched[r.servo] = bits
                    flag = bits
                    emulator.setValue(ServoAlarm.registerName(for: wire), Int(bits), of: r.servo)
                }
                if case .alarmOnce(let bits) = action {
                    s.momentary.insert(r.servo)
                    flag = bits
                    emulator.setValue(ServoAlarm.registerName(for: wire), Int(bits), of: r.servo)
                }
                if action != .pass {
                    let kind = action.description.split(separator: "(").first.map(String.init) ?? "?"
                    s.log.tampered[kind, default: 0] += 1
                }
                out += tamper(r.bytes, servo: r.servo, action: action, alarm: flag, rng: &s.rng)
            }
            return out
        }
    }

    private static func randomReply(_ rng: inout RandomSource, alarms: Bool) -> HostileReply {
        switch rng.int(below: alarms ? 10 : 9) {
        case 0: return .position(rng.int(below: 4096))
        case 1: return .shift(rng.int(below: 1201) - 600)
        case 2: return .silent
        case 3: return .garbage(1 + rng.int(below: 24))
        case 4: return .corrupt
        case 5: return .truncate
        case 6: return .malformed
        case 7: return .wrongID
        case 8: return .position([0, 4095, 32767, 65535][rng.int(below: 4)])
        default: return .alarm([0x01, 0x04, 0x08, 0x20][rng.int(below: 4)])
        }
    }

    /// Records Goal_Position and Torque_Enable values of a WRITE or SYNC_WRITE.
    private func record(_ packet: ServoPacket, into s: inout PeerState) {
        let wire = emulator.wireProtocol
        let p = packet.parameters
        let addressBytes = wire == .dynamixel2 ? 2 : 1
        func note(_ id: UInt8, address: Int, data: ArraySlice<UInt8>) {
            let index = s.log.instructions - 1, reads = s.log.positionReads
            if let r = goalPosition[id], Int(r.address) == address, data.count >= r.width {
                s.log.goals.append(ObservedWrite(instruction: index, afterReads: reads, servo: id, value: r.value(from: Array(data), at: 0)))
            }
            if let r = torqueEnable[id], Int(r.address) == address, data.count >= r.width {
                s.log.torque.append(ObservedWrite(instruction: index, afterReads: reads, servo: id, value: r.value(from: Array(data), at: 0)))
            }
        }
        switch packet.instruction {
        case DynamixelInstruction.write:
            guard p.count > addressBytes else { return }
            let address = wire == .dynamixel2 ? Int(p[0]) | Int(p[1]) << 8 : Int(p[0])
            note(packet.id, address: address, data: p[addressBytes...])
        case DynamixelInstruction.syncWrite:
            let header = 2 * addressBytes
            guard p.count > header else { return }
            let address = wire == .dynamixel2 ? Int(p[0]) | Int(p[1]) << 8 : Int(p[0])
            let length = wire == .dynamixel2 ? Int(p[2]) | Int(p[3]) << 8 : Int(p[1])
            guard length > 0 else { return }
            var i = header
            while i + 1 + length <= p.count {
                note(p[i], address: address, data: p[(i + 1)..<(i + 1 + length)])
                i += 1 + length
            }
        default:
            return
        }
    }

    /// The reply bytes after `action` (and a latched alarm) are applied.
    private func tamper(_ bytes: [UInt8], servo: UInt8, action: HostileReply, alarm: UInt8?, rng: inout RandomSource) -> [UInt8] {
        let wire = emulator.wireProtocol
        var decoder = PacketDecoder(protocol: wire, direction: .status)
        decoder.append(contentsOf: bytes)
        var reply = ServoPacket()
        guard decoder.next(into: &reply) == .packet else { return bytes }
        if let alarm { reply.error |= wire == .dynamixel2 ? 0x80 : alarm }
        switch action {
        case .pass, .alarm, .alarmOnce:
            break
        case .position(let v), .shift(let v):
            guard let r = presentPosition[servo], reply.parameters.count == r.width else { break }
            var value = v
            if case .shift = action { value = r.value(from: reply.parameters, at: 0) + v }
            var data: [UInt8] = []
            if (try? r.append(min(max(value, r.range.lowerBound), r.range.upperBound), to: &data)) != nil { reply.parameters = data }
        case .silent:
            return []
        case .garbage(let n):
            return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.int(below: 256)) }
        case .malformed:
            reply.parameters.append(0)
        case .wrongID:
            reply.id = reply.id == 0xFC ? 1 : reply.id &+ 1
        case .corrupt, .truncate:
            break
        }
        var out: [UInt8] = []
        switch wire {
        case .dynamixel2: DynamixelCodec.appendStatus(id: reply.id, error: reply.error, parameters: reply.parameters, to: &out)
        case .feetechSTS: FeetechCodec.appendStatus(id: reply.id, error: reply.error, parameters: reply.parameters, to: &out)
        }
        if action == .corrupt {
            let i = 4 + rng.int(below: out.count - 4)
            out[i] ^= UInt8(1) << UInt8(rng.int(below: 8))
        }
        if action == .truncate { out.removeLast(1 + rng.int(below: out.count - 1)) }
        return out
    }
}

/// Hands a transport to the peer's thread exactly once.
private final class HostileTransportBox: @unchecked Sendable {
    let transport: any SerialTransport
    init(_ transport: any SerialTransport) { self.transport = transport }
}
