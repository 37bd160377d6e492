/// Dynamixel Protocol 2.0 CRC-16: polynomial 0x8005, initial value 0, no reflection, no final XOR
/// (CRC-16/BUYPASS), over every byte from the first `FF` through the last parameter, sent low byte first.
public enum DynamixelCRC {
    /// The byte-wise lookup table: entry i is the CRC of byte i (bitwise rule `crc = crc<<1 ^ (0x8005 if msb)`).
    public static let table: [UInt16] = (0..<256).map { i in
        var crc = UInt16(i) << 8
        for _ in 0..<8 { crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x8005 : crc << 1 }
        return crc
    }

    /// The CRC of `bytes`, continuing from `crc`.
    @inlinable
    public static func update(_ crc: UInt16, with bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc = crc
        table.withUnsafeBufferPointer { t in
            for b in bytes {
                let i = Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)
                crc = (crc << 8) ^ t[i]
            }
        }
        return crc
    }

    /// The CRC of a byte collection.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        if let r = bytes.withContiguousStorageIfAvailable({ update(0, with: UnsafeRawBufferPointer($0)) }) { return r }
        return Array(bytes).withUnsafeBytes { update(0, with: $0) }
    }
}

/// Feetech SCS/STS checksum: `~(ID + LEN + INST/ERR + Σ PARAM) & 0xFF`, i.e. over every byte after the
/// `FF FF` header except the checksum itself.
public enum FeetechChecksum {
    /// The checksum of the bytes from ID through the last parameter.
    @inlinable
    public static func checksum<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        var sum: UInt8 = 0
        for b in bytes { sum &+= b }
        return ~sum
    }
}
