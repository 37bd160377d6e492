/// A servo model Engram knows the control table of.
public enum ServoModel: String, CaseIterable, Sendable, Codable {
    /// ROBOTIS XL330-M077 (Koch leader arms).
    case xl330M077 = "xl330-m077"
    /// ROBOTIS XL330-M288 (Koch, OpenManipulator-X grippers).
    case xl330M288 = "xl330-m288"
    /// ROBOTIS XL430-W250 (Koch follower, WidowX).
    case xl430W250 = "xl430-w250"
    /// Feetech STS3215 (SO-100, SO-101).
    case sts3215 = "sts3215"

    /// The protocol the model speaks.
    public var wireProtocol: ServoProtocol {
        switch self {
        case .xl330M077, .xl330M288, .xl430W250: .dynamixel2
        case .sts3215: .feetechSTS
        }
    }

    /// The value of the Model_Number register.
    public var modelNumber: UInt16 {
        switch self {
        case .xl330M077: 1190
        case .xl330M288: 1200
        case .xl430W250: 1060
        case .sts3215: 777
        }
    }

    /// The model's control table.
    public var controlTable: ControlTable {
        switch self {
        case .xl330M077: ControlTable.xl330M077
        case .xl330M288: ControlTable.xl330M288
        case .xl430W250: ControlTable.xl430W250
        case .sts3215: ControlTable.sts3215
        }
    }

    /// Position counts per revolution (4096 for all four models).
    public var ticksPerRevolution: Int { 4096 }

    /// The model with this Model_Number for `wireProtocol`, if known.
    public static func model(number: UInt16, protocol wireProtocol: ServoProtocol) -> ServoModel? {
        allCases.first { $0.modelNumber == number && $0.wireProtocol == wireProtocol }
    }
}

/// A model's registers by name, resolved once (lookups are by enum, never by string, per tick).
public struct ControlTable: Sendable {
    /// The model.
    public let model: ServoModel
    /// Every register, in address order.
    public let registers: [Register]
    /// Bytes of control-table memory (one past the highest register byte).
    public let memorySize: Int
    /// Factory values written into a fresh emulated servo (anything not listed is 0).
    public let defaults: [RegisterName: Int]
    private let index: [RegisterName: Int]

    init(model: ServoModel, registers: [Register], defaults: [RegisterName: Int]) {
        self.model = model
        self.registers = registers.sorted { $0.address < $1.address }
        var index: [RegisterName: Int] = [:]
        for (i, r) in self.registers.enumerated() { index[r.name] = i }
        self.index = index
        self.memorySize = self.registers.map { Int($0.address) + $0.width }.max() ?? 0
        self.defaults = defaults
    }

    /// The register called `name`, or nil when the model has none.
    public func register(_ name: RegisterName) -> Register? {
        index[name].map { registers[$0] }
    }

    /// The register at exactly `address`, if one starts there.
    public func register(at address: UInt16) -> Register? {
        registers.first { $0.address == address }
    }

    /// Names this model has, for messages ("use one of ...").
    public var names: [RegisterName] { registers.map(\.name) }
}

