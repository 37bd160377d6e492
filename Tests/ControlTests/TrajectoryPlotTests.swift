import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Control

final class SVGCounter: NSObject, XMLParserDelegate {
    var paths = 0
    var titles: [String] = []
    var inTitle = false
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if name == "path" { paths += 1 }
        if name == "title" { inTitle = true; titles.append("") }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "title" { inTitle = false }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inTitle { titles[titles.count - 1] += string }
    }
}

struct TrajectoryPlotTests {
    @Test func svgIsWellFormedWithOnePathPerSeriesPerPanel() throws {
        let t = (0..<100).map { Double($0) * 0.01 }
        let target = PlotSeries(label: "target <&>", time: t, joints: [("base", t.map { sin($0) }), ("shoulder", t.map { cos($0) })],
                                endEffector: t.map { SIMD3($0, sin($0), 0.3) }, dashed: true)
        let actual = PlotSeries(label: "actual", time: t, joints: [("base", t.map { sin($0) * 0.9 }), ("shoulder", t.map { cos($0) * 0.9 })],
                                endEffector: t.map { SIMD3($0, 0.9 * sin($0), 0.31) })
        let svg = TrajectoryPlot.svg([target, actual], title: "demo")
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = SVGCounter()
        parser.delegate = counter
        #expect(parser.parse(), "SVG must be well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")")
        // 2 joint panels + 2 end-effector projections, 2 series each.
        #expect(counter.paths == 8)
        #expect(counter.titles.filter { $0 == "target <&>" }.count == 4)
        #expect(svg.contains("angle (deg)") && svg.contains("x (mm)") && svg.contains("time (s)"))
    }

    /// Issue 19 item 9: a 5 MB file gave a 13.5 MB SVG. Curves are thinned to the picture (first, lowest,
    /// highest and last point per pixel column), so the size no longer grows with the samples while every
    /// extreme of the curve is still drawn.
    @Test func longCurvesAreThinnedKeepingTheEnvelope() throws {
        let n = 200_000
        let t = (0..<n).map { Double($0) * 0.001 }
        // A fast oscillation (many samples per pixel) with one spike: the envelope must keep the spike.
        var angle = t.map { 0.5 * sin($0 * 40) }
        angle[123_457] = 1.5
        let series = PlotSeries(label: "long", time: t, joints: [("base", angle)], endEffector: t.map { SIMD3(0.3 + 0.1 * sin($0 / 40), 0.1 * cos($0 / 40), 0.2 + 0.01 * sin($0)) })
        let svg = TrajectoryPlot.svg([series], title: "long")
        #expect(svg.utf8.count < 250_000, "SVG of \(svg.utf8.count) bytes for \(n) samples")
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse())
        let xs = try #require(svg.components(separatedBy: "<path d=\"").dropFirst().first?.components(separatedBy: "\"").first)
            .split(separator: " ").compactMap { $0.dropFirst().split(separator: ",").first.flatMap { Double($0) } }
        #expect(xs.count <= 4 * 421, "\(xs.count) points for a 420-pixel panel")
        #expect(xs == xs.sorted(), "points stay in time order")
        // The envelope: per pixel column, the thinned curve has the same lowest and highest point as the
        // full one (the spike included), and starts and ends where it does.
        let points = (0..<n).map { (100 + Double($0) / Double(n) * 420, 200 - angle[$0] * 100) }
        let kept = TrajectoryPlot.thinned(points).compactMap { $0 }
        func envelope(_ p: [(Double, Double)]) -> [Int: ClosedRange<Double>] {
            var e: [Int: ClosedRange<Double>] = [:]
            for (x, y) in p { let c = Int(x.rounded(.down)); e[c] = e[c].map { min($0.lowerBound, y)...max($0.upperBound, y) } ?? y...y }
            return e
        }
        #expect(envelope(kept) == envelope(points))
        #expect(kept.contains { $0.1 == 200 - 150 }, "the spike is kept")
        #expect(kept.first! == points.first! && kept.last! == points.last!)
        #expect(kept.count <= 4 * 421)
        // A short curve is untouched.
        let short = TrajectoryPlot.thinned([(0, 1), (0.5, 3), (2, 2)]).compactMap { $0 }
        #expect(short.map(\.0) == [0, 0.5, 2] && short.map(\.1) == [1, 3, 2])
        // A path keeps the points that reach new 2-pixel cells, continues within the last kept pixel, starts a new
        // stroke after retracing, keeps its last point, and lifts the pen at gaps.
        let path = TrajectoryPlot.thinnedPath([(0, 0), (0.6, 0.4), (2.4, 0), (2.6, 0.2), (0.4, 0.2), (1, 1), (5, 0), (.nan, .nan), (9, 9), (9.4, 9)])
        #expect(path.map { $0.map { [$0.0, $0.1] } } == [[0, 0], [2.4, 0], nil, [1, 1], [5, 0], nil, [9, 9], [9.4, 9]])
        // Retracing a circle 100 times costs about what tracing it once does (not 100 times as much).
        let circle: [(Double, Double)] = (0..<100_000).map { (k: Int) -> (Double, Double) in
            let a = Double(k) * 0.00628
            return (200 + 100 * cos(a), 110 + 100 * sin(a))
        }
        let once = TrajectoryPlot.thinnedPath(Array(circle.prefix(1_000))).count
        #expect(TrajectoryPlot.thinnedPath(circle).count <= 2 * once, "\(TrajectoryPlot.thinnedPath(circle).count) points for a circle drawn in \(once)")
    }
}

