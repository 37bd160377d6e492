import Foundation

/// Labelled single-channel images for few-shot episodes, grouped by class.
///
/// Pixels are floats in [0, 1]. `invert` turns bright ink on a dark ground (the shipped IDX files)
/// into dark ink on white, which the official weights expect.
public struct FewShotDataset: Sendable {
    /// Image side, pixels.
    public var imageSize: Int
    /// `count × imageSize²` pixel values in [0, 1].
    public var pixels: [Float]
    /// Class id of each image.
    public var labels: [Int]
    /// The image indices of each class id present, classes in ascending id order.
    public private(set) var classes: [(id: Int, images: [Int])]
    /// Alphabet of each class id, when known (from a classes TSV or the synthetic generator).
    public var alphabets: [Int: String]

    /// Number of images.
    public var count: Int { labels.count }

    /// A data set over given pixels and labels.
    public init(imageSize: Int, pixels: [Float], labels: [Int], alphabets: [Int: String] = [:]) {
        precondition(pixels.count == labels.count * imageSize * imageSize)
        self.imageSize = imageSize
        self.pixels = pixels
        self.labels = labels
        self.alphabets = alphabets
        var byClass: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() { byClass[l, default: []].append(i) }
        classes = byClass.keys.sorted().map { ($0, byClass[$0]!) }
    }

    /// Reads `PREFIX-images-idx3-ubyte` and `PREFIX-labels-idx1-int16` (falling back to
    /// `PREFIX-labels-idx1-ubyte`), and `PREFIX-classes.tsv` (class id, alphabet, character) when present.
    public init(prefix: String, invert: Bool) throws {
        let imagePath = prefix + "-images-idx3-ubyte"
        var labelPath = prefix + "-labels-idx1-int16"
        if !FileManager.default.fileExists(atPath: labelPath),
           FileManager.default.fileExists(atPath: prefix + "-labels-idx1-ubyte") {
            labelPath = prefix + "-labels-idx1-ubyte"
        }
        let images = try IDXFile.images(atPath: imagePath)
        let labels = try IDXFile.labels(atPath: labelPath)
        guard images.count == labels.count else {
            throw IDXError(path: labelPath, message: "count mismatch: \(labels.count) labels for \(images.count) images in \(imagePath); the two files must come from the same export")
        }
        guard images.rows == images.columns else {
            throw IDXError(path: imagePath, message: "images are \(images.rows)×\(images.columns); the CNN takes square images")
        }
        let pixels = images.pixels.map { invert ? 1 - Float($0) / 255 : Float($0) / 255 }
        var alphabets: [Int: String] = [:]
        let tsv = prefix + "-classes.tsv"
        if let text = try? String(contentsOfFile: tsv, encoding: .utf8) {
            for (n, line) in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() where n > 0 {
                let f = line.split(separator: "\t")
                if f.count >= 2, let id = Int(f[0]) { alphabets[id] = String(f[1]) }
            }
        }
        self.init(imageSize: images.rows, pixels: pixels, labels: labels, alphabets: alphabets)
    }

    /// Every alphabet name known, sorted.
    public var alphabetNames: [String] { Array(Set(alphabets.values)).sorted() }

    /// The data set restricted to classes of the given alphabets (`keep`), or of every other alphabet
    /// (`keep == false`). Throws when a name is unknown, listing the known ones.
    public func filtered(alphabets names: [String], keep: Bool = true) throws -> FewShotDataset {
        guard !alphabets.isEmpty else {
            throw IDXError(path: "--alphabets", message: "no classes TSV next to the data (PREFIX-classes.tsv), so alphabets are unknown; drop --alphabets")
        }
        let known = Set(alphabets.values)
        for n in names where !known.contains(n) {
            throw IDXError(path: "--alphabets", message: "unknown alphabet '\(n)'; known: \(known.sorted().joined(separator: ","))")
        }
        let wanted = Set(names)
        var px: [Float] = []
        var lb: [Int] = []
        let n = imageSize * imageSize
        for i in 0..<count where wanted.contains(alphabets[labels[i]] ?? "") == keep {
            px.append(contentsOf: pixels[(i * n)..<((i + 1) * n)])
            lb.append(labels[i])
        }
        return FewShotDataset(imageSize: imageSize, pixels: px, labels: lb, alphabets: alphabets)
    }
}
