import Tensors

/// One few-shot task: support and query images with labels 0..<ways, class-major.
public struct Episode: Sendable {
    /// Number of classes.
    public var ways: Int
    /// Support images, `support.count / imageSize²` of them, each class's shots together.
    public var supportPixels: [Float]
    /// Support labels in 0..<ways.
    public var supportLabels: [Int]
    /// Query images.
    public var queryPixels: [Float]
    /// Query labels in 0..<ways.
    public var queryLabels: [Int]
}

/// Draws episodes from a data set: `ways` classes without replacement, and for each class `shots`
/// support and `queries` query images, all distinct (different drawers), optionally rotating every
/// class by a random multiple of 90° (meta-training augmentation: each rotation acts as a new class).
public struct EpisodeSampler: Sendable {
    /// The data.
    public let dataset: FewShotDataset
    /// Classes per episode.
    public var ways: Int
    /// Support images per class.
    public var shots: Int
    /// Query images per class.
    public var queries: Int
    /// Whether to rotate each class by k·90°, k uniform in 0...3.
    public var rotate: Bool

    /// A sampler; throws when the data set has too few classes or images per class.
    public init(dataset: FewShotDataset, ways: Int, shots: Int, queries: Int, rotate: Bool = false) throws {
        guard ways >= 2 else { throw IDXError(path: "--ways", message: "\(ways) ways; an episode needs at least 2 classes") }
        guard dataset.classes.count >= ways else {
            throw IDXError(path: "--ways", message: "the data has \(dataset.classes.count) classes, fewer than --ways \(ways); choose fewer ways or more alphabets")
        }
        let fewest = dataset.classes.map { $0.images.count }.min() ?? 0
        guard fewest >= shots + queries else {
            throw IDXError(path: "--shots", message: "a class of the data has only \(fewest) images, fewer than --shots \(shots) + --queries \(queries)")
        }
        self.dataset = dataset
        self.ways = ways
        self.shots = shots
        self.queries = queries
        self.rotate = rotate
    }

    /// The next episode from `rng`.
    public func sample(rng: inout RandomSource) -> Episode {
        let n = dataset.imageSize * dataset.imageSize
        var classOrder = Array(0..<dataset.classes.count)
        // Partial Fisher–Yates: the first `ways` entries are a uniform draw without replacement.
        for i in 0..<ways {
            let j = i + rng.int(below: classOrder.count - i)
            classOrder.swapAt(i, j)
        }
        var episode = Episode(ways: ways, supportPixels: [], supportLabels: [], queryPixels: [], queryLabels: [])
        episode.supportPixels.reserveCapacity(ways * shots * n)
        episode.queryPixels.reserveCapacity(ways * queries * n)
        var queryBlock: [Float] = []
        for w in 0..<ways {
            var images = dataset.classes[classOrder[w]].images
            for i in 0..<(shots + queries) {
                let j = i + rng.int(below: images.count - i)
                images.swapAt(i, j)
            }
            let turns = rotate ? rng.int(below: 4) : 0
            for i in 0..<(shots + queries) {
                let start = images[i] * n
                let image = Array(dataset.pixels[start..<(start + n)])
                let pixels = turns == 0 ? image : EpisodeSampler.rotated(image, size: dataset.imageSize, quarterTurns: turns)
                if i < shots {
                    episode.supportPixels += pixels
                    episode.supportLabels.append(w)
                } else {
                    queryBlock += pixels
                    episode.queryLabels.append(w)
                }
            }
        }
        episode.queryPixels = queryBlock
        return episode
    }

    /// `image` rotated counter-clockwise by `quarterTurns`·90°.
    public static func rotated(_ image: [Float], size: Int, quarterTurns: Int) -> [Float] {
        var out = image
        for _ in 0..<(quarterTurns & 3) {
            let src = out
            for r in 0..<size {
                for c in 0..<size { out[(size - 1 - c) * size + r] = src[r * size + c] }
            }
        }
        return out
    }

    /// One episode over fixed support and query sets using every class: labels are renumbered by
    /// ascending class id; the first `shots` support images of each class are kept (all when nil).
    public static func fixed(support: FewShotDataset, query: FewShotDataset, shots: Int?) throws -> Episode {
        let ids = support.classes.map(\.id)
        guard ids == query.classes.map(\.id) else {
            throw IDXError(path: "--query", message: "the query set's classes \(query.classes.map(\.id)) differ from the support set's \(ids)")
        }
        let n = support.imageSize * support.imageSize
        var e = Episode(ways: ids.count, supportPixels: [], supportLabels: [], queryPixels: [], queryLabels: [])
        for (w, cls) in support.classes.enumerated() {
            let take = shots ?? cls.images.count
            guard cls.images.count >= take else {
                throw IDXError(path: "--support", message: "class \(cls.id) has \(cls.images.count) support images, fewer than --shots \(take)")
            }
            for i in cls.images.prefix(take) {
                e.supportPixels += support.pixels[(i * n)..<((i + 1) * n)]
                e.supportLabels.append(w)
            }
        }
        for (w, cls) in query.classes.enumerated() {
            for i in cls.images {
                e.queryPixels += query.pixels[(i * n)..<((i + 1) * n)]
                e.queryLabels.append(w)
            }
        }
        return e
    }
}
