/// Control-table register names across Dynamixel X-series and Feetech STS servos.
///
/// The raw value is the vendor's name (`Present_Position`), as used by ROBOTIS e-Manual and LeRobot.
/// Not every model has every register; `ControlTable.register(_:)` says which.
public enum RegisterName: String, CaseIterable, Sendable, Codable {
    case modelNumber = "Model_Number"
    case firmwareVersion = "Firmware_Version"
    case firmwareMajor = "Firmware_Major"
    case firmwareMinor = "Firmware_Minor"
    case id = "ID"
    case baudRate = "Baud_Rate"
    case returnDelayTime = "Return_Delay_Time"
    case responseStatusLevel = "Response_Status_Level"
    case driveMode = "Drive_Mode"
    case operatingMode = "Operating_Mode"
    case protocolType = "Protocol_Type"
    case homingOffset = "Homing_Offset"
    case movingThreshold = "Moving_Threshold"
    case temperatureLimit = "Temperature_Limit"
    case maxTemperatureLimit = "Max_Temperature_Limit"
    case maxVoltageLimit = "Max_Voltage_Limit"
    case minVoltageLimit = "Min_Voltage_Limit"
    case pwmLimit = "PWM_Limit"
    case currentLimit = "Current_Limit"
    case velocityLimit = "Velocity_Limit"
    case maxPositionLimit = "Max_Position_Limit"
    case minPositionLimit = "Min_Position_Limit"
    case shutdown = "Shutdown"
    case maxTorqueLimit = "Max_Torque_Limit"
    case phase = "Phase"
    case unloadingCondition = "Unloading_Condition"
    case ledAlarmCondition = "LED_Alarm_Condition"
    case pCoefficient = "P_Coefficient"
    case dCoefficient = "D_Coefficient"
    case iCoefficient = "I_Coefficient"
    case minimumStartupForce = "Minimum_Startup_Force"
    case cwDeadZone = "CW_Dead_Zone"
    case ccwDeadZone = "CCW_Dead_Zone"
    case protectionCurrent = "Protection_Current"
    case angularResolution = "Angular_Resolution"
    case protectiveTorque = "Protective_Torque"
    case protectionTime = "Protection_Time"
    case overloadTorque = "Overload_Torque"
    case velocityClosedLoopP = "Velocity_closed_loop_P_proportional_coefficient"
    case overCurrentProtectionTime = "Over_Current_Protection_Time"
    case velocityClosedLoopI = "Velocity_closed_loop_I_integral_coefficient"
    case torqueEnable = "Torque_Enable"
    case led = "LED"
    case statusReturnLevel = "Status_Return_Level"
    case hardwareErrorStatus = "Hardware_Error_Status"
    case velocityIGain = "Velocity_I_Gain"
    case velocityPGain = "Velocity_P_Gain"
    case positionDGain = "Position_D_Gain"
    case positionIGain = "Position_I_Gain"
    case positionPGain = "Position_P_Gain"
    case busWatchdog = "Bus_Watchdog"
    case goalPWM = "Goal_PWM"
    case goalCurrent = "Goal_Current"
    case goalVelocity = "Goal_Velocity"
    case profileAcceleration = "Profile_Acceleration"
    case profileVelocity = "Profile_Velocity"
    case acceleration = "Acceleration"
    case goalPosition = "Goal_Position"
    case goalTime = "Goal_Time"
    case torqueLimit = "Torque_Limit"
    case lock = "Lock"
    case realtimeTick = "Realtime_Tick"
    case moving = "Moving"
    case movingStatus = "Moving_Status"
    case presentPWM = "Present_PWM"
    case presentCurrent = "Present_Current"
    case presentLoad = "Present_Load"
    case presentVelocity = "Present_Velocity"
    case presentPosition = "Present_Position"
    case velocityTrajectory = "Velocity_Trajectory"
    case positionTrajectory = "Position_Trajectory"
    case presentInputVoltage = "Present_Input_Voltage"
    case presentVoltage = "Present_Voltage"
    case presentTemperature = "Present_Temperature"
    case status = "Status"
    case maximumAcceleration = "Maximum_Acceleration"

    /// The name in snake case as LeRobot and the robot descriptions write it (`present_position`).
    public var snakeCase: String { rawValue.lowercased() }

    /// Looks up a name given as `Present_Position`, `present_position` or `presentPosition`.
    public init?(lenient name: String) {
        let key = name.lowercased().filter { $0 != "_" && $0 != "-" }
        guard let match = RegisterName.allCases.first(where: {
            $0.rawValue.lowercased().filter { $0 != "_" } == key
                || String(describing: $0).lowercased() == key
        }) else { return nil }
        self = match
    }
}

/// How a register's bytes map to a signed integer.
public enum ValueEncoding: Equatable, Sendable {
    /// Unsigned little-endian.
    case unsigned
    /// Two's complement little-endian (Dynamixel signed registers).
    case twosComplement
    /// Sign–magnitude little-endian with the sign at bit `signBit` (Feetech: 15 for positions, 11 for the
    /// homing offset, 10 for the load).
    case signMagnitude(signBit: Int)
}

/// Who may write a register.
public enum RegisterAccess: String, Sendable {
    /// Read only.
    case readOnly = "R"
    /// Read and write.
    case readWrite = "RW"
}

