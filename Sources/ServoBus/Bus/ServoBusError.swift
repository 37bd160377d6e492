/// A failed bus call: which servo, which register, what was asked and what came back.
public struct ServoBusError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// No (complete) reply before the deadline; `receivedBytes` counts what arrived in the last attempt.
        case timeout(receivedBytes: Int, lastBytes: [UInt8])
        /// A reply arrived but failed its CRC/checksum (or its header was impossible).
        case corruptReply(PacketRejection)
        /// The servo answered with its error byte set (raw byte; see `description` for the names).
        case statusError(UInt8)
        /// A reply with a checksum that passed but the wrong shape (e.g. wrong data length).
        case malformedReply(String)
        /// The transport failed.
        case transport(SerialError)
        /// The ID is not configured on this bus.
        case unknownServo
        /// The servo's model has no such register.
        case missingRegister(ServoModel)
        /// The register is read-only.
        case readOnly
        /// The value does not fit the register.
        case valueOutOfRange(RegisterValueError)
        /// A sync operation over servos whose models place the register differently.
        case inconsistentRegister
        /// Arguments that cannot form a packet (e.g. an empty ID list, mismatched counts).
        case invalidRequest(String)
    }

    /// What went wrong.
    public var kind: Kind
    /// The servo concerned, if one.
    public var servo: UInt8?
    /// The register concerned, if one.
    public var register: Register?
    /// The operation, e.g. "sync read", "write", "ping".
    public var operation: String
    /// Attempts made.
    public var attempts: Int
    /// The bus protocol (names status error bits).
    public var wireProtocol: ServoProtocol

    /// Creates an error.
    public init(_ kind: Kind, servo: UInt8? = nil, register: Register? = nil, operation: String, attempts: Int = 0,
                wireProtocol: ServoProtocol) {
        self.kind = kind
        self.servo = servo
        self.register = register
        self.operation = operation
        self.attempts = attempts
        self.wireProtocol = wireProtocol
    }

    /// Whether another attempt could succeed (timeouts and corrupted replies).
    public var isTransient: Bool {
        switch kind {
        case .timeout, .corruptReply, .malformedReply: true
        default: false
        }
    }

    /// The status error bits by name.
    public static func statusErrorNames(_ byte: UInt8, protocol wireProtocol: ServoProtocol) -> String {
        switch wireProtocol {
        case .dynamixel2: DynamixelStatusError(rawValue: byte).description
        case .feetechSTS: FeetechStatusError(rawValue: byte).description
        }
    }

    /// One line: servo, operation, register, what came back, and what to try.
    public var description: String {
        var s = servo.map { "servo \($0): " } ?? ""
        s += operation
        if let r = register { s += " \(r.name.rawValue) (address \(r.address), \(r.width) byte\(r.width == 1 ? "" : "s"))" }
        let tries = attempts > 1 ? " after \(attempts) attempts" : ""
        switch kind {
        case .timeout(let n, let last):
            if n == 0 {
                s += ": no reply\(tries); check the servo's power, ID and baud rate, and that the port is the right one"
            } else {
                s += ": incomplete reply\(tries) (\(n) bytes: \(hexString(last, limit: 24))); check wiring and termination"
            }
        case .corruptReply(let why):
            s += ": corrupted reply\(tries) (\(why)); check wiring, baud rate and that no other program uses the port"
        case .statusError(let byte):
            s += ": servo reported \(Self.statusErrorNames(byte, protocol: wireProtocol)) (error byte 0x\(String(byte, radix: 16)))"
            if wireProtocol == .dynamixel2 && DynamixelStatusError(rawValue: byte).code == DynamixelStatusError.accessError {
                s += "; EEPROM registers can only be written with torque off"
            }
        case .malformedReply(let what):
            s += ": unexpected reply\(tries) (\(what))"
        case .transport(let e):
            s += ": \(e)"
        case .unknownServo:
            s += ": this ID is not configured on the bus; add it or check the robot description"
        case .missingRegister(let model):
            s += ": \(model.rawValue) has no such register"
        case .readOnly:
            s += ": the register is read-only"
        case .valueOutOfRange(let e):
            s += ": \(e)"
        case .inconsistentRegister:
            s += ": the servos' models place this register differently; use one call per model"
        case .invalidRequest(let what):
            s += ": \(what)"
        }
        return s
    }
}

/// Timeouts and retries for one bus call.
public struct RetryPolicy: Sendable, Equatable {
    /// Time allowed for the first reply byte and a short reply, per attempt, in milliseconds.
    public var replyTimeoutMs: Double
    /// Extra time per expected status packet (sync read), in milliseconds.
    public var perReplyTimeoutMs: Double
    /// Attempts per call (1 = no retry).
    public var attempts: Int
    /// Hard budget for the whole call, including retries, in milliseconds.
    public var budgetMs: Double

    /// Creates a policy.
    public init(replyTimeoutMs: Double = 20, perReplyTimeoutMs: Double = 2, attempts: Int = 3, budgetMs: Double = 150) {
        self.replyTimeoutMs = replyTimeoutMs
        self.perReplyTimeoutMs = perReplyTimeoutMs
        self.attempts = max(1, attempts)
        self.budgetMs = budgetMs
    }
}

/// Counters a bus keeps, for diagnostics and tests.
public struct BusStatistics: Sendable, Equatable {
    /// Packets written.
    public var packetsSent = 0
    /// Status packets accepted.
    public var repliesReceived = 0
    /// Attempts beyond the first.
    public var retries = 0
    /// Attempts that ended with a servo silent.
    public var timeouts = 0
    /// Candidate packets rejected by the decoder (noise, checksum).
    public var rejectedPackets = 0
    /// Creates zeroed counters.
    public init() {}
}

/// Model number and firmware of a pinged servo.
public struct PingReply: Sendable, Equatable {
    /// Model_Number.
    public var modelNumber: UInt16
    /// Firmware version (Dynamixel ping reply; nil for Feetech).
    public var firmware: UInt8?
    /// The known model with this number, if any.
    public var model: ServoModel?
}

/// One servo's value for a sync write.
public struct ServoValue: Sendable, Equatable {
    /// Servo ID.
    public var id: UInt8
    /// Value in register counts.
    public var value: Int
    /// Creates a pair.
    public init(id: UInt8, value: Int) {
        self.id = id
        self.value = value
    }
}
