import Foundation

/// The paper's image pipeline (paper-model.md §3.1): gray values in [0, 1] (white 1, ink 0), resized
/// to `size × size` as the official code's `tf.image.resize` does by default: bilinear interpolation
/// with half-pixel centres and no antialiasing.
public enum PaperResize {
    /// `image` resized to `size × size`, values in [0, 1].
    public static func resized(_ image: GrayImage, to size: Int) -> [Float] {
        struct Tap { var lower: Int; var upper: Int; var fraction: Float }
        func taps(_ input: Int) -> [Tap] {
            let scale = Float(input) / Float(size)
            return (0..<size).map { o in
                let x = (Float(o) + 0.5) * scale - 0.5
                let f = x.rounded(.down)
                return Tap(lower: max(Int(f), 0), upper: min(Int(x.rounded(.up)), input - 1), fraction: x - f)
            }
        }
        let rows = taps(image.height), columns = taps(image.width)
        var out = [Float](repeating: 0, count: size * size)
        let p = image.pixels, w = image.width
        for (r, ty) in rows.enumerated() {
            for (c, tx) in columns.enumerated() {
                let topLeft = Float(p[ty.lower * w + tx.lower]), topRight = Float(p[ty.lower * w + tx.upper])
                let bottomLeft = Float(p[ty.upper * w + tx.lower]), bottomRight = Float(p[ty.upper * w + tx.upper])
                let top = topLeft + (topRight - topLeft) * tx.fraction
                let bottom = bottomLeft + (bottomRight - bottomLeft) * tx.fraction
                out[r * size + c] = (top + (bottom - top) * ty.fraction) / 255
            }
        }
        return out
    }

    /// The PNG at `path` in `files`, decoded and resized; `invert` gives 1 − value (bright ink on dark).
    static func load(_ path: String, from files: FileCollection, size: Int, invert: Bool) throws -> [Float] {
        let image = try PNGCodec.decode(try files.contents(of: path), path: files.location + "/" + path)
        let values = resized(image, to: size)
        return invert ? values.map { 1 - $0 } : values
    }
}

extension FewShotDataset {
    /// Omniglot as its authors publish it (`images_background.zip`, `images_evaluation.zip`, or the
    /// folders they unpack to): `…/<alphabet>/<character>/<NNNN_XX>.png`. Every character is a class
    /// (ids in sorted alphabet/character order); a file present in several locations is read once, so
    /// `images_background_small1.zip` and `…small2.zip` (which share two alphabets) read as their union.
    /// Images go through `PaperResize` (dark ink on white; `invert` for bright ink on dark).
    public init(omniglot locations: [String], imageSize: Int = 28, invert: Bool = false) throws {
        var members: [String: (files: FileCollection, path: String)] = [:]
        for location in locations {
            let files = try FileCollection(location)
            for path in files.paths where path.lowercased().hasSuffix(".png") {
                let parts = path.split(separator: "/")
                guard parts.count >= 3 else { continue }
                let key = parts.suffix(3).joined(separator: "/")
                if members[key] == nil { members[key] = (files, path) }
            }
        }
        guard !members.isEmpty else {
            throw IDXError(path: locations.joined(separator: ","), message: "no PNG images in <alphabet>/<character>/ folders; pass Omniglot as published (images_background.zip or the folder it unpacks to)")
        }
        var classIDs: [String: Int] = [:]
        var alphabets: [Int: String] = [:]
        let characters = Set(members.keys.map { $0.split(separator: "/").prefix(2).joined(separator: "/") }).sorted()
        for (id, character) in characters.enumerated() {
            classIDs[character] = id
            alphabets[id] = String(character.split(separator: "/")[0])
        }
        var pixels: [Float] = []
        var labels: [Int] = []
        pixels.reserveCapacity(members.count * imageSize * imageSize)
        for key in members.keys.sorted() {
            let (files, path) = members[key]!
            pixels += try PaperResize.load(path, from: files, size: imageSize, invert: invert)
            labels.append(classIDs[key.split(separator: "/").prefix(2).joined(separator: "/")]!)
        }
        self.init(imageSize: imageSize, pixels: pixels, labels: labels, alphabets: alphabets)
    }
}

