import Foundation
import Testing
import Tensors
@testable import ServoBus

@Suite struct PacketDecoderTests {
    /// A stream of several status packets of each protocol, including stuffed payloads.
    static func statusStream(_ wire: ServoProtocol) -> (bytes: [UInt8], packets: [ServoPacket]) {
        var out: [UInt8] = []
        var packets: [ServoPacket] = []
        for id in UInt8(1)...6 {
            let p = ServoPacket(id: id, instruction: DynamixelInstruction.status, error: id == 4 ? 0x20 : 0,
                                parameters: id == 3 ? [0xFF, 0xFF, 0xFD, 0x00] : [id, 0x08, 0x00, 0x00])
            switch wire {
            case .dynamixel2: DynamixelCodec.appendStatus(id: p.id, error: p.error, parameters: p.parameters, to: &out)
            case .feetechSTS: FeetechCodec.appendStatus(id: p.id, error: p.error, parameters: p.parameters, to: &out)
            }
            packets.append(p)
        }
        return (out, packets)
    }

    @Test(arguments: ServoProtocol.allCases)
    func splitAndConcatenatedStreamsDecodeIdentically(_ wire: ServoProtocol) {
        let (stream, expected) = Self.statusStream(wire)
        for chunk in [1, 2, 3, 7, 11, stream.count] {
            let d = decodeAll(stream, protocol: wire, direction: .status, chunk: chunk)
            #expect(d.packets == expected, "chunk \(chunk)")
            #expect(d.rejected.isEmpty, "chunk \(chunk)")
            #expect(d.left == 0, "chunk \(chunk): bytes left over")
        }
    }

    @Test(arguments: ServoProtocol.allCases)
    func resynchronisesAfterGarbageAndCorruption(_ wire: ServoProtocol) {
        let (stream, expected) = Self.statusStream(wire)
        // Noise (including lone FFs and half headers) before, between and after packets.
        let noise: [UInt8] = [0x00, 0xFF, 0x13, 0xFF, 0xFF, 0xFD, 0xFF, 0x42]
        var dirty = noise
        var offsets: [Int] = []
        var d0 = PacketDecoder(protocol: wire, direction: .status)
        var pkt = ServoPacket()
        d0.append(contentsOf: stream)
        var start = 0
        while case .packet = d0.next(into: &pkt) {
            let end = stream.count - d0.bufferedByteCount
            offsets.append(dirty.count)
            dirty += stream[start..<end]
            dirty += noise.prefix(3)
            start = end
        }
        dirty += [0xFF, 0xFF]  // a trailing partial header stays buffered
        for chunk in [1, 5, dirty.count] {
            let d = decodeAll(dirty, protocol: wire, direction: .status, chunk: chunk)
            #expect(d.packets == expected, "chunk \(chunk)")
            #expect(d.left <= 4)
        }
        // Corrupt packet 2 (one bit in its payload): it is rejected and every other packet survives.
        var corrupted = dirty
        corrupted[offsets[1] + (wire == .dynamixel2 ? 9 : 5)] ^= 0x10
        let d = decodeAll(corrupted, protocol: wire, direction: .status, chunk: 4)
        #expect(d.packets == expected.enumerated().filter { $0.offset != 1 }.map(\.element))
        #expect(d.rejected.contains { if case .badChecksum(let id, _, _) = $0 { id == 2 } else { false } })
        // Truncate packet 3: its header swallows part of packet 4; resync still recovers packets after.
        var truncated = Array(dirty[..<(offsets[2] + 8)])
        truncated += dirty[offsets[3]...]
        let t = decodeAll(truncated, protocol: wire, direction: .status, chunk: 3)
        #expect(Set(t.packets.map(\.id)).isSuperset(of: [1, 2, 5, 6]))
        #expect(!t.packets.contains { $0.id == 3 })
    }

    @Test func statusDecoderSkipsEchoedInstructions() {
        var stream = DynamixelCodec.read(id: 1, address: 132, length: 4)
        DynamixelCodec.appendStatus(id: 1, error: 0, parameters: [0, 8, 0, 0], to: &stream)
        let d = decodeAll(stream, protocol: .dynamixel2, direction: .status, chunk: 1)
        #expect(d.packets.map(\.id) == [1])
        #expect(d.rejected == [.unexpectedDirection(id: 1, instruction: 0x02)])
    }

    @Test func oversizedLengthIsRejectedNotAwaited() {
        // A header claiming 60 000 bytes would make a naive decoder wait forever.
        var stream: [UInt8] = [0xFF, 0xFF, 0xFD, 0x00, 0x01, 0x60, 0xEA, 0x55]
        DynamixelCodec.appendStatus(id: 2, error: 0, parameters: [1], to: &stream)
        let d = decodeAll(stream, protocol: .dynamixel2, direction: .status, chunk: 1)
        #expect(d.packets.map(\.id) == [2])
        #expect(d.rejected.first == .badHeader(id: 1, length: 60_000))
    }