/// Geometry of the drawn SVG: panel frames, path points, tick labels (as boxes of ~7 px per character).
final class SVGGeometry: NSObject, XMLParserDelegate {
    var frames: [(x: Double, y: Double, w: Double, h: Double)] = []
    var paths: [(label: String, stroke: String, dash: String?, points: [(Double, Double)])] = []
    var labels: [(text: String, x: Double, y: Double, anchor: String)] = []
    private var text: (x: Double, y: Double, anchor: String, rotated: Bool)?
    private var pending = ""
    private var inPathTitle = false
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
        switch name {
        case "rect" where a["fill"] == "none":
            frames.append((Double(a["x"]!)!, Double(a["y"]!)!, Double(a["width"]!)!, Double(a["height"]!)!))
        case "path":
            let numbers = a["d"]!.split(whereSeparator: { "ML ".contains($0) }).map { $0.split(separator: ",").map { Double($0)! } }
            paths.append(("", a["stroke"]!, a["stroke-dasharray"], numbers.map { ($0[0], $0[1]) }))
        case "title": inPathTitle = true; pending = ""
        case "text": text = (Double(a["x"]!)!, Double(a["y"]!)!, a["text-anchor"] ?? "start", a["transform"] != nil); pending = ""
        default: break
        }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { pending += string }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "title", inPathTitle { paths[paths.count - 1].label = pending; inPathTitle = false }
        if name == "text", let t = text, !t.rotated { labels.append((pending, t.x, t.y, t.anchor)) }
        if name == "text" { text = nil }
    }

    static func parse(_ svg: String) -> SVGGeometry {
        let g = SVGGeometry()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = g
        _ = parser.parse()
        return g
    }

    /// The box a label occupies: 7 px per character, 12 px tall, placed by its anchor, plus 2 px on each
    /// side (so two labels closer than 4 px count as running together).
    static func box(_ l: (text: String, x: Double, y: Double, anchor: String)) -> (x0: Double, x1: Double, y0: Double, y1: Double) {
        let w = 7.0 * Double(l.text.count)
        let x0 = l.anchor == "end" ? l.x - w : l.anchor == "middle" ? l.x - w / 2 : l.x
        return (x0 - 2, x0 + w + 2, l.y - 12, l.y + 4)
    }
}

