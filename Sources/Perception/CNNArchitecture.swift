/// The shape of the few-shot CNN: `layerCount` 3×3 convolutions with stride 2 and padding 1, each
/// followed by ReLU and an affine-free BatchNorm on batch statistics, then a global max-pool and a
/// `channels × ways` readout without bias (paper-model.md §3.2).
///
/// The paper's network is `CNNArchitecture()` (28×28 images, 56 channels, 4 layers: 28 → 14 → 7 → 4 → 2).
/// Smaller shapes exist for tests.
public struct CNNArchitecture: Sendable, Equatable {
    /// Side of the square single-channel input image, pixels.
    public var imageSize: Int
    /// Output channels of every convolution (the paper: 56).
    public var channels: Int
    /// Number of convolutions.
    public var layerCount: Int
    /// BatchNorm's variance epsilon (Keras default).
    public var batchNormEpsilon: Float = 1e-3

    /// The paper's network, or a smaller one.
    public init(imageSize: Int = 28, channels: Int = 56, layerCount: Int = 4) {
        precondition(imageSize >= 2 && channels >= 1 && layerCount >= 1, "CNN shape must be positive")
        self.imageSize = imageSize
        self.channels = channels
        self.layerCount = layerCount
    }

    /// Input side of convolution `layer`.
    public func inputSize(_ layer: Int) -> Int {
        var s = imageSize
        for _ in 0..<layer { s = (s + 2 - 3) / 2 + 1 }
        return s
    }

    /// Output side of convolution `layer`: ⌊(s + 2·1 − 3)/2⌋ + 1.
    public func outputSize(_ layer: Int) -> Int { inputSize(layer + 1) }

    /// Input channels of convolution `layer` (1 for the first).
    public func inputChannels(_ layer: Int) -> Int { layer == 0 ? 1 : channels }

    /// Rows of the im2col weight matrix of `layer`: 3·3·input channels (HWIO flattened).
    public func kernelRows(_ layer: Int) -> Int { 9 * inputChannels(layer) }

    /// Pixels per image.
    public var pixelsPerImage: Int { imageSize * imageSize }

    /// Number of convolution weights plus a `ways`-wide readout.
    public func parameterCount(ways: Int) -> Int {
        (0..<layerCount).reduce(0) { $0 + kernelRows($1) * channels } + channels * ways
    }
}
