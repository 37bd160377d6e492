import Foundation
import Testing
@testable import ServoBus

@Suite struct ServoEmulatorTests {
    func decodeReplies(_ replies: [EmulatorReply], _ wire: ServoProtocol) -> [ServoPacket] {
        decodeAll(replies.flatMap(\.bytes), protocol: wire, direction: .status, chunk: 64).packets
    }

    func instruction(_ wire: [UInt8], _ p: ServoProtocol) -> ServoPacket {
        decodeAll(wire, protocol: p, direction: .instruction, chunk: wire.count).packets[0]
    }

    @Test func firstOrderLagFollowsTheExponential() throws {
        let tau = 0.05
        let emulator = try ServoEmulator(protocol: .dynamixel2, servos: [(1, .xl430W250)], plant: FirstOrderLagPlant(timeConstantSeconds: tau))
        _ = emulator.respond(to: instruction(DynamixelCodec.write(id: 1, address: 64, data: [1]), .dynamixel2), at: 0)
        _ = emulator.respond(to: instruction(DynamixelCodec.write(id: 1, address: 116, data: [0xB8, 0x0B, 0, 0]), .dynamixel2), at: 0)  // 3000
        let replies = emulator.respond(to: instruction(DynamixelCodec.read(id: 1, address: 132, length: 4), .dynamixel2), at: tau)
        let packet = try #require(decodeReplies(replies, .dynamixel2).first)
        let present = ControlTable.xl430W250.register(.presentPosition)!.value(from: packet.parameters, at: 0)
        let expected = 3000 - (3000 - 2048) * exp(-1.0)  // 2697.77
        #expect(abs(Double(present) - expected) <= 0.5, "present \(present), expected \(expected) ± 0.5 (rounded to ticks)")
        #expect(try #require(emulator.plantState(of: 1)).velocity > 0)
        #expect(emulator.value(.moving, of: 1) == 1)
    }

    @Test func returnDelayAndStatusReturnLevelAreHonoured() throws {
        let emulator = try ServoEmulator(protocol: .dynamixel2, servos: [(1, .xl330M288), (2, .xl330M288)])
        let ping = emulator.respond(to: instruction(DynamixelCodec.ping(id: 1), .dynamixel2), at: 0)
        #expect(ping.count == 1 && ping[0].delaySeconds == 250 * 2e-6)
        // Status_Return_Level 1: reads answered, writes not.
        _ = emulator.respond(to: instruction(DynamixelCodec.write(id: 2, address: 68, data: [1]), .dynamixel2), at: 0)
        #expect(emulator.respond(to: instruction(DynamixelCodec.write(id: 2, address: 65, data: [1]), .dynamixel2), at: 0).isEmpty)
        #expect(emulator.respond(to: instruction(DynamixelCodec.read(id: 2, address: 65, length: 1), .dynamixel2), at: 0).count == 1)
        // Broadcast ping: every servo, in ID order.
        let all = decodeReplies(emulator.respond(to: instruction(DynamixelCodec.ping(id: 0xFE), .dynamixel2), at: 0), .dynamixel2)
        #expect(all.map(\.id) == [1, 2])
        // Unknown instruction: instruction error.
        let bad = decodeReplies(emulator.respond(to: ServoPacket(id: 1, instruction: 0x77), at: 0), .dynamixel2)
        #expect(bad.first?.error == DynamixelStatusError.instructionError)
        // Out-of-table read: access error.
        let far = decodeReplies(emulator.respond(to: instruction(DynamixelCodec.read(id: 1, address: 140, length: 40), .dynamixel2), at: 0), .dynamixel2)
        #expect(far.first?.error == DynamixelStatusError.accessError)
    }

