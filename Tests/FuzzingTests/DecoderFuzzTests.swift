import Testing
@testable import Fuzzing

/// The seeded, short form of `engram-bench fuzz`: a few thousand generated inputs per decoder, the same
/// every run. A crash ends the test process; a hang would stop the suite; a finding (a reply that does not
/// decode, a buffer past its bound, data that does not fit its header) fails the test with the input's
/// index, which `engram-bench fuzz-input DECODER INDEX 19` prints.
@Suite struct DecoderFuzzTests {
    static let inputsPerDecoder: UInt64 = 3_000

    @Test(arguments: FuzzTarget.all.map(\.name))
    func decoderSurvivesGeneratedInputs(_ name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let report = Fuzzer.run(target, indices: 0..<Self.inputsPerDecoder, seed: 19)
        #expect(report.inputs == Int(Self.inputsPerDecoder))
        #expect(report.findingCount == 0, "\(name): \(report.findings.map { "input \($0.index): \($0.message)" }.joined(separator: "; "))")
        // The mutations reach both outcomes: some inputs decode, most are refused.
        #expect(report.accepted > 0 && report.rejected > 0, "\(name): \(report.accepted) accepted, \(report.rejected) rejected")
    }

    @Test func inputsAreDeterministicAndVaried() throws {
        let target = try #require(FuzzTarget.named("yaml"))
        #expect(target.input(42, seed: 19) == target.input(42, seed: 19))
        #expect(target.input(42, seed: 19) != target.input(42, seed: 20))
        let distinct = Set((0..<200).map { target.input($0, seed: 19) })
        #expect(distinct.count > 150)
        #expect((0..<2_000).map { target.input($0, seed: 19).count }.max()! <= target.maximumLength)
    }

    /// The crafted inputs of issue 19 item 7, fed straight to the decoders.
    @Test func craftedInputsOfTheIssueAreRefused() throws {
        let yaml = Array(("a: " + String(repeating: "[", count: 5_000)).utf8)
        #expect(FuzzTarget.yaml.verdict(on: yaml) == .rejected)
        let header = Array(#"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#.utf8)
        var file: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
        file += header + [UInt8](repeating: 0, count: 16)
        #expect(FuzzTarget.safeTensors.verdict(on: file) == .rejected)
        #expect(FuzzTarget.idx.verdict(on: [0, 0, 0x08, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1]) == .rejected)
        #expect(FuzzTarget.feetechEmulator.verdict(on: [0xFF, 0xFF, 0x01, 0x04, 0x02, 0x00, 0xF5, 0x03]) == .rejected)
    }
}
