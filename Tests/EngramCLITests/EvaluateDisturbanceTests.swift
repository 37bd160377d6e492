import EngramTestSupport
import Foundation
import Testing
@testable import EngramCommands

private func parse(_ tokens: [String]) throws -> ParsedArguments {
    try Arguments.parse(tokens, for: EvaluateCommand.self, path: "evaluate")
}

@Suite struct EvaluateDisturbanceTests {
    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
    func anUnknownDisturbanceIsAUsageErrorListingTheChoices() throws {
        do {
            _ = try parse(["--disturbance", "shove"])
            Issue.record("expected a usage error")
        } catch let e as UsageError {
            #expect(e.message == "--disturbance <kind>: 'shove' is not one of none, push, payload, latency")
        }
        #expect(try EngramBinary.run(["evaluate", "--disturbance", "shove"]).status == 2)
        #expect(try EngramBinary.run(["evaluate", "--disturbance", "push", "--drift", "off"]).status == 2)
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)"))
    func twoPushTasksOnTheShippedController() throws {
        let robot = SharedData.repositoryRoot + "/Robots/scorbot-er7"
        let r = try EngramBinary.run(["evaluate", "--disturbance", "push", "--robot", robot, "--tasks", "2", "--pcm", "off",
                                      "--threads", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(report?["disturbance"] as? String == "push" && report?["tasks"] as? Int == 2, "\(r.stdout)")
    }
}
