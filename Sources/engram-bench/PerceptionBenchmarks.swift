import Foundation
import Perception
import PhaseChange
import Tensors

/// Perception: images per second through the CNN (ideal and both PCM models, one core), the latency of
/// one 5-way 5-shot adaptation with 4 inner steps on PCM (support features through the crossbar CNN,
/// readout programmed, 4 stochastic-rounded updates), and one meta-training step (meta-batch 32, 2 threads).
func runPerceptionBenchmarks() {
    let glyphs = StrokeGlyphs().dataset(alphabets: 2, characters: 10, drawers: 10, seed: 1)
    let model = FewShotCNN(ways: 5, seed: 1)
    let batch = 25
    let images = Array(glyphs.pixels.prefix(batch * 784))
    let tape = FeatureTape(architecture: model.architecture)

    var dense = DenseConvolutions(weights: model.convolutions)
    let ideal = sampleMicroseconds(repeats: 31, inner: 4) {
        images.withUnsafeBufferPointer { tape.forward(images: $0.baseAddress!, batch: batch, multiplier: &dense) }
    }
    let idealMedian = quantile(ideal, 0.5)
    emit("perception_cnn_forward_ideal", ["median_us": idealMedian, "p90_us": quantile(ideal, 0.9), "batch": batch,
                                          "images_per_s": Double(batch) / idealMedian * 1e6, "threads": 1])

    for mode in [WeightMode.paper, .physical] {
        let settings = PCMEvaluationSettings(mode: mode)!
        var rng = RandomSource(seed: 2)
        var bars = CrossbarConvolutions(weights: model.convolutions, parameters: settings.convolutions,
                                        scaleToRange: settings.scaleToRange, programmingTime: 0,
                                        readTime: settings.episodeTime, rng: &rng)
        let pcm = sampleMicroseconds(repeats: 15, inner: 1) {
            images.withUnsafeBufferPointer { tape.forward(images: $0.baseAddress!, batch: batch, multiplier: &bars) }
        }
        let median = quantile(pcm, 0.5)
        emit("perception_cnn_forward_pcm_\(mode.rawValue)", ["median_us": median, "p90_us": quantile(pcm, 0.9), "batch": batch,
                                                           "images_per_s": Double(batch) / median * 1e6, "threads": 1,
                                                           "mvms_per_image": Double(bars.mvms) / Double(batch * (15 + 3))])

        // One 5-way 5-shot adaptation, 4 steps: support features on the crossbar CNN, then the readout.
        let labels = (0..<batch).map { $0 / 5 }
        var features: [Float] = []
        var readoutOnly: [Double] = []
        let full = sampleMicroseconds(repeats: 21, inner: 1) {
            images.withUnsafeBufferPointer { tape.forward(images: $0.baseAddress!, batch: batch, multiplier: &bars) }
            features = Array(tape.features.prefix(batch * model.architecture.channels))
            let t0 = monotonicNanoseconds()
            var readout = CrossbarReadout(initial: model.readout, parameters: settings.readout,
                                          scaleToRange: settings.scaleToRange, time: settings.episodeTime, rng: &rng)
            for _ in 0..<4 { _ = readout.sgdStep(features: features, labels: labels, rate: 0.1, rng: &rng) }
            readoutOnly.append(Double(monotonicNanoseconds() - t0) / 1000)
        }
        emit("perception_adaptation_5way5shot_4steps_pcm_\(mode.rawValue)",
             ["median_us": quantile(full, 0.5), "p90_us": quantile(full, 0.9),
              "readout_only_median_us": quantile(readoutOnly, 0.5), "target_us": 20_000.0])
    }

    var settings = MetaTrainingSettings()
    settings.threads = 2
    if let trainer = try? MetaTrainer(model: model, dataset: glyphs, settings: settings, seed: 3) {
        let step = sampleMicroseconds(repeats: 7, inner: 1, warmup: 1) { trainer.step() }
        emit("perception_meta_training_step", ["median_us": quantile(step, 0.5), "p90_us": quantile(step, 0.9),
                                               "meta_batch": 32, "threads": 2, "images_per_step": 32 * 50])
    }
}
