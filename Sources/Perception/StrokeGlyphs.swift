import Foundation
import Tensors

/// Synthetic handwriting: alphabets of random stroke characters, each drawn by several "drawers".
///
/// A character is 2–4 strokes, each a quadratic Bézier curve between random points of the unit square.
/// A drawer redraws it with every control point jittered, a small random rotation, scale and shift, and
/// its own pen width; the result is rendered anti-aliased (bright ink on a dark ground, like the shipped
/// Omniglot IDX files). Deterministic under the seed. Used by tests and by users without Omniglot.
public struct StrokeGlyphs: Sendable {
    /// Image side, pixels.
    public var imageSize = 28
    /// Standard deviation of a drawer's control-point jitter, in units of the image side.
    public var jitter: Double = 0.035
    /// Largest drawer rotation, radians.
    public var maxRotation: Double = 0.15

    /// The default generator.
    public init() {}

    struct Stroke { var p0: (Double, Double), p1: (Double, Double), p2: (Double, Double) }

    /// A data set of `alphabets` alphabets × `characters` characters × `drawers` drawings; class id
    /// `a·characters + c`, alphabet names `synthetic-<a>`.
    public func dataset(alphabets: Int, characters: Int, drawers: Int, seed: UInt64) -> FewShotDataset {
        var rng = RandomSource(seed: seed)
        var pixels: [Float] = []
        var labels: [Int] = []
        var names: [Int: String] = [:]
        pixels.reserveCapacity(alphabets * characters * drawers * imageSize * imageSize)
        for a in 0..<alphabets {
            // An alphabet has a style: its strokes are biased toward a few shared anchor points.
            let anchors = (0..<4).map { _ in (rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)) }
            for c in 0..<characters {
                let id = a * characters + c
                names[id] = "synthetic-\(a)"
                let strokeCount = 2 + rng.int(below: 3)
                var strokes: [Stroke] = []
                for _ in 0..<strokeCount {
                    func point() -> (Double, Double) {
                        if rng.uniform() < 0.5 {
                            let p = anchors[rng.int(below: anchors.count)]
                            return (p.0 + rng.normal(mean: 0, std: 0.05), p.1 + rng.normal(mean: 0, std: 0.05))
                        }
                        return (rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85))
                    }
                    strokes.append(Stroke(p0: point(), p1: point(), p2: point()))
                }
                for _ in 0..<drawers {
                    pixels += draw(strokes, rng: &rng)
                    labels.append(id)
                }
            }
        }
        return FewShotDataset(imageSize: imageSize, pixels: pixels, labels: labels, alphabets: names)
    }

    func draw(_ strokes: [Stroke], rng: inout RandomSource) -> [Float] {
        let angle = rng.uniform(-maxRotation, maxRotation)
        let scale = rng.uniform(0.9, 1.1)
        let shift = (rng.normal(mean: 0, std: 0.03), rng.normal(mean: 0, std: 0.03))
        let pen = rng.uniform(0.035, 0.06)
        let (ca, sa) = (cos(angle), sin(angle))
        func place(_ p: (Double, Double)) -> (Double, Double) {
            let x = p.0 + rng.normal(mean: 0, std: jitter) - 0.5, y = p.1 + rng.normal(mean: 0, std: jitter) - 0.5
            return (0.5 + scale * (ca * x - sa * y) + shift.0, 0.5 + scale * (sa * x + ca * y) + shift.1)
        }
        var points: [(Double, Double)] = []
        for s in strokes {
            let a = place(s.p0), b = place(s.p1), c = place(s.p2)
            for i in 0...24 {
                let t = Double(i) / 24, u = 1 - t
                points.append((u * u * a.0 + 2 * u * t * b.0 + t * t * c.0, u * u * a.1 + 2 * u * t * b.1 + t * t * c.1))
            }
        }
        let n = imageSize
        var image = [Float](repeating: 0, count: n * n)
        for r in 0..<n {
            let y = (Double(r) + 0.5) / Double(n)
            for col in 0..<n {
                let x = (Double(col) + 0.5) / Double(n)
                var best = Double.infinity
                for p in points {
                    let d = (p.0 - x) * (p.0 - x) + (p.1 - y) * (p.1 - y)
                    if d < best { best = d }
                }
                // Full ink within the pen radius, fading over one pixel.
                let v = 1 - (best.squareRoot() - pen) * Double(n)
                image[r * n + col] = Float(min(1, max(0, v)))
            }
        }
        return image
    }
}
