/// Matrix products on unsafe row-major buffers, the work-horse of the im2col convolutions.
///
/// None allocates and every reduction runs in a fixed order, so results repeat bit for bit. Column
/// counts that are multiples of 8 take an AVX2 path (four rows × two 8-wide column blocks, eight FMA
/// chains); any remainder falls back to scalar loops.
public enum DenseProducts {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// `C = A·B` (or `C += A·B` when `accumulate`), with A `m × k`, B `k × n`, C `m × n`, all row-major
    /// and dense (leading dimension = column count).
    public static func multiply(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, accumulate: Bool = false
    ) {
        let vectorColumns = n & ~7
        var j = 0
        // Two 8-wide column blocks at a time.
        while j &+ 16 <= vectorColumns {
            var i = 0
            while i &+ 4 <= m {
                let a0 = a + i &* k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
                var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
                var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
                var bp = b + j
                for p in 0..<k {
                    let b0 = load8(bp), b1 = load8(bp + 8)
                    let x0 = SIMD8<Float>(repeating: a0[p]), x1 = SIMD8<Float>(repeating: a1[p])
                    let x2 = SIMD8<Float>(repeating: a2[p]), x3 = SIMD8<Float>(repeating: a3[p])
                    c00.addProduct(x0, b0); c01.addProduct(x0, b1)
                    c10.addProduct(x1, b0); c11.addProduct(x1, b1)
                    c20.addProduct(x2, b0); c21.addProduct(x2, b1)
                    c30.addProduct(x3, b0); c31.addProduct(x3, b1)
                    bp += n
                }
                let cp = c + (i &* n &+ j)
                if accumulate {
                    c00 += load8(cp); c01 += load8(cp + 8)
                    c10 += load8(cp + n); c11 += load8(cp + (n &+ 8))
                    c20 += load8(cp + 2 &* n); c21 += load8(cp + (2 &* n &+ 8))
                    c30 += load8(cp + 3 &* n); c31 += load8(cp + (3 &* n &+ 8))
                }
                store8(c00, cp); store8(c01, cp + 8)
                store8(c10, cp + n); store8(c11, cp + (n &+ 8))
                store8(c20, cp + 2 &* n); store8(c21, cp + (2 &* n &+ 8))
                store8(c30, cp + 3 &* n); store8(c31, cp + (3 &* n &+ 8))
                i &+= 4
            }
            while i < m {
                let ar = a + i &* k
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>()
                var bp = b + j
                for p in 0..<k {
                    let x = SIMD8<Float>(repeating: ar[p])
                    c0.addProduct(x, load8(bp)); c1.addProduct(x, load8(bp + 8))
                    bp += n
                }
                let cp = c + (i &* n &+ j)
                if accumulate { c0 += load8(cp); c1 += load8(cp + 8) }
                store8(c0, cp); store8(c1, cp + 8)
                i &+= 1
            }
            j &+= 16
        }
        // One remaining 8-wide block.
        if j < vectorColumns {
            var i = 0
            while i &+ 4 <= m {
                let a0 = a + i &* k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
                var bp = b + j
                for p in 0..<k {
                    let b0 = load8(bp)
                    c0.addProduct(SIMD8<Float>(repeating: a0[p]), b0)
                    c1.addProduct(SIMD8<Float>(repeating: a1[p]), b0)
                    c2.addProduct(SIMD8<Float>(repeating: a2[p]), b0)
                    c3.addProduct(SIMD8<Float>(repeating: a3[p]), b0)
                    bp += n
                }
                let cp = c + (i &* n &+ j)
                if accumulate {
                    c0 += load8(cp); c1 += load8(cp + n); c2 += load8(cp + 2 &* n); c3 += load8(cp + 3 &* n)
                }
                store8(c0, cp); store8(c1, cp + n); store8(c2, cp + 2 &* n); store8(c3, cp + 3 &* n)
                i &+= 4
            }
            while i < m {
                let ar = a + i &* k
                var c0 = SIMD8<Float>()
                var bp = b + j
                for p in 0..<k {
                    c0.addProduct(SIMD8<Float>(repeating: ar[p]), load8(bp))
                    bp += n
                }
                let cp = c + (i &* n &+ j)
                if accumulate { c0 += load8(cp) }
                store8(c0, cp)
                i &+= 1
            }
            j &+= 8
        }
        // Scalar remainder columns.
        if j < n {
            for i in 0..<m {
                let ar = a + i &* k
                for jj in j..<n {
                    var s: Float = 0
                    for p in 0..<k { s += ar[p] * b[p &* n &+ jj] }
                    let idx = i &* n &+ jj
                    c[idx] = accumulate ? c[idx] + s : s
                }
            }
        }
    }

    /// `T = Aᵀ` for a row-major `rows × columns` A (T is `columns × rows`).
    public static func transpose(
        _ a: UnsafePointer<Float>, rows: Int, columns: Int, into t: UnsafeMutablePointer<Float>
    ) {
        // 8×8 blocks keep both sides in cache.
        var r0 = 0
        while r0 < rows {
            let r1 = min(r0 &+ 8, rows)
            var c0 = 0
            while c0 < columns {
                let c1 = min(c0 &+ 8, columns)
                for r in r0..<r1 {
                    for c in c0..<c1 { t[c &* rows &+ r] = a[r &* columns &+ c] }
                }
                c0 &+= 8
            }
            r0 &+= 8
        }
    }
}
