import CPNG
import Foundation

/// A grayscale image: `width × height` bytes, row-major, 0 black … 255 white.
public struct GrayImage: Sendable, Equatable {
    /// Columns.
    public var width: Int
    /// Rows.
    public var height: Int
    /// `width × height` bytes, row after row.
    public var pixels: [UInt8]

    /// An image over given pixels.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "pixel count must be width × height")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// PNG decoding and encoding with Debian's libpng (its simplified `png_image` API), as pure functions
/// over bytes. Any PNG colour type and bit depth decodes to 8-bit gray (Omniglot's are one-bit gray).
public enum PNGCodec {
    /// Decodes PNG bytes to gray; `path` only names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> GrayImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else {
            throw IDXError(path: path, message: "not a readable PNG (\(message(of: image))); re-download or re-extract the file")
        }
        defer { png_image_free(&image) }
        image.format = png_uint_32(PNG_FORMAT_GRAY)
        let width = Int(image.width), height = Int(image.height)
        var pixels = [UInt8](repeating: 255, count: width * height)
        let finished = pixels.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, png_int_32(width), nil)
        }
        guard finished != 0 else {
            throw IDXError(path: path, message: "damaged PNG (\(message(of: image))); re-download or re-extract the file")
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }

    /// Encodes a gray image as an 8-bit gray PNG, or as a one-bit one (like Omniglot's) when `oneBit`
    /// and every pixel is 0 or 255.
    public static func encode(_ gray: GrayImage, oneBit: Bool = false) -> [UInt8] {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(gray.width)
        image.height = png_uint_32(gray.height)
        image.format = png_uint_32(PNG_FORMAT_GRAY)
        if oneBit, gray.pixels.allSatisfy({ $0 == 0 || $0 == 255 }) {
            return encodeOneBit(gray)
        }
        var size: png_alloc_size_t = 0
        gray.pixels.withUnsafeBytes { _ = png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        var out = [UInt8](repeating: 0, count: Int(size))
        let ok = out.withUnsafeMutableBytes { buffer in
            gray.pixels.withUnsafeBytes { png_image_write_to_memory(&image, buffer.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        precondition(ok != 0, "libpng failed to encode a \(gray.width)×\(gray.height) gray image: \(message(of: image))")
        png_image_free(&image)
        return Array(out.prefix(Int(size)))
    }

    /// One-bit gray through libpng's full writer (the simplified API writes only 8- and 16-bit).
    static func encodeOneBit(_ gray: GrayImage) -> [UInt8] {
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        guard let write = png_create_write_struct(PNG_LIBPNG_VER_STRING, nil, nil, nil) else { preconditionFailure("libpng: no write struct") }
        var writePointer: png_structp? = write
        var info = png_create_info_struct(write)
        defer { png_destroy_write_struct(&writePointer, &info) }
        png_set_write_fn(write, Unmanaged.passUnretained(sink).toOpaque(), { png, data, length in
            let sink = Unmanaged<Sink>.fromOpaque(png_get_io_ptr(png)!).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
        }, nil)
        png_set_IHDR(write, info, png_uint_32(gray.width), png_uint_32(gray.height), 1, PNG_COLOR_TYPE_GRAY,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT)
        png_write_info(write, info)
        let rowBytes = (gray.width + 7) / 8
        for r in 0..<gray.height {
            var row = [UInt8](repeating: 0, count: rowBytes)
            for c in 0..<gray.width where gray.pixels[r * gray.width + c] != 0 { row[c / 8] |= 0x80 >> UInt8(c % 8) }
            row.withUnsafeMutableBufferPointer { png_write_row(write, $0.baseAddress) }
        }
        png_write_end(write, info)
        return sink.bytes
    }

    static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
