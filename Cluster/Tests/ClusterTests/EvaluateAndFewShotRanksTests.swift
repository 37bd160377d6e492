import Foundation
import Tensors
import Testing

/// `engram-cluster evaluate` and `fewshot-train` give the same figures and weights on 1 and 3 ranks.
@Suite(.serialized)
struct EvaluateAndFewShotRanksTests {
    static let controller = Cluster.package.deletingLastPathComponent().appendingPathComponent("Robots/scorbot-er7/controller.safetensors").path

    @Test(.enabled(if: Cluster.isAvailable && FileManager.default.fileExists(atPath: controller),
                   "skipped: needs mpirun, engram-cluster and Robots/scorbot-er7/controller.safetensors"))
    func evaluateSplitsTasksWithoutChangingTheFigures() throws {
        var outputs: [String] = []
        for ranks in [1, 3] {
            let run = try Cluster.mpirun(ranks: ranks, ["evaluate", "--checkpoint", Self.controller, "--tasks", "12", "--pcm", "paper",
                                                        "--threads", "1", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            outputs.append(run.stdout)
        }
        #expect(outputs[0].contains("\"tasks\":12"), "\(outputs[0])")
        #expect(outputs[1] == outputs[0])
    }

    @Test(.enabled(if: Cluster.isAvailable, "skipped: needs mpirun and engram-cluster"))
    func fewShotTrainGivesTheSameWeightsOnThreeRanks() throws {
        let dir = try Cluster.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var logs: [String] = [], weights: [[String: SafeTensors.Tensor]] = []
        for ranks in [1, 3] {
            let out = dir.appendingPathComponent("fs\(ranks).safetensors").path
            let run = try Cluster.mpirun(ranks: ranks, ["fewshot-train", "--synthetic", "--iterations", "3", "--meta-batch", "5",
                                                        "--channels", "8", "--validate-every", "0", "--threads", "1", "--out", out])
            #expect(run.status == 0, "\(run.stderr)")
            let log = try String(contentsOfFile: dir.appendingPathComponent("fs\(ranks)-loss.tsv").path, encoding: .utf8)
            logs.append(log.split(separator: "\n").map { $0.split(separator: "\t").prefix(3).joined(separator: "\t") }.joined(separator: "\n"))
            weights.append(try Cluster.tensors(out))
        }
        #expect(logs[0].split(separator: "\n").count == 4)
        #expect(logs[1] == logs[0])
        #expect(weights[1] == weights[0])
    }
}
