/// A seeded xoshiro256** generator with uniform and standard-normal draws.
///
/// Every random number in Engram comes from a value of this type passed in the open, never from a
/// global, so a seed reproduces a run bit for bit. Reference: Blackman and Vigna, "Scrambled linear
/// pseudorandom number generators" (2018); seeding expands a 64-bit seed with splitmix64.
public struct RandomSource: RandomNumberGenerator, Sendable, Equatable {
    /// The four words of generator state (save them in a checkpoint to resume a stream).
    public var state: (UInt64, UInt64, UInt64, UInt64) {
        get { (s0, s1, s2, s3) }
        set { (s0, s1, s2, s3) = newValue }
    }
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64
    /// A spare standard normal from the last Box–Muller pair, if any.
    @usableFromInline var spareNormal: Double?

    /// A generator seeded from `seed` through splitmix64.
    public init(seed: UInt64) {
        var z = seed
        func splitmix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
        spareNormal = nil
    }

    /// A generator restored from saved state words.
    public init(state: [UInt64]) {
        precondition(state.count == 4, "RandomSource state has 4 words")
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]
        spareNormal = nil
    }

    /// The state words, for checkpoints.
    public var stateWords: [UInt64] { [s0, s1, s2, s3] }

    /// An independent stream derived from this one and `index` (for per-task or per-thread streams).
    public func derived(_ index: UInt64) -> RandomSource {
        RandomSource(seed: s0 ^ (index &* 0x9E37_79B9_7F4A_7C15) ^ s3.rotateLeft(17))
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotateLeft(7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3.rotateLeft(45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [0, 1) as Float, with 24 random bits.
    @inlinable
    public mutating func uniformFloat() -> Float {
        Float(next() >> 40) * 0x1.0p-24
    }

    /// Uniform in [low, high).
    @inlinable
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * uniform()
    }

    /// A standard normal draw (Box–Muller; pairs are used in order).
    @inlinable
    public mutating func normal() -> Double {
        if let s = spareNormal {
            spareNormal = nil
            return s
        }
        var u1 = uniform()
        while u1 <= 0 { u1 = uniform() }
        let u2 = uniform()
        let radius = (-2 * _log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareNormal = radius * _sin(angle)
        return radius * _cos(angle)
    }

    /// A normal draw with the given mean and standard deviation.
    @inlinable
    public mutating func normal(mean: Double, std: Double) -> Double { mean + std * normal() }

    /// Fills `buffer` with standard normal Floats.
    @inlinable
    public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>) {
        for i in buffer.indices { buffer[i] = Float(normal()) }
    }

    /// A uniform integer in `0..<bound`.
    @inlinable
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next(upperBound: UInt64(bound)))
    }

    /// Shuffles `array` in place (Fisher–Yates).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    public static func == (a: RandomSource, b: RandomSource) -> Bool {
        a.s0 == b.s0 && a.s1 == b.s1 && a.s2 == b.s2 && a.s3 == b.s3 && a.spareNormal == b.spareNormal
    }
}

extension UInt64 {
    @inlinable @inline(__always)
    func rotateLeft(_ k: UInt64) -> UInt64 { (self << k) | (self >> (64 &- k)) }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _sin(_ x: Double) -> Double { Glibc.sin(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
@usableFromInline func _sin(_ x: Double) -> Double { Darwin.sin(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif

extension Matrix {
    /// A matrix of normal draws with the given standard deviation.
    public static func normal(rows: Int, columns: Int, std: Float, rng: inout RandomSource) -> Matrix {
        var m = Matrix(rows: rows, columns: columns)
        for i in 0..<m.count { m.storage[i] = Float(rng.normal()) * std }
        return m
    }

    /// A matrix of uniform draws in [low, high).
    public static func uniform(rows: Int, columns: Int, low: Float, high: Float, rng: inout RandomSource) -> Matrix {
        var m = Matrix(rows: rows, columns: columns)
        for i in 0..<m.count { m.storage[i] = low + (high - low) * rng.uniformFloat() }
        return m
    }
}
