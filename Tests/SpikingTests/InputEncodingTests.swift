import Testing
import Spiking

/// The clock pattern and the LSG's binary target code (paper-model.md §2.2).
struct InputEncodingTests {
    @Test func paperClockSpikesEveryTenStepsInFiftyStepWindows() {
        let raster = ClockInput.paper.raster(steps: 249)
        #expect(raster.steps == 249)
        var expected: [Int: Int] = [:]
        for k in 0..<5 { for m in 0..<5 { expected[50 * k + 10 * m] = k } }
        for t in 0..<249 {
            let active = Array(raster[t]).map(Int.init)
            if let k = expected[t] { #expect(active == [k], "step \(t)") } else { #expect(active.isEmpty, "step \(t)") }
        }
        #expect(raster.eventCount == 25)
        // Past the fifth window the clock wraps to neuron 0.
        #expect(ClockInput.paper.spikingNeuron(at: 250) == 0)
    }

    @Test func targetCodeKeepsLowSixteenBitsLeastSignificantFirst() {
        let code = TargetCode(bits: 16)
        #expect(code.code(0) == 32768)                   // (0 + 1)·2^15
        #expect(code.code(-1) == 0)
        #expect(code.code(0.5) == 49152)
        #expect(code.code(1.5) == 81920 & 0xFFFF)        // above 1 m the code wraps
        #expect(code.code(0.123456) == UInt64((1.123456 * 32768).rounded(.towardZero)))
        var active: [Int32] = []
        code.appendActiveChannels([0, 0.5, -1], offset: 5, to: &active)
        // x = 32768: bit 15 → channel 5 + 15; y = 49152: bits 14, 15 → 5 + 16 + 14, 5 + 16 + 15; z = 0: none.
        #expect(active == [20, 35, 36])
    }

    @Test func rasterStoresStepsAndConvertsToDense() {
        let r = SpikeRaster([[1], [], [0, 2]])
        #expect(r.steps == 3 && r.eventCount == 3)
        #expect(r.dense(width: 3) == [0, 1, 0, 0, 0, 0, 1, 0, 1])
        #expect(r.withStep(2) { Array($0) } == [0, 2])
    }
}
