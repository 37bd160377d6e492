import EngramTestSupport
import Foundation
import Testing
@testable import EngramCommands

enum FakeCommand: EngramCommand {
    static let name = "fake"
    static let abstract = "A command for tests"
    static let options: [OptionSpec] = [
        .value("--rate", "hz", "Loop rate"),
        .value("--pcm", "model", "PCM model", choices: ["off", "paper", "physical"]),
        .value("--target", "csv", "Targets", repeating: true),
        .flag("--json", "JSON output"),
        .value("--output", "file", "Output", alias: "-o"),
    ]
    static let positionals = [PositionalSpec(name: "file", abstract: "A file", optional: true)]
    static func run(_ arguments: ParsedArguments) throws -> Int32 { 0 }
}

struct ArgumentsTests {
    func parse(_ words: [String]) throws -> ParsedArguments {
        try Arguments.parse(words, for: FakeCommand.self, path: "fake")
    }

    @Test func valuesFlagsAliasesAndEquals() throws {
        let p = try parse(["--rate=100", "--json", "-o", "out.svg", "--target", "a.csv", "b.csv", "--pcm", "paper", "x"])
        #expect(try p.int("--rate") == 100)
        #expect(p.has("--json"))
        #expect(p.string("--output") == "out.svg")
        #expect(p.strings("--target") == ["a.csv", "b.csv"])
        #expect(p.choice("--pcm", default: "off") == "paper")
        // A repeating option swallows words until the next option, so the positional comes after '--'.
        let q = try parse(["--target", "a.csv", "--", "--weird-file"])
        #expect(q.positionals == ["--weird-file"])
    }

    @Test func unknownOptionSuggestsTheNearest() {
        do {
            _ = try parse(["--rat", "3"])
            Issue.record("no error")
        } catch let e as UsageError {
            #expect(e.message == "unknown option '--rat' for 'engram fake'; did you mean '--rate'?")
        } catch { Issue.record("\(error)") }
    }

    @Test func badValuesNameTheOptionAndTheChoices() {
        #expect(throws: UsageError.self) { try parse(["--rate"]) }
        do { _ = try parse(["--pcm", "ideal"]) } catch let e as UsageError {
            #expect(e.message == "--pcm <model>: 'ideal' is not one of off, paper, physical")
        } catch { Issue.record("\(error)") }
        do { _ = try parse(["--rate", "fast"]).int("--rate") } catch let e as UsageError {
            #expect(e.message == "--rate <hz>: 'fast' is not a whole number")
        } catch { Issue.record("\(error)") }
        do { _ = try parse(["a", "b"]) } catch let e as UsageError {
            #expect(e.message.hasPrefix("unexpected argument 'b'"))
        } catch { Issue.record("\(error)") }
    }

    @Test func negativeNumbersAreValues() throws {
        let p = try parse(["--rate", "-5"])
        #expect(try p.int("--rate") == -5)
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)")) func exitStatuses() throws {
        #expect(try EngramBinary.run(["--help"]).status == 0)
        #expect(try EngramBinary.run(["nosuchcommand"]).status == 2)
        #expect(try EngramBinary.run(["help", "plot"]).status == 0)
        #expect(try EngramBinary.run(["plot", "--bogus"]).status == 2)
        #expect(try EngramBinary.run(["plot", "/nonexistent.csv", "-o", "/tmp/x.svg"]).status == 1)
    }

    @Test func everyCommandHasHelp() {
        for c in Registry.commands {
            let text = Help.command(c, path: c.name)
            #expect(text.contains("USAGE: engram \(c.name)"), "\(c.name)")
            #expect(!c.abstract.isEmpty, "\(c.name) has no abstract")
        }
    }
}
