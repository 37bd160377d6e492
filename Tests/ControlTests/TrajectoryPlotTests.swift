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
