import Foundation
import Testing
import Spiking

/// Population coding of joint angles and tracking errors with deterministic phase-accumulator spikes.
struct ProprioceptiveEncoderTests {
    /// Two joints: base ±1.5 rad (spacing 0.2), shoulder −1…1 rad (spacing 2/15); errors ±0.2 rad (spacing 0.4/15).
    private func encoder() -> ProprioceptiveEncoder {
        ProprioceptiveEncoder(jointRanges: [-1.5...1.5, -1.0...1.0])
    }

    @Test func layoutIsJointMajorAngleThenError() {
        let e = encoder()
        #expect(e.rowCount == 64 && e.jointCount == 2)
        #expect(e.angleRow(joint: 0, neuron: 0) == 0 && e.errorRow(joint: 0, neuron: 0) == 16)
        #expect(e.angleRow(joint: 1, neuron: 3) == 35 && e.errorRow(joint: 1, neuron: 15) == 63)
        #expect(e.angleCentre(joint: 0, neuron: 0) == -1.5 && abs(e.angleCentre(joint: 0, neuron: 15) - 1.5) < 1e-12)
        #expect(abs(e.angleCentre(joint: 0, neuron: 8) - 0.1) < 1e-12)
        #expect(abs(e.errorCentre(neuron: 0) + 0.2) < 1e-15 && abs(e.errorCentre(neuron: 15) - 0.2) < 1e-15)
    }

    @Test func ratesPeakAtTheNeuronWhoseCentreIsTheAngle() {
        let e = encoder()
        // Base at the centre of neuron 8 (0.1 rad); shoulder at neuron 4's centre; zero errors.
        let shoulder = e.angleCentre(joint: 1, neuron: 4)
        let r = e.rates(angles: [0.1, shoulder], errors: [0, 0])
        let base = Array(r[0..<16])
        #expect(base.firstIndex(of: base.max()!) == 8)
        #expect(abs(base[8] - 0.1) < 1e-12)
        // One spacing away: exp(−½); two: exp(−2); symmetric neighbours equal.
        #expect(abs(base[7] - 0.1 * exp(-0.5)) < 1e-12 && abs(base[9] - base[7]) < 1e-12)
        #expect(abs(base[6] - 0.1 * exp(-2)) < 1e-12 && abs(base[10] - base[6]) < 1e-12)
        let s = Array(r[32..<48])
        #expect(s.firstIndex(of: s.max()!) == 4 && abs(s[3] - s[5]) < 1e-12)
        // A zero error sits between error neurons 7 and 8 (the centres are ±0.2/15 · … symmetric about 0).
        let errors = Array(r[16..<32])
        #expect(abs(errors[7] - errors[8]) < 1e-12 && [7, 8].contains(errors.firstIndex(of: errors.max()!)))
        #expect(abs(errors[7] - 0.1 * exp(-0.125)) < 1e-12)  // half a spacing from each
    }

    @Test func valuesBeyondTheRangeSaturateToTheEndNeurons() {
        let e = encoder()
        let inside = e.rates(angles: [1.5, -1.0], errors: [0.2, -0.2])
        let beyond = e.rates(angles: [2.7, -3.0], errors: [0.9, -5])
        #expect(inside == beyond)
        #expect(abs(beyond[15] - 0.1) < 1e-12)   // base: last angle neuron
        #expect(abs(beyond[31] - 0.1) < 1e-12)   // base error +0.9 → last error neuron
        #expect(abs(beyond[32] - 0.1) < 1e-12)   // shoulder: first angle neuron
        #expect(abs(beyond[48] - 0.1) < 1e-12)   // shoulder error −5 → first error neuron
        #expect(beyond[0] < 1e-20)               // the far end is silent
    }

    @Test func errorsDriveOnlyTheErrorPopulation() {
        let e = encoder()
        let a = e.rates(angles: [0.3, -0.2], errors: [0, 0])
        let b = e.rates(angles: [0.3, -0.2], errors: [0.12, -0.05])
        for j in 0..<2 {
            for i in 0..<16 { #expect(a[e.angleRow(joint: j, neuron: i)] == b[e.angleRow(joint: j, neuron: i)]) }
        }
        // +0.12 rad is error neuron 12's centre (−0.2 + 12·0.4/15 = 0.12).
        let baseErrors = Array(b[16..<32])
        #expect(baseErrors.firstIndex(of: baseErrors.max()!) == 12)
        #expect(abs(baseErrors[12] - 0.1) < 1e-12)
    }

    @Test func spikeCountsOverAThousandStepsMatchTheRates() {
        var e = encoder()
        let angles = [0.437, -0.61], errors = [0.031, -0.173]
        let p = e.rates(angles: angles, errors: errors)
        var counts = [Int](repeating: 0, count: e.rowCount)
        var active: [Int32] = []
        active.reserveCapacity(e.rowCount)
        for _ in 0..<1000 {
            active.removeAll(keepingCapacity: true)
            let n = e.encode(angles: angles, errors: errors, into: &active)
            #expect(n == active.count)
            #expect(active == active.sorted())
            for i in active { counts[Int(i)] += 1 }
        }
        for i in 0..<e.rowCount {
            #expect(abs(Double(counts[i]) - 1000 * p[i]) <= 1, "row \(i): \(counts[i]) spikes for p = \(p[i])")
        }
        #expect(counts.reduce(0, +) > 0)
    }

    @Test func firstRowOffsetsEveryIndexAndEncodingAppends() {
        var plain = encoder(), shifted = encoder()
        var a: [Int32] = [], b: [Int32] = [99]
        for _ in 0..<40 {
            a.removeAll(keepingCapacity: true)
            b.removeAll(keepingCapacity: true)
            b.append(99)  // rows before the encoder's (a clock spike) are kept
            plain.encode(angles: [0.2, 0.4], errors: [0.05, -0.01], into: &a)
            let n = shifted.encode(angles: [0.2, 0.4], errors: [0.05, -0.01], firstRow: 5, into: &b)
            #expect(n == a.count && b.first == 99)
            #expect(Array(b.dropFirst()) == a.map { $0 + 5 })
        }
    }

    @Test func resetRestartsTheSameSpikeSequence() throws {
        var e = encoder()
        func run(_ e: inout ProprioceptiveEncoder, steps: Int) -> [[Int32]] {
            (0..<steps).map { t in
                var active: [Int32] = []
                e.encode(angles: [0.1 + 0.01 * Double(t), -0.3], errors: [0.02, 0.0], into: &active)
                return active
            }
        }
        let first = run(&e, steps: 30)
        #expect(first.contains { !$0.isEmpty })
        let continued = run(&e, steps: 30)
        #expect(continued != first)  // phases carried over
        e.reset()
        #expect(e.phases.allSatisfy { $0 == 0.5 })
        #expect(run(&e, steps: 30) == first)
        // A neuron at its centre (p = 0.1) first fires after about 5 steps (phase ½ + 5·0.1 reaches 1, up to
        // rounding) and then every 10 steps: 100 Hz, the rate of the paper's active clock neuron.
        var centred = ProprioceptiveEncoder(jointRanges: [0...1.5], angleNeurons: 16, errorNeurons: 16)
        var firing: [Int] = []
        for t in 0..<30 {
            var active: [Int32] = []
            centred.encode(angles: [0.5], errors: [0.2], into: &active)  // 0.5 = centre of neuron 5
            if active.contains(5) { firing.append(t) }
        }
        try #require(firing.count == 3)
        #expect((4...5).contains(firing[0]) && firing[1] - firing[0] == 10 && firing[2] - firing[1] == 10)
    }
}
