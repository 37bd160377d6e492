import ServoBus

/// Parses "FF FF FD 00" into bytes.
func bytes(_ hex: String) -> [UInt8] {
    hex.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// A transport that records what is written and replays scripted bytes (the style guide's scripted seam).
final class ScriptedTransport: SerialTransport {
    let name = "scripted"
    var written: [[UInt8]] = []
    /// Bytes to hand out, per write: after the n-th write, `replies[n]` becomes readable.
    var replies: [[UInt8]]
    private var readable: [UInt8] = []
    init(replies: [[UInt8]] = []) { self.replies = replies }
    func configure(baudRate: Int) throws(SerialError) {}
    func write(_ bytes: UnsafeRawBufferPointer) throws(SerialError) {
        written.append(Array(bytes))
        if written.count <= replies.count { readable += replies[written.count - 1] }
    }
    func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: ContinuousClock.Instant) throws(SerialError) -> Int {
        if readable.isEmpty { return 0 }
        let n = min(buffer.count, readable.count)
        for i in 0..<n { buffer[i] = readable[i] }
        readable.removeFirst(n)
        return n
    }
    func discardInput() throws(SerialError) {}
    func close() {}
}

/// Decodes every packet from `stream` fed in chunks of `chunk` bytes; returns packets and rejections.
func decodeAll(_ stream: [UInt8], protocol p: ServoProtocol, direction: PacketDirection, chunk: Int) -> (packets: [ServoPacket], rejected: [PacketRejection], left: Int) {
    var decoder = PacketDecoder(protocol: p, direction: direction)
    var packet = ServoPacket()
    var packets: [ServoPacket] = []
    var rejected: [PacketRejection] = []
    var i = 0
    while i < stream.count {
        let end = min(stream.count, i + chunk)
        decoder.append(contentsOf: stream[i..<end])
        i = end
        loop: while true {
            switch decoder.next(into: &packet) {
            case .packet: packets.append(packet)
            case .needMoreBytes: break loop
            case .rejected(let r): rejected.append(r)
            }
        }
    }
    return (packets, rejected, decoder.bufferedByteCount)
}
