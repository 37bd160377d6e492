/// Why the decoder threw away a candidate packet (it has already resynchronised past it).
public enum PacketRejection: Equatable, Sendable, CustomStringConvertible {
    /// A header with an impossible ID or length (bytes were noise, or a header split across a corruption).
    case badHeader(id: UInt8, length: Int)
    /// The CRC (Dynamixel) or checksum (Feetech) did not match.
    case badChecksum(id: UInt8, expected: UInt16, received: UInt16)
    /// The packet is well-formed but of the other direction (e.g. an echoed instruction on a half-duplex line).
    case unexpectedDirection(id: UInt8, instruction: UInt8)
    /// Stuffing was malformed or a status packet had no error byte.
    case malformed(id: UInt8)

    /// One line for messages.
    public var description: String {
        switch self {
        case .badHeader(let id, let length): "bad header (ID \(id), length \(length))"
        case .badChecksum(let id, let expected, let received):
            "bad checksum from ID \(id) (computed 0x\(String(expected, radix: 16)), received 0x\(String(received, radix: 16)))"
        case .unexpectedDirection(let id, let instruction): "unexpected packet from ID \(id) with instruction 0x\(String(instruction, radix: 16))"
        case .malformed(let id): "malformed packet from ID \(id)"
        }
    }
}

/// What one decoding step produced.
public enum DecodeStep: Equatable, Sendable {
    /// A whole packet was written into the caller's `ServoPacket`.
    case packet
    /// Buffered bytes are at most the start of a packet: feed more.
    case needMoreBytes
    /// A candidate was rejected and skipped; call again to continue.
    case rejected(PacketRejection)
}

/// A streaming packet decoder for either protocol: a pure state machine over a byte buffer.
///
/// Feed bytes with `append`, then call `next(into:)` until it returns `.needMoreBytes`. It never blocks and
/// never sees a file descriptor. It resynchronises after garbage, split packets and bad checksums by
/// skipping one byte past a rejected header and searching for the next `FF FF FD 00` (Dynamixel) or `FF FF`
/// (Feetech). After `.needMoreBytes` at most `maximumPacketLength - 1` bytes stay buffered, so the buffer
/// cannot grow without bound.
public struct PacketDecoder: Sendable {
    /// The protocol decoded.
    public let wireProtocol: ServoProtocol
    /// Which side's packets are expected.
    public let direction: PacketDirection
    /// Longest packet accepted, in wire bytes; longer headers are rejected as noise.
    public let maximumPacketLength: Int

    private var buffer: [UInt8] = []
    private var start = 0

    /// Bytes skipped while searching for a header (noise), since creation.
    public private(set) var discardedByteCount = 0
    /// Candidates rejected (`.rejected` steps), since creation.
    public private(set) var rejectedCount = 0
    /// Packets decoded, since creation.
    public private(set) var packetCount = 0

    /// Creates a decoder. `maximumPacketLength` defaults to 1024 (Dynamixel) or 250 (Feetech).
    public init(protocol wireProtocol: ServoProtocol, direction: PacketDirection, maximumPacketLength: Int? = nil) {
        self.wireProtocol = wireProtocol
        self.direction = direction
        switch wireProtocol {
        case .dynamixel2: self.maximumPacketLength = max(11, maximumPacketLength ?? 1024)
        case .feetechSTS: self.maximumPacketLength = max(6, min(maximumPacketLength ?? FeetechCodec.maximumFrameLength, 259))
        }
        buffer.reserveCapacity(self.maximumPacketLength * 2)
    }

