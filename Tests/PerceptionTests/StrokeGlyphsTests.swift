import Testing
import Tensors
@testable import Perception

@Suite struct StrokeGlyphsTests {
    @Test func generatorIsDeterministicAndInked() {
        let g = StrokeGlyphs()
        let a = g.dataset(alphabets: 2, characters: 3, drawers: 4, seed: 1)
        let b = g.dataset(alphabets: 2, characters: 3, drawers: 4, seed: 1)
        #expect(a.pixels == b.pixels)
        #expect(a.classes.count == 6 && a.count == 24)
        #expect(a.alphabetNames == ["synthetic-0", "synthetic-1"])
        let ink = a.pixels.reduce(0, +) / Float(a.count)
        #expect(ink > 20 && ink < 400, "mean ink per image \(ink)")
    }

    @Test func episodesAreDisjointAndClassMajor() throws {
        let data = StrokeGlyphs().dataset(alphabets: 1, characters: 8, drawers: 6, seed: 2)
        let sampler = try EpisodeSampler(dataset: data, ways: 5, shots: 2, queries: 3, rotate: true)
        var rng = RandomSource(seed: 3)
        let e = sampler.sample(rng: &rng)
        #expect(e.supportLabels == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
        #expect(e.queryLabels.count == 15 && e.queryPixels.count == 15 * 784)
        #expect(throws: IDXError.self) { try EpisodeSampler(dataset: data, ways: 9, shots: 1, queries: 1) }
        #expect(throws: IDXError.self) { try EpisodeSampler(dataset: data, ways: 5, shots: 4, queries: 3) }
        let square: [Float] = [1, 2, 3, 4]
        #expect(EpisodeSampler.rotated(square, size: 2, quarterTurns: 1) == [2, 4, 1, 3])
        #expect(EpisodeSampler.rotated(square, size: 2, quarterTurns: 4) == square)
    }

    @Test func shortMetaTrainingOnSyntheticGlyphsBeatsChanceWidely() throws {
        let data = StrokeGlyphs().dataset(alphabets: 4, characters: 10, drawers: 12, seed: 11)
        let train = try data.filtered(alphabets: ["synthetic-0", "synthetic-1", "synthetic-2"])
        let test = try data.filtered(alphabets: ["synthetic-3"])
        var settings = MetaTrainingSettings()
        settings.metaBatch = 8
        settings.queries = 3
        let model = FewShotCNN(architecture: CNNArchitecture(channels: 16), ways: 5, seed: 1)
        let trainer = try MetaTrainer(model: model, dataset: train, settings: settings, seed: 2)
        for _ in 0..<150 { trainer.step() }
        let sampler = try EpisodeSampler(dataset: test, ways: 5, shots: 5, queries: 3)
        let result = FewShotEvaluator(model: trainer.model).evaluate(count: 100, seed: 3) { _, rng in sampler.sample(rng: &rng) }
        #expect(result.accuracy > 0.6, "5-way accuracy \(result.accuracy) (chance 0.2)")
        #expect(result.perStepAccuracy.count == 5)
    }
}
