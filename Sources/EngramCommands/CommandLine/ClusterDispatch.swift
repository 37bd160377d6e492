import Foundation
import MetaLearning
import Tensors

/// The entry of `engram-cluster` (the Cluster package, over MPI): `meta-train`, `evaluate` and
/// `fewshot-train` with the options of the `engram` commands of the same name, their work shared by the
/// ranks of `group`. Only rank 0 prints, writes logs and checkpoints.
public enum ClusterDispatch {
    /// The commands that run data-parallel.
    static let commands: [any EngramCommand.Type] = [MetaTrainCommand.self, EvaluateCommand.self, FewShotTrainCommand.self]

    /// Runs `argv` (the words after the program name and its own options) on this rank; returns the exit status.
    public static func main(_ argv: [String], group: RankGroup) -> Int32 {
        guard let first = argv.first, !["--help", "-h", "help"].contains(first) else {
            if group.rank == 0 { print(overview) }
            return 0
        }
        guard let command = commands.first(where: { $0.name == first }) else {
            if group.rank == 0 {
                printError("engram-cluster: unknown command '\(first)'; it runs \(commands.map { $0.name }.joined(separator: ", ")) (other commands: engram)")
            }
            return 2
        }
        if argv.count > 1, argv[1] == "--help" || argv[1] == "-h" {
            if group.rank == 0 { print(Help.command(command, path: first).replacingOccurrences(of: "engram \(first)", with: "mpirun -np N engram-cluster \(first)")) }
            return 0
        }
        return Dispatch.run(command, path: first, Array(argv.dropFirst()), program: "engram-cluster", group: group)
    }

    /// Entries of the paper controller's gradient (what one meta-iteration's allreduce carries).
    public static var paperGradientCount: Int { FlatParameters<Float>(zerosFor: MetaArchitecture()).count }

    /// The usage text.
    public static var overview: String {
        """
        engram-cluster \(Help.version): meta-training and evaluation over the ranks of an MPI job

        USAGE: mpirun -np N engram-cluster [--stall-timeout s] <command> [options]
               srun engram-cluster <command> [options]           (in a Slurm job)

        COMMANDS (the options of the engram command of the same name):

        """ + commands.map { "  " + $0.name.padding(toLength: 15, withPad: " ", startingAt: 0) + $0.abstract }.joined(separator: "\n") + """


        Each rank takes a fixed share of each batch's tasks; the results do not depend on the number of ranks
        or threads. Rank 0 prints, writes the log and the checkpoints. --stall-timeout (default 600 s) ends the
        job when a collective operation waits that long for a rank that cannot be reached.
        """
    }
}

/// What a cluster job has saved, for the message when the job is ended from outside (a rank died,
/// mpirun or Slurm stopped it): the last checkpoint written and its iteration.
public final class ClusterJobState: @unchecked Sendable {
    /// The process's one state.
    public static let shared = ClusterJobState()
    private let lock = NSLock()
    private var last: (path: String, iteration: Int)? = nil

    /// Notes a checkpoint just written.
    func checkpointWritten(_ path: String, iteration: Int) {
        lock.lock(); last = (path, iteration); lock.unlock()
    }

    /// The last checkpoint written, nil before the first.
    public var lastCheckpoint: (path: String, iteration: Int)? { lock.lock(); defer { lock.unlock() }; return last }
}
