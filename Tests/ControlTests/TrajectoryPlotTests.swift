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
}
