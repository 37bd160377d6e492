import CMPI
import Dispatch
import EngramCommands
@preconcurrency import Foundation
import Tensors

/// `engram-cluster bench-allreduce`: the time of one meta-iteration's gradient exchange on this job's
/// ranks, as a plain MPI_Allreduce of floats and as the `ReproducibleSum` meta-train uses (a maximum of
/// 16-bit exponents, a sum of 64-bit integers, the conversions). Rank 0 prints one JSON line.
enum AllreduceBench {
    static func run(_ words: [String], group: MPIRankGroup) -> Int32 {
        func value(_ name: String, _ fallback: Int) -> Int {
            guard let i = words.firstIndex(of: name), i + 1 < words.count, let v = Int(words[i + 1]), v > 0 else { return fallback }
            return v
        }
        let count = value("--floats", ClusterDispatch.paperGradientCount)
        let batch = value("--batch", 90)
        let repeats = value("--repeats", 10)
        let threads = value("--threads", 1)
        let blocks = (batch + 7) / 8
        let mine = group.share(of: blocks).count
        var buffer = [Float](repeating: 0, count: count)
        var terms = [[Float]](repeating: [], count: mine)
        var rng = RandomSource(seed: UInt64(group.rank))
        for k in 0..<mine { terms[k] = (0..<count).map { _ in (rng.uniformFloat() - 0.5) * 1e-3 } }
        var result = [Float](repeating: 0, count: count)
        var plain: [Double] = [], reproducible: [Double] = []
        for _ in 0..<repeats {
            MPI_Barrier(engram_mpi_comm_world())
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = buffer.withUnsafeMutableBufferPointer {
                MPI_Allreduce(engram_mpi_in_place(), $0.baseAddress, Int32(count), engram_mpi_float(), engram_mpi_sum(), engram_mpi_comm_world())
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            MPI_Barrier(engram_mpi_comm_world())
            let t2 = DispatchTime.now().uptimeNanoseconds
            withPointers(terms) { pointers in
                result.withUnsafeMutableBufferPointer {
                    ReproducibleSum.sum(pointers, count: count, totalTerms: blocks, group: group, threads: threads, into: $0.baseAddress!)
                }
            }
            let t3 = DispatchTime.now().uptimeNanoseconds
            plain.append(Double(t1 - t0) / 1e9)
            reproducible.append(Double(t3 - t2) / 1e9)
        }
        func median(_ x: [Double]) -> Double { let s = x.sorted(); return s[s.count / 2] }
        if group.rank == 0 {
            print(String(format: #"{"bench": "cluster_gradient_allreduce", "ranks": %d, "floats": %d, "blocks": %d, "threads": %d, "allreduce_float_s": %.5f, "reproducible_sum_s": %.5f}"#,
                         group.size, count, blocks, threads, median(plain), median(reproducible)))
        }
        return 0
    }

    private static func withPointers(_ terms: [[Float]], _ body: ([UnsafePointer<Float>]) -> Void) {
        func go(_ i: Int, _ acc: [UnsafePointer<Float>]) {
            if i == terms.count { body(acc); return }
            terms[i].withUnsafeBufferPointer { go(i + 1, acc + [$0.baseAddress!]) }
        }
        go(0, [])
    }
}
