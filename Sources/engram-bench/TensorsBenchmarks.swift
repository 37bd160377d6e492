import Foundation
import Tensors

/// Single-core FMA peak at the kernels' vector width (SIMD8 = one AVX2 register), measured with 12
/// independent FMA chains so latency is hidden: GFLOP/s = 12 chains · 8 lanes · 2 flops · iterations / time.
func measureFMAPeakGFLOPS() -> Double {
    let iterations = 20_000_000
    var best = Double.infinity
    for _ in 0..<5 {
        var acc = (0..<12).map { SIMD8<Float>(repeating: Float($0) * 1e-3) }
        let m = SIMD8<Float>(repeating: 0.999_999), a = SIMD8<Float>(repeating: 1e-7)
        let t0 = monotonicNanoseconds()
        acc.withUnsafeMutableBufferPointer { p in
            var a0 = p[0], a1 = p[1], a2 = p[2], a3 = p[3], a4 = p[4], a5 = p[5]
            var a6 = p[6], a7 = p[7], a8 = p[8], a9 = p[9], a10 = p[10], a11 = p[11]
            for _ in 0..<iterations {
                a0 = a0 * m + a; a1 = a1 * m + a; a2 = a2 * m + a; a3 = a3 * m + a
                a4 = a4 * m + a; a5 = a5 * m + a; a6 = a6 * m + a; a7 = a7 * m + a
                a8 = a8 * m + a; a9 = a9 * m + a; a10 = a10 * m + a; a11 = a11 * m + a
            }
            p[0] = a0; p[1] = a1; p[2] = a2; p[3] = a3; p[4] = a4; p[5] = a5
            p[6] = a6; p[7] = a7; p[8] = a8; p[9] = a9; p[10] = a10; p[11] = a11
        }
        let seconds = Double(monotonicNanoseconds() - t0) / 1e9
        if acc.reduce(SIMD8<Float>(), +).sum() == .infinity { print("impossible") }
        best = min(best, seconds)
    }
    return Double(12 * 8 * 2 * iterations) / best / 1e9
}

/// Matrix-vector products at 256×256 and 1024×1024, W x and Wᵀ x, beside the FMA peak.
func runTensorsBenchmarks() {
    let peak = measureFMAPeakGFLOPS()
    emit("fma_peak_single_core", ["gflops": peak, "vector_width": 8, "note": "12 independent SIMD8 FMA chains"])
    for n in [256, 1024] {
        var rng = RandomSource(seed: 1)
        let w = Matrix.normal(rows: n, columns: n, std: 1, rng: &rng)
        let x = (0..<n).map { _ in Float(rng.normal()) }
        var y = [Float](repeating: 0, count: n)
        let inner = n == 256 ? 200 : 10
        for transposed in [false, true] {
            let samples = w.storage.withUnsafeBufferPointer { wb in
                x.withUnsafeBufferPointer { xb in
                    y.withUnsafeMutableBufferPointer { yb in
                        sampleMicroseconds(repeats: 41, inner: inner) {
                            if transposed {
                                Kernels.matvecTransposed(wb.baseAddress!, rows: n, columns: n, xb.baseAddress!, into: yb.baseAddress!)
                            } else {
                                Kernels.matvec(wb.baseAddress!, rows: n, columns: n, xb.baseAddress!, into: yb.baseAddress!)
                            }
                        }
                    }
                }
            }
            let median = quantile(samples, 0.5)
            let gflops = Double(2 * n * n) / (median * 1e-6) / 1e9
            emit(transposed ? "matvec_transposed_\(n)x\(n)" : "matvec_\(n)x\(n)", [
                "median_us": median, "p90_us": quantile(samples, 0.9), "gflops": gflops,
                "peak_gflops": peak, "fraction_of_peak": gflops / peak,
            ])
        }
    }
}
