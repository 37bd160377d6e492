import Control
import Dispatch
import Spiking
import Robot
import ServoBus
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `engram sim-serial`: a virtual servo bus behind a pseudo-terminal, speaking the real protocol.
enum SimSerialCommand: EngramCommand {
    static let name = "sim-serial"
    static let abstract = "Serve emulated servos on a pseudo-terminal (prints 'port: /dev/pts/N')"
    static let discussion = """
        Creates a pseudo-terminal and answers Dynamixel 2.0 or Feetech STS packets on it like a bus of real
        servos: control tables, return delay, EEPROM protection, and present position following the goal
        with a first-order lag. The first line on stdout is 'port: /dev/pts/N'; point 'engram run --port',
        the ROBOTIS or Feetech SDK, or LeRobot at that path (any baud rate is accepted). Serves until
        SIGINT or SIGTERM, then exits 0.

        Faults (seeded by --seed): --faults drop=0.01,corrupt=0.01,truncate=0.01,delay_ms=2 for every servo,
        or '3:silent' / '2,4:drop=0.5' for some; --faults may be repeated.

        With --robot DIR the servos are the robot's (ids, models, protocol from robot.yaml) and move with the
        servo model of 'engram run --sim' (position loop with gain, velocity and acceleration limits, dead band,
        4096-tick encoder), starting at the robot's home pose.

        Example: engram sim-serial --ids 1,2,3,4,5,6 --model sts3215 --faults drop=0.01 --seed 7

        With --robot and --disturbance push|payload|latency the servos are disturbed like the simulated arm of
        'engram evaluate --disturbance': the window of task --task (default 0) under --seed, a push holding a
        driven joint off its goal, a payload slowing it, or one tick of goal latency. The window counts the robot's loop
        periods from the moment torque is switched on, minus --window-offset-ticks (default 20, the ticks of
        'engram run's 0.2 s settle at the start pose), so it lands on the trial ticks of 'engram run --port P
        --disturbance KIND --task i --seed S', which then prints the same windowed figures as the in-process
        evaluation. Restart sim-serial for each run (the window arms once, at torque-on).

        Example: engram sim-serial --robot scorbot-er7
        Example: engram sim-serial --robot scorbot-er7 --disturbance push --task 3 --seed 0
        """
    /// Servo IDs as `--ids` gives them: `1,2,3`, `1-6` or a mix.
    struct ServoIDs: OptionValue {
        var ids: [UInt8]

        static func parse(_ text: String) throws -> ServoIDs {
            var ids: [UInt8] = []
            for part in text.split(separator: ",") {
                let bounds = part.split(separator: "-", maxSplits: 1)
                guard let lo = Int(bounds[0]), let hi = Int(bounds.count == 2 ? bounds[1] : bounds[0]), lo <= hi, lo >= 0, hi <= 252 else {
                    throw InvalidValue("'\(part)' is not an ID or range in 0...252; write e.g. 1,2,3 or 1-6")
                }
                for id in lo...hi {
                    guard !ids.contains(UInt8(id)) else { throw InvalidValue("ID \(id) appears twice") }
                    ids.append(UInt8(id))
                }
            }
            guard !ids.isEmpty else { throw InvalidValue("no IDs given; write e.g. 1,2,3,4,5,6") }
            return ServoIDs(ids: ids)
        }
        var helpDescription: String { ids.map(String.init).joined(separator: ",") }
    }

    static let robot = CommonOptions.robot("Robot whose servos to serve (IDs, models and protocol): a name from Robots/ or a folder with robot.yaml")
    static let ids = Option<ServoIDs>("--ids", "list", "Servo IDs to serve, e.g. 1,2,3,4,5,6 or 1-6 (instead of --robot)")
    static let model = Option<ServoModel>("--model", "model", "Servo model for --ids", defaultNote: "sts3215; xl330-m288 with --protocol dynamixel2")
    static let wire = Option<ServoProtocol>("--protocol", "protocol", "Wire protocol", defaultNote: "the model's")
    static let faults = Option<String>("--faults", "spec", "Fault injection, e.g. drop=0.01,corrupt=0.01,delay_ms=2 or 3:silent", repeating: true)
    static let seed = CommonOptions.seed("Seed for fault injection")
    static let returnDelay = Option<Int>("--return-delay-us", "us", "Override every servo's Return_Delay_Time, in microseconds (2 µs steps)", in: 0...510)
    static let timeConstant = Option<Double>("--time-constant-ms", "ms", "Plant time constant: goal → present first-order lag (not with --robot)",
                                             in: 0.01...100_000).defaulting(to: 50)
    static let calibration = Option<String>("--calibration", "file", "With --robot: servos calibrated with this file (offsets in their Homing_Offset registers, resting at home)",
                                            defaultNote: "Calibration/<robot>.yaml if there is one, else identity")
    static let disturbance = Option<ArmDisturbance.Kind>("--disturbance", "kind", "With --robot: disturb the servos as task --task of 'engram evaluate --disturbance <kind> --seed <s>'")
    static let task = Option<Int>("--task", "i", "With --disturbance: which evaluation task's window", in: 0...1_000_000).defaulting(to: 0)
    static let windowOffset = Option<Int>("--window-offset-ticks", "n", "With --disturbance: emulator ticks since torque-on before trial tick 0 (engram run's approach settle)",
                                          in: 0...1_000_000).defaulting(to: 20)

