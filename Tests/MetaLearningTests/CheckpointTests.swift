import Adaptation
import Foundation
import Testing
import EngramTestSupport
import MetaLearning
import Spiking
import Tensors

/// Controller checkpoints: round trip with the architecture in metadata, the official file, bad files.
struct CheckpointTests {
    func smallArchitecture() -> ControllerArchitecture {
        var a = ControllerArchitecture.paper
        a.traineeNeurons = 12; a.lsgNeurons = 20; a.lsgAdaptation = ThresholdAdaptation(count: 6); a.innerLearningRate = 3e-4
        return a
    }

    @Test func roundTripKeepsWeightsAndArchitecture() throws {
        var rng = RandomSource(seed: 1)
        let a = smallArchitecture()
        let w = ControllerWeights(initializing: a, rng: &rng)
        let c = ControllerCheckpoint(architecture: a, weights: w, metadata: ["source": "test"])
        let file = c.safeTensors()
        #expect(Set(file.tensors.keys) == Set(ControllerCheckpoint.tensorNames))
        #expect(file.metadata[ControllerCheckpoint.formatKey] == "engram-controller 1")
        let back = try ControllerCheckpoint(SafeTensors(bytes: file.serialized()))
        #expect(back.architecture == a)
        #expect(back.architectureFromMetadata)
        #expect(back.weights == w)
        #expect(back.metadata == ["source": "test"])
    }

    @Test func fileWithoutArchitectureLoadsWithPaperHyperParameters() throws {
        var rng = RandomSource(seed: 2)
        var file = ControllerCheckpoint(architecture: .paper, weights: ControllerWeights(initializing: .paper, rng: &rng)).safeTensors()
        file.metadata = ["converted_from": "robot.pickle"]
        let c = try ControllerCheckpoint(SafeTensors(bytes: file.serialized()))
        #expect(!c.architectureFromMetadata)
        #expect(c.architecture == .paper)
    }

    @Test func wrongShapeNamesTheTensorAndTheExpectedShape() throws {
        var rng = RandomSource(seed: 3)
        var file = ControllerCheckpoint(architecture: .paper, weights: ControllerWeights(initializing: .paper, rng: &rng)).safeTensors()
        file.metadata = [:]
        file.set("W_out_trainee", matrix: Matrix(rows: 250, columns: 3))
        #expect {
            try ControllerCheckpoint(SafeTensors(bytes: file.serialized(), source: "bad.safetensors"))
        } throws: { error in
            "\(error)" == "bad.safetensors: tensor 'W_out_trainee' has shape [250, 3], the architecture of the paper (no metadata) needs [250, 2]"
        }
        file.tensors["W_rec_lsg"] = nil
        #expect(throws: CheckpointError.self) { try ControllerCheckpoint(SafeTensors(bytes: file.serialized())) }
    }

    @Test(.enabled(if: SharedData.path("reference/robot-l2l-official.safetensors") != nil, "needs ../shared/reference/robot-l2l-official.safetensors"))
    func officialCheckpointLoads() throws {
        let path = try #require(SharedData.path("reference/robot-l2l-official.safetensors"))
        let c = try ControllerCheckpoint(contentsOfFile: path)
        #expect(!c.architectureFromMetadata)
        #expect(c.architecture == .paper)
        #expect(c.weights.lsgRecurrent.rows == 800 && c.weights.traineeInput.rows == 5)
        // Known statistics of the released weights (paper-model.md §2.1).
        #expect(c.weights.traineeReadout.maxMagnitude <= 0.034)
        let large = c.weights.traineeInput.storage.filter { abs($0) > 1 }.count
        #expect(isClose(Double(large) / 1250, 0.108, absolute: 0.002))
    }

    /// Issue 19 items 7 and 8: sizes in the architecture are bounded before anything is allocated from them
    /// (`steps: 1e9` used to allocate 8 GB at run time), and weights beyond ±1,000 are refused at load
    /// (3e38 used to run to "policy finished" after 500 rejected goals).
    @Test func architectureSizesAndWeightsAreBoundedAtLoad() throws {
        var rng = RandomSource(seed: 2)
        let a = smallArchitecture()
        let w = ControllerWeights(initializing: a, rng: &rng)
        func refusal(_ edit: (inout SafeTensors) -> Void) -> String {
            var file = ControllerCheckpoint(architecture: a, weights: w).safeTensors()
            file.source = "crafted.safetensors"
            edit(&file)
            do {
                _ = try ControllerCheckpoint(SafeTensors(bytes: file.serialized(), source: "crafted.safetensors"))
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let steps = refusal { f in
            f.metadata[ControllerCheckpoint.architectureKey] = f.metadata[ControllerCheckpoint.architectureKey]!.replacingOccurrences(of: "\"steps\":249", with: "\"steps\":1e9")
        }
        #expect(steps.hasPrefix("crafted.safetensors: ") && steps.contains("steps 1000000000 is outside 1...10000"), "\(steps)")
        let neurons = refusal { f in
            f.metadata[ControllerCheckpoint.architectureKey] = f.metadata[ControllerCheckpoint.architectureKey]!.replacingOccurrences(of: "\"neurons\":5", with: "\"neurons\":100000")
        }
        #expect(neurons.contains("clock.neurons 100000 is outside 1...256"), "\(neurons)")
        let huge = refusal { f in
            var m = w.lsgRecurrent
            m[3, 4] = 3e38
            f.set("W_rec_lsg", matrix: m)
        }
        #expect(huge.hasPrefix("crafted.safetensors: tensor 'W_rec_lsg' has 3e+38 at row 3, column 4, outside ±1000"), "\(huge)")
        #expect(refusal { _ in } == "accepted")
    }

}

/// A closed-loop controller (proprioceptive input rows after the clock) round-trips through a checkpoint:
/// W_in_trainee has clock + proprioception rows and the encoder settings come back from the metadata.
@Test func closedLoopCheckpointRoundTrips() throws {
    var a = ControllerArchitecture.paper
    a.proprioception = ProprioceptionSettings(jointRanges: [-1...1, -0.5...2])
    var rng = RandomSource(seed: 3)
    let weights = ControllerWeights(initializing: a, rng: &rng)
    #expect(weights.traineeInput.rows == 5 + 64)
    let bytes = ControllerCheckpoint(architecture: a, weights: weights).safeTensors().serialized()
    let back = try ControllerCheckpoint(SafeTensors(bytes: bytes, source: "memory"))
    #expect(back.architecture == a)
    #expect(back.weights.traineeInput == weights.traineeInput)
}
