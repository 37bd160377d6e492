import Control
import EngramTestSupport
import Foundation
import Testing
@testable import EngramCommands

enum FakeCommand: EngramCommand {
    static let name = "fake"
    static let abstract = "a command for tests"
    static let discussion = """
        A first paragraph.

        --sim runs the simulated arm with simulated time (fast; PCM drift on simulated seconds); --port PATH runs in real time on a servo bus (PCM drift on wall-clock seconds since programming), e.g. the port printed by 'engram sim-serial --robot DIR'; this line is far longer than a terminal is wide.

        Example: engram fake --rate 3 --pcm paper --target a.csv b.csv -- --a-file-that-starts-with-dashes
        """
    static let rate = Option<Int>("--rate", "hz", "Loop rate").defaulting(to: 100)
    static let speed = Option<Double>("--speed", "factor", "Playback speed", in: 0.5...2)
    static let pcm = Option<SynapseMode>("--pcm", "model", "PCM model").defaulting(to: .off)
    static let target = Option<String>("--target", "csv", "Targets", repeating: true)
    static let json = Flag("--json", "JSON output")
    static let out = CommonOptions.out("file", "Output").alsoSpelled("--output")
    static let seed = CommonOptions.seed("Seed")
    static let options = [rate.spec, speed.spec, pcm.spec, target.spec, json.spec, out.spec, seed.spec]
    static let positionals = [PositionalSpec(name: "file", abstract: "A file", optional: true)]
    static func run(_ arguments: ParsedArguments) throws -> Int32 { 0 }
}

/// A command with required options, an exactly-one-of pair, an exclusive pair, a dependency and a mode.
enum StrictCommand: EngramCommand {
    static let name = "strict"
    static let abstract = "A command with rules"
    static let out = CommonOptions.out("file", "Where to write", required: true)
    static let port = CommonOptions.port
    static let sim = CommonOptions.sim
    static let open = Flag("--open-loop", "Open loop")
    static let closed = Flag("--closed-loop", "Closed loop")
    static let task = Option<Int>("--task", "i", "Task", in: 0...10)
    static let kind = Option<String>("--disturbance", "kind", "Kind")
    static let export = Option<String>("--export", "file", "Write a copy of --out instead")
    static let options = [out.spec, port.spec, sim.spec, open.spec, closed.spec, task.spec, kind.spec, export.spec]
    static let rules: [OptionRule] = [
        .oneOf(["--port", "--sim"]),
        .exclusive(["--open-loop", "--closed-loop"]),
        .requires("--task", anyOf: ["--disturbance"]),
    ]
    static let modes = [CommandMode(option: "--export", takes: ["--out"], requires: ["--out"])]
    static func run(_ arguments: ParsedArguments) throws -> Int32 { 0 }
}

/// The message of the usage error `body` throws, or a recorded issue.
func usageMessage(_ body: () throws -> Any) -> String? {
    do {
        _ = try body()
        Issue.record("no usage error")
    } catch let e as UsageError {
        return e.message
    } catch {
        Issue.record("not a usage error: \(error)")
    }
    return nil
}

struct ArgumentsTests {
    func parse(_ words: [String]) throws -> ParsedArguments {
        try Arguments.parse(words, for: FakeCommand.self, path: "fake")
    }

    func strict(_ words: [String]) throws -> ParsedArguments {
        try Arguments.parse(words, for: StrictCommand.self, path: "strict")
    }

    @Test func valuesFlagsAliasesAndEquals() throws {
        let p = try parse(["--rate=100", "--json", "-o", "out.svg", "--target", "a.csv", "b.csv", "--pcm", "paper", "x"])
        #expect(p[FakeCommand.rate] == 100)
        #expect(p[FakeCommand.json])
        #expect(p[FakeCommand.out] == "out.svg")
        #expect(p.all(FakeCommand.target) == ["a.csv", "b.csv"])
        #expect(p[FakeCommand.pcm] == .paper)
        #expect(p.positionals == ["x"])
        // The old spelling of an output option keeps working.
        #expect(try parse(["--output", "o.svg"])[FakeCommand.out] == "o.svg")
        // A repeating option swallows words until the next option, so the positional comes after '--'.
        let q = try parse(["--target", "a.csv", "--", "--weird-file"])
        #expect(q.positionals == ["--weird-file"])
    }

