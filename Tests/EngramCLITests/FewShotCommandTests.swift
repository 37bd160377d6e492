import Foundation
import Testing
import EngramTestSupport

/// `engram fewshot`: a short evaluation runs, and mistakes in the arguments are usage errors (exit 2) that
/// name the argument, while the data itself stays a runtime matter.
struct FewShotCommandTests {
    static let model = SharedData.repositoryRoot + "/Models/omniglot-fewshot.safetensors"

    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func shortSyntheticEvaluationRuns() throws {
        let r = try EngramBinary.run(["fewshot", "--checkpoint", Self.model, "--synthetic", "--ways", "5", "--shots", "1",
                                      "--episodes", "2", "--threads", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"accuracy\""), "\(r.stdout)")
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "skipped: needs the engram binary (swift build)"))
    func tooManyWaysIsAUsageError() throws {
        let r = try EngramBinary.run(["fewshot", "--checkpoint", Self.model, "--synthetic", "--ways", "999", "--shots", "1", "--episodes", "1"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("--ways") && r.stderr.contains("fewer than --ways 999"), "\(r.stderr)")
    }

    @Test(.enabled(if: EngramBinary.isAvailable && SharedData.path("data/omniglot/background-classes.tsv") != nil,
                   "skipped: needs the engram binary (swift build) and ../shared/data/omniglot"))
    func unknownAlphabetIsAUsageErrorListingTheKnownOnes() throws {
        let prefix = String(SharedData.path("data/omniglot/background-classes.tsv")!.dropLast("-classes.tsv".count))
        let r = try EngramBinary.run(["fewshot", "--checkpoint", Self.model, "--data", prefix, "--alphabets", "Klingon",
                                      "--ways", "5", "--shots", "1", "--episodes", "1"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("unknown alphabet 'Klingon'") && r.stderr.contains("Korean"), "\(r.stderr)")
    }
}
