import Adaptation
import Foundation
import MetaLearning
import Perception
import Robot
import ServoBus
import Spiking
import Tensors
import Trajectories

extension FuzzTarget {
    /// Every decoder of data from outside: both servo protocols on the host side (status packets) and the
    /// emulator side (instruction packets answered by `ServoEmulator`), YAML (robot descriptions and
    /// calibrations), trajectory CSV, safetensors (with controller checkpoints) and IDX.
    public static let all: [FuzzTarget] = [
        .dynamixelHost, .dynamixelEmulator, .feetechHost, .feetechEmulator, .yaml, .trajectoryCSV, .safeTensors, .idx,
    ]

    /// The target named `name`.
    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    // MARK: Servo packets

    /// Dynamixel 2.0 status packets, as the host decodes them (plus FAST_SYNC_READ splitting).
    public static let dynamixelHost = FuzzTarget(
        name: "dynamixel-host", seeds: Seeds.dynamixelStatus, maximumLength: 4_096,
        assemble: { bytes, index in index % 4 == 0 ? bytes : Repair.dynamixel(bytes) },
        check: { hostCheck($0, protocol: .dynamixel2) })

    /// Dynamixel 2.0 instruction packets, decoded and answered by the emulator; every reply must decode.
    public static let dynamixelEmulator = FuzzTarget(
        name: "dynamixel-emulator", seeds: Seeds.dynamixelInstructions, maximumLength: 4_096,
        assemble: { bytes, index in index % 4 == 0 ? bytes : Repair.dynamixel(bytes) },
        check: { emulatorCheck($0, protocol: .dynamixel2, model: .xl430W250) })

    /// Feetech STS status frames, as the host decodes them.
    public static let feetechHost = FuzzTarget(
        name: "feetech-host", seeds: Seeds.feetechStatus, maximumLength: 4_096,
        assemble: { bytes, index in index % 4 == 0 ? bytes : Repair.feetech(bytes) },
        check: { hostCheck($0, protocol: .feetechSTS) })

    /// Feetech STS instruction frames, decoded and answered by the emulator; every reply must decode.
    public static let feetechEmulator = FuzzTarget(
        name: "feetech-emulator", seeds: Seeds.feetechInstructions, maximumLength: 4_096,
        assemble: { bytes, index in index % 4 == 0 ? bytes : Repair.feetech(bytes) },
        check: { emulatorCheck($0, protocol: .feetechSTS, model: .sts3215) })

    /// Decodes a status stream in chunks; the decoder's buffer must stay under one packet.
    static func hostCheck(_ input: [UInt8], protocol wire: ServoProtocol) -> FuzzVerdict {
        var decoder = PacketDecoder(protocol: wire, direction: .status)
        var packet = ServoPacket()
        var packets = 0
        var at = 0
        while at < input.count {
            let end = min(input.count, at + 1 + (at * 7919 + input.count) % 97)
            decoder.append(contentsOf: input[at..<end])
            at = end
            while true {
                let step = decoder.next(into: &packet)
                if step == .needMoreBytes { break }
                guard step == .packet else { continue }
                packets += 1
                if wire == .dynamixel2 {
                    for length in [1, 2, 4] {
                        if let entries = DynamixelCodec.fastSyncReadEntries(packet, dataLength: length),
                           entries.contains(where: { $0.data.count != length }) {
                            return .finding("a FAST_SYNC_READ entry is not \(length) bytes long")
                        }
                    }
                }
            }
            if decoder.bufferedByteCount >= decoder.maximumPacketLength {
                return .finding("the decoder holds \(decoder.bufferedByteCount) bytes, past its \(decoder.maximumPacketLength)-byte bound")
            }
        }
        return packets > 0 ? .accepted : .rejected
    }

