/// The two wire protocols Engram speaks.
public enum ServoProtocol: String, Sendable, CaseIterable, Codable {
    /// ROBOTIS Dynamixel Protocol 2.0 (X-series: XL330, XL430, XM430, ...).
    case dynamixel2 = "dynamixel2"
    /// Feetech SMS/STS ("protocol 0", little-endian; STS3215 on SO-100/SO-101).
    case feetechSTS = "feetech-sts"
}

/// Which side of the bus a packet comes from, so a decoder knows how to read the byte after the length.
public enum PacketDirection: Sendable {
    /// Host to servo: the byte after the length is an instruction.
    case instruction
    /// Servo to host: Dynamixel puts 0x55 then the error byte; Feetech puts the error byte.
    case status
}

/// One decoded (or to-be-encoded) packet of either protocol, with byte stuffing already removed.
///
/// Decoders fill a caller-owned `ServoPacket` in place (`parameters` is cleared and refilled, keeping its
/// capacity), so decoding in a loop does not allocate.
public struct ServoPacket: Equatable, Sendable {
    /// Servo ID (0xFE = broadcast).
    public var id: UInt8
    /// The instruction (e.g. `DynamixelInstruction.read`); for status packets `DynamixelInstruction.status` (0x55).
    public var instruction: UInt8
    /// The status packet's error byte (0 for instruction packets).
    public var error: UInt8
    /// Parameters after the instruction (or after the error byte, for status packets).
    public var parameters: [UInt8]

    /// Creates a packet.
    public init(id: UInt8 = 0, instruction: UInt8 = 0, error: UInt8 = 0, parameters: [UInt8] = []) {
        self.id = id
        self.instruction = instruction
        self.error = error
        self.parameters = parameters
    }

    /// Whether this is a status (reply) packet.
    public var isStatus: Bool { instruction == DynamixelInstruction.status }
}

/// The broadcast ID of both protocols.
public let broadcastID: UInt8 = 0xFE

/// Dynamixel Protocol 2.0 instruction codes (ROBOTIS e-Manual, "Instruction").
public enum DynamixelInstruction {
    /// PING (0x01).
    public static let ping: UInt8 = 0x01
    /// READ (0x02): `addr_L addr_H len_L len_H`.
    public static let read: UInt8 = 0x02
    /// WRITE (0x03): `addr_L addr_H data…`.
    public static let write: UInt8 = 0x03
    /// REG_WRITE (0x04): a write held until ACTION.
    public static let registeredWrite: UInt8 = 0x04
    /// ACTION (0x05): performs registered writes.
    public static let action: UInt8 = 0x05
    /// FACTORY_RESET (0x06).
    public static let factoryReset: UInt8 = 0x06
    /// REBOOT (0x08).
    public static let reboot: UInt8 = 0x08
    /// CLEAR (0x10).
    public static let clear: UInt8 = 0x10
    /// STATUS (0x55): marks a status (reply) packet.
    public static let status: UInt8 = 0x55
    /// SYNC_READ (0x82).
    public static let syncRead: UInt8 = 0x82
    /// SYNC_WRITE (0x83).
    public static let syncWrite: UInt8 = 0x83
    /// FAST_SYNC_READ (0x8A): one combined reply.
    public static let fastSyncRead: UInt8 = 0x8A
    /// BULK_READ (0x92).
    public static let bulkRead: UInt8 = 0x92
    /// BULK_WRITE (0x93).
    public static let bulkWrite: UInt8 = 0x93
    /// FAST_BULK_READ (0x9A).
    public static let fastBulkRead: UInt8 = 0x9A
}

/// Feetech SCS/STS instruction codes.
public enum FeetechInstruction {
    /// PING (0x01).
    public static let ping: UInt8 = 0x01
    /// READ (0x02): `addr len`.
    public static let read: UInt8 = 0x02
    /// WRITE (0x03): `addr data…`.
    public static let write: UInt8 = 0x03
    /// REG_WRITE (0x04).
    public static let registeredWrite: UInt8 = 0x04
    /// ACTION (0x05).
    public static let action: UInt8 = 0x05
    /// RESET (0x06): restore factory parameters.
    public static let reset: UInt8 = 0x06
    /// REBOOT (0x08).
    public static let reboot: UInt8 = 0x08
    /// SYNC_READ (0x82, STS only): `addr len id1 id2 …`.
    public static let syncRead: UInt8 = 0x82
    /// SYNC_WRITE (0x83): `addr len [id data×len]…`.
    public static let syncWrite: UInt8 = 0x83
}

