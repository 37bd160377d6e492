/// A servo bus: one transport, one protocol, a set of servos by ID and model, and calls by register name.
/// (The type shares the module's name, so `ServoBus.X` resolves to this class, not the module; no other
/// module defines a clashing name today.)
///
/// ```swift
/// let bus = try ServoBus(path: "/dev/ttyACM0", baudRate: 1_000_000, protocol: .feetechSTS,
///                        servos: (1...6).map { (id: UInt8($0), model: .sts3215) })
/// let positions = try bus.syncRead(.presentPosition, [1, 2, 3, 4, 5, 6])
/// try bus.syncWrite(.goalPosition, positions.enumerated().map { ServoValue(id: UInt8($0 + 1), value: $1) })
/// ```
/// Every call has a bounded budget (`retryPolicy`): replies that time out or fail their checksum are retried
/// (a sync read re-asks only the servos still missing), and the error names the servo, the register and what
/// came back. The bus owns its transport and scratch buffers and is not shared between threads; steady-state
/// sync reads and writes reuse those buffers instead of allocating.
public final class ServoBus {
    /// The wire protocol.
    public let wireProtocol: ServoProtocol
    /// The byte transport.
    public let transport: any SerialTransport
    /// Timeouts and retries.
    public var retryPolicy: RetryPolicy
    /// Use FAST_SYNC_READ (one combined reply) instead of SYNC_READ on Dynamixel buses.
    public var prefersFastSyncRead = false
    /// Counters since creation.
    public private(set) var statistics = BusStatistics()
    /// The configured servos' models by ID.
    public private(set) var models: [UInt8: ServoModel]

    private var decoder: PacketDecoder
    private var reply = ServoPacket()
    private var outgoing: [UInt8] = []
    private var parameters: [UInt8] = []
    private let readBuffer: UnsafeMutableRawBufferPointer
    private var lastBytes: [UInt8] = []
    private var receivedThisAttempt = 0
    private var lastRejection: PacketRejection?
    private var syncReceived: [Bool] = []
    private var pendingIDs: [UInt8] = []

    /// Creates a bus over an open, configured transport.
    public init(transport: any SerialTransport, protocol wireProtocol: ServoProtocol,
                servos: [(id: UInt8, model: ServoModel)], retryPolicy: RetryPolicy = RetryPolicy()) {
        self.transport = transport
        self.wireProtocol = wireProtocol
        self.retryPolicy = retryPolicy
        var models: [UInt8: ServoModel] = [:]
        for s in servos { models[s.id] = s.model }
        self.models = models
        decoder = PacketDecoder(protocol: wireProtocol, direction: .status)
        readBuffer = .allocate(byteCount: 512, alignment: 8)
        outgoing.reserveCapacity(512)
        parameters.reserveCapacity(512)
        reply.parameters.reserveCapacity(512)
        lastBytes.reserveCapacity(32)
    }

    /// Opens `path` (libserialport, or termios for pseudo-terminals) at `baudRate` 8N1 and creates a bus.
    public convenience init(path: String, baudRate: Int, protocol wireProtocol: ServoProtocol,
                            servos: [(id: UInt8, model: ServoModel)], retryPolicy: RetryPolicy = RetryPolicy()) throws(SerialError) {
        let transport = try openSerialTransport(path: path, baudRate: baudRate)
        self.init(transport: transport, protocol: wireProtocol, servos: servos, retryPolicy: retryPolicy)
    }

    deinit { readBuffer.deallocate() }

    /// Adds or replaces a servo.
    public func setModel(_ model: ServoModel, for id: UInt8) { models[id] = model }

    /// Closes the transport.
    public func close() { transport.close() }

    // MARK: Register resolution

    /// The register `name` of servo `id`'s model.
    public func register(_ name: RegisterName, of id: UInt8, operation: String = "access") throws(ServoBusError) -> Register {
        guard let model = models[id] else { throw error(.unknownServo, servo: id, operation: operation) }
        guard let r = model.controlTable.register(name) else {
            throw error(.missingRegister(model), servo: id, operation: "\(operation) \(name.rawValue)")
        }
        return r
    }

