import Foundation
import Kinematics

/// A bad trajectory file: `description` is one line, `file:line: what is wrong; what to do`.
public struct TrajectoryFileError: Error, CustomStringConvertible, Equatable {
    /// The file (or "<memory>").
    public var source: String
    /// 1-based line number, or nil when the problem is the whole file.
    public var line: Int?
    /// What is wrong and what to do.
    public var message: String
    /// Creates an error.
    public init(source: String, line: Int?, message: String) {
        self.source = source
        self.line = line
        self.message = message
    }
    public var description: String { line.map { "\(source):\($0): \(message)" } ?? "\(source): \(message)" }
}

/// A trajectory CSV in the format of ../shared/DESIGN.md: leading `#` metadata lines
/// (`# engram-trajectory 1`, `# key: value`), a header row, then one row per sample with `time_s`,
/// per joint `<joint>.pos` (rad) and optional `<joint>.vel` (rad/s) and `<joint>.goal` (rad), and
/// optional `ee.x`, `ee.y`, `ee.z` (m). Shared by adaptation targets, demonstrations and recordings.
///
/// Reading keeps what the file has; `derivingMissing` fills velocities (finite differences) and the
/// end effector (forward kinematics) and says so in `notes`. A last row cut off by a crash (no final
/// newline and incomplete) is skipped and reported in `notes`; any other bad row is an error with its
/// line number.
public struct TrajectoryFile: Sendable, Equatable {
    /// One `# key: value` metadata line.
    public struct MetadataEntry: Sendable, Equatable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) { self.key = key; self.value = value }
    }

    /// Metadata lines in file order (without the `engram-trajectory` tag line).
    public var metadata: [MetadataEntry]
    /// Joint names, in column order.
    public var joints: [String]
    /// Sample times (s).
    public var time: [Double]
    /// Joint positions (rad), rows × joints, row-major.
    public var positions: [Double]
    /// Joint velocities (rad/s), rows × joints, or nil when absent.
    public var velocities: [Double]?
    /// Joint goals (rad), rows × joints, or nil when absent.
    public var goals: [Double]?
    /// End-effector positions (m), or nil when absent.
    public var endEffector: [SIMD3<Double>]?
    /// What the reader or `derivingMissing` did that the user should know (derived columns, a skipped row).
    public var notes: [String] = []

    /// Number of rows.
    public var rows: Int { time.count }

    /// A trajectory from its columns.
    public init(joints: [String], time: [Double], positions: [Double], velocities: [Double]? = nil, goals: [Double]? = nil,
                endEffector: [SIMD3<Double>]? = nil, metadata: [MetadataEntry] = []) {
        precondition(positions.count == time.count * joints.count, "positions must be rows × joints")
        precondition(velocities == nil || velocities!.count == positions.count, "velocities must be rows × joints")
        precondition(goals == nil || goals!.count == positions.count, "goals must be rows × joints")
        precondition(endEffector == nil || endEffector!.count == time.count, "one end-effector position per row")
        self.joints = joints
        self.time = time
        self.positions = positions
        self.velocities = velocities
        self.goals = goals
        self.endEffector = endEffector
        self.metadata = metadata
    }

    /// Reads the file at `path`.
    public init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrajectoryFileError(source: path, line: nil, message: "cannot read the file; check the path and permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TrajectoryFileError(source: path, line: nil, message: "is not UTF-8 text; save it as a UTF-8 CSV")
        }
        try self.init(csv: text, source: path)
    }

    /// Parses CSV text; `source` names it in errors.
    public init(csv text: String, source: String = "<memory>") throws {
        func fail(_ line: Int?, _ m: String) -> TrajectoryFileError { TrajectoryFileError(source: source, line: line, message: m) }
        // CRLF files (Windows editors, spreadsheets) are read like LF ones. A Swift `Character` holds "\r\n"
        // as one grapheme, so it is matched as a separator of its own.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        let endsWithNewline = text.last == "\n" || text.last == "\r\n"
        let isEngramRecording = text.hasPrefix("# engram-trajectory")
        if endsWithNewline { lines.removeLast() }
        var metadata: [MetadataEntry] = []
        var index = 0
        while index < lines.count, lines[index].hasPrefix("#") || lines[index].allSatisfy({ $0 == " " }) {
            let body = lines[index].drop(while: { $0 == "#" || $0 == " " })
            if let colon = body.firstIndex(of: ":") {
                metadata.append(MetadataEntry(String(body[..<colon]).trimmingCharacters(in: .whitespaces),
                                              String(body[body.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            } else if !body.isEmpty && !body.hasPrefix("engram-trajectory") {
                metadata.append(MetadataEntry(String(body), ""))
            }
            index += 1
        }
        guard index < lines.count else { throw fail(nil, "has no header row; the first line after the # metadata must name the columns (time_s,<joint>.pos,...)") }
        let headerLine = index + 1
        let header = lines[index].split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        index += 1
        guard let timeColumn = header.firstIndex(of: "time_s") else {
            throw fail(headerLine, "missing column 'time_s'; the header has \(header.joined(separator: ", ")); add time_s (seconds) as the first column")
        }
        var seen = Set<String>()
        for name in header {
            if name.isEmpty { throw fail(headerLine, "the header has an empty column name; name every column") }
            if !seen.insert(name).inserted { throw fail(headerLine, "column '\(name)' appears twice; keep one") }
        }
        let joints = header.compactMap { $0.hasSuffix(".pos") ? String($0.dropLast(4)) : nil }
        guard !joints.isEmpty else {
            throw fail(headerLine, "no '<joint>.pos' column; the header has \(header.joined(separator: ", ")); add one position column per joint (rad)")
        }
        for name in header where name.hasSuffix(".vel") || name.hasSuffix(".goal") {
            let joint = String(name[..<name.lastIndex(of: ".")!])
            if !joints.contains(joint) { throw fail(headerLine, "column '\(name)' has no matching '\(joint).pos'; add it or rename the column") }
        }
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        let pos = joints.map { column($0 + ".pos")! }
        let velColumns = joints.map { column($0 + ".vel") }
        let goalColumns = joints.map { column($0 + ".goal") }
        let hasVel = velColumns.contains { $0 != nil }, hasGoal = goalColumns.contains { $0 != nil }
        if hasVel, let k = velColumns.firstIndex(where: { $0 == nil }) {
            throw fail(headerLine, "missing column '\(joints[k]).vel'; give velocities for every joint or for none")
        }
        if hasGoal, let k = goalColumns.firstIndex(where: { $0 == nil }) {
            throw fail(headerLine, "missing column '\(joints[k]).goal'; give goals for every joint or for none")
        }
        let ee = ["ee.x", "ee.y", "ee.z"].map(column)
        let eeCount = ee.compactMap { $0 }.count
        if eeCount != 0 && eeCount != 3 {
            let missing = zip(["ee.x", "ee.y", "ee.z"], ee).first { $0.1 == nil }!.0
            throw fail(headerLine, "missing column '\(missing)'; give all of ee.x, ee.y, ee.z or none")
        }

        var time: [Double] = [], positions: [Double] = [], velocities: [Double] = [], goals: [Double] = []
        var endEffector: [SIMD3<Double>] = []
        var notes: [String] = []
        var cells = [Double](repeating: 0, count: header.count)
        rowLoop: while index < lines.count {
            let lineNumber = index + 1
            let isLast = index == lines.count - 1
            let raw = lines[index]
            index += 1
            if raw.allSatisfy({ $0 == " " || $0 == "\t" }) {
                if isLast { break }
                throw fail(lineNumber, "empty row; remove the blank line")
            }
            if raw.hasPrefix("#") { continue }
            let parts = raw.split(separator: ",", omittingEmptySubsequences: false)
            let cutOff = isLast && !endsWithNewline
            // Engram's recorder ends every row with a newline, so in a file it wrote (tagged
            // `# engram-trajectory`) a last line without one was cut off mid-write, even when its
            // cells happen to parse.
            if cutOff && isEngramRecording {
                notes.append("line \(lineNumber): last row cut off (no newline at the end of a recorded file), skipped")
                break rowLoop
            }
            if parts.count != header.count {
                if cutOff && parts.count < header.count {
                    notes.append("line \(lineNumber): last row cut off (\(parts.count) of \(header.count) cells), skipped")
                    break rowLoop
                }
                throw fail(lineNumber, "row has \(parts.count) cells, the header has \(header.count) columns; fix the row or the header")
            }
            for (c, part) in parts.enumerated() {
                let s = part.trimmingCharacters(in: .whitespaces)
                guard let v = Double(s), v.isFinite else {
                    if cutOff && c == parts.count - 1 {
                        notes.append("line \(lineNumber): last row cut off (incomplete cell '\(s)'), skipped")
                        break rowLoop
                    }
                    throw fail(lineNumber, "column '\(header[c])' has '\(s)', not a finite number; write a decimal number")
                }
                cells[c] = v
            }
            if let last = time.last, cells[timeColumn] <= last {
                throw fail(lineNumber, "time_s \(cells[timeColumn]) does not increase (previous \(last)); sort the rows by time")
            }
            time.append(cells[timeColumn])
            for k in joints.indices {
                positions.append(cells[pos[k]])
                if hasVel { velocities.append(cells[velColumns[k]!]) }
                if hasGoal { goals.append(cells[goalColumns[k]!]) }
            }
            if eeCount == 3 { endEffector.append(SIMD3(cells[ee[0]!], cells[ee[1]!], cells[ee[2]!])) }
        }
        guard !time.isEmpty else { throw fail(nil, "has a header but no data rows; record or write at least one row") }
        self.init(joints: joints, time: time, positions: positions, velocities: hasVel ? velocities : nil,
                  goals: hasGoal ? goals : nil, endEffector: eeCount == 3 ? endEffector : nil, metadata: metadata)
        self.notes = notes
    }

    /// The CSV text: `# engram-trajectory 1`, the metadata, the header and the rows (`decimals` digits).
    public func csv(decimals: Int = 9) -> String {
        var out = "# engram-trajectory 1\n"
        for m in metadata { out += m.value.isEmpty ? "# \(m.key)\n" : "# \(m.key): \(m.value)\n" }
        var header = ["time_s"] + joints.map { $0 + ".pos" }
        if velocities != nil { header += joints.map { $0 + ".vel" } }
        if goals != nil { header += joints.map { $0 + ".goal" } }
        if endEffector != nil { header += ["ee.x", "ee.y", "ee.z"] }
        out += header.joined(separator: ",") + "\n"
        let j = joints.count
        func f(_ v: Double) -> String { String(format: "%.\(decimals)f", v) }
        for r in 0..<rows {
            var row = [f(time[r])]
            row += (0..<j).map { f(positions[r * j + $0]) }
            if let v = velocities { row += (0..<j).map { f(v[r * j + $0]) } }
            if let g = goals { row += (0..<j).map { f(g[r * j + $0]) } }
            if let e = endEffector { row += [f(e[r].x), f(e[r].y), f(e[r].z)] }
            out += row.joined(separator: ",") + "\n"
        }
        return out
    }

    /// Writes the CSV to `path`.
    public func write(toFile path: String, decimals: Int = 9) throws {
        do {
            try csv(decimals: decimals).write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw TrajectoryFileError(source: path, line: nil, message: "cannot write the file (\(error.localizedDescription)); check the folder exists and is writable")
        }
    }

    /// A copy with velocities and end effector filled in where absent, with a note for each.
    ///
    /// Velocities: backward differences ω_t = (q_t − q_{t−1})/(t_t − t_{t−1}), and ω_0 = ω_1 (a single row
    /// gets 0). End effector: `kinematics` at the positions, joints not in the file at `restAngles`;
    /// `jointIndices[k]` is the kinematics index of the file's joint k.
    public func derivingMissing<K: ForwardKinematics>(kinematics: K, jointIndices: [Int], restAngles: [Double]? = nil) -> TrajectoryFile {
        precondition(jointIndices.count == joints.count, "one kinematics index per joint")
        var out = self
        let j = joints.count
        if velocities == nil {
            var v = [Double](repeating: 0, count: positions.count)
            for r in 1..<max(rows, 1) {
                let dt = time[r] - time[r - 1]
                for k in 0..<j { v[r * j + k] = (positions[r * j + k] - positions[(r - 1) * j + k]) / dt }
            }
            if rows > 1 { for k in 0..<j { v[k] = v[j + k] } }
            out.velocities = v
            out.notes.append("velocities derived by finite difference of the positions")
        }
        if endEffector == nil {
            var q = restAngles ?? [Double](repeating: 0, count: kinematics.jointCount)
            var ee: [SIMD3<Double>] = []
            for r in 0..<rows {
                for k in 0..<j { q[jointIndices[k]] = positions[r * j + k] }
                ee.append(kinematics.position(q))
            }
            out.endEffector = ee
            out.notes.append("end effector derived by forward kinematics")
        }
        return out
    }

    /// Throws, naming the row, time, joint and bound, when a position lies outside its joint's limits (rad);
    /// joints without limits in `limits` are not checked. A target the arm cannot reach is refused before
    /// any controller is adapted to it.
    public func checkPositions(within limits: [String: ClosedRange<Double>], source: String = "<memory>") throws(TrajectoryFileError) {
        for (j, name) in joints.enumerated() {
            guard let range = limits[name] else { continue }
            for r in 0..<rows where !range.contains(positions[r * joints.count + j]) {
                let deg = 180 / Double.pi
                throw TrajectoryFileError(source: source, line: nil, message: String(
                    format: "row %d (time_s %.6g): %@.pos is %.6g rad (%.6g°), outside the joint's limits [%.4g°, %.4g°]; the target must lie within them",
                    r + 1, time[r], name, positions[r * joints.count + j], positions[r * joints.count + j] * deg, range.lowerBound * deg, range.upperBound * deg))
            }
        }
    }

    /// The adaptation target for the named joints (in output order): velocities and end effector must be
    /// present (call `derivingMissing` first). Throws when a joint is missing.
    public func target(joints names: [String], stepSeconds: Double, source: String = "<memory>") throws -> TargetTrajectory {
        let idx = try names.map { name -> Int in
            guard let i = joints.firstIndex(of: name) else {
                throw TrajectoryFileError(source: source, line: nil, message: "missing column '\(name).pos'; the file has joints \(joints.joined(separator: ", ")); the controller drives \(names.joined(separator: ", "))")
            }
            return i
        }
        guard let v = velocities, let ee = endEffector else {
            throw TrajectoryFileError(source: source, line: nil, message: "velocities or end effector missing; derive them first")
        }
        let j = joints.count, n = names.count
        var omega = [Double](repeating: 0, count: rows * n), angles = omega
        for r in 0..<rows {
            for (k, i) in idx.enumerated() {
                omega[r * n + k] = v[r * j + i]
                angles[r * n + k] = positions[r * j + i]
            }
        }
        return TargetTrajectory(steps: rows, joints: n, angularVelocity: omega, angles: angles, endEffector: ee, stepSeconds: stepSeconds)
    }

    /// A file holding `target` for the named joints at times 0, Δt, 2Δt, ...
    public init(target: TargetTrajectory, joints names: [String], metadata: [MetadataEntry] = []) {
        precondition(names.count == target.joints, "one name per joint")
        self.init(joints: names, time: (0..<target.steps).map { Double($0) * target.stepSeconds }, positions: target.angles,
                  velocities: target.angularVelocity, endEffector: target.endEffector, metadata: metadata)
    }
}

extension TrajectoryFile {
    /// The same motion on a new time grid of `rows` samples `stepSeconds` apart (starting at 0): the
    /// file's whole duration is stretched or squeezed onto it (positions and goals linearly
    /// interpolated; velocities dropped, to be derived again on the new grid; the end effector
    /// interpolated). `notes` says by how much the motion was sped up or slowed down.
    ///
    /// This is how a demonstration of any length becomes a target for a controller whose trial has a
    /// fixed number of steps.
    public func resampled(rows newRows: Int, stepSeconds: Double) -> TrajectoryFile {
        precondition(newRows >= 2 && rows >= 2, "resampling needs at least two rows on each side")
        let t0 = time.first!, duration = time.last! - time.first!
        let newDuration = Double(newRows - 1) * stepSeconds
        let n = joints.count
        var newTime = [Double](repeating: 0, count: newRows)
        var newPositions = [Double](repeating: 0, count: newRows * n)
        var newGoals: [Double]? = goals.map { _ in [Double](repeating: 0, count: newRows * n) }
        var newEndEffector: [SIMD3<Double>]? = endEffector.map { _ in [SIMD3<Double>](repeating: .zero, count: newRows) }
        var cursor = 0
        for k in 0..<newRows {
            newTime[k] = Double(k) * stepSeconds
            let t = t0 + duration * Double(k) / Double(newRows - 1)
            while cursor + 2 < rows && time[cursor + 1] <= t { cursor += 1 }
            let a = cursor, b = min(cursor + 1, rows - 1)
            let f = b == a || time[b] == time[a] ? 0 : min(1, max(0, (t - time[a]) / (time[b] - time[a])))
            for j in 0..<n {
                newPositions[k * n + j] = positions[a * n + j] + (positions[b * n + j] - positions[a * n + j]) * f
                if let g = goals { newGoals![k * n + j] = g[a * n + j] + (g[b * n + j] - g[a * n + j]) * f }
            }
            if let e = endEffector { newEndEffector![k] = e[a] + (e[b] - e[a]) * f }
        }
        var out = TrajectoryFile(joints: joints, time: newTime, positions: newPositions, velocities: nil, goals: newGoals,
                                 endEffector: newEndEffector, metadata: metadata)
        out.notes = notes
        let factor = duration / max(newDuration, 1e-12)
        out.notes.append(String(format: "resampled %d rows (%.2f s) onto %d steps of %.0f ms (%.2f s): the motion plays %.2f× %@",
                                rows, duration, newRows, stepSeconds * 1000, newDuration, factor >= 1 ? factor : 1 / factor,
                                factor >= 1 ? "faster" : "slower"))
        return out
    }
}
