import Foundation

/// A zero-initialised heap buffer that lives as long as its owner; the tape's storage. Never resized,
/// so pointers into it stay valid and the hot loops never allocate.
final class ScratchBuffer<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    init(count: Int, zero: Element) {
        self.count = count
        pointer = UnsafeMutablePointer<Element>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: zero, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    func fill(_ value: Element) { pointer.update(repeating: value, count: count) }

    subscript(i: Int) -> Element {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}

/// The meta-learned tensors (or their gradients, or Adam moments) in one contiguous buffer, in
/// `MetaParameterName` order, so optimizers and gradient sums run over a single flat array.
public final class FlatParameters<Scalar: MetaScalar>: @unchecked Sendable {
    /// The architecture the layout follows.
    public let architecture: MetaArchitecture
    /// Start of each tensor in `storage`.
    public let offsets: [Int]
    /// Elements of each tensor.
    public let counts: [Int]
    /// Total elements.
    public let count: Int
    let buffer: ScratchBuffer<Scalar>

    /// All zeros.
    public init(zerosFor architecture: MetaArchitecture) {
        self.architecture = architecture
        var offsets: [Int] = [], counts: [Int] = []
        var total = 0
        for name in MetaParameterName.allCases {
            let s = architecture.shape(of: name)
            offsets.append(total)
            counts.append(s.rows * s.columns)
            total += s.rows * s.columns
        }
        self.offsets = offsets
        self.counts = counts
        self.count = total
        buffer = ScratchBuffer(count: total, zero: 0)
    }

    /// A copy of `parameters`.
    public convenience init(_ parameters: MetaParameters<Scalar>, architecture: MetaArchitecture) {
        self.init(zerosFor: architecture)
        load(parameters)
    }

    /// Overwrites the values with `parameters` (same architecture).
    public func load(_ parameters: MetaParameters<Scalar>) {
        for (k, t) in parameters.tensors.enumerated() {
            precondition(t.count == counts[k], "tensor \(MetaParameterName.allCases[k].rawValue) has \(t.count) elements, expected \(counts[k])")
            t.withUnsafeBufferPointer { src in
                (buffer.pointer + offsets[k]).update(from: src.baseAddress!, count: t.count)
            }
        }
    }

    /// The values as `MetaParameters`.
    public var parameters: MetaParameters<Scalar> {
        var p = MetaParameters<Scalar>(zerosFor: architecture)
        for k in 0..<counts.count {
            p.tensors[k] = Array(UnsafeBufferPointer(start: buffer.pointer + offsets[k], count: counts[k]))
        }
        return p
    }

    /// Pointer to the first element of `name`.
    public func pointer(_ name: MetaParameterName) -> UnsafeMutablePointer<Scalar> {
        buffer.pointer + offsets[name.index]
    }

    /// Pointer to the whole flat storage.
    public var storage: UnsafeMutablePointer<Scalar> { buffer.pointer }

    /// Sets every element to zero.
    public func zero() { buffer.fill(0) }

    /// `self += other`, element-wise.
    public func add(_ other: FlatParameters<Scalar>) {
        let a = buffer.pointer, b = other.buffer.pointer
        for i in 0..<count { a[i] += b[i] }
    }
}