/// One run of Lake's one-shot classification benchmark (`all_runs.zip`, Lake et al. 2015): one training
/// image for each of 20 characters of an alphabet, and 20 test images (other drawers) to classify
/// among them.
public struct OneShotRun: Sendable {
    /// The run's folder name, e.g. `run01`.
    public var name: String
    /// The training images as support set (label = index in sorted training file order) and the test
    /// images as queries (in sorted test file order), labelled by `class_labels.txt`.
    public var episode: Episode

    /// Reads every `runNN/class_labels.txt` in `location` (a folder such as `all_runs`, or the zip),
    /// whose lines are `runNN/test/itemNN.png runNN/training/classNN.png` (paths relative to the folder
    /// that holds the runs, or to the run's own folder), with their PNGs through `PaperResize`.
    public static func read(_ location: String, imageSize: Int = 28, invert: Bool = false) throws -> [OneShotRun] {
        let files = try FileCollection(location)
        let present = Set(files.paths)
        let labelFiles = files.paths.filter { $0 == "class_labels.txt" || $0.hasSuffix("/class_labels.txt") }
        guard !labelFiles.isEmpty else {
            throw IDXError(path: location, message: "no runNN/class_labels.txt inside; pass Lake's all_runs folder or all_runs.zip (or build runs with 'engram fewshot-runs')")
        }
        var runs: [OneShotRun] = []
        for labelFile in labelFiles {
            let runFolder = labelFile.split(separator: "/").dropLast().joined(separator: "/")
            let root = runFolder.split(separator: "/").dropLast().joined(separator: "/")
            let shown = location + "/" + labelFile
            func resolve(_ entry: Substring, line: Int) throws -> String {
                for base in [root, runFolder] {
                    let candidate = base.isEmpty ? String(entry) : base + "/" + entry
                    if present.contains(candidate) { return candidate }
                }
                throw IDXError(path: "\(shown):\(line)", message: "names \(entry), which is not in \(location)")
            }
            let text = String(decoding: try files.contents(of: labelFile), as: UTF8.self)
            var pairs: [(test: String, training: String)] = []
            for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                let fields = line.split(whereSeparator: \.isWhitespace)
                if fields.isEmpty { continue }
                guard fields.count == 2 else {
                    throw IDXError(path: "\(shown):\(n + 1)", message: "\(fields.count) fields; each line is 'runNN/test/itemNN.png runNN/training/classNN.png'")
                }
                pairs.append((try resolve(fields[0], line: n + 1), try resolve(fields[1], line: n + 1)))
            }
            let training = Set(pairs.map(\.training)).sorted()
            guard training.count >= 2 else {
                throw IDXError(path: shown, message: "\(training.count) training image(s); a run classifies among at least 2")
            }
            let index = Dictionary(uniqueKeysWithValues: training.enumerated().map { ($1, $0) })
            var episode = Episode(ways: training.count, supportPixels: [], supportLabels: [], queryPixels: [], queryLabels: [])
            for (label, path) in training.enumerated() {
                episode.supportPixels += try PaperResize.load(path, from: files, size: imageSize, invert: invert)
                episode.supportLabels.append(label)
            }
            for pair in pairs.sorted(by: { $0.test < $1.test }) {
                episode.queryPixels += try PaperResize.load(pair.test, from: files, size: imageSize, invert: invert)
                episode.queryLabels.append(index[pair.training]!)
            }
            runs.append(OneShotRun(name: runFolder.split(separator: "/").last.map(String.init) ?? location, episode: episode))
        }
        return runs.sorted { $0.name < $1.name }
    }
}
