import Dispatch

/// The ranks of a data-parallel run (MPI processes, or one process alone) and the collective operations
/// they need. Every rank calls each operation in the same order with a buffer of the same size, and every
/// rank gets the element-wise result in place. A transport failure (a rank died, a link broke) is the
/// implementation's to report and end the job: these calls return only on success.
public protocol RankGroup: AnyObject, Sendable {
    /// This process's rank, 0..<size.
    var rank: Int { get }
    /// Number of ranks.
    var size: Int { get }
    /// Element-wise sum over the ranks (MPI_Allreduce, MPI_SUM).
    func sum(_ values: UnsafeMutableBufferPointer<Double>)
    /// Element-wise sum over the ranks; integer addition is exact, so the result does not depend on the order.
    func sum(_ values: UnsafeMutableBufferPointer<Int64>)
    /// Element-wise maximum over the ranks.
    func max(_ values: UnsafeMutableBufferPointer<Int16>)
}

extension RankGroup {
    /// The fixed share of `count` work items that this rank takes: a contiguous range, the first
    /// `count % size` ranks one item more than the others.
    public func share(of count: Int) -> Range<Int> { Self.share(of: count, rank: rank, size: size) }

    /// The share of rank `rank` of `size`.
    public static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        (rank * count / size)..<((rank + 1) * count / size)
    }

    /// Sums per-item values that each rank has filled for its own items only (zeros elsewhere): every
    /// slot has one non-zero term, so the sum is exact and the same on any number of ranks.
    public func gather(_ slots: inout [Double]) {
        slots.withUnsafeMutableBufferPointer { sum($0) }
    }
}

/// One process on its own: the collectives are the identity.
public final class SingleRank: RankGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Double>) {}
    public func sum(_ values: UnsafeMutableBufferPointer<Int64>) {}
    public func max(_ values: UnsafeMutableBufferPointer<Int16>) {}
}

/// A sum of floating-point vectors over the ranks of a `RankGroup` whose result does not depend on how the
/// terms are spread over ranks and threads, nor on the order they arrive in: bit-identical on 1, 2 or 100
/// ranks. Each entry's terms are turned into 64-bit fixed point at a scale set by the largest exponent of
/// that entry over all terms (one `max` collective), summed as integers (exact, so in any order; one `sum`
/// collective) and turned back. The result is the exact sum rounded to about 2⁻⁴⁸ of the entry's largest
/// term (the headroom for the term count leaves 62 − log₂(terms) bits), finer than a float sum's rounding.
public enum ReproducibleSum {
    /// Sums `terms` (this rank's; each holds `count` values) over all ranks of `group` into `result`.
    /// `totalTerms` is the number of terms over all ranks (at least 1; it must be the same on every rank);
    /// `threads` split the conversion.
    @inlinable
    public static func sum<S: BinaryFloatingPoint & SendableMetatype>(_ terms: [UnsafePointer<S>], count: Int, totalTerms: Int, group: RankGroup,
                                                   threads: Int, into result: UnsafeMutablePointer<S>) {
        precondition(totalTerms >= max(1, terms.count))
        let headroom = Int64.bitWidth - (totalTerms - 1).leadingZeroBitCount + 1  // bits for the count, and a spare
        let precision = 62 - headroom
        let exponents = UnsafeMutableBufferPointer<Int16>.allocate(capacity: count)
        let integers = UnsafeMutableBufferPointer<Int64>.allocate(capacity: count)
        defer { exponents.deallocate(); integers.deallocate() }
        let chunks = Swift.max(1, Swift.min(threads, count / 4096))
        let ranges = (0..<chunks).map { (($0 * count) / chunks)..<((($0 + 1) * count) / chunks) }
        let shared = Buffers(terms: terms, exponents: exponents, integers: integers, result: result)

        // The largest exponent of each entry: Int16.min for an all-zero entry, Int16.max if one is not finite.
        parallel(ranges) { range in
            for i in range {
                var e = Int16.min
                for t in shared.terms {
                    let v = Double(t[i])
                    if !v.isFinite { e = Int16.max; break }
                    if v != 0 { e = Swift.max(e, Int16(v.exponent)) }
                }
                shared.exponents[i] = e
            }
        }
        group.max(exponents)
        parallel(ranges) { range in
            for i in range {
                let e = Int(shared.exponents[i])
                guard e != Int(Int16.min), e != Int(Int16.max) else { shared.integers[i] = 0; continue }
                let scale = powerOfTwo(precision - 1 - e)
                var q: Int64 = 0
                for t in shared.terms { q &+= Int64((Double(t[i]) * scale).rounded(.toNearestOrEven)) }
                shared.integers[i] = q
            }
        }
        group.sum(integers)
        parallel(ranges) { range in
            for i in range {
                let e = Int(shared.exponents[i])
                if e == Int(Int16.max) { shared.result[i] = .nan; continue }
                shared.result[i] = e == Int(Int16.min) ? 0 : S(Double(shared.integers[i]) * powerOfTwo(e + 1 - precision))
            }
        }
    }

    /// 2^k for any k a double can hold.
    @inlinable
    static func powerOfTwo(_ k: Int) -> Double {
        if k > -1023 && k < 1024 { return Double(bitPattern: UInt64(k + 1023) << 52) }
        return Double(sign: .plus, exponent: k, significand: 1)
    }

    @usableFromInline
    struct Buffers<S>: @unchecked Sendable {
        @usableFromInline let terms: [UnsafePointer<S>]
        @usableFromInline let exponents: UnsafeMutableBufferPointer<Int16>
        @usableFromInline let integers: UnsafeMutableBufferPointer<Int64>
        @usableFromInline let result: UnsafeMutablePointer<S>

        @usableFromInline
        init(terms: [UnsafePointer<S>], exponents: UnsafeMutableBufferPointer<Int16>, integers: UnsafeMutableBufferPointer<Int64>,
             result: UnsafeMutablePointer<S>) {
            self.terms = terms
            self.exponents = exponents
            self.integers = integers
            self.result = result
        }
    }

    @usableFromInline
    static func parallel(_ ranges: [Range<Int>], _ body: @Sendable (Range<Int>) -> Void) {
        if ranges.count == 1 { body(ranges[0]); return }
        DispatchQueue.concurrentPerform(iterations: ranges.count) { body(ranges[$0]) }
    }
}
