/// Dynamixel Protocol 2.0 packets as pure functions over bytes.
///
/// Instruction packet: `FF FF FD 00 | ID | LEN_L LEN_H | INST | PARAM… | CRC_L CRC_H`, with LEN the number of
/// (stuffed) bytes after LEN. Status packet: the same with INST = 0x55 followed by the error byte. Encoders
/// append to a caller-owned buffer (clear it first to reuse it), so per-tick encoding does not allocate.
public enum DynamixelCodec {
    /// The packet header `FF FF FD 00`.
    public static let header: [UInt8] = [0xFF, 0xFF, 0xFD, 0x00]

    /// Appends `byte` to `buffer`, followed by a stuffing `FD` when the last three *unstuffed* bytes of the
    /// instruction-and-parameter region are `FF FF FD`. `tail` holds those last bytes (shift register).
    @inline(__always)
    static func appendStuffed(_ byte: UInt8, to buffer: inout [UInt8], tail: inout UInt32) {
        buffer.append(byte)
        tail = ((tail << 8) | UInt32(byte)) & 0xFF_FFFF
        if tail == 0xFF_FFFD {
            buffer.append(0xFD)
            tail = 0
        }
    }

    /// Appends a whole packet: header, ID, LEN, then `first` (instruction), `second` (status error byte,
    /// if any) and `parameters` with byte stuffing, then the CRC.
    static func appendPacket(id: UInt8, first: UInt8, second: UInt8?, parameters: UnsafeBufferPointer<UInt8>,
                             to buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(contentsOf: header)
        buffer.append(id)
        buffer.append(0)
        buffer.append(0)
        let bodyStart = buffer.count
        var tail: UInt32 = 0
        appendStuffed(first, to: &buffer, tail: &tail)
        if let second { appendStuffed(second, to: &buffer, tail: &tail) }
        for b in parameters { appendStuffed(b, to: &buffer, tail: &tail) }
        let length = buffer.count - bodyStart + 2
        buffer[start + 5] = UInt8(truncatingIfNeeded: length)
        buffer[start + 6] = UInt8(truncatingIfNeeded: length >> 8)
        let crc = buffer.withUnsafeBytes { DynamixelCRC.update(0, with: UnsafeRawBufferPointer(rebasing: $0[start...])) }
        buffer.append(UInt8(truncatingIfNeeded: crc))
        buffer.append(UInt8(truncatingIfNeeded: crc >> 8))
    }

    /// Appends an instruction packet.
    public static func appendInstruction(id: UInt8, instruction: UInt8, parameters: [UInt8], to buffer: inout [UInt8]) {
        parameters.withUnsafeBufferPointer { appendPacket(id: id, first: instruction, second: nil, parameters: $0, to: &buffer) }
    }

    /// Appends a status packet (INST 0x55, then `error`, then `parameters`).
    public static func appendStatus(id: UInt8, error: UInt8, parameters: [UInt8], to buffer: inout [UInt8]) {
        parameters.withUnsafeBufferPointer {
            appendPacket(id: id, first: DynamixelInstruction.status, second: error, parameters: $0, to: &buffer)
        }
    }

    /// Encodes a packet (status when `packet.isStatus`).
    public static func encode(_ packet: ServoPacket) -> [UInt8] {
        var out: [UInt8] = []
        if packet.isStatus {
            appendStatus(id: packet.id, error: packet.error, parameters: packet.parameters, to: &out)
        } else {
            appendInstruction(id: packet.id, instruction: packet.instruction, parameters: packet.parameters, to: &out)
        }
        return out
    }

    // MARK: Stuffing as standalone functions (for tests and tools)

    /// Inserts the stuffing `FD` after every `FF FF FD` in an unstuffed instruction-and-parameter region.
    public static func stuff(_ region: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(region.count + region.count / 3)
        var tail: UInt32 = 0
        for b in region { appendStuffed(b, to: &out, tail: &tail) }
        return out
    }

    /// Removes stuffing from a region; nil when an `FF FF FD` is not followed by the stuffing `FD`
    /// (or ends the region), which no encoder produces.
    public static func unstuff(_ region: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(region.count)
        return region.withUnsafeBufferPointer { unstuff($0, into: &out) } ? out : nil
    }

    /// Removes stuffing from `region`, appending to `out`; false when the stuffing is malformed.
    @inline(__always)
    static func unstuff(_ region: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        var tail: UInt32 = 0
        var expectStuffing = false
        for b in region {
            if expectStuffing {
                expectStuffing = false
                if b == 0xFD { continue }
                return false
            }
            out.append(b)
            tail = ((tail << 8) | UInt32(b)) & 0xFF_FFFF
            if tail == 0xFF_FFFD {
                expectStuffing = true
                tail = 0
            }
        }
        return !expectStuffing
    }

    // MARK: Instruction builders (allocate; the bus uses the append forms with a reused buffer)

