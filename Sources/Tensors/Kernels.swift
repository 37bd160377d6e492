/// SIMD kernels over unsafe buffers. None allocates; all keep a fixed reduction order, so results are
/// bit-for-bit reproducible on one machine.
///
/// Index arithmetic uses `&+`/`&*`: every index is below `rows * columns`, which the caller's buffer
/// already holds, so it cannot overflow. Measured gain over checked arithmetic: about 1.3x on matvec.
public enum Kernels {
    /// Width of the SIMD vectors the kernels use (8 floats: one AVX2 register).
    public static let width = 8

    /// `y = W x` for a row-major `rows × columns` matrix `w`; `x` has `columns` and `y` `rows` elements.
    @inlinable
    public static func matvec(
        _ w: UnsafePointer<Float>, rows: Int, columns: Int,
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>
    ) {
        let vecEnd = columns & ~7
        let pairEnd = columns & ~15
        var r = 0
        // Four rows at a time share each load of x; two accumulators per row give eight independent
        // FMA chains, enough to hide FMA latency on two FMA pipes.
        while r &+ 4 <= rows {
            let p0 = w + r &* columns, p1 = p0 + columns, p2 = p1 + columns, p3 = p2 + columns
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
            var c = 0
            while c < pairEnd {
                let xv = load8(x + c), xw = load8(x + (c &+ 8))
                a0.addProduct(load8(p0 + c), xv); b0.addProduct(load8(p0 + (c &+ 8)), xw)
                a1.addProduct(load8(p1 + c), xv); b1.addProduct(load8(p1 + (c &+ 8)), xw)
                a2.addProduct(load8(p2 + c), xv); b2.addProduct(load8(p2 + (c &+ 8)), xw)
                a3.addProduct(load8(p3 + c), xv); b3.addProduct(load8(p3 + (c &+ 8)), xw)
                c &+= 16
            }
            if c < vecEnd {
                let xv = load8(x + c)
                a0.addProduct(load8(p0 + c), xv)
                a1.addProduct(load8(p1 + c), xv)
                a2.addProduct(load8(p2 + c), xv)
                a3.addProduct(load8(p3 + c), xv)
                c &+= 8
            }
            var s0 = (a0 + b0).sum(), s1 = (a1 + b1).sum(), s2 = (a2 + b2).sum(), s3 = (a3 + b3).sum()
            while c < columns {
                let xc = x[c]
                s0 += p0[c] * xc; s1 += p1[c] * xc; s2 += p2[c] * xc; s3 += p3[c] * xc
                c &+= 1
            }
            y[r] = s0; y[r &+ 1] = s1; y[r &+ 2] = s2; y[r &+ 3] = s3
            r &+= 4
        }
        while r < rows {
            y[r] = dot(w + r &* columns, x, count: columns)
            r &+= 1
        }
    }

    /// `y = Wᵀ x` for a row-major `rows × columns` matrix; `x` has `rows` and `y` `columns` elements.
    /// This is the synaptic product `v = Wᵀ x` with presynaptic rows.
    @inlinable
    public static func matvecTransposed(
        _ w: UnsafePointer<Float>, rows: Int, columns: Int,
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>
    ) {
        y.update(repeating: 0, count: columns)
        for r in 0..<rows {
            let xr = x[r]
            if xr != 0 { axpy(xr, w + r &* columns, y, count: columns) }
        }
    }

    /// `y += Σ_{i ∈ rowsSelected} W[i, :]`: the synaptic input of binary (spike) inputs, given as a list
    /// of the rows that spiked.
    @inlinable
    public static func accumulateRows(
        _ w: UnsafePointer<Float>, columns: Int,
        selected: UnsafeBufferPointer<Int32>, into y: UnsafeMutablePointer<Float>
    ) {
        for i in selected {
            let p = w + Int(i) &* columns
            var c = 0
            let vecEnd = columns & ~7
            while c < vecEnd {
                store8(load8(y + c) + load8(p + c), y + c)
                c &+= 8
            }
            while c < columns { y[c] += p[c]; c &+= 1 }
        }
    }

    /// `W += scale · a bᵀ` for a row-major `a.count × b.count` matrix.
    @inlinable
    public static func outerAccumulate(
        _ w: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, scale: Float = 1
    ) {
        for r in 0..<rows {
            let ar = a[r] * scale
            if ar != 0 { axpy(ar, UnsafePointer(b), w + r &* columns, count: columns) }
        }
    }

    /// `y += alpha · x` over `count` elements.
    @inlinable
    public static func axpy(
        _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int
    ) {
        let av = SIMD8<Float>(repeating: alpha)
        let vecEnd = count & ~7
        var c = 0
        while c < vecEnd {
            var yv = load8(y + c)
            yv.addProduct(av, load8(x + c))
            store8(yv, y + c)
            c &+= 8
        }
        while c < count { y[c] += alpha * x[c]; c &+= 1 }
    }

    /// `Σ x_i y_i` over `count` elements, with a fixed summation order.
    @inlinable
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var c = 0
        while c &+ 16 <= count {
            a0.addProduct(load8(x + c), load8(y + c))
            a1.addProduct(load8(x + (c &+ 8)), load8(y + (c &+ 8)))
            c &+= 16
        }
        if c &+ 8 <= count {
            a0.addProduct(load8(x + c), load8(y + c))
            c &+= 8
        }
        var s = (a0 + a1).sum()
        while c < count { s += x[c] * y[c]; c &+= 1 }
        return s
    }

    @inlinable @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}

extension Matrix {
    /// `W x`, allocating the result (convenience for tests and cold paths).
    public func multiplied(by x: [Float]) -> [Float] {
        precondition(x.count == columns, "x has \(x.count) elements, matrix has \(columns) columns")
        var y = [Float](repeating: 0, count: rows)
        storage.withUnsafeBufferPointer { w in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    Kernels.matvec(w.baseAddress!, rows: rows, columns: columns, xb.baseAddress!, into: yb.baseAddress!)
                }
            }
        }
        return y
    }

    /// `Wᵀ x`, allocating the result (convenience for tests and cold paths).
    public func transposedMultiplied(by x: [Float]) -> [Float] {
        precondition(x.count == rows, "x has \(x.count) elements, matrix has \(rows) rows")
        var y = [Float](repeating: 0, count: columns)
        storage.withUnsafeBufferPointer { w in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    Kernels.matvecTransposed(w.baseAddress!, rows: rows, columns: columns, xb.baseAddress!, into: yb.baseAddress!)
                }
            }
        }
        return y
    }
}
