import Control
import Foundation
import MetaLearning
import Perception
import PhaseChange
import Robot
import ServoBus
import Spiking

// The enums of the libraries that options take as values: their raw values are the words on the command line.
extension SynapseMode: ChoiceValue {}
extension WatchdogAction: ChoiceValue {}
extension ArmDisturbance.Kind: ChoiceValue {}
extension MetaPCMMode: ChoiceValue {}
extension WeightMode: ChoiceValue {}
extension PCMModelKind: ChoiceValue {}
extension ServoModel: ChoiceValue {}
extension ServoProtocol: ChoiceValue {}
extension JointTargetSettings.Code: ChoiceValue {}

/// Options several commands declare the same way.
enum CommonOptions {
    /// The abstract of every `--robot`: the one way commands name a robot.
    static let robotAbstract = "Robot: a name from Robots/ (so101, koch, scorbot-er7) or a folder with robot.yaml"

    /// `--robot <name|dir>`, resolved at parse time (an unknown robot lists the known ones).
    static func robot(_ abstract: String = robotAbstract, required: Bool = false, defaultNote: String? = nil) -> Option<RobotReference> {
        Option("--robot", "name|dir", abstract, required: required, defaultNote: defaultNote)
    }

    /// `--robot` with a default robot.
    static func robot(_ abstract: String = robotAbstract, default name: String) -> DefaultedOption<RobotReference> {
        Option("--robot", "name|dir", abstract).defaulting(to: RobotReference(given: name, directory: ResourceLocator.robotDirectory(name) ?? "Robots/" + name))
    }

    /// `-o, --out <placeholder>`: the file (or folder) a command writes.
    static func out(_ placeholder: String, _ abstract: String, required: Bool = false, defaultNote: String? = nil) -> Option<String> {
        Option("--out", placeholder, abstract, alias: "-o", required: required, defaultNote: defaultNote)
    }

    /// `--json`.
    static let json = Flag("--json", "Print one JSON object")

    /// `--seed <s>` with default `value`.
    static func seed(_ abstract: String, default value: UInt64 = 0) -> DefaultedOption<UInt64> {
        Option<UInt64>("--seed", "s", abstract).defaulting(to: value)
    }

    /// `--threads <n>`, default all cores.
    static let threads = Option<Int>("--threads", "n", "Worker threads", in: 1...256)
        .defaulting(to: ProcessInfo.processInfo.activeProcessorCount, shown: "all cores")

    /// `--port <path>`: a real arm's serial port, or one from `engram sim-serial`.
    static let port = Option<String>("--port", "path", "Serial port of a real arm (or of 'engram sim-serial')")
    /// `--sim`: the simulated arm in-process.
    static let sim = Flag("--sim", "Use the simulated arm in-process")
    /// `--calibration <file>`.
    static let calibration = Option<String>("--calibration", "file", "Calibration file", defaultNote: "Calibration/<robot>.yaml when present")

    /// Exactly one of `--port` and `--sim`.
    static let portOrSim = OptionRule.oneOf(["--port", "--sim"],
        message: "give exactly one of --port <path> (a real arm or 'engram sim-serial') or --sim (the simulated arm)")
}