    @Test func defaultsComeFromTheDeclaration() throws {
        let p = try parse([])
        #expect(p[FakeCommand.rate] == 100)
        #expect(p[FakeCommand.pcm] == .off)
        #expect(p[FakeCommand.seed] == 0)
        #expect(p[FakeCommand.speed] == nil)
        #expect(!p[FakeCommand.json])
        // Help prints the default from the same declaration, and the choices once.
        let help = Help.command(FakeCommand.self, path: "fake")
        #expect(help.contains("\n  --rate <hz>" + String(repeating: " ", count: Help.column - 13) + "Loop rate (default: 100)\n"), "\(help)")
        #expect(help.contains("PCM model (off|paper|physical; default: off)"), "\(help)")
        #expect(help.components(separatedBy: "off|paper|physical").count == 2)
        #expect(help.contains("-o, --out <file>"))
        #expect(!help.contains("--output"), "a hidden spelling is not shown")
        #expect(help.hasPrefix("A command for tests\n"), "the abstract is capitalised")
    }

    @Test func unknownOptionSuggestsTheNearest() {
        #expect(usageMessage { try parse(["--rat", "3"]) } == "unknown option '--rat' for 'engram fake'; did you mean '--rate'?")
    }

    @Test func badValuesNameTheOptionAndTheChoices() {
        #expect(usageMessage { try parse(["--rate"]) } == "--rate <hz> needs a value: Loop rate")
        #expect(usageMessage { try parse(["--pcm", "ideal"]) } == "--pcm <model>: 'ideal' is not one of off, paper, physical")
        #expect(usageMessage { try parse(["--rate", "fast"]) } == "--rate <hz>: 'fast' is not a whole number")
        #expect(usageMessage { try parse(["--speed", "3"]) } == "--speed <factor>: 3.0 is out of range; use 0.5...2.0")
        #expect(usageMessage { try parse(["--seed", "-1"]) } == "--seed <s>: '-1' is not a non-negative whole number")
        #expect(usageMessage { try parse(["--json=yes"]) } == "--json is a flag and takes no value")
        #expect(usageMessage { try parse(["a", "b"]) }?.hasPrefix("unexpected argument 'b'") == true)
    }

    @Test func negativeNumbersAreValues() throws {
        let p = try parse(["--rate", "-5"])
        #expect(p[FakeCommand.rate] == -5)
    }

    @Test func doubleDashEndsOptionsAndHelp() throws {
        #expect(Arguments.asksForHelp(["--rate", "3", "--help"]))
        #expect(Arguments.asksForHelp(["-h"]))
        #expect(!Arguments.asksForHelp(["--rate", "3", "--", "--help"]))
        let p = try parse(["--", "--help"])
        #expect(p.positionals == ["--help"])
        // `--` is not a value either: an option before it is missing its value.
        #expect(usageMessage { try parse(["--rate", "--", "3"]) } == "--rate <hz> needs a value: Loop rate")
    }

    @Test func mutuallyExclusiveAndRequiredOptions() throws {
        _ = try strict(["-o", "x", "--sim"])
        _ = try strict(["-o", "x", "--port", "/dev/null", "--closed-loop"])
        #expect(usageMessage { try strict(["-o", "x", "--sim", "--port", "/dev/null"]) } == "give --port or --sim, not both")
        #expect(usageMessage { try strict(["-o", "x"]) } == "missing --port <path> or --sim; see 'engram help strict'")
        #expect(usageMessage { try strict(["-o", "x", "--sim", "--open-loop", "--closed-loop"]) } == "give --open-loop or --closed-loop, not both")
        #expect(usageMessage { try strict(["--sim"]) } == "missing --out <file>: Where to write; see 'engram help strict'")
        #expect(usageMessage { try strict(["-o", "x", "--sim", "--task", "3"]) } == "--task <i> needs --disturbance <kind>")
    }

