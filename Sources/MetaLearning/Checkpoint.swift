import Foundation
import Spiking
import Tensors

/// A checkpoint that does not fit a controller; `description` is one line naming the file and the fix.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file (or "<memory>").
    public var source: String
    /// What is wrong and what to do.
    public var message: String
    /// Creates an error.
    public init(source: String, message: String) { self.source = source; self.message = message }
    public var description: String { "\(source): \(message)" }
}

/// A controller checkpoint: the six weight matrices under the official tensor names (`W_in_trainee`,
/// `W_rec_trainee`, `W_out_trainee`, `W_in_lsg`, `W_rec_lsg`, `W_out_lsg`) in a safetensors file, with the
/// architecture as JSON under `__metadata__["engram.architecture"]`.
///
/// A file without that key (the official weights in ../shared/reference) loads with the paper's
/// hyper-parameters (`ControllerArchitecture.paper`); `architectureFromMetadata` then says false.
public struct ControllerCheckpoint: Sendable {
    /// Metadata key of the architecture JSON.
    public static let architectureKey = "engram.architecture"
    /// Metadata key of the format tag.
    public static let formatKey = "engram.format"
    /// The format tag written by this version.
    public static let formatTag = "engram-controller 1"
    /// The official tensor names, in the order of `ControllerWeights`' properties.
    public static let tensorNames = ["W_in_trainee", "W_rec_trainee", "W_out_trainee", "W_in_lsg", "W_rec_lsg", "W_out_lsg"]

    /// The architecture (from metadata, or the paper's).
    public var architecture: ControllerArchitecture
    /// The weights.
    public var weights: ControllerWeights
    /// Other metadata pairs (provenance), kept on write.
    public var metadata: [String: String]
    /// Whether `architecture` came from the file's metadata (false: paper defaults were assumed).
    public var architectureFromMetadata: Bool

    /// A checkpoint from its parts.
    public init(architecture: ControllerArchitecture, weights: ControllerWeights, metadata: [String: String] = [:]) {
        self.architecture = architecture
        self.weights = weights
        self.metadata = metadata
        self.architectureFromMetadata = true
    }

    /// Reads and checks the file at `path`. Errors name the file and the fix.
    public init(contentsOfFile path: String) throws {
        try self.init(SafeTensors(contentsOfFile: path))
    }

    /// Reads and checks parsed safetensors.
    public init(_ file: SafeTensors) throws {
        var architecture = ControllerArchitecture.paper
        var fromMetadata = false
        if let json = file.metadata[Self.architectureKey] {
            do {
                architecture = try JSONDecoder().decode(ControllerArchitecture.self, from: Data(json.utf8))
                fromMetadata = true
            } catch {
                throw CheckpointError(source: file.source, message: "__metadata__[\"\(Self.architectureKey)\"] is not a valid architecture (\(error)); remove the key to use the paper's hyper-parameters or rewrite it")
            }
        }
        let a = architecture
        let problems = [
            (a.traineeNeurons > 0 && a.lsgNeurons > 0 && a.outputs > 0, "neuron and output counts must be positive"),
            (a.jointTarget != nil || (a.coordinates >= 1 && a.coordinates <= 3), "coordinates must be 1...3"),
            (a.jointTarget.map { j in
                a.coordinates == a.outputs && j.joints == a.outputs && j.handOverSteps >= 0 && j.handOverSteps < a.steps
                    && j.jointRanges.allSatisfy { $0.count == 2 && $0[0].isFinite && $0[1].isFinite && $0[0] < $0[1] }
            } ?? true, "jointTarget must code one range [min < max] per output (coordinates = outputs) with 0 ≤ handOverSteps < steps"),
            (a.codeBits >= 1 && a.codeBits <= 62, "codeBits must be 1...62"),
            (a.steps > 0, "steps must be positive"),
            (a.clock.neurons > 0 && a.clock.windowSteps > 0 && a.clock.spikeEvery > 0, "clock sizes must be positive"),
            (a.lsgAdaptation.count >= 0 && a.lsgAdaptation.count <= a.lsgNeurons, "lsgAdaptation.count must be 0...lsgNeurons"),
            (a.trainee.threshold > 0 && a.lsg.threshold > 0, "thresholds must be positive"),
            (a.trainee.refractorySteps >= 0 && a.lsg.refractorySteps >= 0, "refractorySteps must not be negative"),
        ]
        if let (_, problem) = problems.first(where: { !$0.0 }) {
            throw CheckpointError(source: file.source, message: "__metadata__[\"\(Self.architectureKey)\"]: \(problem); fix the value or remove the key to use the paper's hyper-parameters")
        }
        let shapes = [(a.traineeInputs, a.traineeNeurons), (a.traineeNeurons, a.traineeNeurons), (a.traineeNeurons, a.outputs),
                      (a.lsgInputs, a.lsgNeurons), (a.lsgNeurons, a.lsgNeurons), (a.lsgNeurons, a.traineeNeurons)]
        var matrices: [Matrix] = []
        for (name, shape) in zip(Self.tensorNames, shapes) {
            guard let t = file.tensors[name] else {
                throw CheckpointError(source: file.source, message: "no tensor '\(name)'; a controller checkpoint needs \(Self.tensorNames.joined(separator: ", "))")
            }
            guard t.shape == [shape.0, shape.1] else {
                throw CheckpointError(source: file.source, message: "tensor '\(name)' has shape \(t.shape), the architecture\(fromMetadata ? " in its metadata" : " of the paper (no metadata)") needs [\(shape.0), \(shape.1)]")
            }
            guard t.dtype == .f32 || t.dtype == .f64 else {
                throw CheckpointError(source: file.source, message: "tensor '\(name)' is \(t.dtype.rawValue); weights must be F32 or F64")
            }
            let m = try file.matrix(name)
            if let bad = m.storage.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError(source: file.source, message: "tensor '\(name)' has a non-finite value at row \(bad / m.columns), column \(bad % m.columns); the checkpoint is damaged")
            }
            matrices.append(m)
        }
        self.architecture = architecture
        self.weights = ControllerWeights(traineeInput: matrices[0], traineeRecurrent: matrices[1], traineeReadout: matrices[2],
                                         lsgInput: matrices[3], lsgRecurrent: matrices[4], lsgReadout: matrices[5])
        var rest = file.metadata
        rest[Self.architectureKey] = nil
        rest[Self.formatKey] = nil
        self.metadata = rest
        self.architectureFromMetadata = fromMetadata
    }

    /// The checkpoint as safetensors (architecture and format tag in the metadata).
    public func safeTensors() -> SafeTensors {
        var file = SafeTensors()
        let mats = [weights.traineeInput, weights.traineeRecurrent, weights.traineeReadout, weights.lsgInput, weights.lsgRecurrent, weights.lsgReadout]
        for (name, m) in zip(Self.tensorNames, mats) { file.set(name, matrix: m) }
        file.metadata = metadata
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding a plain struct of numbers cannot fail.
        let json = (try? encoder.encode(architecture)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
        file.metadata[Self.architectureKey] = json
        file.metadata[Self.formatKey] = Self.formatTag
        return file
    }

    /// Writes the checkpoint to `path`.
    public func write(toFile path: String) throws {
        try safeTensors().write(toFile: path)
    }
}
