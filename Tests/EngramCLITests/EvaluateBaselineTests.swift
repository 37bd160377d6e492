import EngramTestSupport
import Foundation
import Testing
@testable import EngramCommands

/// `engram evaluate --baseline`: two controllers on identical tasks, compared by the paired difference.
@Suite struct EvaluateBaselineTests {
    @Test func pairedDifferenceOfKnownValues() {
        let p = EvaluateCommand.PairedDifference([1, 2, 3], [2, 2, 1])
        // Differences −1, 0, 2: mean 1/3, sample variance 7/3, standard error √(7/9).
        #expect(abs(p.mean - 1.0 / 3) < 1e-15)
        #expect(abs(p.standardError - (7.0 / 9).squareRoot()) < 1e-15)
        #expect(abs(p.baselineMean - 5.0 / 3) < 1e-15)
        #expect(abs(p.fractionBetter - 1.0 / 3) < 1e-15)
    }

    @Test func aControllerAgainstItselfDiffersByExactlyZero() throws {
        let controller = SharedData.repositoryRoot + "/Robots/scorbot-er7/controller.safetensors"
        let r = try EngramBinary.run(["evaluate", "--checkpoint", controller, "--baseline", controller, "--tasks", "3", "--threads", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(object?["paired_difference"] as? Double == 0)
        #expect(object?["paired_difference_sem"] as? Double == 0)
        #expect(object?["fraction_better"] as? Double == 0)
        #expect(object?["baseline_mean_loss_after"] as? Double == object?["mean_loss_after"] as? Double)
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)")) func baselineWithDisturbanceIsAUsageError() throws {
        #expect(try EngramBinary.run(["evaluate", "--disturbance", "push", "--baseline", "x.safetensors"]).status == 2)
    }
}
