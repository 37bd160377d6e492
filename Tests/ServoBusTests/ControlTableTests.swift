import Testing
@testable import ServoBus

@Suite struct ControlTableTests {
    @Test func registersMatchTheDesignTables() throws {
        let x = ControlTable.xl330M288
        let expect: [(RegisterName, UInt16, Int)] = [
            (.modelNumber, 0, 2), (.id, 7, 1), (.baudRate, 8, 1), (.returnDelayTime, 9, 1), (.operatingMode, 11, 1),
            (.homingOffset, 20, 4), (.currentLimit, 38, 2), (.maxPositionLimit, 48, 4), (.minPositionLimit, 52, 4),
            (.torqueEnable, 64, 1), (.hardwareErrorStatus, 70, 1), (.positionPGain, 84, 2), (.goalCurrent, 102, 2),
            (.goalVelocity, 104, 4), (.goalPosition, 116, 4), (.presentCurrent, 126, 2), (.presentVelocity, 128, 4),
            (.presentPosition, 132, 4), (.presentInputVoltage, 144, 2), (.presentTemperature, 146, 1),
        ]
        for (name, address, width) in expect {
            let r = try #require(x.register(name), "\(name)")
            #expect(r.address == address && r.width == width, "\(name)")
        }
        #expect(x.register(.presentPosition)?.encoding == .twosComplement)
        #expect(x.register(.presentPosition)?.access == .readOnly)
        #expect(x.memorySize == 147)
        #expect(ControlTable.xl430W250.register(.presentLoad)?.address == 126)
        #expect(ControlTable.xl430W250.register(.goalCurrent) == nil)
        let s = ControlTable.sts3215
        let sts: [(RegisterName, UInt16, Int)] = [
            (.modelNumber, 3, 2), (.id, 5, 1), (.returnDelayTime, 7, 1), (.homingOffset, 31, 2), (.operatingMode, 33, 1),
            (.torqueEnable, 40, 1), (.goalPosition, 42, 2), (.goalTime, 44, 2), (.goalVelocity, 46, 2), (.lock, 55, 1),
            (.presentPosition, 56, 2), (.presentLoad, 60, 2), (.presentCurrent, 69, 2), (.maximumAcceleration, 85, 1),
        ]
        for (name, address, width) in sts {
            let r = try #require(s.register(name), "\(name)")
            #expect(r.address == address && r.width == width, "\(name)")
        }
        #expect(s.register(.presentPosition)?.encoding == .signMagnitude(signBit: 15))
        #expect(ServoModel.model(number: 1060, protocol: .dynamixel2) == .xl430W250)
        #expect(RegisterName(lenient: "present_position") == .presentPosition)
        #expect(RegisterName(lenient: "goalPosition") == .goalPosition)
        #expect(RegisterName(lenient: "nonsense") == nil)
    }

    @Test func twosComplementValues() throws {
        let r = ControlTable.xl330M288.register(.goalVelocity)!
        #expect(try r.bytes(for: -1) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(r.value(from: [0xFE, 0xFF, 0xFF, 0xFF], at: 0) == -2)
        let pwm = ControlTable.xl330M288.register(.goalPWM)!
        #expect(try pwm.bytes(for: -885) == [0x8B, 0xFC])
        #expect(pwm.value(from: [0x8B, 0xFC], at: 0) == -885)
        #expect(throws: RegisterValueError.self) { try ControlTable.xl330M288.register(.torqueEnable)!.bytes(for: 256) }
    }
}