    /// Random bytes mixed with valid packets: no crash, buffered bytes stay bounded, and packets embedded
    /// in clean stretches are found. Count from ENGRAM_FUZZ_INPUTS (default 100 000 inputs per protocol;
    /// run with 1 000 000 in release mode: `ENGRAM_FUZZ_INPUTS=1000000 swift test -c release --filter Fuzz`).
    @Test(arguments: ServoProtocol.allCases)
    func fuzzRandomBytes(_ wire: ServoProtocol) {
        let inputs = ProcessInfo.processInfo.environment["ENGRAM_FUZZ_INPUTS"].flatMap { Int($0) } ?? 100_000
        let result = PacketDecoderFuzz.run(protocol: wire, inputs: inputs, seed: 2026)
        #expect(result.inputs == inputs)
        #expect(result.maximumBuffered < result.bound, "buffer grew to \(result.maximumBuffered)")
        #expect(result.plantedFound == result.planted, "found \(result.plantedFound) of \(result.planted) planted packets")
        print("fuzz \(wire.rawValue): \(inputs) inputs, \(result.totalBytes) bytes, \(result.packets) packets, \(result.rejections) rejections, max buffered \(result.maximumBuffered)")
    }
}

/// The seeded fuzz driver: each input is 1–64 random bytes (biased toward FF/FD/00 so headers and
/// stuffing occur), one in eight followed by a separator run and a freshly encoded valid packet, fed to
/// one long-lived decoder in random chunk sizes.
enum PacketDecoderFuzz {
    struct Result {
        var inputs = 0, totalBytes = 0, packets = 0, rejections = 0, maximumBuffered = 0, planted = 0, plantedFound = 0, bound = 0
    }

    static func run(protocol wire: ServoProtocol, inputs: Int, seed: UInt64) -> Result {
        var rng = RandomSource(seed: seed)
        var result = Result()
        for direction in [PacketDirection.status, .instruction] {
            var decoder = PacketDecoder(protocol: wire, direction: direction)
            result.bound = decoder.maximumPacketLength + 64
            var packet = ServoPacket()
            var input: [UInt8] = []
            input.reserveCapacity(512)
            var planted = ServoPacket()
            for _ in 0..<(inputs / 2 + (direction == .status ? inputs % 2 : 0)) {
                result.inputs += 1
                input.removeAll(keepingCapacity: true)
                let n = 1 + rng.int(below: 64)
                for _ in 0..<n {
                    let r = rng.next()
                    switch r & 7 {
                    case 0, 1: input.append(0xFF)
                    case 2: input.append(0xFD)
                    case 3: input.append(0x00)
                    default: input.append(UInt8(truncatingIfNeeded: r >> 8))
                    }
                }
                let plant = rng.int(below: 8) == 0
                var expectPlanted = false
                if plant {
                    // A run of non-FF bytes as long as the longest packet: every candidate header that
                    // starts in the noise ends inside the run, so the planted packet must be found.
                    input.append(contentsOf: repeatElement(0x11, count: decoder.maximumPacketLength))
                    planted.id = UInt8(rng.int(below: 250))
                    planted.error = direction == .status ? UInt8(rng.int(below: 0x7F)) : 0
                    planted.instruction = direction == .status ? DynamixelInstruction.status : 0x03
                    planted.parameters.removeAll(keepingCapacity: true)
                    for _ in 0..<rng.int(below: 12) { planted.parameters.append(rng.int(below: 3) == 0 ? 0xFF : UInt8(truncatingIfNeeded: rng.next())) }
                    let encoded = wire == .dynamixel2 ? DynamixelCodec.encode(planted) : FeetechCodec.encode(planted)
                    input += encoded
                    result.planted += 1
                    expectPlanted = true
                }
                result.totalBytes += input.count
                var at = 0
                while at < input.count {
                    let chunk = min(input.count - at, 1 + rng.int(below: 40))
                    input.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[at..<(at + chunk)])) }
                    at += chunk
                    drain(&decoder, &packet, &result, planted: expectPlanted ? planted : nil)
                }
            }
        }
        return result
    }

    private static func drain(_ decoder: inout PacketDecoder, _ packet: inout ServoPacket, _ result: inout Result, planted: ServoPacket?) {
        while true {
            switch decoder.next(into: &packet) {
            case .packet:
                result.packets += 1
                if let planted, packet == planted { result.plantedFound += 1 }
            case .needMoreBytes:
                result.maximumBuffered = max(result.maximumBuffered, decoder.bufferedByteCount)
                return
            case .rejected:
                result.rejections += 1
            }
        }
    }
}
