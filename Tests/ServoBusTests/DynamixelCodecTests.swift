import Testing
import Tensors
@testable import ServoBus

@Suite struct DynamixelCodecTests {
    /// Golden vectors from design/protocols.md (checked against the ROBOTIS SDK's CRC routine).
    static let golden: [(name: String, wire: String, packet: ServoPacket)] = [
        ("ping 1", "FF FF FD 00 01 03 00 01 19 4E", ServoPacket(id: 1, instruction: 0x01)),
        ("read present position 1", "FF FF FD 00 01 07 00 02 84 00 04 00 1D 15",
         ServoPacket(id: 1, instruction: 0x02, parameters: [0x84, 0x00, 0x04, 0x00])),
        ("torque enable 1", "FF FF FD 00 01 06 00 03 40 00 01 DB 66", ServoPacket(id: 1, instruction: 0x03, parameters: [0x40, 0x00, 0x01])),
        ("goal position 2048", "FF FF FD 00 01 09 00 03 74 00 00 08 00 00 42 89",
         ServoPacket(id: 1, instruction: 0x03, parameters: [0x74, 0x00, 0x00, 0x08, 0x00, 0x00])),
        ("sync read 1,2", "FF FF FD 00 FE 09 00 82 84 00 04 00 01 02 CE FA",
         ServoPacket(id: 0xFE, instruction: 0x82, parameters: [0x84, 0x00, 0x04, 0x00, 0x01, 0x02])),
    ]

