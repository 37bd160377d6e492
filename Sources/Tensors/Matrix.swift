/// A dense, row-major matrix of `Float` (Float32).
///
/// Element `(r, c)` lives at `storage[r * columns + c]`. For synaptic weights Engram follows the
/// official code's layout: rows are presynaptic, columns postsynaptic, so `v = Wᵀ x`.
public struct Matrix: Equatable, Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// Row-major elements, `rows * columns` of them.
    public var storage: [Float]

    /// A matrix of the given shape filled with `value`.
    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix shape must be non-negative")
        self.rows = rows
        self.columns = columns
        self.storage = [Float](repeating: value, count: rows * columns)
    }

    /// A matrix over existing row-major elements; `storage.count` must equal `rows * columns`.
    public init(rows: Int, columns: Int, storage: [Float]) {
        precondition(storage.count == rows * columns, "Matrix storage has \(storage.count) elements, shape needs \(rows * columns)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// A matrix whose element `(r, c)` is `body(r, c)`.
    public init(rows: Int, columns: Int, _ body: (Int, Int) throws -> Float) rethrows {
        self.init(rows: rows, columns: columns)
        for r in 0..<rows {
            for c in 0..<columns { storage[r * columns + c] = try body(r, c) }
        }
    }

    /// Number of elements.
    @inlinable public var count: Int { rows * columns }

    /// Element at row `r`, column `c`.
    @inlinable public subscript(r: Int, c: Int) -> Float {
        get { storage[r * columns + c] }
        set { storage[r * columns + c] = newValue }
    }

    /// The transpose, as a new matrix.
    public func transposed() -> Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for r in 0..<rows {
            for c in 0..<columns { t.storage[c * rows + r] = storage[r * columns + c] }
        }
        return t
    }

    /// One row, copied.
    public func row(_ r: Int) -> [Float] { Array(storage[(r * columns)..<((r + 1) * columns)]) }

    /// Largest absolute element (0 for an empty matrix).
    public var maxMagnitude: Float { storage.reduce(0) { max($0, abs($1)) } }
}