    /// PING.
    public static func ping(id: UInt8) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: DynamixelInstruction.ping))
    }

    /// READ `length` bytes at `address`.
    public static func read(id: UInt8, address: UInt16, length: UInt16) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: DynamixelInstruction.read, parameters: le16(address) + le16(length)))
    }

    /// WRITE `data` at `address`.
    public static func write(id: UInt8, address: UInt16, data: [UInt8]) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: DynamixelInstruction.write, parameters: le16(address) + data))
    }

    /// REG_WRITE `data` at `address` (performed on ACTION).
    public static func registeredWrite(id: UInt8, address: UInt16, data: [UInt8]) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: DynamixelInstruction.registeredWrite, parameters: le16(address) + data))
    }

    /// ACTION.
    public static func action(id: UInt8) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: DynamixelInstruction.action))
    }

    /// REBOOT.
    public static func reboot(id: UInt8) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: DynamixelInstruction.reboot))
    }

    /// FACTORY_RESET with option `0xFF` (all), `0x01` (all but ID) or `0x02` (all but ID and baud rate).
    public static func factoryReset(id: UInt8, option: UInt8) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: DynamixelInstruction.factoryReset, parameters: [option]))
    }

    /// SYNC_READ (or FAST_SYNC_READ when `fast`) of `length` bytes at `address` from `ids`, in that order.
    public static func syncRead(address: UInt16, length: UInt16, ids: [UInt8], fast: Bool = false) -> [UInt8] {
        encode(ServoPacket(id: broadcastID, instruction: fast ? DynamixelInstruction.fastSyncRead : DynamixelInstruction.syncRead,
                           parameters: le16(address) + le16(length) + ids))
    }

    /// SYNC_WRITE of `length` bytes at `address`: one `(id, data)` per servo, each `data` exactly `length` bytes.
    public static func syncWrite(address: UInt16, length: UInt16, entries: [(id: UInt8, data: [UInt8])]) -> [UInt8] {
        var params = le16(address) + le16(length)
        for e in entries {
            precondition(e.data.count == Int(length), "sync write data must be exactly \(length) bytes per servo")
            params.append(e.id)
            params += e.data
        }
        return encode(ServoPacket(id: broadcastID, instruction: DynamixelInstruction.syncWrite, parameters: params))
    }

    /// BULK_READ: `(id, address, length)` per servo.
    public static func bulkRead(_ entries: [(id: UInt8, address: UInt16, length: UInt16)]) -> [UInt8] {
        var params: [UInt8] = []
        for e in entries { params += [e.id] + le16(e.address) + le16(e.length) }
        return encode(ServoPacket(id: broadcastID, instruction: DynamixelInstruction.bulkRead, parameters: params))
    }

    /// BULK_WRITE: `(id, address, data)` per servo.
    public static func bulkWrite(_ entries: [(id: UInt8, address: UInt16, data: [UInt8])]) -> [UInt8] {
        var params: [UInt8] = []
        for e in entries { params += [e.id] + le16(e.address) + le16(UInt16(e.data.count)) + e.data }
        return encode(ServoPacket(id: broadcastID, instruction: DynamixelInstruction.bulkWrite, parameters: params))
    }

    // MARK: FAST_SYNC_READ's combined reply

    /// One servo's part of a FAST_SYNC_READ reply.
    public struct FastSyncReadEntry: Equatable, Sendable {
        /// The servo's ID.
        public var id: UInt8
        /// Its error byte.
        public var error: UInt8
        /// The data read.
        public var data: [UInt8]
        /// Creates an entry.
        public init(id: UInt8, error: UInt8, data: [UInt8]) {
            self.id = id
            self.error = error
            self.data = data
        }
    }

    /// Encodes the combined FAST_SYNC_READ status packet (ID 0xFE): `55 | [ERR ID DATA CRC]…` where each
    /// entry's CRC covers the packet from its header through that entry's data and the last one is the
    /// packet's own CRC (ROBOTIS e-Manual, "Fast Sync Read").
    public static func fastSyncReadReply(_ entries: [FastSyncReadEntry]) -> [UInt8] {
        // Unstuffed body: INST, then per entry ERR ID DATA and (between entries) a 2-byte CRC placeholder.
        precondition(!entries.isEmpty, "a fast sync read reply needs at least one entry")
        var body: [UInt8] = [DynamixelInstruction.status]
        var crcSlots: [Int] = []
        for (i, e) in entries.enumerated() {
            body.append(e.error)
            body.append(e.id)
            body += e.data
            if i < entries.count - 1 {
                crcSlots.append(body.count)
                body += [0, 0]
            }
        }
        // Intermediate CRCs are computed over the unstuffed bytes so far (LEN is known up front only
        // without stuffing; ROBOTIS receivers do not check them).
        let length = body.count + 2
        var prefix: [UInt8] = header + [broadcastID, UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8)]
        var cursor = 0
        for slot in crcSlots {
            prefix += body[cursor..<slot]
            cursor = slot
            let crc = DynamixelCRC.checksum(prefix)
            body[slot] = UInt8(truncatingIfNeeded: crc)
            body[slot + 1] = UInt8(truncatingIfNeeded: crc >> 8)
        }
        var out: [UInt8] = []
        body.withUnsafeBufferPointer { b in
            appendPacket(id: broadcastID, first: b[0], second: nil, parameters: UnsafeBufferPointer(rebasing: b[1...]), to: &out)
        }
        return out
    }

    /// Splits a decoded FAST_SYNC_READ status packet into per-servo entries of `dataLength` bytes each;
    /// nil when the size does not fit. (The decoder hands the first entry's error byte in `packet.error`.)
    public static func fastSyncReadEntries(_ packet: ServoPacket, dataLength: Int) -> [FastSyncReadEntry]? {
        let p = packet.parameters
        // Layout after the first error byte: ID DATA [CRC ERR ID DATA]…
        let firstSize = 1 + dataLength
        let nextSize = 2 + 1 + 1 + dataLength
        guard p.count >= firstSize, (p.count - firstSize) % nextSize == 0 else { return nil }
        var entries = [FastSyncReadEntry(id: p[0], error: packet.error, data: Array(p[1..<firstSize]))]
        var i = firstSize
        while i < p.count {
            entries.append(FastSyncReadEntry(id: p[i + 3], error: p[i + 2], data: Array(p[(i + 4)..<(i + 4 + dataLength)])))
            i += nextSize
        }
        return entries
    }
}

/// Little-endian 16-bit bytes.
@inline(__always)
func le16(_ v: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