    @Test func goldenVectorsEncodeByteForByte() {
        for g in Self.golden { #expect(DynamixelCodec.encode(g.packet) == bytes(g.wire), "\(g.name)") }
        #expect(DynamixelCodec.ping(id: 1) == bytes(Self.golden[0].wire))
        #expect(DynamixelCodec.read(id: 1, address: 132, length: 4) == bytes(Self.golden[1].wire))
        #expect(DynamixelCodec.write(id: 1, address: 64, data: [1]) == bytes(Self.golden[2].wire))
        let goal = try! ControlTable.xl330M288.register(.goalPosition)!.bytes(for: 2048)
        #expect(DynamixelCodec.write(id: 1, address: 116, data: goal) == bytes(Self.golden[3].wire))
        #expect(DynamixelCodec.syncRead(address: 132, length: 4, ids: [1, 2]) == bytes(Self.golden[4].wire))
    }

    @Test func goldenVectorsDecodeByteForByte() {
        for g in Self.golden {
            let d = decodeAll(bytes(g.wire), protocol: .dynamixel2, direction: .instruction, chunk: 100)
            #expect(d.packets == [g.packet], "\(g.name)")
            #expect(d.left == 0)
        }
    }

    @Test func statusPacketsRoundTripWithErrorNames() {
        let s = ServoPacket(id: 3, instruction: DynamixelInstruction.status, error: 0x87, parameters: [0x00, 0x08, 0x00, 0x00])
        let wire = DynamixelCodec.encode(s)
        #expect(wire[7] == 0x55 && wire[8] == 0x87)
        let d = decodeAll(wire, protocol: .dynamixel2, direction: .status, chunk: 1)
        #expect(d.packets == [s])
        #expect(DynamixelStatusError(rawValue: 0x87).description == "access error + hardware alert (read Hardware_Error_Status, address 70)")
        #expect(DynamixelStatusError(rawValue: 0x03).description == "CRC error")
        #expect(DynamixelStatusError(rawValue: 0).description == "no error")
    }

    @Test func allInstructionBuildersProduceDecodablePackets() {
        let cases: [([UInt8], UInt8, [UInt8])] = [
            (DynamixelCodec.registeredWrite(id: 2, address: 116, data: [1, 2, 3, 4]), 0x04, [116, 0, 1, 2, 3, 4]),
            (DynamixelCodec.action(id: 0xFE), 0x05, []),
            (DynamixelCodec.reboot(id: 2), 0x08, []),
            (DynamixelCodec.factoryReset(id: 2, option: 0x02), 0x06, [0x02]),
            (DynamixelCodec.syncRead(address: 132, length: 4, ids: [1, 2, 3], fast: true), 0x8A, [132, 0, 4, 0, 1, 2, 3]),
            (DynamixelCodec.syncWrite(address: 116, length: 2, entries: [(1, [0x10, 0x20]), (2, [0x30, 0x40])]), 0x83,
             [116, 0, 2, 0, 1, 0x10, 0x20, 2, 0x30, 0x40]),
            (DynamixelCodec.bulkRead([(1, 132, 4), (2, 128, 4)]), 0x92, [1, 132, 0, 4, 0, 2, 128, 0, 4, 0]),
            (DynamixelCodec.bulkWrite([(1, 116, [1, 2]), (2, 64, [1])]), 0x93, [1, 116, 0, 2, 0, 1, 2, 2, 64, 0, 1, 0, 1]),
        ]
        for (wire, instruction, params) in cases {
            let d = decodeAll(wire, protocol: .dynamixel2, direction: .instruction, chunk: 3)
            #expect(d.packets.count == 1)
            #expect(d.packets.first?.instruction == instruction)
            #expect(d.packets.first?.parameters == params)
        }
    }

    @Test func stuffingInsertsFDAfterFFFFFD() {
        #expect(DynamixelCodec.stuff([0xFF, 0xFF, 0xFD]) == [0xFF, 0xFF, 0xFD, 0xFD])
        #expect(DynamixelCodec.stuff([0xFF, 0xFF, 0xFD, 0xFD]) == [0xFF, 0xFF, 0xFD, 0xFD, 0xFD])
        #expect(DynamixelCodec.stuff([0xFF, 0xFF, 0xFF, 0xFD]) == [0xFF, 0xFF, 0xFF, 0xFD, 0xFD])
        #expect(DynamixelCodec.stuff([0xFF, 0xFD, 0xFF, 0xFF]) == [0xFF, 0xFD, 0xFF, 0xFF])
        #expect(DynamixelCodec.unstuff([0xFF, 0xFF, 0xFD]) == nil, "FF FF FD must be followed by the stuffing FD")
        #expect(DynamixelCodec.unstuff([0xFF, 0xFF, 0xFD, 0x01]) == nil)
        // A stuffed packet: LEN counts the stuffed bytes and the CRC covers them.
        let p = ServoPacket(id: 1, instruction: 0x03, parameters: [0x74, 0x00, 0xFF, 0xFF, 0xFD, 0x00])
        let wire = DynamixelCodec.encode(p)
        #expect(Array(wire[8..<15]) == [0x74, 0x00, 0xFF, 0xFF, 0xFD, 0xFD, 0x00])
        #expect(Int(wire[5]) == 1 + 7 + 2)
        #expect(DynamixelCRC.checksum(wire.dropLast(2)) == UInt16(wire[wire.count - 2]) | UInt16(wire.last!) << 8)
    }

    /// Adversarial payloads: runs of FF and FD in every arrangement up to length 8, plus random FF/FD-heavy ones.
    @Test func stuffingRoundTripsOnAdversarialPayloads() {
        let alphabet: [UInt8] = [0xFF, 0xFD, 0x00]
        for length in 0...8 {
            var counter = [Int](repeating: 0, count: length)
            repeat {
                let payload = counter.map { alphabet[$0] }
                let stuffed = DynamixelCodec.stuff(payload)
                #expect(DynamixelCodec.unstuff(stuffed) == payload, "\(hexString(payload))")
                // No header can appear inside a stuffed region.
                #expect(!containsHeader(stuffed), "\(hexString(stuffed))")
                var k = 0
                while k < length { counter[k] += 1; if counter[k] < alphabet.count { break }; counter[k] = 0; k += 1 }
                if k == length { break }
            } while true
        }
        var rng = RandomSource(seed: 21)
        for _ in 0..<2_000 {
            let payload = (0..<rng.int(below: 64)).map { _ in [UInt8(0xFF), 0xFD, 0xFE, 0x00][rng.int(below: 4)] }
            #expect(DynamixelCodec.unstuff(DynamixelCodec.stuff(payload)) == payload)
            let p = ServoPacket(id: 5, instruction: 0x03, parameters: payload)
            #expect(decodeAll(DynamixelCodec.encode(p), protocol: .dynamixel2, direction: .instruction, chunk: 1).packets == [p])
        }
    }

    private func containsHeader(_ b: [UInt8]) -> Bool {
        guard b.count >= 4 else { return false }
        return (0...(b.count - 4)).contains { b[$0] == 0xFF && b[$0 + 1] == 0xFF && b[$0 + 2] == 0xFD && b[$0 + 3] == 0x00 }
    }

    @Test func fastSyncReadReplyRoundTrips() throws {
        let entries = [
            DynamixelCodec.FastSyncReadEntry(id: 1, error: 0, data: [0x00, 0x08, 0x00, 0x00]),
            DynamixelCodec.FastSyncReadEntry(id: 2, error: 0x80, data: [0xFF, 0xFF, 0xFD, 0x00]),
            DynamixelCodec.FastSyncReadEntry(id: 3, error: 0, data: [0x01, 0x02, 0x03, 0x04]),
        ]
        let wire = DynamixelCodec.fastSyncReadReply(entries)
        #expect(wire[4] == 0xFE)
        let d = decodeAll(wire, protocol: .dynamixel2, direction: .status, chunk: 5)
        let packet = try #require(d.packets.first)
        #expect(DynamixelCodec.fastSyncReadEntries(packet, dataLength: 4) == entries)
        #expect(DynamixelCodec.fastSyncReadEntries(packet, dataLength: 3) == nil)
    }
}
