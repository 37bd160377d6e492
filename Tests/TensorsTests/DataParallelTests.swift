import EngramTestSupport
import Foundation
import Tensors
import Testing

@Suite struct DataParallelTests {
    /// Terms of very different sizes per entry, some entries all zero.
    static func terms(_ count: Int, _ length: Int) -> [[Float]] {
        var rng = RandomSource(seed: 4)
        return (0..<count).map { _ in
            (0..<length).map { i in i % 17 == 0 ? 0 : Float(rng.normal()) * Float(pow(10.0, Double(i % 9) - 6)) }
        }
    }

    static func sum(_ terms: [[Float]], over ranks: Int, threads: Int) -> [Float] {
        let length = terms[0].count
        return InProcessRanks(size: ranks).run { group in
            let mine = Array(terms[group.share(of: terms.count)])
            var result = [Float](repeating: -1, count: length)
            let copies = mine.map { t -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: length)
                p.initialize(from: t, count: length)
                return p
            }
            defer { copies.forEach { $0.deallocate() } }
            result.withUnsafeMutableBufferPointer {
                ReproducibleSum.sum(copies.map { UnsafePointer($0) }, count: length, totalTerms: terms.count, group: group,
                                    threads: threads, into: $0.baseAddress!)
            }
            return result
        }[0]
    }

    @Test func sumIsBitIdenticalForAnySplitAndCloseToTheExactSum() {
        let terms = Self.terms(12, 20_000)
        let reference = Self.sum(terms, over: 1, threads: 1)
        for (ranks, threads) in [(1, 3), (2, 1), (3, 2), (5, 1)] {
            #expect(Self.sum(terms, over: ranks, threads: threads) == reference, "\(ranks) ranks × \(threads) threads")
        }
        for i in reference.indices {
            let exact = terms.reduce(0.0) { $0 + Double($1[i]) }
            let largest = terms.map { abs(Double($0[i])) }.max()!
            if largest == 0 { #expect(reference[i] == 0); continue }
            // Float rounding of the exact sum, plus the fixed point's 2^-48 of the largest term.
            #expect(abs(Double(reference[i]) - exact) <= abs(exact) * 0x1p-24 + largest * 0x1p-45, "entry \(i)")
        }
    }

    @Test func nonFiniteTermsMakeANaN() {
        var terms = Self.terms(3, 64)
        terms[1][5] = .infinity
        let sum = Self.sum(terms, over: 2, threads: 1)
        #expect(sum[5].isNaN)
        #expect(sum[6].isFinite)
    }

    @Test func sharesCoverTheItemsOnceInOrder() {
        for size in 1...7 {
            let shares = (0..<size).map { SingleRank.share(of: 12, rank: $0, size: size) }
            #expect(shares.flatMap { Array($0) } == Array(0..<12))
            #expect(shares.map(\.count).max()! - shares.map(\.count).min()! <= 1)
        }
    }
}
