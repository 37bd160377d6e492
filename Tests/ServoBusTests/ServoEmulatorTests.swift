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
}