/// The error byte of a Dynamixel 2.0 status packet: bit 7 is the hardware alert, the low 7 bits an error number.
public struct DynamixelStatusError: Equatable, Sendable, CustomStringConvertible {
    /// The raw byte.
    public var rawValue: UInt8
    /// Creates from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Bit 7: hardware alert (read Hardware_Error_Status, address 70).
    public var hardwareAlert: Bool { rawValue & 0x80 != 0 }
    /// The error number in the low 7 bits (0 = none).
    public var code: UInt8 { rawValue & 0x7F }
    /// Whether nothing is flagged.
    public var isEmpty: Bool { rawValue == 0 }

    /// The error number's name, as in the e-Manual.
    public static func name(ofCode code: UInt8) -> String {
        switch code {
        case 0: "none"
        case 1: "result fail"
        case 2: "instruction error"
        case 3: "CRC error"
        case 4: "data range error"
        case 5: "data length error"
        case 6: "data limit error"
        case 7: "access error"
        default: "unknown error \(code)"
        }
    }

    /// The flagged conditions by name, e.g. `access error + hardware alert`.
    public var description: String {
        var parts: [String] = []
        if code != 0 { parts.append(Self.name(ofCode: code)) }
        if hardwareAlert { parts.append("hardware alert (read Hardware_Error_Status, address 70)") }
        return parts.isEmpty ? "no error" : parts.joined(separator: " + ")
    }

    /// Result fail (1).
    public static let resultFail: UInt8 = 1
    /// Instruction error (2).
    public static let instructionError: UInt8 = 2
    /// CRC error (3).
    public static let crcError: UInt8 = 3
    /// Data range error (4).
    public static let dataRange: UInt8 = 4
    /// Data length error (5).
    public static let dataLength: UInt8 = 5
    /// Data limit error (6).
    public static let dataLimit: UInt8 = 6
    /// Access error (7).
    public static let accessError: UInt8 = 7
}

/// The error byte of a Feetech status packet (also the Status register, address 65): one bit per condition.
public struct FeetechStatusError: OptionSet, Equatable, Sendable, CustomStringConvertible {
    /// The raw byte.
    public var rawValue: UInt8
    /// Creates from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Bit 0: input voltage out of range.
    public static let voltage = FeetechStatusError(rawValue: 1 << 0)
    /// Bit 1: magnetic encoder (angle sensor) fault.
    public static let angleSensor = FeetechStatusError(rawValue: 1 << 1)
    /// Bit 2: over temperature.
    public static let overheat = FeetechStatusError(rawValue: 1 << 2)
    /// Bit 3: over current.
    public static let overcurrent = FeetechStatusError(rawValue: 1 << 3)
    /// Bit 5: overload.
    public static let overload = FeetechStatusError(rawValue: 1 << 5)

    /// The flagged conditions by name, e.g. `overheat + overload`.
    public var description: String {
        var parts: [String] = []
        if contains(.voltage) { parts.append("voltage error") }
        if contains(.angleSensor) { parts.append("angle sensor error") }
        if contains(.overheat) { parts.append("overheat") }
        if contains(.overcurrent) { parts.append("overcurrent") }
        if contains(.overload) { parts.append("overload") }
        let unknown = rawValue & ~0b0010_1111
        if unknown != 0 { parts.append("unknown bits 0x" + String(unknown, radix: 16)) }
        return parts.isEmpty ? "no error" : parts.joined(separator: " + ")
    }
}

/// Hex rendering of bytes for messages: `FF FF FD 00 01`.
public func hexString<C: Collection>(_ bytes: C, limit: Int = 64) -> String where C.Element == UInt8 {
    let digits: [Character] = Array("0123456789ABCDEF")
    var s = ""
    for (i, b) in bytes.enumerated() {
        if i == limit { s += " …(\(bytes.count) bytes)"; break }
        if i > 0 { s += " " }
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0xF)])
    }
    return s
}
