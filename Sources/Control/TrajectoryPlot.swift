import Foundation

/// What a plotted series is. The role fixes its colour and line style in every plot Engram draws
/// (demo, run, plot): target blue dashed, measured before the one-shot update red, measured (after the
/// update, when there was one) green, the commanded goal dotted in a darker shade of the run it drove.
public enum PlotRole: Sendable, Equatable {
    /// The trajectory to follow (dashed blue).
    case target
    /// Measured before the one-shot update (solid red).
    case before
    /// Measured: the arm's path, after the update when there was one (solid green).
    case measured
    /// Commanded goals after the safety envelope (dotted, a darker shade of the measured run's colour).
    case goal
}

/// One trajectory to draw: joint angles over time and, optionally, the end-effector path.
public struct PlotSeries: Sendable {
    /// Legend label, e.g. "target" or "actual (after update)".
    public var label: String
    /// Sample times (s).
    public var time: [Double]
    /// Joint angles (rad) by joint name, each as long as `time`.
    public var joints: [(name: String, radians: [Double])]
    /// End-effector positions (m), empty when unknown.
    public var endEffector: [SIMD3<Double>]
    /// Draw dashed (for targets; implied by `role` `.target`).
    public var dashed: Bool
    /// What the series is (colour and style); nil: a colour by position, solid or `dashed`.
    public var role: PlotRole?
    /// Which run of several (e.g. files of `engram plot`): run 0 has the role colours, others their own
    /// hue, with the role's line style.
    public var run: Int

    public init(label: String, time: [Double], joints: [(name: String, radians: [Double])], endEffector: [SIMD3<Double>] = [],
                dashed: Bool = false, role: PlotRole? = nil, run: Int = 0) {
        self.label = label
        self.time = time
        self.joints = joints
        self.endEffector = endEffector
        self.dashed = dashed
        self.role = role
        self.run = run
    }

    /// Stroke colour.
    var color: String {
        guard let role else { return TrajectoryPlot.palette[run % TrajectoryPlot.palette.count] }
        switch role {
        case .target: return "#1f77b4"
        case .before: return "#d62728"
        case .measured, .goal:
            let hue = run == 0 ? "#2ca02c" : TrajectoryPlot.runHues[(run - 1) % TrajectoryPlot.runHues.count]
            return role == .goal ? TrajectoryPlot.darker(hue) : hue
        }
    }

    /// SVG dash attribute ("" for solid).
    var dashAttribute: String {
        if role == .goal { return " stroke-dasharray=\"2 3\"" }
        return dashed || role == .target ? " stroke-dasharray=\"6 4\"" : ""
    }
}