    @Test func modesTakeOnlyTheirOptions() throws {
        let p = try strict(["--export", "copy", "-o", "run"])
        #expect(p[StrictCommand.export] == "copy")
        #expect(usageMessage { try strict(["--export", "copy", "-o", "run", "--sim"]) } == "--export <file> takes only --out <file>; drop --sim")
        #expect(usageMessage { try strict(["--export", "copy"]) } == "missing --out <file>: Where to write; see 'engram help strict'")
    }

    @Test func usageLinesShowRequiredOptionsAndModes() {
        #expect(Help.usage(StrictCommand.self, path: "strict") == [
            "engram strict --out <file> (--port <path> | --sim) [options]",
            "engram strict --export <file> --out <file>",
        ])
        #expect(Help.usage(FakeCommand.self, path: "fake") == ["engram fake [<file>] [options]"])
        #expect(Help.usage(RunCommand.self, path: "run")[0].hasPrefix("engram run --robot <name|dir> (--port <path> | --sim) [options]"))
        let metaTrain = Help.usage(MetaTrainCommand.self, path: "meta-train")
        #expect(metaTrain == [
            "engram meta-train (--task <family> | --robot <name|dir>) --iterations <n> --out <file> [options]",
            "engram meta-train --export <file> --out <file>",
            "engram meta-train --export-average <file> --out <file>",
        ])
        let help = Help.command(MetaTrainCommand.self, path: "meta-train")
        #expect(help.contains("MODES (instead of the main work):\n  --export <file>"), "\(help)")
        // A usage line wider than the help wraps under the first word after the command.
        let fewshot = Help.command(FewShotCommand.self, path: "fewshot").split(separator: "\n")
        #expect(fewshot[1] == "USAGE: engram fewshot (--data <dir|zip|prefix> | --synthetic | --support <prefix>) --ways <n>")
        #expect(fewshot[2] == "                      --shots <k> [options]")
        #expect(fewshot[3] == "       engram fewshot --runs <dir|zip> [options]")
        #expect(Help.usage(AdaptCommand.self, path: "adapt") == ["engram adapt --checkpoint <file> --target <csv> ... [options]"])
    }

    @Test func helpWrapsLinesThatStartWithAnOption() {
        let text = Help.command(FakeCommand.self, path: "fake")
        let lines = text.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("--sim runs the simulated arm") })
        for line in lines where !line.hasPrefix("Example") {
            #expect(line.count <= Help.width, "\(line.count) columns: \(line)")
        }
        // Examples are kept whole, to copy.
        #expect(lines.contains("Example: engram fake --rate 3 --pcm paper --target a.csv b.csv -- --a-file-that-starts-with-dashes"))
    }

    @Test func everyCommandsHelpFitsAndNamesNoDevelopmentPaths() {
        var commands: [(any EngramCommand.Type, String)] = Registry.commands.map { ($0, $0.name) }
        for c in Registry.commands { commands += c.subcommands.map { ($0, c.name + " " + $0.name) } }
        for (c, path) in commands {
            let text = Help.command(c, path: path)
            #expect(!text.contains("../shared"), "\(path): \(text)")
            #expect(text.first?.isUppercase == true, "\(path)")
            for line in text.split(separator: "\n") where !line.hasPrefix("Example") && !line.hasPrefix("   ") {
                #expect(line.count <= Help.width, "\(path): \(line.count) columns: \(line)")
            }
            for o in c.options {
                #expect(o.abstract.first?.isUppercase == true, "\(path) \(o.name): '\(o.abstract)'")
                if o.name == "--out" { #expect(o.alias == "-o", "\(path): --out without -o") }
            }
        }
    }

    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)")) func exitStatuses() throws {
        #expect(try EngramBinary.run(["--help"]).status == 0)
        #expect(try EngramBinary.run(["nosuchcommand"]).status == 2)
        #expect(try EngramBinary.run(["help", "plot"]).status == 0)
        #expect(try EngramBinary.run(["plot", "--bogus"]).status == 2)
        #expect(try EngramBinary.run(["plot", "/nonexistent.csv", "-o", "/tmp/x.svg"]).status == 1)
        // After `--`, `--help` is an argument, not a request for help.
        let r = try EngramBinary.run(["plot", "-o", "/tmp/x.svg", "--", "--help"])
        #expect(r.status == 1 && r.stdout.isEmpty, "\(r.stdout)")
    }

    @Test func everyCommandHasHelp() {
        for c in Registry.commands {
            let text = Help.command(c, path: c.name)
            #expect(text.contains("USAGE: engram \(c.name)"), "\(c.name)")
            #expect(!c.abstract.isEmpty, "\(c.name) has no abstract")
        }
    }
}

