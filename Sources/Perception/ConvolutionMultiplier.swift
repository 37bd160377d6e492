import Tensors

/// Where the convolutions' im2col products are computed: `z = columns · W_layer`.
///
/// `DenseConvolutions` multiplies by float matrices (ideal mode); `CrossbarConvolutions` runs every
/// im2col row through PCM crossbars with read noise.
public protocol ConvolutionMultiplier {
    /// Writes `z` (`rows × channels`) = `columns` (`rows × kernelRows(layer)`) · W_layer.
    mutating func multiply(layer: Int, columns: UnsafePointer<Float>, rows: Int, into z: UnsafeMutablePointer<Float>)
}

/// Ideal mode: the convolution weights as dense float matrices.
public struct DenseConvolutions: ConvolutionMultiplier, Sendable {
    /// One matrix per layer, `kernelRows(l) × channels`.
    public var weights: [Matrix]

    /// The dense multiplier over `weights`.
    public init(weights: [Matrix]) { self.weights = weights }

    public mutating func multiply(layer: Int, columns: UnsafePointer<Float>, rows: Int, into z: UnsafeMutablePointer<Float>) {
        let w = weights[layer]
        w.storage.withUnsafeBufferPointer { wp in
            DenseProducts.multiply(columns, wp.baseAddress!, into: z, m: rows, k: w.rows, n: w.columns)
        }
    }
}
