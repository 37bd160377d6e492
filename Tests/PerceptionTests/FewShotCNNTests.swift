import EngramTestSupport
import Foundation
import Testing
import Tensors
@testable import Perception

@Suite struct FewShotCNNTests {
    @Test func checkpointRoundTripsWithOfficialNamesAndShapes() throws {
        let model = FewShotCNN(ways: 5, seed: 4)
        let file = model.safeTensors(metadata: ["iteration": "7"])
        #expect(file.tensors["conv1"]?.shape == [3, 3, 1, 56])
        #expect(file.tensors["conv4"]?.shape == [3, 3, 56, 56])
        #expect(file.tensors["readout"]?.shape == [56, 5])
        let back = try FewShotCNN(safeTensors: try SafeTensors(bytes: file.serialized()), path: "m")
        #expect(back == model)
        #expect(model.architecture.parameterCount(ways: 5) == 85_456)
    }

    @Test func badCheckpointsAreNamed() throws {
        var file = FewShotCNN(ways: 5, seed: 4).safeTensors()
        file.set("conv2", floats: [Float](repeating: 0, count: 10), shape: [10])
        #expect(throws: CheckpointError.self) { try FewShotCNN(safeTensors: file, path: "m") }
        var empty = SafeTensors()
        empty.set("readout", floats: [0, 0], shape: [1, 2])
        do { _ = try FewShotCNN(safeTensors: empty, path: "x.safetensors"); Issue.record("accepted") } catch let e as CheckpointError {
            #expect(e.description.hasPrefix("x.safetensors: no tensor 'conv1'"))
        }
    }

    @Test(.enabled(if: SharedData.path("reference/omniglot-maml-official.safetensors") != nil, "needs ../shared/reference/omniglot-maml-official.safetensors"))
    func officialWeightsLoadWhenShared() throws {
        let path = try #require(SharedData.path("reference/omniglot-maml-official.safetensors"))
        let model = try FewShotCNN(checkpoint: path)
        #expect(model.architecture == CNNArchitecture())
        #expect(model.ways == 5)
    }

    @Test func evaluationDoesNotDependOnTheThreadCount() throws {
        let data = StrokeGlyphs().dataset(alphabets: 1, characters: 6, drawers: 8, seed: 3)
        let sampler = try EpisodeSampler(dataset: data, ways: 4, shots: 2, queries: 2)
        let model = FewShotCNN(architecture: CNNArchitecture(channels: 8), ways: 5, seed: 2)
        let one = FewShotEvaluator(model: model, threads: 1).evaluate(count: 6, seed: 9) { _, rng in sampler.sample(rng: &rng) }
        let two = FewShotEvaluator(model: model, threads: 2).evaluate(count: 6, seed: 9) { _, rng in sampler.sample(rng: &rng) }
        #expect(one == two)
        let pcmOne = FewShotEvaluator(model: model, mode: .paper, threads: 1).evaluate(count: 4, seed: 9) { _, rng in sampler.sample(rng: &rng) }
        let pcmTwo = FewShotEvaluator(model: model, mode: .paper, threads: 2).evaluate(count: 4, seed: 9) { _, rng in sampler.sample(rng: &rng) }
        #expect(pcmOne == pcmTwo)
        #expect(pcmOne.devicesProgrammed > 0)
        #expect(one.json.hasPrefix("{\"accuracy\": "))
        #expect(one.json.contains("\"per_step_accuracy\": ["))
    }

    @Test func trainingResumesBitForBit() throws {
        let data = StrokeGlyphs.tiny.dataset(alphabets: 1, characters: 6, drawers: 6, seed: 1)
        var settings = MetaTrainingSettings()
        settings.metaBatch = 4
        settings.queries = 1
        let arch = CNNArchitecture(imageSize: 8, channels: 8, layerCount: 2)
        let straight = try MetaTrainer(model: FewShotCNN(architecture: arch, ways: 5, seed: 1), dataset: data, settings: settings, seed: 2)
        for _ in 0..<4 { straight.step() }
        let first = try MetaTrainer(model: FewShotCNN(architecture: arch, ways: 5, seed: 1), dataset: data, settings: settings, seed: 2)
        for _ in 0..<2 { first.step() }
        let state = try SafeTensors(bytes: first.trainingState().serialized())
        let resumed = try MetaTrainer(model: FewShotCNN(architecture: arch, ways: 5, seed: 99), dataset: data, settings: settings, seed: 5)
        try resumed.restore(state, path: "state")
        for _ in 0..<2 { resumed.step() }
        #expect(resumed.iteration == 4)
        #expect(resumed.model == straight.model)
    }
}
