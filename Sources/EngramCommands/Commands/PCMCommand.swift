#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import PhaseChange
import Tensors

/// `engram pcm`: the phase-change-memory device models (subcommand `characterize`).
enum PCMCommand: EngramCommand {
    static let name = "pcm"
    static let abstract = "Characterise the emulated phase-change-memory devices"
    static let discussion = """
        Two device models are available.
          paper     The model of the official code of Ortner, Petschenig et al. (2025): ±25 µS
                    differential pairs, programming noise σ_prog(ĝ) on re-programming, and a drift
                    exponent ν redrawn at every programming with drift evaluated once at the fixed ratio
                    t/t0 = 32. Read noise uses the un-normalised Q_s and is drawn afresh at every read,
                    and the first programming reproduces the code's init quirk (uniform ±0.01 instead of
                    programming noise).
          physical  IBM aihwkit's PCMLikeNoiseModel (the default): each device drifts as (t/t0)^(−ν) with
                    t0 = 20 s counted from its own programming, so devices programmed at different times
                    drift differently. Read noise is 1/f noise with the normalised Q_s that grows as
                    sqrt(ln((t + t_r)/(2 t_r))), and conductances are clipped at 0; programming uses
                    program-and-verify.
        """
    static let subcommands: [any EngramCommand.Type] = [PCMCharacterizeCommand.self]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        throw UsageError("missing subcommand; use 'engram pcm characterize' (see 'engram help pcm')")
    }
}

/// `engram pcm characterize`: programs N devices at ĝ·g_max and prints the conductance statistics.
enum PCMCharacterizeCommand: EngramCommand {
    static let name = "characterize"
    static let abstract = "Program N devices at a fraction of g_max and print conductance and drift statistics"
    static let discussion = """
        Programs --devices devices of one polarity at --g × g_max (g_max = 25 µS) at time 0, then reads each once
        at --t seconds after programming. Prints the mean and standard deviation (µS) right after programming
        (programming noise only), at t (drift and one read-noise draw per device), and of the drift exponent ν.
        The paper model bakes its drift in at t/t0 = 32 and ignores --t. With --json the output is one line:

          {"g_target_uS": x, "after_programming": {"mean": m, "std": s},
           "at_t": {"mean": m, "std": s}, "nu": {"mean": m, "std": s}}
        """
    static let model = Option<PCMModelKind>("--model", "model", "Device model").defaulting(to: .physical)
    static let g = Option<Double>("--g", "fraction", "Target conductance as a fraction of g_max, 0...1", in: 0...1, required: true)
    static let devices = Option<Int>("--devices", "n", "Number of devices", in: 2...50_000_000).defaulting(to: 100_000)
    static let t = Option<Double>("--t", "seconds", "Read time after programming, seconds", in: 0...1e12).defaulting(to: 0)
    static let seed = CommonOptions.seed("Random seed")
    static let json = Flag("--json", "Print one line of JSON")

    static let options: [OptionSpec] = [model.spec, g.spec, devices.spec, t.spec, seed.spec, json.spec]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let kind = arguments[Self.model]
        let fraction = try arguments.required(Self.g)
        let devices = arguments[Self.devices]
        let time = arguments[Self.t]
        let seed = arguments[Self.seed]
        var rng = RandomSource(seed: seed)
        let result = DeviceCharacterization.run(parameters: PCMParameters(kind: kind), fraction: fraction,
                                                devices: devices, time: time, rng: &rng)
        if arguments[Self.json] {
            print(result.json)
        } else {
            func line(_ label: String, _ m: SampleMoments, _ unit: String) -> String {
                label.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + "mean \(format(m.mean))\(unit)   std \(format(m.std))\(unit)"
            }
            print("model \(kind.rawValue), \(devices) devices, target \(format(result.gTargetMicroSiemens)) µS, t = \(format(time)) s")
            print(line("after programming", result.afterProgramming, " µS"))
            print(line("at t", result.atTime, " µS"))
            print(line("drift exponent ν", result.nu, ""))
        }
        return 0
    }

    private static func format(_ x: Double) -> String {
        var s = String(format: "%.5g", x)
        if s.isEmpty { s = "\(x)" }
        return s
    }
}