    /// Bytes held but not yet decoded.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Appends received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes.
    public mutating func append<C: Collection>(contentsOf bytes: C) where C.Element == UInt8 {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops everything buffered (e.g. before a new request).
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        start = 0
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    /// Decodes the next packet into `packet` (its `parameters` are cleared and refilled).
    public mutating func next(into packet: inout ServoPacket) -> DecodeStep {
        switch wireProtocol {
        case .dynamixel2: return nextDynamixel(into: &packet)
        case .feetechSTS: return nextFeetech(into: &packet)
        }
    }

    /// Moves `start` to the first possible header at or after it (keeping a trailing partial header);
    /// returns whether a full header of `headerLength` bytes is there.
    private mutating func seekHeader(_ b: UnsafeBufferPointer<UInt8>, isDynamixel: Bool) -> Bool {
        let count = b.count
        var i = start
        let headerLength = isDynamixel ? 4 : 2
        while i < count {
            if b[i] != 0xFF { i += 1; continue }
            // Compare as much of the header as is buffered.
            var matched = 1
            while matched < headerLength, i + matched < count {
                let expected: UInt8 = isDynamixel ? DynamixelCodec.header[matched] : 0xFF
                if b[i + matched] != expected { break }
                matched += 1
            }
            if matched == headerLength || i + matched == count {
                discardedByteCount += i - start
                start = i
                return matched == headerLength
            }
            i += 1
        }
        discardedByteCount += count - start
        start = count
        return false
    }

    private mutating func reject(_ why: PacketRejection) -> DecodeStep {
        start += 1
        rejectedCount += 1
        return .rejected(why)
    }

    private mutating func nextDynamixel(into packet: inout ServoPacket) -> DecodeStep {
        let buf = buffer
        return buf.withUnsafeBufferPointer { b -> DecodeStep in
            guard seekHeader(b, isDynamixel: true) else { return .needMoreBytes }
            let available = b.count - start
            guard available >= 7 else { return .needMoreBytes }
            let id = b[start + 4]
            let length = Int(b[start + 5]) | Int(b[start + 6]) << 8
            let minimumLength = direction == .status ? 4 : 3
            let idOK = id <= 0xFC || id == broadcastID
            guard idOK, length >= minimumLength, 7 + length <= maximumPacketLength else {
                return reject(.badHeader(id: id, length: length))
            }
            guard available >= 7 + length else { return .needMoreBytes }
            let crcEnd = start + 5 + length
            let computed = DynamixelCRC.update(0, with: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: b[start..<crcEnd])))
            let received = UInt16(b[crcEnd]) | UInt16(b[crcEnd + 1]) << 8
            guard computed == received else {
                return reject(.badChecksum(id: id, expected: computed, received: received))
            }
            let instruction = b[start + 7]
            let isStatus = instruction == DynamixelInstruction.status
            if isStatus != (direction == .status) {
                // A valid packet of the other kind: skip it whole.
                start += 7 + length
                rejectedCount += 1
                return .rejected(.unexpectedDirection(id: id, instruction: instruction))
            }
            packet.parameters.removeAll(keepingCapacity: true)
            let region = UnsafeBufferPointer(rebasing: b[(start + 8)..<crcEnd])
            // Fast path: without an `FF FF FD` run there is no stuffing to remove, so copy in one go.
            var stuffed = false
            if region.count >= 3 {
                for k in 2..<region.count where region[k] == 0xFD && region[k - 1] == 0xFF && region[k - 2] == 0xFF {
                    stuffed = true
                    break
                }
            }
            let skip = isStatus ? 1 : 0
            if stuffed {
                guard DynamixelCodec.unstuff(region, into: &packet.parameters) else { return reject(.malformed(id: id)) }
                if isStatus {
                    guard !packet.parameters.isEmpty else { return reject(.malformed(id: id)) }
                    packet.error = packet.parameters.removeFirst()
                }
            } else {
                if isStatus {
                    guard !region.isEmpty else { return reject(.malformed(id: id)) }
                    packet.error = region[0]
                }
                packet.parameters.append(contentsOf: UnsafeBufferPointer(rebasing: region[skip...]))
            }
            packet.id = id
            packet.instruction = instruction
            if !isStatus { packet.error = 0 }
            start += 7 + length
            packetCount += 1
            return .packet
        }
    }

    private mutating func nextFeetech(into packet: inout ServoPacket) -> DecodeStep {
        let buf = buffer
        return buf.withUnsafeBufferPointer { b -> DecodeStep in
            guard seekHeader(b, isDynamixel: false) else { return .needMoreBytes }
            let available = b.count - start
            guard available >= 4 else { return .needMoreBytes }
            let id = b[start + 2]
            let length = Int(b[start + 3])
            let idOK = id <= 0xFD || (id == broadcastID && direction == .instruction)
            guard idOK, length >= 2, 4 + length <= maximumPacketLength else {
                return reject(.badHeader(id: id, length: length))
            }
            guard available >= 4 + length else { return .needMoreBytes }
            let end = start + 4 + length
            var sum: UInt8 = 0
            for i in (start + 2)..<(end - 1) { sum &+= b[i] }
            let computed = ~sum
            guard computed == b[end - 1] else {
                return reject(.badChecksum(id: id, expected: UInt16(computed), received: UInt16(b[end - 1])))
            }
            let code = b[start + 4]
            packet.parameters.removeAll(keepingCapacity: true)
            packet.parameters.append(contentsOf: UnsafeBufferPointer(rebasing: b[(start + 5)..<(end - 1)]))
            packet.id = id
            if direction == .status {
                packet.instruction = DynamixelInstruction.status
                packet.error = code
            } else {
                packet.instruction = code
                packet.error = 0
            }
            start = end
            packetCount += 1
            return .packet
        }
    }
}
