import Foundation
import Tensors
import Testing

/// `engram-cluster meta-train` under `mpirun` (Open MPI): the loss curve and the checkpoint do not depend
/// on the number of ranks and threads, and a job that loses a rank ends quickly, keeps its last checkpoint
/// and resumes from it (on another number of ranks) onto the uninterrupted curve.
@Suite(.serialized)
struct MetaTrainRanksTests {
    /// A small mixed batch (ideal and paper-PCM tasks) in 4 canonical blocks of 8, 1, 8 and 1 tasks, so
    /// that 2 and 3 ranks get unequal shares.
    static let options = ["--task", "scorbot", "--batch", "18", "--pcm", "off,paper", "--seed", "7", "--checkpoint-every", "2"]

    @Test(.enabled(if: Cluster.isAvailable, "skipped: needs mpirun (openmpi-bin) and Cluster/.build/debug/engram-cluster"))
    func sameCurveOnOneTwoThreeRanksAndAfterAKilledRank() throws {
        let dir = try Cluster.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var curves: [[[Double]]] = [], weights: [[String: SafeTensors.Tensor]] = []
        for (ranks, threads) in [(1, 2), (2, 1), (3, 1)] {
            let out = dir.appendingPathComponent("r\(ranks).safetensors").path, log = dir.appendingPathComponent("r\(ranks).csv").path
            let run = try Cluster.mpirun(ranks: ranks, ["meta-train"] + Self.options + ["--iterations", "20", "--threads", "\(threads)", "--out", out, "--log", log])
            #expect(run.status == 0, "\(ranks) ranks: \(run.stderr)")
            curves.append(try Cluster.curve(log))
            weights.append(try Cluster.tensors(out))
        }
        #expect(curves[0].count == 20)
        for r in 1..<3 {
            #expect(Cluster.largestRelativeDifference(curves[0], curves[r]) <= 1e-6, "loss curve of \(r + 1) ranks")
            #expect(weights[r] == weights[0], "checkpoint of \(r + 1) ranks (weights, Adam moments, random state)")
        }

        // Kill rank 1 of a two-rank run after its checkpoint at iteration 4.
        let out = dir.appendingPathComponent("killed.safetensors").path, log = dir.appendingPathComponent("killed.csv").path
        let job = try Cluster.start(ranks: 2, ["meta-train"] + Self.options + ["--iterations", "20", "--threads", "1", "--out", out, "--log", log])
        let deadline = Date().addingTimeInterval(300)
        while (try? Cluster.curve(log).count) ?? 0 < 5, job.process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        let victim = try #require(Cluster.rankProcess(1, under: job.process.processIdentifier), "rank 1 not found")
        let killedAt = Date()
        kill(victim, SIGKILL)
        let ended = job.wait(timeout: 30)
        #expect(ended, "the job did not end within 30 s of losing a rank")
        if !ended { job.process.terminate(); _ = job.wait(timeout: 10) }
        #expect(Date().timeIntervalSince(killedAt) < 30)
        #expect(job.process.terminationStatus != 0)
        let message = job.stderr
        #expect(message.contains("engram-cluster (rank 0)") && message.contains("is intact: continue with --resume"), "\(message)")
        let saved = try Cluster.tensors(out)
        let iteration = try #require(try SafeTensors(contentsOfFile: out).metadata["engram.training.iteration"].flatMap(Int.init))
        #expect(iteration >= 4 && iteration % 2 == 0)
        #expect(!saved.isEmpty)

        // Resume on three ranks to iteration 12: the uninterrupted curve, row for row.
        let resumed = try Cluster.mpirun(ranks: 3, ["meta-train"] + Self.options + ["--iterations", "12", "--threads", "1", "--out", out, "--log", log, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let curve = try Cluster.curve(log)
        #expect(curve.count == 12)
        #expect(Cluster.largestRelativeDifference(curve, Array(curves[0].prefix(12))) <= 1e-6, "resumed curve")
    }
}

/// Running `engram-cluster` under `mpirun` from a test.
enum Cluster {
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = package.appendingPathComponent(".build/debug/engram-cluster").path
    static let mpirunPath = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isAvailable: Bool { mpirunPath != nil && FileManager.default.isExecutableFile(atPath: binary) }

    /// A running job and what it wrote to stderr.
    final class Job: @unchecked Sendable {
        let process = Process()
        private let errors = Pipe(), output = Pipe()
        private var collected = Data(), printed = Data()
        private let lock = NSLock()

        init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: Cluster.mpirunPath!)
            process.arguments = arguments
            process.standardError = errors
            process.standardOutput = output
            errors.fileHandleForReading.readabilityHandler = { [weak self] h in
                let d = h.availableData
                self?.lock.lock(); self?.collected.append(d); self?.lock.unlock()
            }
            output.fileHandleForReading.readabilityHandler = { [weak self] h in
                let d = h.availableData
                self?.lock.lock(); self?.printed.append(d); self?.lock.unlock()
            }
            try process.run()
        }

        /// Waits up to `timeout` seconds; whether the job ended.
        func wait(timeout: Double) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < end { Thread.sleep(forTimeInterval: 0.1) }
            if !process.isRunning { process.waitUntilExit(); Thread.sleep(forTimeInterval: 0.2) }
            return !process.isRunning
        }

        var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: collected, as: UTF8.self) }
        var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: printed, as: UTF8.self) }
    }

    static func start(ranks: Int, _ arguments: [String]) throws -> Job {
        var flags = ["-np", "\(ranks)", "--oversubscribe", "--bind-to", "none"]
        if getuid() == 0 { flags.append("--allow-run-as-root") }
        return try Job(flags + [binary] + arguments)
    }

    static func mpirun(ranks: Int, _ arguments: [String]) throws -> (status: Int32, stderr: String, stdout: String) {
        let job = try start(ranks: ranks, arguments)
        _ = job.wait(timeout: 600)
        return (job.process.terminationStatus, job.stderr, job.stdout)
    }

    /// The rank process `rank` of the job of `mpirun` (its children carry OMPI_COMM_WORLD_RANK).
    static func rankProcess(_ rank: Int, under parent: Int32) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent,
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            if environ.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }) { return pid }
        }
        return nil
    }

    /// The rows of a meta-train log: loss … learning rate (the columns that do not hold wall times).
    static func curve(_ path: String) throws -> [[Double]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
        return lines.map { line in line.split(separator: ",").prefix(12).compactMap { Double($0) } }
    }

    static func largestRelativeDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
        guard a.count == b.count else { return .infinity }
        var worst = 0.0
        for (x, y) in zip(a, b) {
            guard x.count == y.count else { return .infinity }
            for (u, v) in zip(x, y) where u != v { worst = max(worst, abs(u - v) / max(abs(u), abs(v))) }
        }
        return worst
    }

    /// Every tensor of a safetensors file (weights, Adam moments, random state), byte for byte.
    static func tensors(_ path: String) throws -> [String: SafeTensors.Tensor] {
        try SafeTensors(contentsOfFile: path).tensors
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("engram-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
