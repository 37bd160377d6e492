// swift-tools-version:6.0
import PackageDescription

/// `engram-cluster`: meta-training and evaluation over the ranks of an MPI job. A package of its own, so
/// that the root package (README's set-up commands, `swift build`, `swift test`) never needs MPI: this one
/// depends on the root package by path and on Open MPI from Debian (libopenmpi-dev, openmpi-bin).
///
///     swift build -c release --package-path Cluster
///     mpirun -np 2 Cluster/.build/release/engram-cluster meta-train --task scorbot --iterations 100 --out run.safetensors
let package = Package(
    name: "EngramCluster",
    products: [
        .executable(name: "engram-cluster", targets: ["engram-cluster"]),
    ],
    dependencies: [
        .package(name: "Engram", path: ".."),
    ],
    targets: [
        // MPI's C interface; shim.h turns its handles (macros) into functions Swift can call.
        .systemLibrary(name: "CMPI", pkgConfig: "mpi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .executableTarget(
            name: "engram-cluster",
            dependencies: [
                "CMPI",
                .product(name: "EngramCommands", package: "Engram"),
                .product(name: "Tensors", package: "Engram"),
            ]),
        .testTarget(name: "ClusterTests", dependencies: ["engram-cluster", .product(name: "Tensors", package: "Engram")]),
    ],
    swiftLanguageModes: [.v6]
)
