import Foundation
import Testing
@testable import Perception

@Suite struct PNGCodecTests {
    @Test func eightBitGrayRoundTrips() throws {
        let image = GrayImage(width: 3, height: 2, pixels: [0, 17, 255, 128, 64, 200])
        let bytes = PNGCodec.encode(image)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(try PNGCodec.decode(bytes, path: "a.png") == image)
    }

    @Test func oneBitGrayLikeOmniglotRoundTrips() throws {
        // 11 columns: a row spans two bytes with padding bits.
        let pixels: [UInt8] = (0..<(11 * 4)).map { ($0 * 7) % 3 == 0 ? 0 : 255 }
        let image = GrayImage(width: 11, height: 4, pixels: pixels)
        let bytes = PNGCodec.encode(image, oneBit: true)
        #expect(bytes[24] == 1 && bytes[25] == 0, "IHDR bit depth 1, colour type gray")
        #expect(try PNGCodec.decode(bytes, path: "b.png") == image)
    }

    @Test func damagedBytesAreNamed() {
        let bytes = PNGCodec.encode(GrayImage(width: 4, height: 4, pixels: [UInt8](repeating: 9, count: 16)))
        for bad in [[UInt8]("GIF89a".utf8), Array(bytes.prefix(40))] {
            do { _ = try PNGCodec.decode(bad, path: "x/0001_01.png"); Issue.record("accepted \(bad.count) bad bytes") } catch let e as IDXError {
                #expect(e.path == "x/0001_01.png")
                #expect(e.message.contains("PNG"), "\(e.message)")
            } catch { Issue.record("unexpected \(error)") }
        }
    }
}