extension ControlTable {
    // Dynamixel X-series rows shared by XL330 and XL430 (ROBOTIS e-Manual; LeRobot motors/dynamixel/tables.py).
    private static func xSeries(currentModel: Bool) -> [Register] {
        var r: [Register] = [
            Register(.modelNumber, address: 0, width: 2, access: .readOnly, area: .eeprom),
            Register(.firmwareVersion, address: 6, width: 1, access: .readOnly, area: .eeprom),
            Register(.id, address: 7, width: 1, area: .eeprom),
            Register(.baudRate, address: 8, width: 1, area: .eeprom, unit: "0=9600,1=57600,2=115200,3=1M,4=2M,5=3M,6=4M"),
            Register(.returnDelayTime, address: 9, width: 1, area: .eeprom, unit: "2 µs"),
            Register(.driveMode, address: 10, width: 1, area: .eeprom),
            Register(.operatingMode, address: 11, width: 1, area: .eeprom),
            Register(.protocolType, address: 13, width: 1, area: .eeprom),
            Register(.homingOffset, address: 20, width: 4, encoding: .twosComplement, area: .eeprom, unit: "pulse"),
            Register(.movingThreshold, address: 24, width: 4, area: .eeprom, unit: "0.229 rpm"),
            Register(.temperatureLimit, address: 31, width: 1, area: .eeprom, unit: "°C"),
            Register(.maxVoltageLimit, address: 32, width: 2, area: .eeprom, unit: "0.1 V"),
            Register(.minVoltageLimit, address: 34, width: 2, area: .eeprom, unit: "0.1 V"),
            Register(.pwmLimit, address: 36, width: 2, area: .eeprom, unit: "0.113 %"),
            Register(.velocityLimit, address: 44, width: 4, area: .eeprom, unit: "0.229 rpm"),
            Register(.maxPositionLimit, address: 48, width: 4, area: .eeprom, unit: "pulse"),
            Register(.minPositionLimit, address: 52, width: 4, area: .eeprom, unit: "pulse"),
            Register(.shutdown, address: 63, width: 1, area: .eeprom),
            Register(.torqueEnable, address: 64, width: 1, area: .ram),
            Register(.led, address: 65, width: 1, area: .ram),
            Register(.statusReturnLevel, address: 68, width: 1, area: .ram),
            Register(.hardwareErrorStatus, address: 70, width: 1, access: .readOnly, area: .ram),
            Register(.velocityIGain, address: 76, width: 2, area: .ram),
            Register(.velocityPGain, address: 78, width: 2, area: .ram),
            Register(.positionDGain, address: 80, width: 2, area: .ram),
            Register(.positionIGain, address: 82, width: 2, area: .ram),
            Register(.positionPGain, address: 84, width: 2, area: .ram),
            Register(.busWatchdog, address: 98, width: 1, area: .ram, unit: "20 ms"),
            Register(.goalPWM, address: 100, width: 2, encoding: .twosComplement, area: .ram, unit: "0.113 %"),
            Register(.goalVelocity, address: 104, width: 4, encoding: .twosComplement, area: .ram, unit: "0.229 rpm"),
            Register(.profileAcceleration, address: 108, width: 4, area: .ram),
            Register(.profileVelocity, address: 112, width: 4, area: .ram),
            Register(.goalPosition, address: 116, width: 4, encoding: .twosComplement, area: .ram, unit: "pulse (4096/rev)"),
            Register(.realtimeTick, address: 120, width: 2, access: .readOnly, area: .ram, unit: "ms"),
            Register(.moving, address: 122, width: 1, access: .readOnly, area: .ram),
            Register(.movingStatus, address: 123, width: 1, access: .readOnly, area: .ram),
            Register(.presentPWM, address: 124, width: 2, encoding: .twosComplement, access: .readOnly, area: .ram, unit: "0.113 %"),
            Register(.presentVelocity, address: 128, width: 4, encoding: .twosComplement, access: .readOnly, area: .ram, unit: "0.229 rpm"),
            Register(.presentPosition, address: 132, width: 4, encoding: .twosComplement, access: .readOnly, area: .ram, unit: "pulse (4096/rev)"),
            Register(.velocityTrajectory, address: 136, width: 4, encoding: .twosComplement, access: .readOnly, area: .ram, unit: "0.229 rpm"),
            Register(.positionTrajectory, address: 140, width: 4, encoding: .twosComplement, access: .readOnly, area: .ram, unit: "pulse"),
            Register(.presentInputVoltage, address: 144, width: 2, access: .readOnly, area: .ram, unit: "0.1 V"),
            Register(.presentTemperature, address: 146, width: 1, access: .readOnly, area: .ram, unit: "°C"),
        ]
        if currentModel {
            r.append(Register(.currentLimit, address: 38, width: 2, area: .eeprom, unit: "mA"))
            r.append(Register(.goalCurrent, address: 102, width: 2, encoding: .twosComplement, area: .ram, unit: "mA"))
            r.append(Register(.presentCurrent, address: 126, width: 2, encoding: .twosComplement, access: .readOnly, area: .ram, unit: "mA"))
        } else {
            r.append(Register(.presentLoad, address: 126, width: 2, encoding: .twosComplement, access: .readOnly, area: .ram, unit: "0.1 %"))
        }
        return r
    }

