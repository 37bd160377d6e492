import Trajectories

/// Records a run as it goes: one row per tick through a `TrajectoryWriter` (the file format lives with
/// `TrajectoryFile` in Trajectories), each row on disk as soon as it is appended, so a `kill -9` loses
/// nothing already recorded.
///
/// A control loop's recording has the columns `<joint>.pos` for every joint, then `<joint>.goal`:
/// `record(time:measured:goals:)` lays a tick out that way in a row buffer made once, so recording does not
/// allocate. `append(time:values:)` writes any row of the recorder's columns (`engram record`: positions only).
public final class TrajectoryRecorder {
    /// The file writer.
    public let writer: TrajectoryWriter
    private var row: [Double]

    /// Creates (or truncates) `path` and writes the metadata lines and the header.
    ///
    /// - Parameters:
    ///   - metadata: `key: value` pairs written as `# key: value` lines after `# engram-trajectory 1`.
    ///   - decimals: digits after the decimal point for every value (default 6: 1 µrad, 1 µs).
    public init(path: String, columns: [String], metadata: [(String, String)], decimals: Int = 6) throws {
        writer = try TrajectoryWriter(path: path, columns: columns, metadata: metadata, decimals: decimals)
        row = [Double](repeating: 0, count: columns.count)
    }

    /// The file being written.
    public var path: String { writer.path }
    /// Column names after `time_s`.
    public var columns: [String] { writer.columns }
    /// Rows written so far.
    public var rowCount: Int { writer.rowCount }

    /// Appends one tick of a control loop: the measured positions, then the goals (rad). No allocation.
    public func record(time: Double, measured: [Double], goals: [Double]) throws {
        precondition(measured.count + goals.count == row.count, "a tick has \(measured.count) positions and \(goals.count) goals for \(row.count) columns")
        for j in measured.indices { row[j] = measured[j] }
        for j in goals.indices { row[measured.count + j] = goals[j] }
        try writer.append(time: time, values: row)
    }

    /// Appends one row; `values` holds one value per column. No allocation.
    public func append(time: Double, values: [Double]) throws {
        try writer.append(time: time, values: values)
    }

    /// Closes the file; further appends fail.
    public func close() { writer.close() }
}