/// Where a register lives: EEPROM (persistent; Dynamixel refuses writes while torque is on) or RAM.
public enum MemoryArea: String, Sendable {
    /// Persistent area.
    case eeprom
    /// Volatile area.
    case ram
}

/// A value that does not fit a register.
public struct RegisterValueError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The register.
    public var register: RegisterName
    /// The value given.
    public var value: Int
    /// The representable range.
    public var range: ClosedRange<Int>
    /// One line with the fix.
    public var description: String {
        "\(register.rawValue): \(value) does not fit; use \(range.lowerBound)...\(range.upperBound)"
    }
}

/// One control-table entry: a typed value, not a string (e.g. Dynamixel X-series Goal_Position is address 116,
/// 4 bytes, two's complement, read-write, RAM, unit "pulse").
public struct Register: Equatable, Sendable {
    /// The register's name.
    public var name: RegisterName
    /// Byte address in the control table.
    public var address: UInt16
    /// Width in bytes (1, 2 or 4).
    public var width: Int
    /// How bytes map to a signed value.
    public var encoding: ValueEncoding
    /// Who may write it.
    public var access: RegisterAccess
    /// EEPROM or RAM.
    public var area: MemoryArea
    /// Unit of one count, e.g. "pulse (4096/rev)", "0.229 rpm", "mA", "0.1 V", "°C", "2 µs".
    public var unit: String

    /// Creates an entry.
    public init(_ name: RegisterName, address: UInt16, width: Int, encoding: ValueEncoding = .unsigned,
                access: RegisterAccess = .readWrite, area: MemoryArea, unit: String = "") {
        precondition(width == 1 || width == 2 || width == 4, "register width must be 1, 2 or 4 bytes")
        self.name = name
        self.address = address
        self.width = width
        self.encoding = encoding
        self.access = access
        self.area = area
        self.unit = unit
    }

    /// The values this register can hold.
    public var range: ClosedRange<Int> {
        let bits = width * 8
        switch encoding {
        case .unsigned: return 0...((1 << bits) - 1)
        case .twosComplement: return -(1 << (bits - 1))...((1 << (bits - 1)) - 1)
        case .signMagnitude(let signBit): return -((1 << signBit) - 1)...((1 << signBit) - 1)
        }
    }

    /// The raw unsigned word for `value` (checked against `range`).
    public func rawWord(for value: Int) throws(RegisterValueError) -> UInt32 {
        guard range.contains(value) else { throw RegisterValueError(register: name, value: value, range: range) }
        switch encoding {
        case .unsigned: return UInt32(value)
        case .twosComplement:
            let mask: UInt64 = width == 4 ? 0xFFFF_FFFF : (1 << UInt64(width * 8)) - 1
            return UInt32(UInt64(bitPattern: Int64(value)) & mask)
        case .signMagnitude(let signBit):
            return value < 0 ? UInt32(-value) | (1 << UInt32(signBit)) : UInt32(value)
        }
    }

    /// The signed value of a raw unsigned word.
    @inline(__always)
    public func value(ofRawWord word: UInt32) -> Int {
        switch encoding {
        case .unsigned: return Int(word)
        case .twosComplement:
            switch width {
            case 1: return Int(Int8(truncatingIfNeeded: word))
            case 2: return Int(Int16(truncatingIfNeeded: word))
            default: return Int(Int32(truncatingIfNeeded: word))
            }
        case .signMagnitude(let signBit):
            let sign: UInt32 = 1 << UInt32(signBit)
            let magnitude = Int(word & (sign - 1))
            return word & sign != 0 ? -magnitude : magnitude
        }
    }

    /// Appends `value`'s `width` little-endian bytes to `bytes`.
    public func append(_ value: Int, to bytes: inout [UInt8]) throws(RegisterValueError) {
        let word = try rawWord(for: value)
        for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: word >> UInt32(8 * i))) }
    }

    /// The little-endian bytes of `value`.
    public func bytes(for value: Int) throws(RegisterValueError) -> [UInt8] {
        var out: [UInt8] = []
        try append(value, to: &out)
        return out
    }

    /// Decodes `width` little-endian bytes starting at `offset`.
    @inline(__always)
    public func value<C: RandomAccessCollection>(from bytes: C, at offset: C.Index) -> Int where C.Element == UInt8 {
        var word: UInt32 = 0
        var i = offset
        for shift in 0..<width {
            word |= UInt32(bytes[i]) << UInt32(8 * shift)
            i = bytes.index(after: i)
        }
        return value(ofRawWord: word)
    }
}

/// Sign–magnitude helpers (Feetech), exposed for tests and tools.
public enum SignMagnitude {
    /// Encodes `value` with the sign at `signBit`.
    public static func encode(_ value: Int, signBit: Int) -> UInt32 {
        value < 0 ? UInt32(-value) | (1 << UInt32(signBit)) : UInt32(value)
    }

    /// Decodes a word with the sign at `signBit`.
    public static func decode(_ word: UInt32, signBit: Int) -> Int {
        let sign: UInt32 = 1 << UInt32(signBit)
        let magnitude = Int(word & (sign - 1))
        return word & sign != 0 ? -magnitude : magnitude
    }
}
