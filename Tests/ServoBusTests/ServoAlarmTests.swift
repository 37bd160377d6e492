import Testing
@testable import ServoBus

/// Hardware alarms of both protocols, named from the servo's own register (issue 19, item 3).
@Suite struct ServoAlarmTests {
    @Test func whichStatusBytesAreAlarms() {
        #expect(ServoAlarm.isAlarm(statusByte: 0x80, protocol: .dynamixel2))
        #expect(ServoAlarm.isAlarm(statusByte: 0x81, protocol: .dynamixel2))
        #expect(!ServoAlarm.isAlarm(statusByte: DynamixelStatusError.accessError, protocol: .dynamixel2))
        for bit in [0, 1, 2, 3, 5] { #expect(ServoAlarm.isAlarm(statusByte: 1 << bit, protocol: .feetechSTS)) }
        for bit in [4, 6, 7] { #expect(!ServoAlarm.isAlarm(statusByte: 1 << bit, protocol: .feetechSTS)) }
        #expect(ServoAlarm.registerName(for: .dynamixel2) == .hardwareErrorStatus)
        #expect(ServoAlarm.registerName(for: .feetechSTS) == .status)
    }

    @Test func alarmsAreNamedFromTheRegister() {
        #expect(ServoAlarm(protocol: .dynamixel2, statusByte: 0x80, register: 0x20).description == "overload (Hardware_Error_Status 0x20)")
        #expect(ServoAlarm(protocol: .dynamixel2, statusByte: 0x80, register: 0x0D).description == "input voltage error + overheating + motor encoder error (Hardware_Error_Status 0xd)")
        #expect(ServoAlarm(protocol: .dynamixel2, statusByte: 0x80, register: nil).description == "hardware alert (error byte 0x80; Hardware_Error_Status could not be read)")
        #expect(ServoAlarm(protocol: .feetechSTS, statusByte: 0x01, register: 0x01).description == "voltage error (Status 0x1, error byte 0x1)")
        #expect(ServoAlarm(protocol: .feetechSTS, statusByte: 0x22, register: nil).description == "angle sensor error + overload (error byte 0x22; Status could not be read)")
    }
}
