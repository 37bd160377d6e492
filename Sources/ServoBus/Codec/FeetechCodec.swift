/// Feetech SCS/STS packets as pure functions over bytes.
///
/// Frame: `FF FF | ID | LEN | INST | PARAM… | CHK`, with LEN = parameter count + 2 and
/// `CHK = ~(ID + LEN + INST + Σ PARAM) & 0xFF`. A status frame has the error byte where INST was.
/// Multi-byte values are little-endian on STS/SMS ("protocol 0"), signed ones in sign–magnitude.
public enum FeetechCodec {
    /// The largest frame a Feetech servo handles (LEN is one byte, SDK buffers are 250 bytes).
    public static let maximumFrameLength = 250
    /// The most parameter bytes one frame carries (`maximumFrameLength` less header, ID, LEN, code and checksum).
    public static let maximumParameterCount = maximumFrameLength - 6

    /// Appends a frame whose byte after LEN is `code` (instruction, or error for a status frame).
    public static func appendFrame(id: UInt8, code: UInt8, parameters: [UInt8], to buffer: inout [UInt8]) {
        precondition(parameters.count <= maximumParameterCount, "a Feetech frame holds at most \(maximumParameterCount) parameter bytes")
        let length = UInt8(parameters.count + 2)
        buffer.append(0xFF)
        buffer.append(0xFF)
        buffer.append(id)
        buffer.append(length)
        buffer.append(code)
        var sum = id &+ length &+ code
        for b in parameters {
            buffer.append(b)
            sum &+= b
        }
        buffer.append(~sum)
    }

    /// Appends an instruction frame.
    public static func appendInstruction(id: UInt8, instruction: UInt8, parameters: [UInt8], to buffer: inout [UInt8]) {
        appendFrame(id: id, code: instruction, parameters: parameters, to: &buffer)
    }

    /// Appends a status frame.
    public static func appendStatus(id: UInt8, error: UInt8, parameters: [UInt8], to buffer: inout [UInt8]) {
        appendFrame(id: id, code: error, parameters: parameters, to: &buffer)
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

    /// PING.
    public static func ping(id: UInt8) -> [UInt8] { encode(ServoPacket(id: id, instruction: FeetechInstruction.ping)) }

    /// READ `length` bytes at `address`.
    public static func read(id: UInt8, address: UInt8, length: UInt8) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: FeetechInstruction.read, parameters: [address, length]))
    }

    /// WRITE `data` at `address`.
    public static func write(id: UInt8, address: UInt8, data: [UInt8]) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: FeetechInstruction.write, parameters: [address] + data))
    }

    /// REG_WRITE `data` at `address`.
    public static func registeredWrite(id: UInt8, address: UInt8, data: [UInt8]) -> [UInt8] {
        encode(ServoPacket(id: id, instruction: FeetechInstruction.registeredWrite, parameters: [address] + data))
    }

    /// ACTION.
    public static func action(id: UInt8) -> [UInt8] { encode(ServoPacket(id: id, instruction: FeetechInstruction.action)) }

    /// SYNC_READ of `length` bytes at `address` from `ids` (each replies in list order).
    public static func syncRead(address: UInt8, length: UInt8, ids: [UInt8]) -> [UInt8] {
        encode(ServoPacket(id: broadcastID, instruction: FeetechInstruction.syncRead, parameters: [address, length] + ids))
    }

    /// SYNC_WRITE of `length` bytes at `address`, one `(id, data)` per servo.
    public static func syncWrite(address: UInt8, length: UInt8, entries: [(id: UInt8, data: [UInt8])]) -> [UInt8] {
        var params: [UInt8] = [address, length]
        for e in entries {
            precondition(e.data.count == Int(length), "sync write data must be exactly \(length) bytes per servo")
            params.append(e.id)
            params += e.data
        }
        return encode(ServoPacket(id: broadcastID, instruction: FeetechInstruction.syncWrite, parameters: params))
    }
}
