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

    /// The largest weight magnitude loaded. The official and shipped controllers stay within ±5; a weight
    /// beyond ±1,000 saturates every neuron it touches, so it is damage, not training.
    public static let maximumWeight: Float = 1_000

    /// Bounds on every size in an architecture, checked before anything is allocated from it: a crafted
    /// `steps: 1e9` would otherwise ask for gigabytes. Each is far above any trained controller's value.
    public enum Bounds {
        /// Neurons of the trainee or the LSG (the paper: 250 and 800).
        public static let neurons = 4_096
        /// Trainee outputs, i.e. driven joints.
        public static let outputs = 32
        /// Steps of one trial (the paper: 249 of 1 ms).
        public static let steps = 10_000
        /// Clock input channels (the paper: 5).
        public static let clockNeurons = 256
        /// Neurons of one proprioceptive population (16).
        public static let populationNeurons = 256
        /// Refractory steps.
        public static let refractorySteps = 1_000
        /// Time constants (ms).
        public static let timeConstantMs = 1e6
    }

    /// The first architecture value outside its bound, as a message naming the key and the bound; nil when
    /// every value fits.
    public static func architectureProblem(_ a: ControllerArchitecture) -> String? {
        let b = Bounds.self
        func finite(_ xs: Double...) -> Bool { xs.allSatisfy(\.isFinite) }
        var problems: [(Bool, String)] = [
            ((1...b.neurons).contains(a.traineeNeurons), "traineeNeurons \(a.traineeNeurons) is outside 1...\(b.neurons)"),
            ((1...b.neurons).contains(a.lsgNeurons), "lsgNeurons \(a.lsgNeurons) is outside 1...\(b.neurons)"),
            ((1...b.outputs).contains(a.outputs), "outputs \(a.outputs) is outside 1...\(b.outputs)"),
            (a.jointTarget != nil || (a.coordinates >= 1 && a.coordinates <= 3), "coordinates must be 1...3"),
            (a.jointTarget.map { j in
                a.coordinates == a.outputs && j.joints == a.outputs && j.handOverSteps >= 0 && j.handOverSteps < a.steps
                    && j.jointRanges.allSatisfy { $0.count == 2 && $0[0].isFinite && $0[1].isFinite && $0[0] < $0[1] }
            } ?? true, "jointTarget must code one range [min < max] per output (coordinates = outputs) with 0 ≤ handOverSteps < steps"),
            (a.codeBits >= 1 && a.codeBits <= 62, "codeBits must be 1...62"),
            ((1...b.steps).contains(a.steps), "steps \(a.steps) is outside 1...\(b.steps)"),
            ((1...b.clockNeurons).contains(a.clock.neurons), "clock.neurons \(a.clock.neurons) is outside 1...\(b.clockNeurons)"),
            ((1...b.steps).contains(a.clock.windowSteps) && (1...b.steps).contains(a.clock.spikeEvery),
             "clock.windowSteps and clock.spikeEvery must be 1...\(b.steps)"),
            (a.lsgAdaptation.count >= 0 && a.lsgAdaptation.count <= a.lsgNeurons, "lsgAdaptation.count must be 0...lsgNeurons"),
            (finite(a.lsgAdaptation.beta) && a.lsgAdaptation.tauMs > 0 && a.lsgAdaptation.tauMs <= b.timeConstantMs,
             "lsgAdaptation.beta must be finite and tauMs in (0, \(Int(b.timeConstantMs))]"),
            (a.trainee.threshold > 0 && a.lsg.threshold > 0 && finite(a.trainee.threshold, a.lsg.threshold), "thresholds must be positive and finite"),
            ((0...b.refractorySteps).contains(a.trainee.refractorySteps) && (0...b.refractorySteps).contains(a.lsg.refractorySteps),
             "refractorySteps must be 0...\(b.refractorySteps)"),
        ]
        for (key, p) in [("trainee", a.trainee), ("lsg", a.lsg)] {
            problems.append((p.tauMembraneMs > 0 && p.tauMembraneMs <= b.timeConstantMs && p.tauOutputMs > 0 && p.tauOutputMs <= b.timeConstantMs,
                             "\(key).tauMembraneMs and \(key).tauOutputMs must be in (0, \(Int(b.timeConstantMs))]"))
            problems.append((finite(p.dampening), "\(key).dampening must be finite"))
        }
        problems.append((a.innerLearningRate.isFinite && abs(a.innerLearningRate) <= 1, "innerLearningRate must be finite, within ±1"))
        if let p = a.proprioception {
            problems.append(((1...b.outputs).contains(p.jointRanges.count), "proprioception.jointRanges has \(p.jointRanges.count) joints, outside 1...\(b.outputs)"))
            problems.append((p.jointRanges.allSatisfy { $0.count == 2 && finite($0[0], $0[1]) && $0[0] < $0[1] },
                             "proprioception.jointRanges must be [min, max] pairs of finite numbers with min < max"))
            problems.append(((1...b.populationNeurons).contains(p.angleNeurons) && (1...b.populationNeurons).contains(p.errorNeurons),
                             "proprioception.angleNeurons and errorNeurons must be 1...\(b.populationNeurons)"))
            problems.append((p.errorRange > 0 && p.errorRange.isFinite, "proprioception.errorRange must be positive and finite"))
            problems.append((p.peakProbability > 0 && p.peakProbability <= 1, "proprioception.peakProbability must be in (0, 1]"))
        }
        return problems.first { !$0.0 }?.1
    }

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
        if let problem = Self.architectureProblem(a) {
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
            if let bad = m.storage.firstIndex(where: { !(abs($0) <= Self.maximumWeight) }) {
                throw CheckpointError(source: file.source, message: "tensor '\(name)' has \(m.storage[bad]) at row \(bad / m.columns), column \(bad % m.columns), outside ±\(Int(Self.maximumWeight)) (trained weights stay within ±10); the checkpoint is damaged")
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