    /// Feeds an instruction stream to a two-servo emulator; each reply must decode as exactly one status packet.
    static func emulatorCheck(_ input: [UInt8], protocol wire: ServoProtocol, model: ServoModel) -> FuzzVerdict {
        guard let emulator = try? ServoEmulator(protocol: wire, servos: [(1, model), (2, model)]) else { return .finding("emulator set-up failed") }
        var decoder = PacketDecoder(protocol: wire, direction: .instruction)
        decoder.append(contentsOf: input)
        var packet = ServoPacket()
        var time = 0.0
        var answered = 0
        while true {
            let step = decoder.next(into: &packet)
            if step == .needMoreBytes { break }
            guard step == .packet else { continue }
            for reply in emulator.respond(to: packet, at: time) {
                var host = PacketDecoder(protocol: wire, direction: .status, maximumPacketLength: 1 << 20)
                host.append(contentsOf: reply.bytes)
                var status = ServoPacket()
                guard host.next(into: &status) == .packet, host.next(into: &status) == .needMoreBytes, host.bufferedByteCount == 0 else {
                    return .finding("reply of servo \(reply.servo) to instruction 0x\(String(packet.instruction, radix: 16)) does not decode: \(reply.bytes.prefix(16).map { String(format: "%02x", $0) }.joined(separator: " "))…")
                }
                answered += 1
            }
            time += 0.001
        }
        return answered > 0 ? .accepted : .rejected
    }

    // MARK: Files

    /// Robot descriptions and calibrations (YAML through libyaml and `YAMLDecoder`).
    public static let yaml = FuzzTarget(name: "yaml", seeds: Seeds.yaml, maximumLength: 65_536) { input in
        let text = String(decoding: input, as: UTF8.self)
        var accepted = false
        if let robot = try? RobotDescription.parse(text, file: "fuzz.yaml") {
            accepted = true
            _ = try? robot.validate()
        }
        if let calibration = try? Calibration.parse(text, file: "fuzz.yaml") {
            accepted = true
            if let so101 = try? RobotDescription.parse(Seeds.so101, file: "so101.yaml") { _ = calibration.mismatch(with: so101) }
        }
        return accepted ? .accepted : .rejected
    }

    /// Trajectory CSV, with resampling onto a trial and the limit check that follow reading.
    public static let trajectoryCSV = FuzzTarget(name: "trajectory-csv", seeds: Seeds.csv, maximumLength: 65_536) { input in
        guard let file = try? TrajectoryFile(csv: String(decoding: input, as: UTF8.self), source: "fuzz.csv") else { return .rejected }
        guard file.positions.count == file.rows * file.joints.count else { return .finding("positions do not fill rows × joints") }
        if file.rows >= 2 { _ = file.resampled(rows: 249, stepSeconds: 0.01) }
        _ = try? file.checkPositions(within: Dictionary(uniqueKeysWithValues: file.joints.map { ($0, -3.0...3.0) }), source: "fuzz.csv")
        return .accepted
    }

    /// Safetensors files, and controller checkpoints read from them. The mutated bytes are the JSON header
    /// (three inputs in four get the right length prefix and a data section; the rest go raw).
    public static let safeTensors = FuzzTarget(
        name: "safetensors", seeds: Seeds.safeTensorsHeaders, maximumLength: 65_536,
        assemble: { header, index in
            if index % 4 == 3 { return header }
            var out: [UInt8] = []
            let length = index % 16 == 1 ? [UInt64(1) << 62, UInt64.max, UInt64(header.count + 1)][Int(index / 16 % 3)] : UInt64(header.count)
            for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(k)))) }
            return out + header + Seeds.safeTensorsData
        },
        check: { input in
            guard let file = try? SafeTensors(bytes: input, source: "fuzz.safetensors") else { return .rejected }
            var total = 0
            for (name, tensor) in file.tensors {
                total += tensor.bytes.count
                if tensor.elementCount * tensor.dtype.size != tensor.bytes.count { return .finding("tensor '\(name)' has \(tensor.bytes.count) bytes for shape \(tensor.shape)") }
                if tensor.dtype == .f32 || tensor.dtype == .f64 {
                    guard let values = try? file.floats(name), values.count == tensor.elementCount else { return .finding("tensor '\(name)' reads back wrong") }
                }
            }
            if total > input.count { return .finding("tensors hold \(total) bytes, more than the \(input.count)-byte file") }
            _ = try? ControllerCheckpoint(file)
            return .accepted
        })

    /// IDX image and label files.
    public static let idx = FuzzTarget(name: "idx", seeds: Seeds.idx, maximumLength: 65_536) { input in
        var accepted = false
        if let images = try? IDXFile.images(bytes: input, path: "fuzz-images-idx3-ubyte") {
            guard images.pixels.count == images.count * images.rows * images.columns, images.pixels.count <= input.count else {
                return .finding("\(images.pixels.count) pixels for \(images.count) × \(images.rows) × \(images.columns)")
            }
            accepted = true
        }
        if let labels = try? IDXFile.labels(bytes: input, path: "fuzz-labels-idx1-ubyte") {
            guard labels.count <= input.count else { return .finding("\(labels.count) labels from \(input.count) bytes") }
            accepted = true
        }
        return accepted ? .accepted : .rejected
    }
}

