/// A servo's hardware alarm (overload, overheating, input voltage, encoder, electrical shock, overcurrent),
/// as its status packets flag it and its own register names it.
///
/// Dynamixel 2.0 flags an alarm with bit 7 of every status packet's error byte and names it in
/// Hardware_Error_Status (address 70); Feetech STS names it in the error byte itself (bits 0 voltage,
/// 1 angle sensor, 2 overheat, 3 overcurrent, 5 overload) and in its Status register (address 65).
/// A servo in alarm keeps flagging it until power is cycled or it is rebooted.
public struct ServoAlarm: Sendable, Equatable, CustomStringConvertible {
    /// The bus protocol.
    public var wireProtocol: ServoProtocol
    /// The error byte of the status packet that flagged the alarm.
    public var statusByte: UInt8
    /// The servo's alarm register (Hardware_Error_Status or Status), when it could be read.
    public var register: Int?

    /// An alarm flagged by `statusByte`, named by `register` when read.
    public init(protocol wireProtocol: ServoProtocol, statusByte: UInt8, register: Int?) {
        self.wireProtocol = wireProtocol
        self.statusByte = statusByte
        self.register = register
    }

    /// Feetech error-byte bits that are hardware alarms (all but the reserved bits 4, 6 and 7).
    static let feetechAlarmBits: UInt8 = 0b0010_1111

    /// Whether a status packet's error byte flags a hardware alarm (rather than a refused instruction).
    public static func isAlarm(statusByte: UInt8, protocol wireProtocol: ServoProtocol) -> Bool {
        switch wireProtocol {
        case .dynamixel2: DynamixelStatusError(rawValue: statusByte).hardwareAlert
        case .feetechSTS: statusByte & feetechAlarmBits != 0
        }
    }

    /// The register that names the alarm.
    public static func registerName(for wireProtocol: ServoProtocol) -> RegisterName {
        wireProtocol == .dynamixel2 ? .hardwareErrorStatus : .status
    }

    /// Names of Dynamixel Hardware_Error_Status bits (e-Manual, X series).
    public static func dynamixelHardwareErrorNames(_ value: Int) -> [String] {
        let names: [(Int, String)] = [(0, "input voltage error"), (2, "overheating"), (3, "motor encoder error"),
                                      (4, "electrical shock"), (5, "overload")]
        var parts = names.filter { value & (1 << $0.0) != 0 }.map(\.1)
        let unknown = value & ~0b0011_1101
        if unknown != 0 { parts.append("unknown bits 0x" + String(unknown, radix: 16)) }
        return parts
    }

    /// What the alarm is, e.g. `overload (Hardware_Error_Status 0x20)`; from the register when it was read,
    /// else from the error byte (Feetech) or as an unnamed hardware alert (Dynamixel).
    public var description: String {
        let registerText = "\(Self.registerName(for: wireProtocol).rawValue)"
        switch (wireProtocol, register) {
        case (.dynamixel2, let value?):
            let names = Self.dynamixelHardwareErrorNames(value)
            return (names.isEmpty ? "hardware alert" : names.joined(separator: " + ")) + " (\(registerText) 0x\(String(value, radix: 16)))"
        case (.dynamixel2, nil):
            return "hardware alert (error byte 0x\(String(statusByte, radix: 16)); \(registerText) could not be read)"
        case (.feetechSTS, let value?):
            let named = FeetechStatusError(rawValue: UInt8(truncatingIfNeeded: value))
            return (value == 0 ? FeetechStatusError(rawValue: statusByte).description : named.description) + " (\(registerText) 0x\(String(value, radix: 16)), error byte 0x\(String(statusByte, radix: 16)))"
        case (.feetechSTS, nil):
            return FeetechStatusError(rawValue: statusByte).description + " (error byte 0x\(String(statusByte, radix: 16)); \(registerText) could not be read)"
        }
    }
}