    private func commonRegister(_ name: RegisterName, _ ids: [UInt8], operation: String) throws(ServoBusError) -> Register {
        guard let first = ids.first else { throw error(.invalidRequest("no servo IDs given"), operation: operation) }
        let r = try register(name, of: first, operation: operation)
        for id in ids.dropFirst() {
            let other = try register(name, of: id, operation: operation)
            if other.address != r.address || other.width != r.width || other.encoding != r.encoding {
                throw error(.inconsistentRegister, servo: id, register: r, operation: operation)
            }
        }
        return r
    }

    private func error(_ kind: ServoBusError.Kind, servo: UInt8? = nil, register: Register? = nil, operation: String,
                       attempts: Int = 0) -> ServoBusError {
        ServoBusError(kind, servo: servo, register: register, operation: operation, attempts: attempts, wireProtocol: wireProtocol)
    }

    // MARK: Wire helpers

    private func encode(id: UInt8, instruction: UInt8) {
        outgoing.removeAll(keepingCapacity: true)
        switch wireProtocol {
        case .dynamixel2: DynamixelCodec.appendInstruction(id: id, instruction: instruction, parameters: parameters, to: &outgoing)
        case .feetechSTS: FeetechCodec.appendInstruction(id: id, instruction: instruction, parameters: parameters, to: &outgoing)
        }
    }

    private func appendAddress(_ address: UInt16, length: Int) {
        switch wireProtocol {
        case .dynamixel2:
            parameters.append(UInt8(truncatingIfNeeded: address))
            parameters.append(UInt8(truncatingIfNeeded: address >> 8))
            parameters.append(UInt8(truncatingIfNeeded: length))
            parameters.append(UInt8(truncatingIfNeeded: length >> 8))
        case .feetechSTS:
            parameters.append(UInt8(truncatingIfNeeded: address))
            parameters.append(UInt8(truncatingIfNeeded: length))
        }
    }

    private func send(operation: String, servo: UInt8?, register: Register?) throws(ServoBusError) {
        decoder.reset()
        lastBytes.removeAll(keepingCapacity: true)
        receivedThisAttempt = 0
        lastRejection = nil
        let result: Result<Void, SerialError> = outgoing.withUnsafeBytes { raw in
            Result { () throws(SerialError) in
                try transport.discardInput()
                try transport.write(raw)
            }
        }
        if case .failure(let e) = result { throw error(.transport(e), servo: servo, register: register, operation: operation) }
        statistics.packetsSent += 1
    }