/// Puts checksums right after mutation, so that mutated fields reach the code behind the checksum check.
enum Repair {
    /// Recomputes the checksum of every whole `FF FF ID LEN …` frame.
    static func feetech(_ input: [UInt8]) -> [UInt8] {
        var b = input
        var i = 0
        while i + 3 < b.count {
            guard b[i] == 0xFF, b[i + 1] == 0xFF else { i += 1; continue }
            let end = i + 4 + Int(b[i + 3])
            guard b[i + 3] >= 2, end <= b.count else { i += 1; continue }
            var sum: UInt8 = 0
            for k in (i + 2)..<(end - 1) { sum &+= b[k] }
            b[end - 1] = ~sum
            i = end
        }
        return b
    }

    /// Recomputes the CRC of every whole `FF FF FD 00 ID LEN_L LEN_H …` packet.
    static func dynamixel(_ input: [UInt8]) -> [UInt8] {
        var b = input
        var i = 0
        while i + 6 < b.count {
            guard b[i] == 0xFF, b[i + 1] == 0xFF, b[i + 2] == 0xFD, b[i + 3] == 0x00 else { i += 1; continue }
            let length = Int(b[i + 5]) | Int(b[i + 6]) << 8
            let end = i + 7 + length
            guard length >= 3, end <= b.count else { i += 1; continue }
            let crc = b.withUnsafeBytes { DynamixelCRC.update(0, with: UnsafeRawBufferPointer(rebasing: $0[i..<(end - 2)])) }
            b[end - 2] = UInt8(truncatingIfNeeded: crc)
            b[end - 1] = UInt8(truncatingIfNeeded: crc >> 8)
            i = end
        }
        return b
    }
}

/// Valid inputs to start from, built here so that the fuzz tests and `engram-bench fuzz` need no files.
enum Seeds {
    static let dynamixelStatus: [[UInt8]] = [
        DynamixelCodec.encode(ServoPacket(id: 1, instruction: DynamixelInstruction.status, error: 0, parameters: [0x06, 0x04, 0x26])),
        DynamixelCodec.encode(ServoPacket(id: 2, instruction: DynamixelInstruction.status, error: 0, parameters: [0x00, 0x08, 0x00, 0x00])),
        DynamixelCodec.encode(ServoPacket(id: 3, instruction: DynamixelInstruction.status, error: 0x80, parameters: [0xFF, 0xFF, 0xFD, 0x01])),
        DynamixelCodec.fastSyncReadReply([.init(id: 1, error: 0, data: [1, 2, 3, 4]), .init(id: 2, error: 0, data: [5, 6, 7, 8])]),
        DynamixelCodec.encode(ServoPacket(id: 1, instruction: DynamixelInstruction.status, error: 0, parameters: [])) + DynamixelCodec.encode(ServoPacket(id: 2, instruction: DynamixelInstruction.status, error: 7, parameters: [9])),
    ]

