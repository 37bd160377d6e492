import Foundation
import PhaseChange
import Tensors

/// PCM crossbar benchmarks: a 256×256 noisy MVM (physical model, read noise on; with an ideal and with the
/// aihwkit periphery) and a 255×250 spike-input MVM at 2 % input activity, each beside a noiseless dense
/// MVM of the same size (`Kernels.matvecTransposed`), plus the per-read-time cache refresh and programming.
func runPhaseChangeBenchmarks() {
    var rng = RandomSource(seed: 42)

    // Dense 256×256.
    let n = 256
    let w = Matrix.uniform(rows: n, columns: n, low: -1, high: 1, rng: &rng)
    let x = (0..<n).map { _ in Float(rng.normal()) }
    var y = [Float](repeating: 0, count: n)
    let denseBaseline = noiselessDense(w, x, &y)
    emit("pcm_dense_noiseless_256x256", ["median_us": denseBaseline, "note": "Kernels.matvecTransposed, the baseline"])
    for (name, io) in [("pcm_mvm_physical_read_noise_256x256", PCMIOParameters.ideal),
                       ("pcm_mvm_physical_read_noise_aihwkit_io_256x256", PCMIOParameters.aihwkit)] {
        var p = PCMParameters.physical
        p.io = io
        var bar = Crossbar(rows: n, columns: n, parameters: p)
        bar.programInitial(w, at: 0, rng: &rng)
        let samples = x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                sampleMicroseconds(repeats: 41, inner: 200) {
                    bar.multiplyTransposed(xb.baseAddress!, into: yb.baseAddress!, at: 3600, rng: &rng)
                }
            }
        }
        let median = quantile(samples, 0.5)
        emit(name, ["median_us": median, "p90_us": quantile(samples, 0.9), "ratio_to_noiseless_dense": median / denseBaseline])
    }

    // Spike input 255×250 at 2 % activity (5 of 255 rows), a different active set each call.
    let rows = 255, columns = 250
    let ws = Matrix.uniform(rows: rows, columns: columns, low: -1, high: 1, rng: &rng)
    let xs = (0..<rows).map { _ in Float(rng.normal()) }
    var ys = [Float](repeating: 0, count: columns)
    let spikeBaseline = noiselessDense(ws, xs, &ys)
    emit("pcm_dense_noiseless_255x250", ["median_us": spikeBaseline, "note": "Kernels.matvecTransposed, the baseline"])
    let sets = 64, active = 5
    var activeRows = [Int32]()
    for _ in 0..<sets {
        var chosen = Set<Int32>()
        while chosen.count < active { chosen.insert(Int32(rng.int(below: rows))) }
        activeRows += chosen.sorted()
    }
    for kind in PCMModelKind.allCases {
        var bar = Crossbar(rows: rows, columns: columns, parameters: PCMParameters(kind: kind))
        bar.programInitial(ws, at: 0, rng: &rng)
        var call = 0
        let samples = activeRows.withUnsafeBufferPointer { ab in
            ys.withUnsafeMutableBufferPointer { yb in
                sampleMicroseconds(repeats: 41, inner: 1000) {
                    let set = UnsafeBufferPointer(rebasing: ab[(call % sets) * active..<((call % sets) + 1) * active])
                    bar.accumulateActiveRows(set, into: yb.baseAddress!, at: 3600, rng: &rng)
                    call &+= 1
                }
            }
        }
        let median = quantile(samples, 0.5)
        emit("pcm_spike_mvm_\(kind.rawValue)_read_noise_255x250_2pct", [
            "median_us": median, "p90_us": quantile(samples, 0.9), "ratio_to_noiseless_dense": median / spikeBaseline,
            "target_us": 10.0, "active_rows": active,
        ])
    }

    // Cost of a new read time (drift factors, read variances, compensation) and of programming, 256×256.
    var bar = Crossbar(rows: n, columns: n, parameters: .physical)
    let program = sampleMicroseconds(repeats: 5, inner: 1, warmup: 1) { bar.programInitial(w, at: 0, rng: &rng) }
    emit("pcm_program_physical_256x256", ["median_us": quantile(program, 0.5), "devices": 2 * n * n])
    var t = 1.0
    let refresh = sampleMicroseconds(repeats: 11, inner: 5) {
        t += 1
        bar.refreshCache(at: t)
    }
    emit("pcm_read_time_refresh_physical_256x256", ["median_us": quantile(refresh, 0.5), "devices": 2 * n * n])
}

/// Median µs of a noiseless dense y = Wᵀ x of `w`'s shape.
private func noiselessDense(_ w: Matrix, _ x: [Float], _ y: inout [Float]) -> Double {
    let samples = w.storage.withUnsafeBufferPointer { wb in
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                sampleMicroseconds(repeats: 41, inner: 500) {
                    Kernels.matvecTransposed(wb.baseAddress!, rows: w.rows, columns: w.columns, xb.baseAddress!, into: yb.baseAddress!)
                }
            }
        }
    }
    return quantile(samples, 0.5)
}
