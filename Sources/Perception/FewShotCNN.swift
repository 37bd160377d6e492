import Tensors

/// The few-shot CNN's learnable weights: one im2col weight matrix per convolution and the readout.
///
/// Convolution `l` is a `(3·3·C_in) × C` matrix whose row index is `(kh·3 + kw)·C_in + c_in`, which is
/// exactly the HWIO kernel flattened row-major, so checkpoints store it as `conv1..conv4` with shape
/// `[3, 3, C_in, C]`. The readout is `C × N` (`readout`), rows = features, columns = classes.
public struct FewShotCNN: Sendable, Equatable {
    /// The network's shape.
    public var architecture: CNNArchitecture
    /// The convolution weights, first layer first, each `kernelRows(l) × channels`.
    public var convolutions: [Matrix]
    /// The readout, `channels × ways`.
    public var readout: Matrix

    /// Number of classes the readout has.
    public var ways: Int { readout.columns }

    /// A network with Glorot-uniform weights (as the official code initialises them), seeded.
    public init(architecture: CNNArchitecture = CNNArchitecture(), ways: Int = 5, seed: UInt64) {
        var rng = RandomSource(seed: seed)
        self.architecture = architecture
        var convs: [Matrix] = []
        for l in 0..<architecture.layerCount {
            let fanIn = Float(architecture.kernelRows(l)), fanOut = Float(9 * architecture.channels)
            let limit = (6 / (fanIn + fanOut)).squareRoot()
            convs.append(.uniform(rows: architecture.kernelRows(l), columns: architecture.channels,
                                  low: -limit, high: limit, rng: &rng))
        }
        convolutions = convs
        let limit = (6 / Float(architecture.channels + ways)).squareRoot()
        readout = .uniform(rows: architecture.channels, columns: ways, low: -limit, high: limit, rng: &rng)
    }

    /// A network from given weights; shapes must agree with `architecture`.
    public init(architecture: CNNArchitecture, convolutions: [Matrix], readout: Matrix) {
        precondition(convolutions.count == architecture.layerCount)
        for (l, w) in convolutions.enumerated() {
            precondition(w.rows == architecture.kernelRows(l) && w.columns == architecture.channels)
        }
        precondition(readout.rows == architecture.channels)
        self.architecture = architecture
        self.convolutions = convolutions
        self.readout = readout
    }

    /// The same network with a readout of `ways` columns. When the width changes, every column starts
    /// from the mean of the trained columns (the classes of a new task have no order to inherit).
    public func withWays(_ ways: Int) -> FewShotCNN {
        precondition(ways >= 1)
        if ways == readout.columns { return self }
        var r = Matrix(rows: readout.rows, columns: ways)
        for i in 0..<readout.rows {
            var s: Float = 0
            for j in 0..<readout.columns { s += readout[i, j] }
            let mean = s / Float(readout.columns)
            for j in 0..<ways { r[i, j] = mean }
        }
        var copy = self
        copy.readout = r
        return copy
    }

    /// Every parameter in checkpoint order (conv1..convL, readout), flattened.
    public var flatParameters: [Float] {
        convolutions.flatMap { $0.storage } + readout.storage
    }

    /// Replaces every parameter from a flat array in `flatParameters` order.
    public mutating func setFlatParameters(_ p: [Float]) {
        var offset = 0
        for l in convolutions.indices {
            let n = convolutions[l].count
            convolutions[l].storage = Array(p[offset..<(offset + n)])
            offset += n
        }
        readout.storage = Array(p[offset..<(offset + readout.count)])
    }
}

/// A checkpoint that does not describe a few-shot CNN: names the file and what is wrong.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file.
    public var path: String
    /// What is wrong and how to fix it.
    public var message: String
    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}

extension FewShotCNN {
    /// Tensor names of the convolutions in checkpoints (the official names).
    public static func convolutionName(_ layer: Int) -> String { "conv\(layer + 1)" }

    /// Loads `conv1..convL` (HWIO `[3, 3, C_in, C]`) and `readout` (`[C, N]`) from a safetensors file.
    /// The layer count and channel count come from the file; the image size from `imageSize`.
    public init(checkpoint path: String, imageSize: Int = 28) throws {
        let file: SafeTensors
        do { file = try SafeTensors(contentsOfFile: path) } catch {
            throw CheckpointError(path: path, message: "cannot read as safetensors (\(error)); pass a checkpoint written by 'engram fewshot-train' or the official omniglot-maml-official.safetensors")
        }
        try self.init(safeTensors: file, path: path, imageSize: imageSize)
    }

    /// Loads from parsed safetensors (see `init(checkpoint:)`).
    public init(safeTensors file: SafeTensors, path: String, imageSize: Int = 28) throws {
        var layers = 0
        while file.tensors[FewShotCNN.convolutionName(layers)] != nil { layers += 1 }
        guard layers > 0 else {
            throw CheckpointError(path: path, message: "no tensor 'conv1'; a few-shot CNN checkpoint holds conv1..conv4 (HWIO) and readout")
        }
        guard let readoutTensor = file.tensors["readout"], readoutTensor.shape.count == 2 else {
            throw CheckpointError(path: path, message: "no 2-D tensor 'readout' (channels × ways)")
        }
        let channels = readoutTensor.shape[0]
        let architecture = CNNArchitecture(imageSize: imageSize, channels: channels, layerCount: layers)
        var convs: [Matrix] = []
        for l in 0..<layers {
            let name = FewShotCNN.convolutionName(l)
            let t = file.tensors[name]!
            let expected = [3, 3, architecture.inputChannels(l), channels]
            guard t.shape == expected else {
                throw CheckpointError(path: path, message: "tensor '\(name)' has shape \(t.shape), expected \(expected) (HWIO, \(channels) channels from 'readout')")
            }
            let values: [Float]
            do { values = try file.floats(name) } catch {
                throw CheckpointError(path: path, message: "tensor '\(name)': \(error)")
            }
            convs.append(Matrix(rows: architecture.kernelRows(l), columns: channels, storage: values))
        }
        let readoutValues: [Float]
        do { readoutValues = try file.floats("readout") } catch {
            throw CheckpointError(path: path, message: "tensor 'readout': \(error)")
        }
        for v in readoutValues + convs.flatMap(\.storage) where !v.isFinite {
            throw CheckpointError(path: path, message: "holds a non-finite weight; the training that wrote it diverged")
        }
        self.init(architecture: architecture, convolutions: convs,
                  readout: Matrix(rows: channels, columns: readoutTensor.shape[1], storage: readoutValues))
    }

    /// The weights as safetensors with the official names and shapes.
    public func safeTensors(metadata: [String: String] = [:]) -> SafeTensors {
        var file = SafeTensors()
        for (l, w) in convolutions.enumerated() {
            file.set(FewShotCNN.convolutionName(l), floats: w.storage,
                     shape: [3, 3, architecture.inputChannels(l), architecture.channels])
        }
        file.set("readout", matrix: readout)
        file.metadata = metadata
        return file
    }
}