/// Writes plain SVG plots of trajectories: one panel of angle over time per joint (degrees), and the
/// end-effector path in two projections (top view x–y, side view x–z, millimetres), with axes, units and
/// a legend. One `<path>` per series per panel.
public enum TrajectoryPlot {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    /// Hues of further runs (never the target's blue or the before-update red).
    static let runHues = ["#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]

    /// The SVG document for `series`.
    public static func svg(_ series: [PlotSeries], title: String) -> String {
        let jointNames = orderedJointNames(series)
        let hasPath = series.contains { !$0.endEffector.isEmpty }
        // gap: room for the right panel's tick labels and axis title clear of the left panel's last x tick.
        let panelWidth = 420.0, panelHeight = 220.0, margin = 70.0, gap = 100.0, rowGap = 80.0
        var series = series
        for i in series.indices where series[i].role == nil { series[i].run = i }
        let timeRows = jointNames.count
        let columns = 2.0
        let timeRowsHeight = Double((timeRows + 1) / 2) * (panelHeight + rowGap)
        let pathHeight = hasPath ? panelHeight + rowGap : 0
        let width = margin * 2 + columns * panelWidth + gap
        let height = 60 + timeRowsHeight + pathHeight + 20 + Double(series.count) * 18
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="sans-serif" font-size="12">
            <rect x="0" y="0" width="\(fmt(width))" height="\(fmt(height))" fill="white"/>
            <text x="\(fmt(width / 2))" y="28" text-anchor="middle" font-size="16">\(escape(title))</text>

            """
        var y0 = 60.0
        for (k, joint) in jointNames.enumerated() {
            let x0 = margin + Double(k % 2) * (panelWidth + gap)
            let top = y0 + Double(k / 2) * (panelHeight + rowGap)
            var lines: [(PlotSeries, [(Double, Double)])] = []
            for ser in series {
                guard let j = ser.joints.first(where: { $0.name == joint }) else { continue }
                let n = min(ser.time.count, j.radians.count)
                lines.append((ser, (0..<n).map { (ser.time[$0], j.radians[$0] * 180 / .pi) }))
            }
            out += panel(title: "\(joint) angle", xLabel: "time (s)", yLabel: "angle (deg)", x: x0, y: top, w: panelWidth, h: panelHeight, lines: lines)
        }
        y0 += timeRowsHeight
        if hasPath {
            for (k, (name, axis)) in [("end effector, top view", 1), ("end effector, side view", 2)].enumerated() {
                let x0 = margin + Double(k) * (panelWidth + gap)
                var lines: [(PlotSeries, [(Double, Double)])] = []
                for ser in series where !ser.endEffector.isEmpty {
                    lines.append((ser, ser.endEffector.map { ($0.x * 1000, (axis == 1 ? $0.y : $0.z) * 1000) }))
                }
                out += panel(title: name, xLabel: "x (mm)", yLabel: axis == 1 ? "y (mm)" : "z (mm)", x: x0, y: y0, w: panelWidth, h: panelHeight,
                             lines: lines, overTime: false)
            }
            y0 += pathHeight
        }
        out += "<g id=\"legend\">\n"
        for (s, ser) in series.enumerated() {
            let ly = y0 + Double(s) * 18
            out += "<line x1=\"\(fmt(margin))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(margin + 30))\" y2=\"\(fmt(ly))\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(ser.dashAttribute)/>\n"
            out += "<text x=\"\(fmt(margin + 38))\" y=\"\(fmt(ly + 4))\">\(escape(ser.label))</text>\n"
        }
        out += "</g>\n</svg>\n"
        return out
    }

    static func orderedJointNames(_ series: [PlotSeries]) -> [String] {
        var names: [String] = []
        for s in series { for j in s.joints where !names.contains(j.name) { names.append(j.name) } }
        return names
    }

    /// One panel; `overTime` says x is time (increasing), which allows thinning per pixel column.
    static func panel(title: String, xLabel: String, yLabel: String, x: Double, y: Double, w: Double, h: Double,
                      lines: [(PlotSeries, [(Double, Double)])], overTime: Bool = true) -> String {
        // The axes hold every point of every curve drawn, with a margin so no curve runs along the frame.
        let points = lines.flatMap { $0.1 }.filter { $0.0.isFinite && $0.1.isFinite }
        let (xmin, xmax) = paddedRange(points.map(\.0))
        let (ymin, ymax) = paddedRange(points.map(\.1))
        let xt = niceTicks(xmin, xmax), yt = niceTicks(ymin, ymax)
        func px(_ v: Double) -> Double { x + (v - xmin) / (xmax - xmin) * w }
        func py(_ v: Double) -> Double { y + h - (v - ymin) / (ymax - ymin) * h }
        var out = "<g class=\"panel\">\n<text x=\"\(fmt(x + w / 2))\" y=\"\(fmt(y - 8))\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(title))</text>\n"
        out += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"\(fmt(h))\" fill=\"none\" stroke=\"#444\"/>\n"
        for t in xt where t >= xmin && t <= xmax {
            out += "<line x1=\"\(fmt(px(t)))\" y1=\"\(fmt(y + h))\" x2=\"\(fmt(px(t)))\" y2=\"\(fmt(y + h + 5))\" stroke=\"#444\"/>"
            out += "<text x=\"\(fmt(px(t)))\" y=\"\(fmt(y + h + 18))\" text-anchor=\"middle\">\(tickLabel(t))</text>\n"
        }
        for t in yt where t >= ymin && t <= ymax {
            out += "<line x1=\"\(fmt(x - 5))\" y1=\"\(fmt(py(t)))\" x2=\"\(fmt(x))\" y2=\"\(fmt(py(t)))\" stroke=\"#444\"/>"
            out += "<line x1=\"\(fmt(x))\" y1=\"\(fmt(py(t)))\" x2=\"\(fmt(x + w))\" y2=\"\(fmt(py(t)))\" stroke=\"#eee\"/>"
            out += "<text x=\"\(fmt(x - 8))\" y=\"\(fmt(py(t) + 4))\" text-anchor=\"end\">\(tickLabel(t))</text>\n"
        }
        out += "<text x=\"\(fmt(x + w / 2))\" y=\"\(fmt(y + h + 34))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text x=\"\(fmt(x - 55))\" y=\"\(fmt(y + h / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 \(fmt(x - 55)) \(fmt(y + h / 2)))\">\(escape(yLabel))</text>\n"
        for (ser, pts) in lines {
            var d = ""
            var pen = false
            let picture = pts.map { $0.0.isFinite && $0.1.isFinite ? (px($0.0), py($0.1)) : (Double.nan, Double.nan) }
            for p in overTime ? thinned(picture) : thinnedPath(picture) {
                guard let (a, b) = p else { pen = false; continue }
                d += (pen ? "L" : "M") + fmt(a) + "," + fmt(b) + " "
                pen = true
            }
            out += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.6\"\(ser.dashAttribute)><title>\(escape(ser.label))</title></path>\n"
        }
        return out + "</g>\n"
    }

    /// `#rrggbb` at 55 % brightness.
    static func darker(_ hex: String) -> String {
        let v = Int(hex.dropFirst(), radix: 16) ?? 0
        let channels = [v >> 16 & 0xFF, v >> 8 & 0xFF, v & 0xFF].map { Int(Double($0) * 0.55) }
        return "#" + channels.map { String(format: "%02x", $0) }.joined()
    }

    /// The span of `values` widened by 4 % on each side (±1 around a single value; 0…1 when empty).
    static func paddedRange(_ values: [Double]) -> (Double, Double) {
        guard var lo = values.min(), var hi = values.max() else { return (0, 1) }
        if hi - lo < 1e-9 { lo -= 1; hi += 1 }
        let pad = 0.04 * (hi - lo)
        return (lo - pad, hi + pad)
    }

    /// A polyline in picture coordinates thinned to what the picture can show: each run of consecutive
    /// points in one pixel column keeps its first, lowest, highest and last point (in their order), so the
    /// drawn envelope is the same while a curve never has more than four points per column of its run.
    /// A non-finite point lifts the pen (nil).
    static func thinned(_ points: [(Double, Double)]) -> [(Double, Double)?] {
        var out: [(Double, Double)?] = []
        out.reserveCapacity(min(points.count, 4_096))
        var run: [Int] = []  // first, lowest, highest, last of the current column's run (indices)
        var column = Int.min
        func flush() {
            guard !run.isEmpty else { return }
            var kept: [Int] = []
            for i in run.sorted() where kept.last != i { kept.append(i) }
            for i in kept { out.append(points[i]) }
            run = []
        }
        for (i, p) in points.enumerated() {
            guard p.0.isFinite && p.1.isFinite else {
                flush()
                column = Int.min
                out.append(nil)
                continue
            }
            let c = Int(min(max(p.0, -1e15), 1e15).rounded(.down))
            if c != column || run.isEmpty {
                flush()
                column = c
                run = [i, i, i, i]
                continue
            }
            if p.1 < points[run[1]].1 { run[1] = i }
            if p.1 > points[run[2]].1 { run[2] = i }
            run[3] = i
        }
        flush()
        return out
    }

    /// A path in picture coordinates (x not ordered, e.g. the end effector seen from above) thinned to what
    /// the picture can show: a point is kept when it reaches a 2 × 2 pixel cell the path has not been in (and
    /// the last point is kept). Going on within the cell of the last kept point continues the line; coming
    /// back into new cells after retracing old ones starts a new stroke at the point before. A path
    /// retraced a hundred times so costs what it costs once. A non-finite point lifts the pen (nil).
    static func thinnedPath(_ points: [(Double, Double)]) -> [(Double, Double)?] {
        // Cells of 2 × 2 pixels: a stroke is 1.6 pixels wide.
        func cell(_ p: (Double, Double)) -> Int {
            Int((min(max(p.0, -1e6), 1e6) / 2).rounded(.down)) &* 4_194_304 &+ Int((min(max(p.1, -1e6), 1e6) / 2).rounded(.down))
        }
        var out: [(Double, Double)?] = []
        var visited = Set<Int>()
        var previous: (Double, Double)? = nil
        var previousKept = false
        var lastKeptCell: Int? = nil
        for (i, p) in points.enumerated() {
            guard p.0.isFinite && p.1.isFinite else {
                if lastKeptCell != nil { out.append(nil) }
                previous = nil
                previousKept = false
                lastKeptCell = nil
                continue
            }
            let c = cell(p)
            let isNew = visited.insert(c).inserted
            let isLast = i == points.count - 1 || !(points[i + 1].0.isFinite && points[i + 1].1.isFinite)
            if isNew || isLast {
                if !previousKept, let q = previous, cell(q) != lastKeptCell {
                    if lastKeptCell != nil { out.append(nil) }
                    out.append(q)
                }
                out.append(p)
                lastKeptCell = c
                previousKept = true
            } else {
                previousKept = false
            }
            previous = p
        }
        return out
    }

    static func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let span = hi - lo
        let raw = span / 5
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * mag }.first { span / $0 <= 6 } ?? 10 * mag
        var t = floor(lo / step) * step
        var ticks: [Double] = []
        while t <= hi + step * 0.5 && ticks.count < 12 { ticks.append(t); t += step }
        return ticks
    }

    static func tickLabel(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() ? String(Int(r)) : String(format: "%g", r)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