    @Test func registeredWriteWaitsForActionAndIDChangesTakeEffect() throws {
        let emulator = try ServoEmulator(protocol: .dynamixel2, servos: [(1, .xl330M288)])
        _ = emulator.respond(to: instruction(DynamixelCodec.registeredWrite(id: 1, address: 65, data: [1]), .dynamixel2), at: 0)
        #expect(emulator.value(.led, of: 1) == 0)
        _ = emulator.respond(to: instruction(DynamixelCodec.action(id: 0xFE), .dynamixel2), at: 0)
        #expect(emulator.value(.led, of: 1) == 1)
        _ = emulator.respond(to: instruction(DynamixelCodec.write(id: 1, address: 7, data: [9]), .dynamixel2), at: 0)
        #expect(emulator.ids == [9])
        let bulk = decodeReplies(emulator.respond(to: instruction(DynamixelCodec.bulkRead([(9, 0, 2), (9, 65, 1)]), .dynamixel2), at: 0), .dynamixel2)
        #expect(bulk.map(\.parameters) == [[0xB0, 0x04], [1]])
    }

    @Test func faultInjectionIsSeededAndPerServo() throws {
        func run(seed: UInt64) throws -> [Int] {
            let plan = FaultPlan(perServo: [2: ServoFaults(drop: 0.3, corrupt: 0.3, truncate: 0.2)])
            let emulator = try ServoEmulator(protocol: .feetechSTS, servos: [(1, .sts3215), (2, .sts3215)], faults: plan, seed: seed)
            var pattern: [Int] = []
            for _ in 0..<50 {
                let replies = emulator.respond(to: instruction(FeetechCodec.syncRead(address: 56, length: 2, ids: [1, 2]), .feetechSTS), at: 0)
                pattern.append(replies.count * 1000 + replies.map { $0.bytes.reduce(0) { $0 &+ Int($1) } }.reduce(0, +))
                #expect(replies.first?.servo == 1 && replies.first?.bytes == bytes("FF FF 01 04 00 00 08 F2"))
            }
            return pattern
        }
        #expect(try run(seed: 5) == run(seed: 5))
        #expect(try run(seed: 5) != run(seed: 6))
        #expect(try FaultPlan(specs: ["drop=0.01,corrupt=0.02,delay_ms=2", "3,4:silent"]) ==
                FaultPlan(all: ServoFaults(drop: 0.01, corrupt: 0.02, delayMs: 2), perServo: [3: ServoFaults(silent: true), 4: ServoFaults(silent: true)]))
        #expect(throws: FaultSpecError.self) { try ServoFaults(spec: "dorp=0.1") }
        #expect(throws: FaultSpecError.self) { try ServoFaults(spec: "drop=1.5") }
        #expect(throws: EmulatorConfigurationError.self) { try ServoEmulator(protocol: .dynamixel2, servos: [(1, .sts3215)]) }
        #expect(throws: EmulatorConfigurationError.self) { try ServoEmulator(protocol: .feetechSTS, servos: [(1, .sts3215), (1, .sts3215)]) }
    }

    /// Issue 19 item 6: `ff ff 01 04 02 00 f5 03` (READ of 245 bytes) used to hit the frame-size precondition
    /// and kill `sim-serial`. A READ or SYNC_READ longer than a frame holds gets no reply, and the emulator
    /// keeps answering.
    @Test func feetechReadLongerThanAFrameIsNotAnsweredAndServingGoesOn() throws {
        let emulator = try ServoEmulator(protocol: .feetechSTS, servos: [(1, .sts3215)])
        let packet = instruction(bytes("ff ff 01 04 02 00 f5 03"), .feetechSTS)
        #expect(packet.instruction == FeetechInstruction.read && packet.parameters == [0x00, 0xF5])
        #expect(emulator.respond(to: packet, at: 0).isEmpty)
        for length in [245, 255] as [UInt8] {
            #expect(emulator.respond(to: instruction(FeetechCodec.read(id: 1, address: 0, length: length), .feetechSTS), at: 0).isEmpty)
            #expect(emulator.respond(to: instruction(FeetechCodec.syncRead(address: 0, length: length, ids: [1]), .feetechSTS), at: 0).isEmpty)
        }
        // The longest READ that fits is answered in full, and so is the next ordinary one.
        let longest = decodeReplies(emulator.respond(to: instruction(FeetechCodec.read(id: 1, address: 0, length: 244), .feetechSTS), at: 0), .feetechSTS)
        #expect(longest.first?.parameters.count == 244)
        let next = decodeReplies(emulator.respond(to: instruction(FeetechCodec.read(id: 1, address: 56, length: 2), .feetechSTS), at: 0), .feetechSTS)
        #expect(next.first?.parameters.count == 2)
    }

    /// The Dynamixel side of the same class: a FAST_SYNC_READ whose range leaves the control table used to
    /// answer with `length` zero bytes per servo (up to 65,535 each, and a LEN that wrapped past 16 bits).
    /// Now each such servo answers alone with an access error, and a reply that cannot fit LEN is not sent.
    @Test func dynamixelFastSyncReadOutsideTheTableIsAnAccessErrorNotAHugeReply() throws {
        let emulator = try ServoEmulator(protocol: .dynamixel2, servos: [(1, .xl430W250), (2, .xl430W250)])
        let far = emulator.respond(to: instruction(DynamixelCodec.syncRead(address: 0, length: 0xFFFF, ids: [1, 2], fast: true), .dynamixel2), at: 0)
        let packets = decodeReplies(far, .dynamixel2)
        #expect(packets.map(\.id) == [1, 2])
        #expect(packets.allSatisfy { $0.error == DynamixelStatusError.accessError && $0.parameters.isEmpty })
        #expect(far.allSatisfy { $0.bytes.count < 64 })
        // Too many entries for one LEN: no reply at all; the emulator goes on answering.
        let many = [UInt8](repeating: 1, count: 500)
        let table = ControlTable.xl430W250.memorySize  // every byte of the table: 500 × (table + 4) is past 65,535
        #expect(500 * (table + 4) > 0xFFFF)
        #expect(emulator.respond(to: instruction(DynamixelCodec.syncRead(address: 0, length: UInt16(table), ids: many, fast: true), .dynamixel2), at: 0).isEmpty)
        let ok = decodeReplies(emulator.respond(to: instruction(DynamixelCodec.syncRead(address: 132, length: 4, ids: [1, 2], fast: true), .dynamixel2), at: 0), .dynamixel2)
        #expect(ok.count == 1 && DynamixelCodec.fastSyncReadEntries(ok[0], dataLength: 4)?.map(\.id) == [1, 2])
    }

    /// Found by `engram-bench fuzz`: a WRITE of ID 253 or 255 was taken, and the servo then answered with a
    /// header no host decodes. Reserved IDs are refused (Dynamixel: data range error) or ignored (Feetech).
    @Test func reservedIDsCannotBeWritten() throws {
        let dxl = try ServoEmulator(protocol: .dynamixel2, servos: [(1, .xl430W250)])
        for id: UInt8 in [0xFD, 0xFF] {
            let r = decodeReplies(dxl.respond(to: instruction(DynamixelCodec.write(id: 1, address: 7, data: [id]), .dynamixel2), at: 0), .dynamixel2)
            #expect(r.first?.error == DynamixelStatusError.dataRange)
            #expect(dxl.ids == [1])
        }
        let sts = try ServoEmulator(protocol: .feetechSTS, servos: [(1, .sts3215)])
        _ = sts.respond(to: instruction(FeetechCodec.write(id: 1, address: 5, data: [0xFF]), .feetechSTS), at: 0)
        #expect(sts.ids == [1])
        _ = sts.respond(to: instruction(FeetechCodec.write(id: 1, address: 5, data: [0xFD]), .feetechSTS), at: 0)
        #expect(sts.ids == [0xFD])
    }
}