    static let options: [OptionSpec] = [robot.spec, ids.spec, model.spec, wire.spec, faults.spec, seed.spec, returnDelay.spec,
                                        timeConstant.spec, calibration.spec, disturbance.spec, task.spec, windowOffset.spec]
    static let rules: [OptionRule] = [
        .oneOf(["--robot", "--ids"], message: "missing --ids <list> (or --robot <name|dir>): which servos to serve, e.g. --ids 1,2,3,4,5,6 --model sts3215"),
        .exclusive(["--robot", "--model"], message: "--robot <name|dir> names the servos; drop --ids, --model and --protocol"),
        .exclusive(["--robot", "--protocol"], message: "--robot <name|dir> names the servos; drop --ids, --model and --protocol"),
        .exclusive(["--robot", "--time-constant-ms"], message: "--time-constant-ms sets the plant of --ids servos; with --robot they move as the robot's simulated arm, so drop it"),
        .requires("--calibration", anyOf: ["--robot"], message: "--calibration calibrates the servos of a robot; it needs --robot <name|dir>"),
        .requires("--disturbance", anyOf: ["--robot"], message: "--disturbance, --task and --window-offset-ticks need --robot <name|dir> (the disturbance acts on the robot's driven joints)"),
        .requires("--task", anyOf: ["--disturbance"], message: "--task and --window-offset-ticks go with --disturbance <kind> (push, payload, latency or none)"),
        .requires("--window-offset-ticks", anyOf: ["--disturbance"], message: "--task and --window-offset-ticks go with --disturbance <kind> (push, payload, latency or none)"),
    ]

    /// The servos and protocol the arguments describe.
    static func configuration(_ arguments: ParsedArguments) throws -> (servos: [(id: UInt8, model: ServoModel)], wire: ServoProtocol) {
        let wireOption = arguments[Self.wire]
        if let path = arguments[Self.robot]?.directory {
            let robot = try RobotFiles.loadRobot(path)
            guard let bus = robot.bus else {
                throw RuntimeError("\(path): robot '\(robot.name)' has no bus in its robot.yaml (simulation only); use 'engram run --sim'")
            }
            let servos = robot.joints.compactMap { j -> (id: UInt8, model: ServoModel)? in
                guard let id = j.servoID, let model = j.servoModel else { return nil }
                return (UInt8(id), model)
            }
            return (servos, bus.protocol)
        }
        let ids = try arguments.required(Self.ids).ids
        let model: ServoModel
        if let m = arguments[Self.model] {
            model = m
        } else {
            model = wireOption == .dynamixel2 ? .xl330M288 : .sts3215
        }
        let wire = wireOption ?? model.wireProtocol
        guard model.wireProtocol == wire else {
            throw UsageError("--model \(model.rawValue) speaks \(model.wireProtocol.rawValue), not --protocol \(wire.rawValue); drop --protocol or pick a matching model")
        }
        return (ids.map { ($0, model) }, wire)
    }

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let (servos, wire) = try configuration(arguments)
        let faults: FaultPlan
        do {
            faults = try FaultPlan(specs: arguments.all(Self.faults))
        } catch {
            throw UsageError("--faults <spec>: \(error)")
        }
        let seed = arguments[Self.seed]
        let tau = arguments[Self.timeConstant] / 1000
        let returnDelay = arguments[Self.returnDelay]
        let emulator: ServoEmulator
        do {
            if let path = arguments[Self.robot]?.directory {
                // The robot's servos with the servo dynamics of `engram run --sim`, calibrated with the robot's
                // calibration file (or --calibration; identity when there is none) and resting at home.
                let robot = try RobotFiles.loadRobot(path)
                let calibration = try RobotFiles.loadCalibration(arguments[Self.calibration], robotPath: path, robot: robot, required: false)
                var disturbance = ArmDisturbance.none
                if let kind = arguments[Self.disturbance], kind != .none {
                    let index = arguments[Self.task]
                    disturbance = DisturbanceEvaluation.task(index, kind: kind, robot: robot, steps: ControllerArchitecture.paper.steps, seed: seed).disturbance
                }
                let offset = arguments[Self.windowOffset]
                if disturbance != .none {
                    printError("sim-serial: disturbance \(disturbance) (window ticks counted from torque-on minus \(offset))")
                }
                emulator = try ServoEmulator.simulating(robot, calibration: calibration,
                                                        faults: faults, seed: seed, disturbance: disturbance, offsetTicks: offset)
            } else {
                emulator = try ServoEmulator(protocol: wire, servos: servos, plant: FirstOrderLagPlant(timeConstantSeconds: tau),
                                             faults: faults, seed: seed)
            }
        } catch let e as RuntimeError {
            throw e
        } catch {
            throw UsageError("\(error)")
        }
        if let returnDelay {
            for s in servos { emulator.setValue(.returnDelayTime, returnDelay / 2, of: s.id) }
        }
        let pty: PseudoTerminal
        do {
            pty = try PseudoTerminal()
        } catch {
            throw RuntimeError("could not create a pseudo-terminal: \(error)")
        }
        print("port: \(pty.path)")
        fflush(stdout)
        let idList = servos.map { String($0.id) }.joined(separator: ",")
        var faultText = "faults " + faults.all.description
        for (id, f) in faults.perServo.sorted(by: { $0.key < $1.key }) { faultText += ", servo \(id): \(f)" }
        var modelNames = ""
        for s in servos where !modelNames.contains(s.model.rawValue) { modelNames += (modelNames.isEmpty ? "" : ", ") + s.model.rawValue }
        printError("sim-serial: \(servos.count) servo(s) (\(modelNames)), IDs \(idList), \(wire.rawValue), \(faultText), seed \(seed); Ctrl-C to stop")

        let stop = EmulatorStopSignal()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.stop() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try emulator.serve(pty.master, until: stop)
        } catch {
            throw RuntimeError("serving \(pty.path) failed: \(error)")
        }
        pty.close()
        let counters = emulator.counters
        printError("sim-serial: stopped after \(counters.instructions) instructions, \(counters.replies) replies")
        return 0
    }
}
