import Testing
import Tensors
import EngramTestSupport

/// Each SIMD kernel against a naive scalar loop on seeded shapes, including sizes that are not multiples
/// of the SIMD width (8). Tolerance: the kernels reassociate sums into 8 lanes, so results differ from
/// the sequential loop by rounding only: |Δ| ≤ 1e-5·(1 + Σ|terms|).
struct KernelsTests {
    static let shapes: [(Int, Int)] = [(1, 1), (3, 7), (8, 8), (5, 17), (13, 31), (64, 65), (250, 255), (7, 1000)]

    func randomMatrix(_ r: Int, _ c: Int, _ rng: inout RandomSource) -> Matrix {
        Matrix.normal(rows: r, columns: c, std: 1, rng: &rng)
    }

    @Test(arguments: shapes)
    func matvecMatchesNaiveLoop(_ shape: (Int, Int)) {
        var rng = RandomSource(seed: UInt64(shape.0 * 1000 + shape.1))
        let w = randomMatrix(shape.0, shape.1, &rng)
        let x = (0..<shape.1).map { _ in Float(rng.normal()) }
        let y = w.multiplied(by: x)
        for r in 0..<shape.0 {
            var s: Double = 0, mag: Double = 0
            for c in 0..<shape.1 { s += Double(w[r, c]) * Double(x[c]); mag += abs(Double(w[r, c]) * Double(x[c])) }
            #expect(abs(Double(y[r]) - s) <= 1e-5 * (1 + mag), "row \(r): expected \(s), got \(y[r]) (shape \(shape))")
        }
    }

    @Test(arguments: shapes)
    func transposedMatvecMatchesNaiveLoop(_ shape: (Int, Int)) {
        var rng = RandomSource(seed: UInt64(shape.0 * 7 + shape.1))
        let w = randomMatrix(shape.0, shape.1, &rng)
        let x = (0..<shape.0).map { _ in Float(rng.normal()) }
        let y = w.transposedMultiplied(by: x)
        for c in 0..<shape.1 {
            var s: Double = 0, mag: Double = 0
            for r in 0..<shape.0 { s += Double(w[r, c]) * Double(x[r]); mag += abs(Double(w[r, c]) * Double(x[r])) }
            #expect(abs(Double(y[c]) - s) <= 1e-5 * (1 + mag), "column \(c): expected \(s), got \(y[c]) (shape \(shape))")
        }
    }

    @Test(arguments: shapes)
    func accumulateRowsAddsSelectedRows(_ shape: (Int, Int)) {
        var rng = RandomSource(seed: UInt64(shape.0 + 31 * shape.1))
        let w = randomMatrix(shape.0, shape.1, &rng)
        let selected: [Int32] = (0..<shape.0).filter { _ in rng.uniform() < 0.3 }.map(Int32.init)
        var y = (0..<shape.1).map { _ in Float(rng.normal()) }
        var expected = y
        for r in selected { for c in 0..<shape.1 { expected[c] += w[Int(r), c] } }
        w.storage.withUnsafeBufferPointer { wb in
            selected.withUnsafeBufferPointer { sb in
                y.withUnsafeMutableBufferPointer { yb in
                    Kernels.accumulateRows(wb.baseAddress!, columns: shape.1, selected: sb, into: yb.baseAddress!)
                }
            }
        }
        // Same additions in the same order per element: exact.
        #expect(y == expected, "shape \(shape), selected \(selected)")
    }

    @Test(arguments: shapes)
    func outerAccumulateMatchesNaiveLoop(_ shape: (Int, Int)) {
        var rng = RandomSource(seed: UInt64(shape.0 * 3 + shape.1 * 5))
        var w = randomMatrix(shape.0, shape.1, &rng)
        let a = (0..<shape.0).map { _ in Float(rng.normal()) }
        let b = (0..<shape.1).map { _ in Float(rng.normal()) }
        var expected = w
        for r in 0..<shape.0 { for c in 0..<shape.1 { expected[r, c] += 0.5 * a[r] * b[c] } }
        let (rows, columns) = shape
        w.storage.withUnsafeMutableBufferPointer { wb in
            Kernels.outerAccumulate(wb.baseAddress!, rows: rows, columns: columns, a, b, scale: 0.5)
        }
        // FMA versus separate multiply-add: within one rounding of each term.
        let diff = maxAbsDifference(w.storage, expected.storage)
        #expect(diff <= 1e-5, "max difference \(diff) for shape \(shape)")
    }

    @Test(arguments: [1, 7, 8, 9, 15, 16, 17, 100, 1023])
    func dotMatchesNaiveLoop(_ n: Int) {
        var rng = RandomSource(seed: UInt64(n))
        let x = (0..<n).map { _ in Float(rng.normal()) }
        let y = (0..<n).map { _ in Float(rng.normal()) }
        var s: Double = 0, mag: Double = 0
        for i in 0..<n { s += Double(x[i]) * Double(y[i]); mag += abs(Double(x[i] * y[i])) }
        let d = Kernels.dot(x, y, count: n)
        #expect(abs(Double(d) - s) <= 1e-5 * (1 + mag), "n \(n): expected \(s), got \(d)")
    }

    @Test func kernelsAreDeterministic() {
        var rng = RandomSource(seed: 9)
        let w = randomMatrix(250, 255, &rng)
        let x = (0..<255).map { _ in Float(rng.normal()) }
        // Fixed reduction order: identical bits on every call.
        #expect(w.multiplied(by: x) == w.multiplied(by: x))
    }

    @Test func transposeSwapsIndices() {
        let m = Matrix(rows: 2, columns: 3) { r, c in Float(10 * r + c) }
        let t = m.transposed()
        #expect(t.rows == 3 && t.columns == 2)
        #expect(t[2, 1] == 12 && t[0, 1] == 10)
    }
}
