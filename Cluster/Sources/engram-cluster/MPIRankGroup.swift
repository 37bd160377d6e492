import CMPI
import Dispatch
import EngramCommands
@preconcurrency import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Tensors

/// The ranks of MPI_COMM_WORLD as a `RankGroup`. Only the main thread calls MPI (MPI_THREAD_FUNNELED).
/// Errors return instead of aborting inside MPI, so that a lost rank ends the job with this program's
/// message; a watchdog ends it when one collective has waited `stallTimeout` seconds (a rank that cannot
/// be reached, or a stopped process).
final class MPIRankGroup: RankGroup, @unchecked Sendable {
    let rank: Int
    let size: Int
    let stallTimeout: Double
    private let lock = NSLock()
    private var pending: (operation: String, since: UInt64)? = nil

    /// Initialises MPI and starts the watchdog.
    init(stallTimeout: Double) {
        var provided: Int32 = 0
        _ = MPI_Init_thread(nil, nil, engram_mpi_thread_funneled(), &provided)
        MPI_Comm_set_errhandler(engram_mpi_comm_world(), engram_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(engram_mpi_comm_world(), &r)
        MPI_Comm_size(engram_mpi_comm_world(), &s)
        rank = Int(r)
        size = Int(s)
        self.stallTimeout = stallTimeout
        if size > 1 { startWatchdog() }
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) {
        allreduce(values.baseAddress, values.count, engram_mpi_double(), engram_mpi_sum(), "sum of \(values.count) doubles")
    }

    func sum(_ values: UnsafeMutableBufferPointer<Int64>) {
        allreduce(values.baseAddress, values.count, engram_mpi_int64(), engram_mpi_sum(), "sum of \(values.count) gradient entries")
    }

    func max(_ values: UnsafeMutableBufferPointer<Int16>) {
        allreduce(values.baseAddress, values.count, engram_mpi_int16(), engram_mpi_max(), "maximum of \(values.count) exponents")
    }

    private func allreduce(_ buffer: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype?, _ op: MPI_Op?, _ what: String) {
        guard size > 1, count > 0 else { return }
        lock.lock(); pending = (what, DispatchTime.now().uptimeNanoseconds); lock.unlock()
        let status = MPI_Allreduce(engram_mpi_in_place(), buffer, Int32(count), type, op, engram_mpi_comm_world())
        lock.lock(); pending = nil; lock.unlock()
        guard status == engram_mpi_success() else {
            var text = [CChar](repeating: 0, count: 1024)
            var length: Int32 = 0
            MPI_Error_string(status, &text, &length)
            end("lost contact with another rank during the \(what) (MPI: \(String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)))")
        }
    }

    /// Prints why the job ends, with the state of the last checkpoint, and ends it: MPI_Abort from the
    /// main thread, otherwise an immediate exit (mpirun then stops the other ranks).
    func end(_ why: String, fromMainThread: Bool = true) -> Never {
        fputs(Self.endMessage(why, rank: rank), stderr)
        fflush(stderr)
        if fromMainThread { MPI_Abort(engram_mpi_comm_world(), 1) }
        _exit(1)
    }

    /// The one line printed when the job ends early.
    static func endMessage(_ why: String, rank: Int) -> String {
        var line = "engram-cluster (rank \(rank)): \(why); the job ends"
        if let last = ClusterJobState.shared.lastCheckpoint {
            line += ". The last checkpoint, \(last.path) at iteration \(last.iteration), is intact: continue with --resume (on any number of ranks)"
        } else if rank == 0 {
            line += ". No checkpoint was written in this session"
        }
        return line + "\n"
    }

    /// Ends the job when one collective waits longer than `stallTimeout`.
    private func startWatchdog() {
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 1)
                lock.lock(); let p = pending; lock.unlock()
                guard let p else { continue }
                let waited = Double(DispatchTime.now().uptimeNanoseconds - p.since) / 1e9
                if waited > stallTimeout {
                    end(String(format: "the %@ has waited %.0f s (--stall-timeout) for a rank that cannot be reached", p.operation, waited),
                        fromMainThread: false)
                }
            }
        }
        thread.start()
    }

    /// Ends MPI after the command returned `status` on this rank, and exits. Usage errors (2) happen on
    /// every rank alike, before any collective; another failure may be this rank's alone, so it aborts the job.
    func finish(_ status: Int32) -> Never {
        if status == 0 || status == 2 || size == 1 {
            MPI_Finalize()
            exit(status)
        }
        MPI_Abort(engram_mpi_comm_world(), status)
        exit(status)
    }
}