    private static func xSeriesDefaults(_ model: ServoModel) -> [RegisterName: Int] {
        var d: [RegisterName: Int] = [
            .modelNumber: Int(model.modelNumber), .baudRate: 1, .returnDelayTime: 250, .operatingMode: 3,
            .protocolType: 2, .movingThreshold: 10, .maxPositionLimit: 4095, .minPositionLimit: 0, .shutdown: 52,
            .statusReturnLevel: 2, .pwmLimit: 885, .goalPWM: 885, .goalPosition: 2048, .presentPosition: 2048,
            .presentTemperature: 30,
        ]
        switch model {
        case .xl430W250:
            d[.firmwareVersion] = 46; d[.temperatureLimit] = 72; d[.maxVoltageLimit] = 140; d[.minVoltageLimit] = 60
            d[.velocityLimit] = 265; d[.velocityIGain] = 1000; d[.velocityPGain] = 100; d[.positionPGain] = 640
            d[.presentInputVoltage] = 120
        default:
            d[.firmwareVersion] = 52; d[.temperatureLimit] = 70; d[.maxVoltageLimit] = 70; d[.minVoltageLimit] = 35
            d[.currentLimit] = model == .xl330M077 ? 1700 : 1750; d[.goalCurrent] = d[.currentLimit]
            d[.velocityLimit] = model == .xl330M077 ? 2047 : 445
            d[.velocityIGain] = 1920; d[.velocityPGain] = 100; d[.positionPGain] = 400
            d[.presentInputVoltage] = 50
        }
        return d
    }

    /// ROBOTIS XL330-M077.
    public static let xl330M077 = ControlTable(model: .xl330M077, registers: xSeries(currentModel: true), defaults: xSeriesDefaults(.xl330M077))
    /// ROBOTIS XL330-M288.
    public static let xl330M288 = ControlTable(model: .xl330M288, registers: xSeries(currentModel: true), defaults: xSeriesDefaults(.xl330M288))
    /// ROBOTIS XL430-W250 (no current control: address 126 is Present_Load).
    public static let xl430W250 = ControlTable(model: .xl430W250, registers: xSeries(currentModel: false), defaults: xSeriesDefaults(.xl430W250))