    static let dynamixelInstructions: [[UInt8]] = [
        DynamixelCodec.ping(id: 1) + DynamixelCodec.ping(id: 0xFE),
        DynamixelCodec.read(id: 1, address: 132, length: 4) + DynamixelCodec.read(id: 2, address: 0, length: 147),
        DynamixelCodec.write(id: 1, address: 64, data: [1]) + DynamixelCodec.write(id: 1, address: 116, data: [0xB8, 0x0B, 0, 0]),
        DynamixelCodec.syncRead(address: 132, length: 4, ids: [1, 2]) + DynamixelCodec.syncRead(address: 132, length: 4, ids: [1, 2], fast: true),
        DynamixelCodec.syncWrite(address: 116, length: 4, entries: [(1, [0, 8, 0, 0]), (2, [0, 9, 0, 0])]),
        DynamixelCodec.bulkRead([(1, 132, 4), (2, 126, 2)]) + DynamixelCodec.bulkWrite([(1, 65, [1]), (2, 116, [0, 8, 0, 0])]),
        DynamixelCodec.registeredWrite(id: 1, address: 65, data: [1]) + DynamixelCodec.action(id: 0xFE),
        DynamixelCodec.reboot(id: 1) + DynamixelCodec.factoryReset(id: 2, option: 0x02) + DynamixelCodec.write(id: 1, address: 7, data: [9]),
    ]

    static let feetechStatus: [[UInt8]] = [
        FeetechCodec.encode(ServoPacket(id: 1, instruction: DynamixelInstruction.status, error: 0, parameters: [0x00, 0x08])),
        FeetechCodec.encode(ServoPacket(id: 2, instruction: DynamixelInstruction.status, error: 0x20, parameters: [])),
        FeetechCodec.encode(ServoPacket(id: 1, instruction: DynamixelInstruction.status, error: 0, parameters: [0xFF, 0x0F, 0x00, 0x00, 0x10, 0x00])) + FeetechCodec.encode(ServoPacket(id: 2, instruction: DynamixelInstruction.status, error: 0, parameters: [1, 2])),
    ]

    static let feetechInstructions: [[UInt8]] = [
        FeetechCodec.ping(id: 1) + FeetechCodec.read(id: 1, address: 56, length: 2),
        [0xFF, 0xFF, 0x01, 0x04, 0x02, 0x00, 0xF5, 0x03],
        FeetechCodec.write(id: 1, address: 40, data: [1]) + FeetechCodec.write(id: 2, address: 42, data: [0x00, 0x08]),
        FeetechCodec.syncRead(address: 56, length: 2, ids: [1, 2]) + FeetechCodec.syncWrite(address: 42, length: 2, entries: [(1, [0, 8]), (2, [0, 9])]),
        FeetechCodec.registeredWrite(id: 1, address: 42, data: [0, 8]) + FeetechCodec.action(id: 0xFE),
        FeetechCodec.write(id: 1, address: 40, data: [128]) + FeetechCodec.encode(ServoPacket(id: 2, instruction: FeetechInstruction.reset)),
    ]

    static let so101 = """
        name: so101
        bus:
          protocol: feetech-sts
          baud: 1_000_000
        joints:
          - {name: shoulder_pan,  servo_id: 1, servo_model: sts3215, limits_deg: [-110, 110], home_deg: 0, max_speed_deg_s: 180}
          - {name: shoulder_lift, servo_id: 2, servo_model: sts3215, limits_deg: [-100, 100], home_deg: 0, max_speed_deg_s: 180}
          - {name: elbow_flex,    servo_id: 3, servo_model: sts3215, limits_deg: [-96, 96],   home_deg: 0, max_speed_deg_s: 180}
        controller:
          driven_joints: [shoulder_pan, shoulder_lift]
          rate_hz: 100
        kinematics:
          type: dh
          base: {xyz: [0.0388353, -1.52801137e-07, 0.1166], rpy_deg: [-179.999848, 0, 0.000362498645]}
          links:
            - {joint: shoulder_pan,  a: 0.0303991329, alpha_deg: 90, d: 0, theta_offset_deg: 0}
            - {joint: shoulder_lift, a: 0.116000021,  alpha_deg: 0,  d: 0, theta_offset_deg: -76.0322504}
            - {joint: elbow_flex,    a: 0.135000185,  alpha_deg: 0,  d: 0, theta_offset_deg: 73.8247588}
          tool: [0.00790125539, -0.000166553572, -0.1592274]

        """

