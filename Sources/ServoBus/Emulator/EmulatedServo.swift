import Tensors

/// One emulated servo: its control-table memory, fault settings and seeded generator.
struct EmulatedServo: Sendable {
    let model: ServoModel
    let table: ControlTable
    var memory: [UInt8]
    var faults: ServoFaults
    var rng: RandomSource
    var pendingWrite: (address: Int, data: [UInt8])?

    init(id: UInt8, model: ServoModel, faults: ServoFaults, rng: RandomSource) {
        self.model = model
        self.table = model.controlTable
        self.memory = []
        self.faults = faults
        self.rng = rng
        self.pendingWrite = nil
        resetMemory(keepingID: id)
    }

    /// Restores factory values (keeping `id`).
    mutating func resetMemory(keepingID id: UInt8) {
        memory = [UInt8](repeating: 0, count: table.memorySize)
        for (name, value) in table.defaults { set(name, value) }
        set(.id, Int(id))
    }

    /// The servo's current ID (its ID register).
    var id: UInt8 { UInt8(get(.id)) }

    func get(_ name: RegisterName) -> Int {
        guard let r = table.register(name) else { return 0 }
        return r.value(from: memory, at: Int(r.address))
    }

    mutating func set(_ name: RegisterName, _ value: Int) {
        guard let r = table.register(name) else { return }
        let clamped = min(max(value, r.range.lowerBound), r.range.upperBound)
        let word = (try? r.rawWord(for: clamped)) ?? 0
        for i in 0..<r.width { memory[Int(r.address) + i] = UInt8(truncatingIfNeeded: word >> UInt32(8 * i)) }
    }

    /// Whether `[address, address+count)` touches a read-only register.
    func touchesReadOnly(address: Int, count: Int) -> Bool {
        table.registers.contains { r in
            r.access == .readOnly && Int(r.address) < address + count && address < Int(r.address) + r.width
        }
    }

    /// Whether `[address, address+count)` touches the EEPROM area.
    func touchesEEPROM(address: Int, count: Int) -> Bool {
        table.registers.contains { r in
            r.area == .eeprom && Int(r.address) < address + count && address < Int(r.address) + r.width
        }
    }

    /// Whether `[address, address+count)` overlaps `name`.
    func touches(_ name: RegisterName, address: Int, count: Int) -> Bool {
        guard let r = table.register(name) else { return false }
        return Int(r.address) < address + count && address < Int(r.address) + r.width
    }

    /// The reply delay set by Return_Delay_Time (2 µs units on both families), in seconds.
    var returnDelaySeconds: Double { Double(get(.returnDelayTime)) * 2e-6 }

    /// Homing offset sign: Dynamixel `Present = Actual + Homing_Offset`, Feetech `Present = Actual − Homing_Offset`.
    var offsetSign: Double { model.wireProtocol == .dynamixel2 ? 1 : -1 }

    /// The plant-frame (actual) position for a control-table (present-frame) position.
    func actualPosition(fromPresent present: Double) -> Double { present - offsetSign * Double(get(.homingOffset)) }

    /// Copies plant state into the present-value registers.
    mutating func store(_ state: ServoPlantState, timeSeconds: Double) {
        let present = state.position + offsetSign * Double(get(.homingOffset))
        set(.presentPosition, Int(present.rounded()))
        let ticksPerSecond = state.velocity
        switch model.wireProtocol {
        case .dynamixel2:
            // 0.229 rpm per count; 4096 ticks per revolution.
            let rpm = ticksPerSecond / 4096 * 60
            set(.presentVelocity, Int((rpm / 0.229).rounded()))
            set(.realtimeTick, Int(timeSeconds * 1000) % 32768)
            set(.presentPWM, Int((state.load * 885).rounded()))
            if table.register(.presentCurrent) != nil {
                set(.presentCurrent, Int((state.load * Double(get(.currentLimit))).rounded()))
            } else {
                set(.presentLoad, Int((state.load * 1000).rounded()))
            }
            set(.positionTrajectory, get(.goalPosition))
        case .feetechSTS:
            set(.presentVelocity, Int(ticksPerSecond.rounded()))
            set(.presentLoad, Int((state.load * 1000).rounded()))
            set(.presentCurrent, Int((abs(state.load) * 100).rounded()))
        }
        let moving = abs(ticksPerSecond) > 2 || abs(state.goalPosition - state.position) > 2
        set(.moving, moving ? 1 : 0)
    }
}
