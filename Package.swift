// swift-tools-version:6.0
import PackageDescription

/// Numeric targets are compiled with -O even in debug builds: unoptimised SIMD code is about 300 times
/// slower, which would make `swift test` crawl. arm64 (a Raspberry Pi, a Jetson) needs no CPU flag.
///
/// -O is an unsafe flag, which SwiftPM refuses in a package fetched as a dependency. So it is added only
/// when Engram is built from its own directory (this repository, or a local `.package(path:)` such as
/// Cluster/), not when SwiftPM or Xcode checked it out into a `checkouts` directory; a dependent's
/// release builds are optimised anyway. `ENGRAM_NO_UNSAFE_FLAGS=1` leaves it out here too.
let fetchedAsDependency = Context.packageDirectory.split(separator: "/").contains("checkouts")
    || Context.environment["ENGRAM_NO_UNSAFE_FLAGS"] == "1"
#if arch(x86_64)
/// Haswell (x86-64-v3: AVX2 + FMA) unless `ENGRAM_PORTABLE=1` (binaries for any x86-64). Measured in
/// engram-bench without it: matvec 256x256 93x slower (2.9 -> 267 us), one-shot adaptation 1.6-1.7x.
let cpuFlags = Context.environment["ENGRAM_PORTABLE"] == "1" ? [] : ["-target-cpu", "haswell"]
#else
let cpuFlags: [String] = []
#endif
let numericFlags: [SwiftSetting] = fetchedAsDependency ? [] : [.unsafeFlags(["-O"] + cpuFlags)]

let package = Package(
    name: "Engram",
    products: [
        .executable(name: "engram", targets: ["engram"]),
        .executable(name: "engram-bench", targets: ["engram-bench"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "PhaseChange", targets: ["PhaseChange"]),
        .library(name: "Spiking", targets: ["Spiking"]),
        .library(name: "ServoBus", targets: ["ServoBus"]),
        .library(name: "Robot", targets: ["Robot"]),
        .library(name: "Control", targets: ["Control"]),
        .library(name: "Perception", targets: ["Perception"]),
        .library(name: "EngramCommands", targets: ["EngramCommands"]),
    ],
    targets: [
        // System libraries from Debian.
        .systemLibrary(
            name: "CSerialPort", pkgConfig: "libserialport",
            providers: [.apt(["libserialport-dev"])]),
        .systemLibrary(
            name: "CYAML", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]),
        // PNG decoding (Omniglot as published) and zip reading (the archives as downloaded).
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CZip", pkgConfig: "libzip",
            providers: [.apt(["libzip-dev"])]),

        // Libraries, lowest first. An arrow may only point down this list (docs/modules.md, checked by ModuleLayeringTests).
        .target(name: "Tensors", swiftSettings: numericFlags),
        .target(name: "YAMLCoding", dependencies: ["CYAML"]),
        .target(name: "PhaseChange", dependencies: ["Tensors"], swiftSettings: numericFlags),
        // Forward kinematics (the protocol, DH chains, the Scorbot's closed form) and trajectories (the
        // target type, the CSV format, resampling): below both the hardware layer and the learning modules.
        .target(name: "Kinematics", swiftSettings: numericFlags),
        .target(name: "Trajectories", dependencies: ["Kinematics"], swiftSettings: numericFlags),
        .target(name: "Spiking", dependencies: ["Tensors", "PhaseChange"], swiftSettings: numericFlags),
        .target(name: "ServoBus", dependencies: ["CSerialPort", "Tensors"], swiftSettings: numericFlags),
        .target(name: "Robot", dependencies: ["ServoBus", "YAMLCoding", "Kinematics", "Tensors"], swiftSettings: numericFlags),
        // What deployment needs of learning: the checkpoint, one-shot (and segmented) adaptation, the task loss,
        // the task families a target is drawn from.
        .target(
            name: "Adaptation", dependencies: ["Spiking", "Tensors", "Kinematics", "Trajectories"],
            swiftSettings: numericFlags),
        // Offline learning: the BPTT tape, the trainer, task families, the plants of closed-loop training
        // (one of them the simulated robot arm, hence the arrow to Robot).
        .target(
            name: "MetaLearning",
            dependencies: ["Spiking", "Tensors", "PhaseChange", "Kinematics", "Trajectories", "Adaptation", "Robot"],
            swiftSettings: numericFlags),
        .target(
            name: "Control", dependencies: ["Robot", "Spiking", "Adaptation", "PhaseChange", "Tensors", "Kinematics", "Trajectories"],
            swiftSettings: numericFlags),
        .target(name: "Perception", dependencies: ["Tensors", "PhaseChange", "CPNG", "CZip"], swiftSettings: numericFlags),
        // Fuzzing of every decoder of outside data (engram-bench fuzz, FuzzingTests); used by no product module.
        .target(
            name: "Fuzzing", dependencies: ["Tensors", "ServoBus", "Robot", "Spiking", "MetaLearning", "Perception", "Trajectories", "Adaptation"],
            swiftSettings: numericFlags),

        // The commands of `engram` (argument parsing, help, every command), a library so that
        // `engram-cluster` (Cluster/, the MPI package) runs the same meta-train, evaluate and fewshot-train.
        .target(
            name: "EngramCommands",
            dependencies: [
                "Tensors", "YAMLCoding", "PhaseChange", "Kinematics", "Trajectories", "Spiking", "Adaptation", "MetaLearning",
                "ServoBus", "Robot", "Control", "Perception",
            ],
            swiftSettings: numericFlags),

        // Executables.
        .executableTarget(name: "engram", dependencies: ["EngramCommands"], swiftSettings: numericFlags),
        .executableTarget(
            name: "engram-bench",
            dependencies: [
                "Tensors", "PhaseChange", "Kinematics", "Trajectories", "Spiking", "Adaptation", "MetaLearning", "ServoBus",
                "Robot", "Control", "Perception", "Fuzzing",
            ],
            swiftSettings: numericFlags),

        // Tests: one target per module, plus shared fixtures.
        .target(name: "EngramTestSupport", dependencies: ["Tensors"], path: "Tests/EngramTestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "EngramTestSupport"], swiftSettings: numericFlags),
        .testTarget(name: "YAMLCodingTests", dependencies: ["YAMLCoding", "EngramTestSupport"]),
        .testTarget(
            name: "PhaseChangeTests", dependencies: ["PhaseChange", "EngramTestSupport"],
            exclude: ["Reference"], swiftSettings: numericFlags),
        .testTarget(name: "SpikingTests", dependencies: ["Spiking", "EngramTestSupport"], swiftSettings: numericFlags),
        .testTarget(name: "MetaLearningTests",
            dependencies: ["MetaLearning", "Adaptation", "Kinematics", "Trajectories", "Robot", "EngramTestSupport"], swiftSettings: numericFlags),
        .testTarget(name: "ServoBusTests", dependencies: ["ServoBus", "EngramTestSupport"], exclude: ["Scripts"]),
        .testTarget(name: "RobotTests", dependencies: ["Robot", "Kinematics", "EngramTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "Adaptation", "EngramTestSupport"]),
        .testTarget(name: "PerceptionTests", dependencies: ["Perception", "EngramTestSupport"], swiftSettings: numericFlags),
        .testTarget(name: "FuzzingTests", dependencies: ["Fuzzing", "EngramTestSupport"]),
        .testTarget(name: "EngramCLITests", dependencies: ["engram", "EngramCommands", "Perception", "Tensors", "EngramTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
