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

// MARK: - Small generic SIMD kernels (specialised for Float and Double at the call sites in this module)

@inline(__always)
func vectorAXPY<S: MetaScalar>(_ alpha: S, _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int) {
    let av = SIMD8<S>(repeating: alpha)
    var c = 0
    while c &+ 8 <= n {
        var yv = UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self)
        yv.addProduct(av, UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self))
        UnsafeMutableRawPointer(y + c).storeBytes(of: yv, as: SIMD8<S>.self)
        c &+= 8
    }
    while c < n { y[c] += alpha * x[c]; c &+= 1 }
}

@inline(__always)
func vectorAdd<S: MetaScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ n: Int) {
    var c = 0
    while c &+ 8 <= n {
        let yv = UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self)
            + UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self)
        UnsafeMutableRawPointer(y + c).storeBytes(of: yv, as: SIMD8<S>.self)
        c &+= 8
    }
    while c < n { y[c] += x[c]; c &+= 1 }
}

@inline(__always)
func vectorDot<S: MetaScalar>(_ x: UnsafePointer<S>, _ y: UnsafePointer<S>, _ n: Int) -> S {
    var a0 = SIMD8<S>(), a1 = SIMD8<S>()
    var c = 0
    while c &+ 16 <= n {
        a0.addProduct(UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self), UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self))
        a1.addProduct(UnsafeRawPointer(x + (c &+ 8)).loadUnaligned(as: SIMD8<S>.self), UnsafeRawPointer(y + (c &+ 8)).loadUnaligned(as: SIMD8<S>.self))
        c &+= 16
    }
    if c &+ 8 <= n {
        a0.addProduct(UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<S>.self), UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<S>.self))
        c &+= 8
    }
    var s = (a0 + a1).sum()
    while c < n { s += x[c] * y[c]; c &+= 1 }
    return s
}

/// Four dot products sharing one row: (x·y0, x·y1, x·y2, x·y3). Each load of x feeds four FMA chains,
/// unrolled twice so eight chains hide the FMA latency.
@inline(__always)
func vectorDot4<S: MetaScalar>(_ x: UnsafePointer<S>, _ y0: UnsafePointer<S>, _ y1: UnsafePointer<S>,
                               _ y2: UnsafePointer<S>, _ y3: UnsafePointer<S>, _ n: Int) -> SIMD4<S> {
    var a0 = SIMD8<S>(), a1 = SIMD8<S>(), a2 = SIMD8<S>(), a3 = SIMD8<S>()
    var b0 = SIMD8<S>(), b1 = SIMD8<S>(), b2 = SIMD8<S>(), b3 = SIMD8<S>()
    @inline(__always) func load(_ p: UnsafePointer<S>, _ c: Int) -> SIMD8<S> {
        UnsafeRawPointer(p + c).loadUnaligned(as: SIMD8<S>.self)
    }
    var c = 0
    while c &+ 16 <= n {
        let xv = load(x, c), xw = load(x, c &+ 8)
        a0.addProduct(xv, load(y0, c)); b0.addProduct(xw, load(y0, c &+ 8))
        a1.addProduct(xv, load(y1, c)); b1.addProduct(xw, load(y1, c &+ 8))
        a2.addProduct(xv, load(y2, c)); b2.addProduct(xw, load(y2, c &+ 8))
        a3.addProduct(xv, load(y3, c)); b3.addProduct(xw, load(y3, c &+ 8))
        c &+= 16
    }
    if c &+ 8 <= n {
        let xv = load(x, c)
        a0.addProduct(xv, load(y0, c)); a1.addProduct(xv, load(y1, c))
        a2.addProduct(xv, load(y2, c)); a3.addProduct(xv, load(y3, c))
        c &+= 8
    }
    var r = SIMD4<S>((a0 + b0).sum(), (a1 + b1).sum(), (a2 + b2).sum(), (a3 + b3).sum())
    while c < n {
        let xc = x[c]
        r[0] += xc * y0[c]; r[1] += xc * y1[c]; r[2] += xc * y2[c]; r[3] += xc * y3[c]
        c &+= 1
    }
    return r
}