    /// Reads and decodes until `handle` returns true (done) or `deadline` passes; returns whether done.
    private func receive(until deadline: ContinuousClock.Instant, operation: String,
                         _ handle: (ServoPacket) -> Bool) throws(ServoBusError) -> Bool {
        while true {
            decoding: while true {
                switch decoder.next(into: &reply) {
                case .packet:
                    statistics.repliesReceived += 1
                    if handle(reply) { return true }
                case .needMoreBytes:
                    break decoding
                case .rejected(let why):
                    statistics.rejectedPackets += 1
                    if case .unexpectedDirection = why { continue }
                    lastRejection = why
                }
            }
            // A line that never goes quiet (noise, another talker) must not hold the call past its deadline.
            if ContinuousClock.now >= deadline { return false }
            let n: Int
            do {
                n = try transport.read(into: readBuffer, until: deadline)
            } catch {
                throw self.error(.transport(error), operation: operation)
            }
            if n == 0 { return false }
            receivedThisAttempt += n
            for i in 0..<n where lastBytes.count < 32 { lastBytes.append(readBuffer[i]) }
            decoder.append(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
        }
    }

    private func failureKind(for id: UInt8) -> ServoBusError.Kind {
        if let r = lastRejection {
            switch r {
            case .badChecksum(let rid, _, _) where rid == id: return .corruptReply(r)
            case .malformed(let rid) where rid == id: return .corruptReply(r)
            default: break
            }
            if receivedThisAttempt > 0 { return .corruptReply(r) }
        }
        return .timeout(receivedBytes: receivedThisAttempt, lastBytes: lastBytes)
    }

    /// Sends the instruction built in `parameters` to one servo and waits for its status packet, retrying
    /// within the budget. On return, `reply` holds the status packet (error byte 0).
    private func request(id: UInt8, instruction: UInt8, operation: String, register: Register?,
                         expectedLength: Int?, acceptingError: Bool = false) throws(ServoBusError) {
        encode(id: id, instruction: instruction)
        if id == broadcastID {
            try send(operation: operation, servo: nil, register: register)
            return
        }
        let budget = ContinuousClock.Instant.after(milliseconds: retryPolicy.budgetMs)
        var attempts = 0
        var lastKind = ServoBusError.Kind.timeout(receivedBytes: 0, lastBytes: [])
        while attempts < retryPolicy.attempts {
            if attempts > 0 {
                if ContinuousClock.now >= budget { break }
                statistics.retries += 1
            }
            attempts += 1
            try send(operation: operation, servo: id, register: register)
            let deadline = min(ContinuousClock.Instant.after(milliseconds: retryPolicy.replyTimeoutMs), budget)
            var malformed: String? = nil
            let done = try receive(until: deadline, operation: operation) { p in
                guard p.id == id else {
                    if malformed == nil { malformed = "only a reply from servo \(p.id) arrived" }
                    return false
                }
                if p.error == 0 || acceptingError, let expectedLength, p.parameters.count != expectedLength {
                    malformed = "\(p.parameters.count) data bytes instead of \(expectedLength)"
                    return false
                }
                return true
            }
            if done {
                if reply.error != 0 && !acceptingError {
                    throw error(.statusError(reply.error), servo: id, register: register, operation: operation, attempts: attempts)
                }
                return
            }
            statistics.timeouts += 1
            if let malformed { lastKind = .malformedReply(malformed) } else { lastKind = failureKind(for: id) }
        }
        throw error(lastKind, servo: id, register: register, operation: operation, attempts: attempts)
    }

    // MARK: Single-servo calls

    /// Pings `id`; returns its model number (and firmware, on Dynamixel).
    public func ping(_ id: UInt8) throws(ServoBusError) -> PingReply {
        parameters.removeAll(keepingCapacity: true)
        switch wireProtocol {
        case .dynamixel2:
            try request(id: id, instruction: DynamixelInstruction.ping, operation: "ping", register: nil, expectedLength: 3)
            let number = UInt16(reply.parameters[0]) | UInt16(reply.parameters[1]) << 8
            return PingReply(modelNumber: number, firmware: reply.parameters[2], model: .model(number: number, protocol: wireProtocol))
        case .feetechSTS:
            try request(id: id, instruction: FeetechInstruction.ping, operation: "ping", register: nil, expectedLength: 0)
            // Like the Feetech SDK: the model number is read from address 3.
            let bytes = try read(address: 3, length: 2, from: id)
            let number = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
            return PingReply(modelNumber: number, firmware: nil, model: .model(number: number, protocol: wireProtocol))
        }
    }

    /// Reads `length` raw bytes at `address` from `id`.
    public func read(address: UInt16, length: Int, from id: UInt8) throws(ServoBusError) -> [UInt8] {
        parameters.removeAll(keepingCapacity: true)
        appendAddress(address, length: length)
        let instruction = wireProtocol == .dynamixel2 ? DynamixelInstruction.read : FeetechInstruction.read
        try request(id: id, instruction: instruction, operation: "read \(length) bytes at \(address)", register: nil, expectedLength: length)
        return reply.parameters
    }

    /// Writes raw bytes at `address` to `id` (broadcast: no reply awaited).
    public func write(address: UInt16, bytes: [UInt8], to id: UInt8) throws(ServoBusError) {
        parameters.removeAll(keepingCapacity: true)
        parameters.append(UInt8(truncatingIfNeeded: address))
        if wireProtocol == .dynamixel2 { parameters.append(UInt8(truncatingIfNeeded: address >> 8)) }
        parameters += bytes
        let instruction = wireProtocol == .dynamixel2 ? DynamixelInstruction.write : FeetechInstruction.write
        try request(id: id, instruction: instruction, operation: "write \(bytes.count) bytes at \(address)", register: nil, expectedLength: 0)
    }

    /// Reads register `name` from servo `id`, in register counts (signed per the register's encoding).
    public func read(_ name: RegisterName, from id: UInt8) throws(ServoBusError) -> Int {
        let r = try register(name, of: id, operation: "read")
        parameters.removeAll(keepingCapacity: true)
        appendAddress(r.address, length: r.width)
        let instruction = wireProtocol == .dynamixel2 ? DynamixelInstruction.read : FeetechInstruction.read
        try request(id: id, instruction: instruction, operation: "read", register: r, expectedLength: r.width)
        return r.value(from: reply.parameters, at: 0)
    }

    /// Reads register `name` from servo `id` even when the reply flags an error (a servo in hardware alarm
    /// flags every reply, the one that names the alarm too): the value and the reply's error byte.
    public func readFlagged(_ name: RegisterName, from id: UInt8) throws(ServoBusError) -> (value: Int, error: UInt8) {
        let r = try register(name, of: id, operation: "read")
        parameters.removeAll(keepingCapacity: true)
        appendAddress(r.address, length: r.width)
        let instruction = wireProtocol == .dynamixel2 ? DynamixelInstruction.read : FeetechInstruction.read
        try request(id: id, instruction: instruction, operation: "read", register: r, expectedLength: r.width, acceptingError: true)
        return (r.value(from: reply.parameters, at: 0), reply.error)
    }

    /// Writes `value` (register counts) to register `name` of servo `id` and waits for the acknowledgement.
    public func write(_ name: RegisterName, _ value: Int, to id: UInt8) throws(ServoBusError) {
        let r = try register(name, of: id, operation: "write")
        guard r.access == .readWrite else { throw error(.readOnly, servo: id, register: r, operation: "write") }
        parameters.removeAll(keepingCapacity: true)
        parameters.append(UInt8(truncatingIfNeeded: r.address))
        if wireProtocol == .dynamixel2 { parameters.append(UInt8(truncatingIfNeeded: r.address >> 8)) }
        do {
            try r.append(value, to: &parameters)
        } catch {
            throw self.error(.valueOutOfRange(error), servo: id, register: r, operation: "write")
        }
        let instruction = wireProtocol == .dynamixel2 ? DynamixelInstruction.write : FeetechInstruction.write
        try request(id: id, instruction: instruction, operation: "write", register: r, expectedLength: 0)
    }

    // MARK: Sync calls

    /// Reads register `name` from every servo in `ids` with one SYNC_READ; values in `ids` order.
    public func syncRead(_ name: RegisterName, _ ids: [UInt8]) throws(ServoBusError) -> [Int] {
        var values: [Int] = []
        try syncRead(name, ids, into: &values)
        return values
    }

    /// Reads register `name` from every servo in `ids` into `values` (replaced; capacity reused), in `ids`
    /// order. Servos that did not answer are asked again, alone, within the budget.
    public func syncRead(_ name: RegisterName, _ ids: [UInt8], into values: inout [Int]) throws(ServoBusError) {
        let r = try commonRegister(name, ids, operation: "sync read")
        values.removeAll(keepingCapacity: true)
        values.append(contentsOf: repeatElement(0, count: ids.count))
        syncReceived.removeAll(keepingCapacity: true)
        syncReceived.append(contentsOf: repeatElement(false, count: ids.count))
        let fast = prefersFastSyncRead && wireProtocol == .dynamixel2
        let instruction = fast ? DynamixelInstruction.fastSyncRead
            : (wireProtocol == .dynamixel2 ? DynamixelInstruction.syncRead : FeetechInstruction.syncRead)
        let budget = ContinuousClock.Instant.after(milliseconds: retryPolicy.budgetMs)
        var attempts = 0
        var missing = ids.count
        var lastKind = ServoBusError.Kind.timeout(receivedBytes: 0, lastBytes: [])
        var lastMissing: UInt8 = ids[0]
        while attempts < retryPolicy.attempts {
            if attempts > 0 {
                if ContinuousClock.now >= budget { break }
                statistics.retries += 1
            }
            attempts += 1
            pendingIDs.removeAll(keepingCapacity: true)
            for (i, id) in ids.enumerated() where !syncReceived[i] { pendingIDs.append(id) }
            parameters.removeAll(keepingCapacity: true)
            appendAddress(r.address, length: r.width)
            parameters.append(contentsOf: pendingIDs)
            encode(id: broadcastID, instruction: instruction)
            try send(operation: "sync read", servo: nil, register: r)
            let timeout = retryPolicy.replyTimeoutMs + retryPolicy.perReplyTimeoutMs * Double(pendingIDs.count)
            let deadline = min(ContinuousClock.Instant.after(milliseconds: timeout), budget)
            var statusFailure: (id: UInt8, error: UInt8)? = nil
            var malformed: String? = nil
            let done = try receive(until: deadline, operation: "sync read") { p in
                if fast && p.id == broadcastID {
                    guard let entries = DynamixelCodec.fastSyncReadEntries(p, dataLength: r.width) else {
                        malformed = "fast sync read reply of \(p.parameters.count) bytes does not fit \(r.width)-byte entries"
                        return false
                    }
                    for e in entries { accept(id: e.id, error: e.error, data: e.data, offset: 0) }
                    return missing == 0
                }
                accept(id: p.id, error: p.error, data: p.parameters, offset: 0)
                return missing == 0
            }
            func accept(id: UInt8, error: UInt8, data: [UInt8], offset: Int) {
                guard let i = ids.firstIndex(of: id), !syncReceived[i] else { return }
                if error != 0 {
                    if statusFailure == nil { statusFailure = (id, error) }
                } else {
                    guard data.count - offset == r.width else {
                        malformed = "servo \(id) sent \(data.count - offset) data bytes instead of \(r.width)"
                        return
                    }
                    values[i] = r.value(from: data, at: offset)
                }
                syncReceived[i] = true
                missing -= 1
            }
            if let statusFailure {
                throw error(.statusError(statusFailure.error), servo: statusFailure.id, register: r, operation: "sync read", attempts: attempts)
            }
            if done { return }
            statistics.timeouts += 1
            lastMissing = ids[syncReceived.firstIndex(of: false) ?? 0]
            if let malformed { lastKind = .malformedReply(malformed) } else { lastKind = failureKind(for: lastMissing) }
        }
        var operation = "sync read"
        if missing > 1 {
            let silent = ids.enumerated().filter { !syncReceived[$0.offset] }.map { String($0.element) }
            operation += " (no data from servos \(silent.joined(separator: ", ")))"
        }
        throw error(lastKind, servo: lastMissing, register: r, operation: operation, attempts: attempts)
    }

    /// Writes one value per servo to register `name` with one SYNC_WRITE (no reply on the wire).
    public func syncWrite(_ name: RegisterName, _ values: [ServoValue]) throws(ServoBusError) {
        try syncWrite(name, count: values.count, id: { values[$0].id }, value: { values[$0].value })
    }

    /// Writes `values[i]` to servo `ids[i]` with one SYNC_WRITE (no reply on the wire). Reuses the
    /// connection's buffers: no allocation once they have grown to size.
    public func syncWrite(_ name: RegisterName, ids: [UInt8], values: [Int]) throws(ServoBusError) {
        guard ids.count == values.count else {
            throw error(.invalidRequest("\(ids.count) IDs but \(values.count) values"), operation: "sync write")
        }
        try syncWrite(name, count: ids.count, id: { ids[$0] }, value: { values[$0] })
    }

    private func syncWrite(_ name: RegisterName, count: Int, id: (Int) -> UInt8, value: (Int) -> Int) throws(ServoBusError) {
        guard count > 0 else { throw error(.invalidRequest("no values given"), operation: "sync write") }
        pendingIDs.removeAll(keepingCapacity: true)
        for i in 0..<count { pendingIDs.append(id(i)) }
        let r = try commonRegister(name, pendingIDs, operation: "sync write")
        guard r.access == .readWrite else { throw error(.readOnly, register: r, operation: "sync write") }
        parameters.removeAll(keepingCapacity: true)
        appendAddress(r.address, length: r.width)
        for i in 0..<count {
            parameters.append(pendingIDs[i])
            do {
                try r.append(value(i), to: &parameters)
            } catch {
                throw self.error(.valueOutOfRange(error), servo: pendingIDs[i], register: r, operation: "sync write")
            }
        }
        encode(id: broadcastID, instruction: wireProtocol == .dynamixel2 ? DynamixelInstruction.syncWrite : FeetechInstruction.syncWrite)
        try send(operation: "sync write", servo: nil, register: r)
    }
}
