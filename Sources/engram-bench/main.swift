import Foundation

/// engram-bench: benchmarks printing one JSON line per measurement.
/// Usage: engram-bench [group ...]   (see --help for the groups; default: all)
let groups: [(String, () -> Void)] = [
    ("tensors", runTensorsBenchmarks),
    ("pcm", runPhaseChangeBenchmarks),
    ("robot", runRobotBenchmarks),
    ("spiking", runSpikingBenchmarks),
    ("servobus", runServoBusBenchmarks),
    ("perception", runPerceptionBenchmarks),
    ("metalearning", runMetaLearningBenchmarks),
    ("control", runControlBenchmarks),
    ("closedloop", { runClosedLoopGroundworkBenchmarks(); runClosedLoopDeploymentBenchmarks() }),
    ("hostile-bus", runHostileBusBenchmarks),
    ("whole-arm", runWholeArmBenchmarks),
]
let requested = Array(CommandLine.arguments.dropFirst())
// Fuzzing is not a timing group: it runs only when asked for (see FuzzBenchmarks.swift).
switch requested.first {
case "fuzz": exit(runFuzz(Array(requested.dropFirst())))
case "fuzz-child": exit(runFuzzChild(Array(requested.dropFirst())))
case "fuzz-input": exit(runFuzzInput(Array(requested.dropFirst())))
default: break
}
if requested.contains("--help") || requested.contains("-h") {
    print("usage: engram-bench [group ...]\ngroups: \(groups.map { $0.0 }.joined(separator: ", ")) (default: all)\nPrints one JSON line per measurement. Build with -c release.\n       engram-bench fuzz [--inputs N] [--seed S] [decoder ...]   fuzz every decoder (1,000,000 inputs each by default)")
    exit(0)
}
for name in requested where !groups.contains(where: { $0.0 == name }) {
    FileHandle.standardError.write("engram-bench: unknown group '\(name)'; groups: \(groups.map { $0.0 }.joined(separator: ", "))\n".data(using: .utf8)!)
    exit(2)
}
for (name, run) in groups where requested.isEmpty || requested.contains(name) { run() }
