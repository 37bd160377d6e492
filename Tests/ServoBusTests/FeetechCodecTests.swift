import Testing
@testable import ServoBus

@Suite struct FeetechCodecTests {
    @Test func goldenVectorsEncodeByteForByte() throws {
        #expect(FeetechCodec.ping(id: 1) == bytes("FF FF 01 02 01 FB"))
        #expect(FeetechCodec.encode(ServoPacket(id: 1, instruction: DynamixelInstruction.status, error: 0)) == bytes("FF FF 01 02 00 FC"))
        #expect(FeetechCodec.read(id: 1, address: 0x38, length: 2) == bytes("FF FF 01 04 02 38 02 BE"))
        let table = ControlTable.sts3215
        let goal = try table.register(.goalPosition)!.bytes(for: 2048)
        let time = try table.register(.goalTime)!.bytes(for: 0)
        let speed = try table.register(.goalVelocity)!.bytes(for: 1000)
        #expect(FeetechCodec.write(id: 1, address: 0x2A, data: goal + time + speed) == bytes("FF FF 01 09 03 2A 00 08 00 00 E8 03 D5"))
        #expect(FeetechCodec.syncRead(address: 0x38, length: 2, ids: [1, 2, 3, 4, 5, 6]) == bytes("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26"))
        #expect(FeetechCodec.syncWrite(address: 0x2A, length: 2, entries: [(1, goal), (2, goal)]) == bytes("FF FF FE 0A 83 2A 02 01 00 08 02 00 08 35"))
    }

    @Test func goldenVectorsDecodeByteForByte() {
        let instructions: [(String, ServoPacket)] = [
            ("FF FF 01 02 01 FB", ServoPacket(id: 1, instruction: 0x01)),
            ("FF FF 01 04 02 38 02 BE", ServoPacket(id: 1, instruction: 0x02, parameters: [0x38, 0x02])),
            ("FF FF 01 09 03 2A 00 08 00 00 E8 03 D5", ServoPacket(id: 1, instruction: 0x03, parameters: [0x2A, 0x00, 0x08, 0x00, 0x00, 0xE8, 0x03])),
            ("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26", ServoPacket(id: 0xFE, instruction: 0x82, parameters: [0x38, 0x02, 1, 2, 3, 4, 5, 6])),
            ("FF FF FE 0A 83 2A 02 01 00 08 02 00 08 35", ServoPacket(id: 0xFE, instruction: 0x83, parameters: [0x2A, 0x02, 1, 0x00, 0x08, 2, 0x00, 0x08])),
        ]
        for (wire, packet) in instructions {
            let d = decodeAll(bytes(wire), protocol: .feetechSTS, direction: .instruction, chunk: 1)
            #expect(d.packets == [packet], "\(wire)")
        }
        let reply = decodeAll(bytes("FF FF 01 02 00 FC"), protocol: .feetechSTS, direction: .status, chunk: 2)
        #expect(reply.packets == [ServoPacket(id: 1, instruction: DynamixelInstruction.status, error: 0)])
        // Broadcast is not a valid status source.
        #expect(decodeAll(bytes("FF FF FE 02 00 FF"), protocol: .feetechSTS, direction: .status, chunk: 6).packets.isEmpty)
    }

    @Test func signMagnitudeValues() throws {
        let goal = ControlTable.sts3215.register(.goalPosition)!
        #expect(try goal.bytes(for: -1) == [0x01, 0x80])
        #expect(try goal.bytes(for: 2048) == [0x00, 0x08])
        #expect(goal.value(from: [0x01, 0x80], at: 0) == -1)
        #expect(goal.value(from: [0xFF, 0xFF], at: 0) == -32767)
        #expect(throws: RegisterValueError.self) { try goal.bytes(for: 32768) }
        let offset = ControlTable.sts3215.register(.homingOffset)!
        #expect(try offset.bytes(for: -100) == [0x64, 0x08])
        #expect(offset.value(from: [0x64, 0x08], at: 0) == -100)
        #expect(offset.range == -2047...2047)
        let load = ControlTable.sts3215.register(.presentLoad)!
        #expect(load.value(from: [0x10, 0x04], at: 0) == -16)
        for v in -2047...2047 { #expect(SignMagnitude.decode(SignMagnitude.encode(v, signBit: 11), signBit: 11) == v) }
        #expect(SignMagnitude.encode(0, signBit: 15) == 0)
        #expect(FeetechStatusError(rawValue: 0b0010_0100).description == "overheat + overload")
    }
}