    /// Feetech STS3215 (LeRobot motors/feetech/tables.py; sign–magnitude signed registers).
    public static let sts3215 = ControlTable(model: .sts3215, registers: [
        Register(.firmwareMajor, address: 0, width: 1, access: .readOnly, area: .eeprom),
        Register(.firmwareMinor, address: 1, width: 1, access: .readOnly, area: .eeprom),
        Register(.modelNumber, address: 3, width: 2, access: .readOnly, area: .eeprom),
        Register(.id, address: 5, width: 1, area: .eeprom),
        Register(.baudRate, address: 6, width: 1, area: .eeprom, unit: "0=1M,1=500k,2=250k,3=128k,4=115200,5=76800,6=57600,7=38400"),
        Register(.returnDelayTime, address: 7, width: 1, area: .eeprom, unit: "2 µs"),
        Register(.responseStatusLevel, address: 8, width: 1, area: .eeprom),
        Register(.minPositionLimit, address: 9, width: 2, area: .eeprom, unit: "step"),
        Register(.maxPositionLimit, address: 11, width: 2, area: .eeprom, unit: "step"),
        Register(.maxTemperatureLimit, address: 13, width: 1, area: .eeprom, unit: "°C"),
        Register(.maxVoltageLimit, address: 14, width: 1, area: .eeprom, unit: "0.1 V"),
        Register(.minVoltageLimit, address: 15, width: 1, area: .eeprom, unit: "0.1 V"),
        Register(.maxTorqueLimit, address: 16, width: 2, area: .eeprom, unit: "0.1 %"),
        Register(.phase, address: 18, width: 1, area: .eeprom),
        Register(.unloadingCondition, address: 19, width: 1, area: .eeprom),
        Register(.ledAlarmCondition, address: 20, width: 1, area: .eeprom),
        Register(.pCoefficient, address: 21, width: 1, area: .eeprom),
        Register(.dCoefficient, address: 22, width: 1, area: .eeprom),
        Register(.iCoefficient, address: 23, width: 1, area: .eeprom),
        Register(.minimumStartupForce, address: 24, width: 2, area: .eeprom),
        Register(.cwDeadZone, address: 26, width: 1, area: .eeprom),
        Register(.ccwDeadZone, address: 27, width: 1, area: .eeprom),
        Register(.protectionCurrent, address: 28, width: 2, area: .eeprom, unit: "6.5 mA"),
        Register(.angularResolution, address: 30, width: 1, area: .eeprom),
        Register(.homingOffset, address: 31, width: 2, encoding: .signMagnitude(signBit: 11), area: .eeprom, unit: "step"),
        Register(.operatingMode, address: 33, width: 1, area: .eeprom, unit: "0 position,1 velocity,2 PWM,3 step"),
        Register(.protectiveTorque, address: 34, width: 1, area: .eeprom),
        Register(.protectionTime, address: 35, width: 1, area: .eeprom),
        Register(.overloadTorque, address: 36, width: 1, area: .eeprom),
        Register(.velocityClosedLoopP, address: 37, width: 1, area: .eeprom),
        Register(.overCurrentProtectionTime, address: 38, width: 1, area: .eeprom),
        Register(.velocityClosedLoopI, address: 39, width: 1, area: .eeprom),
        Register(.torqueEnable, address: 40, width: 1, area: .ram, unit: "0 off,1 on,2 damping,128 set 2048"),
        Register(.acceleration, address: 41, width: 1, area: .ram),
        Register(.goalPosition, address: 42, width: 2, encoding: .signMagnitude(signBit: 15), area: .ram, unit: "step (4096/rev)"),
        Register(.goalTime, address: 44, width: 2, area: .ram, unit: "ms"),
        Register(.goalVelocity, address: 46, width: 2, encoding: .signMagnitude(signBit: 15), area: .ram, unit: "step/s"),
        Register(.torqueLimit, address: 48, width: 2, area: .ram, unit: "0.1 %"),
        Register(.lock, address: 55, width: 1, area: .ram),
        Register(.presentPosition, address: 56, width: 2, encoding: .signMagnitude(signBit: 15), access: .readOnly, area: .ram, unit: "step (4096/rev)"),
        Register(.presentVelocity, address: 58, width: 2, encoding: .signMagnitude(signBit: 15), access: .readOnly, area: .ram, unit: "step/s"),
        Register(.presentLoad, address: 60, width: 2, encoding: .signMagnitude(signBit: 10), access: .readOnly, area: .ram, unit: "0.1 %"),
        Register(.presentVoltage, address: 62, width: 1, access: .readOnly, area: .ram, unit: "0.1 V"),
        Register(.presentTemperature, address: 63, width: 1, access: .readOnly, area: .ram, unit: "°C"),
        Register(.status, address: 65, width: 1, access: .readOnly, area: .ram),
        Register(.moving, address: 66, width: 1, access: .readOnly, area: .ram),
        Register(.presentCurrent, address: 69, width: 2, access: .readOnly, area: .ram, unit: "6.5 mA"),
        Register(.maximumAcceleration, address: 85, width: 1, area: .ram),
    ], defaults: [
        .firmwareMajor: 3, .firmwareMinor: 10, .modelNumber: 777, .baudRate: 0, .returnDelayTime: 0,
        .responseStatusLevel: 1, .minPositionLimit: 0, .maxPositionLimit: 4095, .maxTemperatureLimit: 70,
        .maxVoltageLimit: 140, .minVoltageLimit: 40, .maxTorqueLimit: 1000, .phase: 12, .unloadingCondition: 44,
        .ledAlarmCondition: 47, .pCoefficient: 32, .dCoefficient: 32, .minimumStartupForce: 16, .cwDeadZone: 1,
        .ccwDeadZone: 1, .protectionCurrent: 500, .angularResolution: 1, .protectiveTorque: 20, .protectionTime: 200,
        .overloadTorque: 80, .velocityClosedLoopP: 10, .overCurrentProtectionTime: 200, .velocityClosedLoopI: 200,
        .goalPosition: 2048, .torqueLimit: 1000, .lock: 1, .presentPosition: 2048, .presentVoltage: 74,
        .presentTemperature: 30, .maximumAcceleration: 254,
    ])
}
