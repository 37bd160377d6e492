import Foundation
import Testing
import Tensors
import EngramTestSupport

struct SafeTensorsTests {
    func sample() -> SafeTensors {
        var st = SafeTensors()
        st.set("W", matrix: Matrix(rows: 2, columns: 3) { r, c in Float(r) - 0.25 * Float(c) })
        st.set("d", doubles: [1.5, -2.25, .pi], shape: [3])
        st.set("i", int32s: [-1, 0, 7, Int32.max], shape: [2, 2])
        st.set("b", uint8s: [0, 255, 9], shape: [3])
        st.set("rng", uint64s: [UInt64.max, 1], shape: [2])
        st.metadata = ["architecture": "{\"neurons\": 250}", "note": "quote \" and backslash \\"]
        return st
    }

    @Test func roundTripPreservesEveryTensorAndTheMetadata() throws {
        let st = sample()
        let back = try SafeTensors(bytes: st.serialized())
        #expect(back.tensors == st.tensors)
        #expect(back.metadata == st.metadata)
        #expect(try back.matrix("W") == st.matrix("W"))
        #expect(try back.doubles("d") == [1.5, -2.25, .pi])
        #expect(try back.integers("i") == [-1, 0, 7, Int64(Int32.max)])
        #expect(try back.integers("rng") == [-1, 1])
    }

    @Test func headerIsAlignedAndLittleEndian() {
        let bytes = sample().serialized()
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        #expect((8 + Int(n)) % 8 == 0)
        #expect(bytes[8] == UInt8(ascii: "{"))
    }

    @Test func everyTruncationIsAnErrorNotACrash() {
        let bytes = sample().serialized()
        for cut in [0, 3, 7, 8, 20, bytes.count / 2, bytes.count - 1] {
            #expect(throws: SafeTensors.Error.self, "cut at \(cut)") {
                _ = try SafeTensors(bytes: Array(bytes[0..<cut]), source: "cut.safetensors")
            }
        }
        do {
            _ = try SafeTensors(bytes: Array(bytes[0..<(bytes.count - 1)]), source: "cut.safetensors")
        } catch let e as SafeTensors.Error {
            #expect(e.description.hasPrefix("cut.safetensors: truncated"), "\(e)")
        } catch { Issue.record("unexpected error \(error)") }
    }

    @Test func malformedHeadersAreNamed() throws {
        func file(_ header: String, data: Int = 0) -> [UInt8] {
            let h = Array(header.utf8)
            var out: [UInt8] = []
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64(i)))) }
            return out + h + [UInt8](repeating: 0, count: data)
        }
        let cases: [(String, Int, String)] = [
            ("{not json", 0, "malformed"),
            ("[1,2]", 0, "not an object"),
            (#"{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#, 2, "unsupported dtype BF16"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, 4, "expected 8"),
            (#"{"a":{"dtype":"F32","shape":[1]}}"#, 4, "data_offsets"),
        ]
        for (header, data, fragment) in cases {
            do {
                _ = try SafeTensors(bytes: file(header, data: data))
                Issue.record("no error for \(header)")
            } catch let e as SafeTensors.Error {
                #expect(e.message.contains(fragment), "\(header) → \(e)")
            }
        }
    }

    @Test func missingTensorListsWhatIsThere() throws {
        let st = sample()
        #expect(throws: SafeTensors.Error.self) { try st.matrix("nope") }
        #expect(throws: SafeTensors.Error.self) { try st.matrix("W", rows: 3) }
    }

    /// Uses ../shared/reference (skips when absent): the official robot checkpoint's names and shapes.
    @Test(.enabled(if: SharedData.path("reference/robot-l2l-official.safetensors") != nil, "needs ../shared/reference/robot-l2l-official.safetensors"))
    func officialRobotCheckpointHasTheDocumentedShapes() throws {
        let path = try #require(SharedData.path("reference/robot-l2l-official.safetensors"))
        let st = try SafeTensors(contentsOfFile: path)
        let expected: [String: [Int]] = [
            "W_in_trainee": [5, 250], "W_rec_trainee": [250, 250], "W_out_trainee": [250, 2],
            "W_in_lsg": [53, 800], "W_rec_lsg": [800, 800], "W_out_lsg": [800, 250],
        ]
        for (name, shape) in expected {
            let t = try st.tensor(name)
            #expect(t.shape == shape, "\(name): \(t.shape)")
            #expect(t.dtype == .f32)
        }
        let wOut = try st.matrix("W_out_trainee")
        #expect(wOut.maxMagnitude <= 0.034, "README: trainee W_out stays tiny (|w| ≤ 0.033)")
    }

    /// Issue 19 item 7: a shape of [2^62, 4] used to overflow `shape.reduce(1, *) * 4` (SIGILL). Every size
    /// is now overflow-checked and bounded by the data section; numbers that are not exact integers are refused.
    @Test func craftedSizesAreRefusedNotOverflowed() throws {
        func file(_ header: String, data: Int = 16) -> [UInt8] {
            let h = Array(header.utf8)
            return (0..<8).map { UInt8(truncatingIfNeeded: h.count >> (8 * $0)) } + h + [UInt8](repeating: 0, count: data)
        }
        func refusal(_ bytes: [UInt8]) -> String {
            do { _ = try SafeTensors(bytes: bytes, source: "crafted.safetensors"); return "accepted" } catch { return "\(error)" }
        }
        let overflow = refusal(file(#"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#))
        #expect(overflow.hasPrefix("crafted.safetensors: tensor 't': shape [4611686018427387904, 4] of F32 needs more bytes than the 16-byte data section holds"), "\(overflow)")
        #expect(refusal(file(#"{"t":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}"#)).contains("needs more bytes"))
        #expect(refusal(file(#"{"t":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}"#)).contains("non-negative integers"))
        #expect(refusal(file(#"{"t":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}"#)).contains("non-negative integers"))
        #expect(refusal(file(#"{"t":{"dtype":"U8","shape":[2],"data_offsets":[0,1e30]}}"#)).contains("data_offsets"))
        var long = file("{}")
        long.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x40])
        #expect(refusal(long).contains("more than the 100000000-byte bound"))
        #expect(refusal(file(#"{"t":{"dtype":"U8","shape":[2,8],"data_offsets":[0,16]}}"#)) == "accepted")
    }
}