/// `--robot so101` and `--robot Robots/so101` name the same robot in every command that takes `--robot`.
struct RobotNamingTests {
    /// Every command (and subcommand) that declares `--robot`.
    static var robotCommands: [(any EngramCommand.Type, String)] {
        var all: [(any EngramCommand.Type, String)] = Registry.commands.map { ($0, $0.name) }
        for c in Registry.commands { all += c.subcommands.map { ($0, c.name + " " + $0.name) } }
        return all.filter { c, _ in c.options.contains { $0.name == "--robot" } }
    }

    @Test func theCommandsThatTakeARobot() {
        let names = Set(Self.robotCommands.map(\.1))
        #expect(names == ["demo", "run", "record", "replay", "plot", "calibrate", "sim-serial", "adapt", "evaluate", "meta-train"], "\(names)")
    }

    @Test func byNameAndByPathEverywhere() throws {
        let path = SharedData.repositoryRoot + "/Robots/so101"
        for (c, name) in Self.robotCommands {
            let files = c.positionals.filter { !$0.optional }.map { _ in "file.csv" }
            let byName = try Arguments.split(["--robot", "so101"] + files, for: c, path: name)
            let byPath = try Arguments.split(["--robot", path] + files, for: c, path: name)
            let a = try #require(byName.typed["--robot"]?.last as? RobotReference, "\(name)")
            let b = try #require(byPath.typed["--robot"]?.last as? RobotReference, "\(name)")
            #expect(FileManager.default.fileExists(atPath: a.directory + "/robot.yaml"), "\(name): \(a.directory)")
            #expect(URL(fileURLWithPath: a.directory).standardizedFileURL.resolvingSymlinksInPath().path
                    == URL(fileURLWithPath: b.directory).standardizedFileURL.resolvingSymlinksInPath().path, "\(name)")
        }
    }

    @Test func anUnknownRobotListsTheKnownOnes() {
        for (c, name) in Self.robotCommands {
            let message = usageMessage { try Arguments.split(["--robot", "so100"], for: c, path: name) }
            #expect(message == "--robot <name|dir>: no robot 'so100'; known robots: koch, scorbot-er7, so101; or give a folder with a robot.yaml",
                    "\(name)")
        }
    }

    /// `run` used to take a path only: a name now runs the robot's shipped controller.
    @Test(.enabled(if: EngramBinary.isAvailable, "needs the engram binary (swift build)")) func runTakesARobotByName() throws {
        let r = try EngramBinary.run(["run", "--robot", "so101", "--sim", "--duration", "0.2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["robot"] as? String == "so101")
        let unknown = try EngramBinary.run(["run", "--robot", "so100", "--sim"])
        #expect(unknown.status == 2 && unknown.stderr.contains("known robots: koch, scorbot-er7, so101"), "\(unknown.stderr)")
    }
}

/// The rules of the real commands, checked at parse time (before any robot, checkpoint or port is opened).
struct CommandRulesTests {
    func message(_ c: any EngramCommand.Type, _ path: String, _ words: [String]) -> String? {
        usageMessage { try Arguments.parse(words, for: c, path: path) }
    }

    @Test func exclusivePairsAndDependencies() {
        #expect(message(RunCommand.self, "run", ["--robot", "so101"])?.hasPrefix("missing --port <path> or --sim: where the arm is") == true)
        #expect(message(RunCommand.self, "run", ["--robot", "so101", "--sim", "--port", "/dev/null"]) == "give --port or --sim, not both")
        #expect(message(RunCommand.self, "run", ["--robot", "so101", "--sim", "--open-loop", "--closed-loop"]) == "give --closed-loop or --open-loop, not both")
        #expect(message(RunCommand.self, "run", ["--robot", "so101", "--sim", "--task", "3"]) == "--task <i> goes with --disturbance <kind> (none, push, payload or latency)")
        #expect(message(RecordCommand.self, "record", ["--port", "/dev/null", "--fast", "-o", "x.csv"]) == "--fast runs the simulated arm in simulated time; it needs --sim")
        #expect(message(SimSerialCommand.self, "sim-serial", ["--robot", "so101", "--time-constant-ms", "3"])?.hasPrefix("--time-constant-ms sets the plant of --ids servos") == true)
        #expect(message(CalibrateCommand.self, "calibrate", ["--robot", "so101", "--port", "p", "--import-lerobot", "j.json"]) == "--import-lerobot <json> converts a file; drop --port")
        #expect(message(MetaTrainCommand.self, "meta-train", ["--task", "scorbot", "--robot", "so101", "--iterations", "1", "-o", "x"]) == "give --task or --robot, not both")
        #expect(message(MetaTrainCommand.self, "meta-train", ["--robot", "so101", "--whole-arm", "--closed-loop", "--iterations", "1", "-o", "x"])
                == "--whole-arm and --closed-loop: a whole-arm controller is open-loop; choose one")
        #expect(message(MetaTrainCommand.self, "meta-train", ["--robot", "so101", "--segment-steps", "50", "--iterations", "1", "-o", "x"])
                == "--segment-steps sets a whole-arm controller's trial; it needs --whole-arm")
        #expect(message(MetaTrainCommand.self, "meta-train", ["--task", "scorbot", "-o", "x"]) == "missing --iterations <n>: Total meta-iterations of the run; see 'engram help meta-train'")
    }

    @Test func modesOfTheRealCommands() {
        #expect(message(MetaTrainCommand.self, "meta-train", ["--export", "a", "--export-average", "b", "-o", "x"])
                == "give --export <file> or --export-average <file>, not both: each is a mode of 'engram meta-train'")
        #expect(message(MetaTrainCommand.self, "meta-train", ["--export", "a", "-o", "x", "--robot", "so101"]) == "--export <file> takes only --out <file>; drop --robot")
        #expect(message(EvaluateCommand.self, "evaluate", ["--disturbance", "push", "--baseline", "b.safetensors"])
                == "--baseline compares one-shot adaptations; with --disturbance the open-loop controller is the baseline already")
        #expect(message(EvaluateCommand.self, "evaluate", ["--whole-arm", "--drift", "off"])?.hasPrefix("--whole-arm takes only --robot <name|dir>, ") == true)
        #expect(message(EvaluateCommand.self, "evaluate", []) == "missing --checkpoint <file>: Controller checkpoint (safetensors); see 'engram help evaluate'")
        #expect(message(FewShotCommand.self, "fewshot", ["--runs", "r.zip", "--data", "d.zip"]) == "--data and --runs exclude each other; use one")
    }
}