struct TrajectoryPlotLayoutTests {
    /// A run like the demo's: a wide "before" path far from the target, numbers with four digits and signs.
    static func series() -> [PlotSeries] {
        let t = (0..<250).map { Double($0) * 0.01 }
        func joints(_ a: Double) -> [(name: String, radians: [Double])] {
            [("base", t.map { a * sin($0) * 9 }), ("shoulder", t.map { a * cos($0) * 8 }), ("elbow", t.map { _ in 0 })]
        }
        let path = { (a: Double) in t.map { SIMD3(0.9 - a * $0 * 0.4, a * 0.8 * sin($0), 0.1 + a * 0.5 * $0) } }
        return [PlotSeries(label: "target", time: t, joints: joints(1), endEffector: path(1), role: .target),
                PlotSeries(label: "measured before the update", time: t, joints: joints(-2), endEffector: path(-2.5), role: .before),
                PlotSeries(label: "measured", time: t, joints: joints(0.9), endEffector: path(0.9), role: .measured),
                PlotSeries(label: "goal", time: t, joints: joints(0.95), endEffector: path(0.95), role: .goal)]
    }

    @Test func everyCurveStaysInsideItsPanelClearOfTheFrame() {
        let g = SVGGeometry.parse(TrajectoryPlot.svg(Self.series(), title: "layout"))
        #expect(g.frames.count == 5, "3 joints + 2 end-effector views")
        #expect(g.paths.count == 20)
        for p in g.paths {
            guard let frame = g.frames.first(where: { f in p.points.allSatisfy { $0.0 >= f.x && $0.0 <= f.x + f.w && $0.1 >= f.y && $0.1 <= f.y + f.h } }) else {
                Issue.record("\(p.label) leaves every panel"); continue
            }
            // No curve runs along the frame: a margin of at least 2 % of the panel on every side.
            for (x, y) in p.points {
                #expect(x >= frame.x + 0.02 * frame.w - 0.1 && x <= frame.x + 0.98 * frame.w + 0.1 &&
                        y >= frame.y + 0.02 * frame.h - 0.1 && y <= frame.y + 0.98 * frame.h + 0.1, "\(p.label) at \(x), \(y) touches the frame")
            }
        }
    }

    @Test func noTwoLabelsOverlap() {
        let g = SVGGeometry.parse(TrajectoryPlot.svg(Self.series(), title: "layout"))
        let boxes = g.labels.map(SVGGeometry.box)
        #expect(boxes.count > 40)
        for i in boxes.indices {
            for j in boxes.indices where j > i {
                let a = boxes[i], b = boxes[j]
                let overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
                #expect(!overlap, "'\(g.labels[i].text)' and '\(g.labels[j].text)' overlap")
            }
        }
    }

    @Test func rolesHaveOneColourAndStyleInEveryPlot() {
        let g = SVGGeometry.parse(TrajectoryPlot.svg(Self.series(), title: "layout"))
        func style(_ label: String) -> Set<String> { Set(g.paths.filter { $0.label == label }.map { $0.stroke + " " + ($0.dash ?? "solid") }) }
        #expect(style("target") == ["#1f77b4 6 4"])
        #expect(style("measured before the update") == ["#d62728 solid"])
        #expect(style("measured") == ["#2ca02c solid"])
        #expect(style("goal") == ["#185818 2 3"], "a darker shade of the measured green")
        // Another run (a second file of `engram plot`) keeps the styles in its own hue, never blue or red.
        let t = [0.0, 1.0]
        let second = TrajectoryPlot.svg([PlotSeries(label: "b", time: t, joints: [("j", t)], role: .measured, run: 1),
                                         PlotSeries(label: "b goal", time: t, joints: [("j", t)], role: .goal, run: 1)], title: "x")
        let h = SVGGeometry.parse(second)
        #expect(h.paths.map(\.stroke) == ["#9467bd", "#513867"] && h.paths[1].dash == "2 3")
    }
}
