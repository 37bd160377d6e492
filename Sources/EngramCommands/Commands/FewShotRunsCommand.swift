import Foundation
import Perception
import Tensors

/// `engram fewshot-runs`: one-shot runs in the layout of Lake's `all_runs.zip`, built from Omniglot as
/// published, for alphabets a model was not trained on.
enum FewShotRunsCommand: EngramCommand {
    static let name = "fewshot-runs"
    static let abstract = "Build 20-way 1-shot runs in Lake's all_runs layout from Omniglot PNGs"
    static let discussion = """
    Run r takes alphabet r mod (number of --alphabets) (in the order given), --ways of its characters \
    without replacement, and two different drawers (the XX of NNNN_XX.png): the first drawer's image of \
    each character becomes runNN/training/classNN.png, the second's runNN/test/itemNN.png (in shuffled \
    order), and runNN/class_labels.txt pairs them as Lake's does ('runNN/test/itemNN.png \
    runNN/training/classNN.png'). The PNG files are copied byte for byte. --out names a folder, or a zip \
    (entries under all_runs/) when it ends in .zip. 'engram fewshot --runs OUT' scores a checkpoint on them.

    Example: engram fewshot-runs --data images_background_small1.zip,images_background_small2.zip \
    --alphabets Korean,Balinese --runs 20 --out heldout_runs
    """
    static let data = Option<String>("--data", "dir|zip", "Omniglot as published (a,b for several)", required: true)
    static let alphabets = Option<String>("--alphabets", "a,b", "Alphabets to draw runs from (each needs --ways characters)", required: true)
    static let runs = Option<Int>("--runs", "n", "Number of runs", in: 1...99).defaulting(to: 20)
    static let ways = Option<Int>("--ways", "n", "Characters per run", in: 2...99).defaulting(to: 20)
    static let out = CommonOptions.out("dir|zip", "Folder to create, or zip file", required: true)
    static let seed = CommonOptions.seed("Random seed")

    static let options: [OptionSpec] = [data.spec, alphabets.spec, runs.spec, ways.spec, out.spec, seed.spec]

    static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let data = try arguments.required(Self.data)
        let out = try arguments.required(Self.out)
        let alphabets = splitList(try arguments.required(Self.alphabets))
        let count = arguments[Self.runs]
        let ways = arguments[Self.ways]
        var rng = RandomSource(seed: arguments[Self.seed])
        guard !FileManager.default.fileExists(atPath: out) else {
            throw RuntimeError("\(out): already exists; remove it or choose another --out (runs are never overwritten)")
        }

        // character folder (alphabet/character) → drawer → (collection, path)
        var characters: [String: [String: [String: (FileCollection, String)]]] = [:]
        do {
            for location in splitList(data) {
                let files = try FileCollection(location)
                for path in files.paths where path.lowercased().hasSuffix(".png") {
                    let parts = path.split(separator: "/").suffix(3).map(String.init)
                    guard parts.count == 3, let drawer = parts[2].split(separator: "_").last?.split(separator: ".").first else { continue }
                    characters[parts[0], default: [:]][parts[1], default: [:]][String(drawer)] = (files, path)
                }
            }
        } catch let e as IDXError { throw RuntimeError(e.description) }
        for a in alphabets {
            guard let chars = characters[a] else {
                throw UsageError("--alphabets: unknown alphabet '\(a)'; \(data) holds \(characters.keys.sorted().joined(separator: ","))")
            }
            guard chars.count >= ways else {
                throw UsageError("--alphabets: \(a) has \(chars.count) characters, fewer than --ways \(ways); choose another alphabet or fewer ways")
            }
        }

        var files: [(path: String, bytes: [UInt8])] = []
        for r in 0..<count {
            let run = String(format: "run%02d", r + 1)
            let alphabet = alphabets[r % alphabets.count]
            let chars = characters[alphabet]!
            var names = chars.keys.sorted()
            for i in 0..<ways { names.swapAt(i, i + rng.int(below: names.count - i)) }
            let chosen = Array(names.prefix(ways))
            // Two drawers every chosen character has.
            var drawers = chosen.dropFirst().reduce(Set(chars[chosen[0]]!.keys)) { $0.intersection(chars[$1]!.keys) }.sorted()
            guard drawers.count >= 2 else {
                throw RuntimeError("\(alphabet): fewer than two drawers drew all of \(chosen.joined(separator: ",")); use the full data set")
            }
            for i in 0..<2 { drawers.swapAt(i, i + rng.int(below: drawers.count - i)) }
            var order = Array(0..<ways)
            for i in 0..<ways { order.swapAt(i, i + rng.int(below: ways - i)) }
            var labels = ""
            do {
                for (item, c) in order.enumerated() {
                    let (trainFiles, trainPath) = chars[chosen[c]]![drawers[0]]!
                    let (testFiles, testPath) = chars[chosen[c]]![drawers[1]]!
                    let training = String(format: "%@/training/class%02d.png", run, c + 1)
                    let test = String(format: "%@/test/item%02d.png", run, item + 1)
                    files.append((training, try trainFiles.contents(of: trainPath)))
                    files.append((test, try testFiles.contents(of: testPath)))
                    labels += "\(test) \(training)\n"
                }
            } catch let e as IDXError { throw RuntimeError(e.description) }
            files.append(("\(run)/class_labels.txt", Array(labels.utf8)))
            print("\(run): \(alphabet), \(ways) characters, drawers \(drawers[0]) (training) and \(drawers[1]) (test)")
        }
        do {
            if out.lowercased().hasSuffix(".zip") {
                try FileCollection.writeZip(files.map { ("all_runs/" + $0.path, $0.bytes) }, to: out)
            } else {
                for file in files {
                    let url = URL(fileURLWithPath: out).appendingPathComponent(file.path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(file.bytes).write(to: url)
                }
            }
        } catch let e as IDXError { throw RuntimeError(e.description) } catch {
            throw RuntimeError("\(out): cannot write the runs (\(error.localizedDescription)); check the folder is writable")
        }
        print("wrote \(count) runs to \(out); score a checkpoint with: swift run -c release engram fewshot --runs \(out)")
        return 0
    }
}
