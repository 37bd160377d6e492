import Tensors

/// Generates fuzz inputs from valid seeds, deterministically: input `i` of a mutator is always the same bytes.
///
/// Each input is one of: random bytes; random text; a seed with bit flips; a seed cut short; a seed with a
/// window overwritten by an edge-case integer (the length fields: 0, 0xFF…, 2^31, 2^62, 2^64 − 1, little- and
/// big-endian, 1 to 8 bytes); a seed with a number written out as a huge or odd one (`1e308`, `nan`,
/// `18446744073709551616`, …); two seeds spliced; a chunk deleted, inserted or repeated; deep nesting (`[` or
/// `{a: ` repeated up to 10,000 times); or several of these stacked; or (one in 32) a seed unchanged. Lengths stay within `maximumLength`.
public struct InputMutator: Sendable {
    /// The valid inputs mutated.
    public let seeds: [[UInt8]]
    /// The longest input produced.
    public let maximumLength: Int
    private let root: RandomSource

    /// A mutator over `seeds` (at least one), producing inputs of at most `maximumLength` bytes, seeded by `seed`.
    public init(seeds: [[UInt8]], maximumLength: Int = 65_536, seed: UInt64 = 0) {
        precondition(!seeds.isEmpty, "a mutator needs at least one seed")
        self.seeds = seeds
        self.maximumLength = maximumLength
        self.root = RandomSource(seed: seed)
    }

    /// Edge-case integers written over length and size fields.
    static let edgeIntegers: [UInt64] = [
        0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xF5, 0xFE, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF, 0x1_0000,
        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 1 << 62, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max,
    ]

    /// Numbers written in place of a number in text.
    static let edgeNumbers = [
        "1e308", "-1e308", "1e309", "2.5e8", "1e9", "-1", "0", "-0", "nan", "NaN", "inf", "-inf", ".inf", "4611686018427387904",
        "9223372036854775807", "9223372036854775808", "18446744073709551616", "1e-320", "0x7fffffff", "3e38", "1.5", "65535",
        "4294967295", "99999999999999999999999999", "",
    ]

    /// Input number `index`.
    public func input(_ index: UInt64) -> [UInt8] {
        var rng = root.derived(index)
        // One input in 32 is a seed as it is, so the decoders' accepting paths run too.
        if rng.int(below: 32) == 0 { return seeds[rng.int(below: seeds.count)] }
        let stacked = rng.int(below: 8) == 0 ? 2 + rng.int(below: 3) : 1
        var bytes = seeds[rng.int(below: seeds.count)]
        for _ in 0..<stacked { bytes = mutate(bytes, &rng) }
        if bytes.count > maximumLength { bytes.removeLast(bytes.count - maximumLength) }
        return bytes
    }

    private func mutate(_ seed: [UInt8], _ rng: inout RandomSource) -> [UInt8] {
        var b = seed
        switch rng.int(below: 11) {
        case 0:  // random bytes
            return (0..<rng.int(below: min(maximumLength, 512) + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1:  // random text from the characters files are made of
            let alphabet = Array("0123456789.,:-_ []{}#\"'\n\r\tabcdefxyz_ejoint.pos".utf8)
            return (0..<rng.int(below: min(maximumLength, 512) + 1)).map { _ in alphabet[rng.int(below: alphabet.count)] }
        case 2:  // bit flips
            guard !b.isEmpty else { return b }
            for _ in 0..<(1 + rng.int(below: 8)) {
                b[rng.int(below: b.count)] ^= UInt8(1) << UInt8(rng.int(below: 8))
            }
        case 3:  // truncation
            guard !b.isEmpty else { return b }
            b.removeLast(1 + rng.int(below: b.count))
        case 4:  // an edge integer over a length or size field
            guard !b.isEmpty else { return b }
            let width = [1, 2, 4, 8][rng.int(below: 4)]
            let value = Self.edgeIntegers[rng.int(below: Self.edgeIntegers.count)]
            let bigEndian = rng.int(below: 2) == 0
            let at = rng.int(below: b.count)
            for k in 0..<width where at + k < b.count {
                let shift = UInt64(8 * (bigEndian ? width - 1 - k : k))
                b[at + k] = UInt8(truncatingIfNeeded: value >> shift)
            }
        case 5:  // a number in text replaced by an edge number
            let digits = b.indices.filter { b[$0] >= 0x30 && b[$0] <= 0x39 }
            guard !digits.isEmpty else { return b }
            var start = digits[rng.int(below: digits.count)], end = start + 1
            while start > 0, isNumberByte(b[start - 1]) { start -= 1 }
            while end < b.count, isNumberByte(b[end]) { end += 1 }
            b.replaceSubrange(start..<end, with: Array(Self.edgeNumbers[rng.int(below: Self.edgeNumbers.count)].utf8))
        case 6:  // splice two seeds
            let other = seeds[rng.int(below: seeds.count)]
            let cut = b.isEmpty ? 0 : rng.int(below: b.count + 1)
            let from = other.isEmpty ? 0 : rng.int(below: other.count + 1)
            b = Array(b[..<cut]) + Array(other[from...])
        case 7:  // delete a chunk
            guard !b.isEmpty else { return b }
            let at = rng.int(below: b.count)
            b.removeSubrange(at..<min(b.count, at + 1 + rng.int(below: 16)))
        case 8:  // insert random bytes
            let at = rng.int(below: b.count + 1)
            b.insert(contentsOf: (0..<(1 + rng.int(below: 8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        case 9:  // repeat a chunk many times
            guard !b.isEmpty else { return b }
            let at = rng.int(below: b.count)
            let chunk = Array(b[at..<min(b.count, at + 1 + rng.int(below: 32))])
            let times = [2, 10, 100, 1000][rng.int(below: 4)]
            var repeated: [UInt8] = []
            for _ in 0..<times where repeated.count < maximumLength { repeated += chunk }
            b.insert(contentsOf: repeated, at: at)
        default:  // deep nesting
            let opener = [Array("[".utf8), Array("{a: ".utf8), Array("- ".utf8), Array("{\"a\":".utf8)][rng.int(below: 4)]
            let depth = [10, 100, 1000, 5000, 10_000][rng.int(below: 5)]
            var nest: [UInt8] = []
            nest.reserveCapacity(depth * opener.count)
            for _ in 0..<depth where nest.count + opener.count <= maximumLength { nest += opener }
            b.insert(contentsOf: nest, at: rng.int(below: b.count + 1))
        }
        return b
    }

    private func isNumberByte(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x2D || c == 0x2B || c == 0x65 || c == 0x45 }
}
