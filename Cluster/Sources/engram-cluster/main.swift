import EngramCommands
@preconcurrency import Foundation
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// engram-cluster [--stall-timeout s] <meta-train|evaluate|fewshot-train> [options], under mpirun or srun.
setvbuf(stdout, nil, _IOLBF, 0)
var words = Array(CommandLine.arguments.dropFirst())
var stallTimeout = 600.0
if words.first == "--stall-timeout" {
    guard words.count > 1, let s = Double(words[1]), s > 0 else {
        fputs("engram-cluster: --stall-timeout <s>: give the seconds a rank may wait for the others, e.g. 600\n", stderr)
        exit(2)
    }
    stallTimeout = s
    words.removeFirst(2)
}
let group = MPIRankGroup(stallTimeout: stallTimeout)
if group.rank != 0 { _ = freopen("/dev/null", "w", stdout) }

// mpirun or Slurm ends the job with SIGTERM (also when another rank died): say so, and where to resume.
let signalSources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
    signal(sig, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    source.setEventHandler {
        let why = sig == SIGTERM ? "stopped by SIGTERM (another rank died, or mpirun or Slurm ended the job)" : "interrupted (SIGINT)"
        if group.rank == 0 { fputs(MPIRankGroup.endMessage(why, rank: 0), stderr) }
        _exit(sig == SIGTERM ? 143 : 130)
    }
    source.resume()
    return source
}
if words.first == "bench-allreduce" { group.finish(AllreduceBench.run(words, group: group)) }
group.finish(ClusterDispatch.main(words, group: group))