    static let yaml: [[UInt8]] = [
        Array(so101.utf8),
        Array("""
            # calibration
            robot: so101
            joints:
              - {name: shoulder_pan,  id: 1, homing_offset: -1023, direction: normal, range_min: 758,  range_max: 3292}
              - {name: shoulder_lift, id: 2, homing_offset: 1390,  direction: normal, range_min: 812,  range_max: 3210}
              - {name: elbow_flex,    id: 3, homing_offset: -1602, direction: reversed, range_min: 880,  range_max: 3080}

            """.utf8),
        Array("""
            name: sim
            base: &b {limits_deg: [-90, 90], home_deg: 0, max_speed_deg_s: 90}
            joints:
              - {<<: *b, name: a}
              - name: b
                limits_deg: [-45, 45]
                home_deg: 0
                max_speed_deg_s: 1e308
            controller: {driven_joints: [a, b], rate_hz: 100}
            kinematics: {type: scorbot}

            """.utf8),
    ]

    static let csv: [[UInt8]] = [
        Array("# engram-trajectory 1\n# robot: so101\ntime_s,base.pos,shoulder.pos\n0,0,0\n0.01,0.001,0.002\n0.02,0.003,0.004\n".utf8),
        Array("time_s,a.pos,a.vel,a.goal,ee.x,ee.y,ee.z\r\n0,0.1,0,0.1,0.3,0,0.2\r\n1,0.2,0.1,0.2,0.3,0.01,0.2\r\n".utf8),
        Array("time_s,base.pos\n0,0\n1000000,1\n2.5e8,2\n0.5,1e308".utf8),
    ]

    /// 128 bytes of small F32 values (0.25), the data section of every safetensors seed.
    static let safeTensorsData: [UInt8] = Array(repeating: [0x00, 0x00, 0x80, 0x3E], count: 32).flatMap { $0 }

    static let safeTensorsHeaders: [[UInt8]] = {
        var headers: [[UInt8]] = [
            Array(#"{"a":{"dtype":"F32","shape":[2,4],"data_offsets":[0,32]},"b":{"dtype":"U8","shape":[3],"data_offsets":[32,35]},"__metadata__":{"k":"v"}}"#.utf8),
            Array(#"{"x":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"y":{"dtype":"I32","shape":[1,1,1],"data_offsets":[8,12]}}"#.utf8),
        ]
        // A tiny controller checkpoint (architecture in the metadata), so checkpoint checks are reached.
        var a = ControllerArchitecture.paper
        a.traineeNeurons = 2
        a.lsgNeurons = 2
        a.outputs = 1
        a.lsgAdaptation.count = 1
        a.clock.neurons = 1
        a.coordinates = 1
        a.codeBits = 1
        a.steps = 3
        func m(_ r: Int, _ c: Int) -> Matrix { Matrix(rows: r, columns: c, storage: [Float](repeating: 0.25, count: r * c)) }
        let weights = ControllerWeights(traineeInput: m(1, 2), traineeRecurrent: m(2, 2), traineeReadout: m(2, 1),
                                        lsgInput: m(2, 2), lsgRecurrent: m(2, 2), lsgReadout: m(2, 2))
        let file = ControllerCheckpoint(architecture: a, weights: weights).safeTensors().serialized()
        let length = file[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        headers.append(Array(file[8..<(8 + length)]))
        return headers
    }()

    static let idx: [[UInt8]] = [
        [0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3] + (0..<18).map { UInt8($0 * 13) },
        [0, 0, 0x08, 1, 0, 0, 0, 4, 1, 2, 3, 4],
        [0, 0, 0x0B, 1, 0, 0, 0, 3, 0, 1, 0xFF, 0xFF, 0x01, 0x00],
    ]
}
