import Foundation
import ServoBus

/// ServoBus benchmarks, one JSON line each:
/// - `servobus.tick.<protocol>`: one control tick over a real pseudo-terminal configured at 1 Mbaud — a
///   6-servo SYNC_WRITE of Goal_Position plus a SYNC_READ of Present_Position answered by the emulator on
///   another thread (Return_Delay_Time 0, as protocols.md recommends) — median and p99 in µs. A pty does
///   not pace bytes at the baud rate, so `wire_time_at_1mbaud_us` gives what the same bytes take on a real
///   line (software time plus wire time approximates a hardware tick, before USB latency).
/// - `servobus.decode.<protocol>`: streaming-decoder throughput over 6-servo status replies, in MB/s.
func runServoBusBenchmarks() {
    for (wire, model) in [(ServoProtocol.dynamixel2, ServoModel.xl330M288), (.feetechSTS, .sts3215)] {
        benchmarkTick(wire, model: model)
    }
    for wire in ServoProtocol.allCases { benchmarkDecode(wire) }
}


private func benchmarkTick(_ wire: ServoProtocol, model: ServoModel, iterations: Int = 3_000) {
    let name = "servobus.tick.\(wire.rawValue)"
    do {
        let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
        let pty = try PseudoTerminal()
        let emulator = try ServoEmulator(protocol: wire, servos: ids.map { ($0, model) })
        let thread = emulator.start(serving: pty.master)
        defer {
            thread.stop()
            pty.close()
        }
        let bus = try ServoBus(path: pty.path, baudRate: 1_000_000, protocol: wire, servos: ids.map { ($0, model) })
        defer { bus.close() }
        for id in ids { try bus.write(.returnDelayTime, 0, to: id) }
        try bus.syncWrite(.torqueEnable, ids: ids, values: [1, 1, 1, 1, 1, 1])
        var goals = [Int](repeating: 2048, count: 6)
        var positions: [Int] = []
        positions.reserveCapacity(6)
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        for i in 0..<(iterations + 200) {
            for j in 0..<6 { goals[j] = 2048 + (i % 200) + j }
            let start = ContinuousClock.now
            try bus.syncWrite(.goalPosition, ids: ids, values: goals)
            try bus.syncRead(.presentPosition, ids, into: &positions)
            let elapsed = start.duration(to: .now).seconds * 1e6
            if i >= 200 { samples.append(elapsed) }
        }
        // What one tick puts on a real bus: a pty moves bytes at memory speed, a 1 Mbaud line at 10 bits/byte.
        let wireBytes = tickWireBytes(wire)
        emit(name, [
            "wire_bytes": wireBytes, "wire_time_at_1mbaud_us": Double(wireBytes * 10),
            "median_us": quantile(samples, 0.5), "p99_us": quantile(samples, 0.99), "max_us": samples.max() ?? 0,
            "iterations": iterations, "servos": 6, "baud": 1_000_000, "transport": "pty",
            "retries": bus.statistics.retries,
        ])
    } catch {
        emit(name, ["error": "\(error)"])
    }
}

/// Bytes of one 6-servo tick: SYNC_WRITE Goal_Position, SYNC_READ Present_Position and six status replies.
private func tickWireBytes(_ wire: ServoProtocol) -> Int {
    let ids: [UInt8] = [1, 2, 3, 4, 5, 6]
    switch wire {
    case .dynamixel2:
        let write = DynamixelCodec.syncWrite(address: 116, length: 4, entries: ids.map { ($0, [0, 8, 0, 0]) })
        let read = DynamixelCodec.syncRead(address: 132, length: 4, ids: ids)
        let reply = DynamixelCodec.encode(ServoPacket(id: 1, instruction: DynamixelInstruction.status, parameters: [0, 8, 0, 0]))
        return write.count + read.count + 6 * reply.count
    case .feetechSTS:
        let write = FeetechCodec.syncWrite(address: 42, length: 2, entries: ids.map { ($0, [0, 8]) })
        let read = FeetechCodec.syncRead(address: 56, length: 2, ids: ids)
        let reply = FeetechCodec.encode(ServoPacket(id: 1, instruction: DynamixelInstruction.status, parameters: [0, 8]))
        return write.count + read.count + 6 * reply.count
    }
}

private func benchmarkDecode(_ wire: ServoProtocol, megabytes: Int = 32) {
    // One 6-servo sync-read reply burst, repeated.
    var burst: [UInt8] = []
    for id in UInt8(1)...6 {
        let data: [UInt8] = wire == .dynamixel2 ? [id, 0x08, 0x00, 0x00] : [id, 0x08]
        switch wire {
        case .dynamixel2: DynamixelCodec.appendStatus(id: id, error: 0, parameters: data, to: &burst)
        case .feetechSTS: FeetechCodec.appendStatus(id: id, error: 0, parameters: data, to: &burst)
        }
    }
    var stream: [UInt8] = []
    stream.reserveCapacity(megabytes << 20)
    while stream.count + burst.count <= (megabytes << 20) { stream += burst }
    var decoder = PacketDecoder(protocol: wire, direction: .status)
    var packet = ServoPacket()
    packet.parameters.reserveCapacity(64)
    var packets = 0
    let chunk = 4096
    let start = ContinuousClock.now
    stream.withUnsafeBytes { raw in
        var at = 0
        while at < raw.count {
            let end = min(raw.count, at + chunk)
            decoder.append(UnsafeRawBufferPointer(rebasing: raw[at..<end]))
            at = end
            while decoder.next(into: &packet) == .packet { packets += 1 }
        }
    }
    let seconds = start.duration(to: .now).seconds
    emit("servobus.decode.\(wire.rawValue)", [
        "per_packet_us": seconds * 1e6 / Double(max(packets, 1)),
        "mb_per_s": Double(stream.count) / 1e6 / seconds, "packets_per_s": Double(packets) / seconds,
        "bytes": stream.count, "packets": packets,
    ])
}
