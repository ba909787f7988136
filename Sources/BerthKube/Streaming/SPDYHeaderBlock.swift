import CZlib
import Foundation

/// A SPDY/3 header block: name/value pairs, each a 32-bit length and bytes; several values of one
/// name are joined with NUL. Names are lower case on the wire (Kubernetes' SPDY peers reject
/// others). Blocks are zlib-compressed with one stream per direction that lives as long as the
/// session, each block ending in a sync flush; both directions start from `dictionary`.
public struct SPDYHeaderBlock: Sendable, Equatable {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields.map { (name: $0.name.lowercased(), value: $0.value) }
    }

    /// The first value of `name` (case-insensitive).
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.first { $0.name == lowered }?.value.split(separator: "\0", omittingEmptySubsequences: false).first.map(String.init)
    }

    public static func == (lhs: SPDYHeaderBlock, rhs: SPDYHeaderBlock) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// The uncompressed wire form.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt32(fields.count))
        for field in fields {
            for part in [Array(field.name.utf8), Array(field.value.utf8)] {
                bytes.appendBigEndian(UInt32(part.count))
                bytes += part
            }
        }
        return bytes
    }

    /// Parses the uncompressed wire form.
    init(decoding bytes: [UInt8]) throws(SPDYError) {
        var offset = 0
        func read32() throws(SPDYError) -> Int {
            guard offset + 4 <= bytes.count else { throw .malformed("truncated header block") }
            defer { offset += 4 }
            return Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
        }
        func readString() throws(SPDYError) -> String {
            let length = try read32()
            guard offset + length <= bytes.count else { throw .malformed("truncated header block") }
            defer { offset += length }
            return String(decoding: bytes[offset..<offset + length], as: UTF8.self)
        }
        let count = try read32()
        var fields: [(name: String, value: String)] = []
        for _ in 0..<count {
            let name = try readString()
            fields.append((name: name, value: try readString()))
        }
        self.init(fields)
    }
}

/// One direction's header compression: a zlib deflate stream primed with the SPDY/3 dictionary.
final class SPDYHeaderCompressor {
    private let stream: UnsafeMutablePointer<z_stream>

    init() throws(SPDYError) {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard berth_deflateInit2(stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) == Z_OK else {
            stream.deallocate()
            throw .compression("deflateInit failed")
        }
        let status = SPDYHeaderBlock.dictionary.withUnsafeBufferPointer {
            deflateSetDictionary(stream, $0.baseAddress, uInt($0.count))
        }
        guard status == Z_OK else {
            deflateEnd(stream)
            stream.deallocate()
            throw .compression("deflateSetDictionary failed (\(status))")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// The block's compressed bytes, ending in a sync flush so the peer can decode it at once.
    func compress(_ block: SPDYHeaderBlock) throws(SPDYError) -> [UInt8] {
        var input = block.encoded()
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let status: Int32 = input.withUnsafeMutableBufferPointer { input in
            stream.pointee.next_in = input.baseAddress
            stream.pointee.avail_in = uInt(input.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { chunk in
                    stream.pointee.next_out = chunk.baseAddress
                    stream.pointee.avail_out = uInt(chunk.count)
                    let status = deflate(stream, Z_SYNC_FLUSH)
                    return (status, chunk.count - Int(stream.pointee.avail_out))
                }
                output += chunk[0..<produced]
                // Done once the flush fitted: deflate left output space unused.
                if status != Z_OK || stream.pointee.avail_out != 0 { return status }
            }
        }
        guard status == Z_OK || status == Z_BUF_ERROR else { throw .compression("deflate failed (\(status))") }
        return output
    }
}

/// One direction's header decompression: the inflate counterpart of `SPDYHeaderCompressor`.
final class SPDYHeaderDecompressor {
    private let stream: UnsafeMutablePointer<z_stream>

    init() throws(SPDYError) {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard berth_inflateInit2(stream, 15) == Z_OK else {
            stream.deallocate()
            throw .compression("inflateInit failed")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Header blocks are small; a larger one is refused rather than buffered.
    static let maximumBlockSize = 1 << 20

    func decompress(_ compressed: [UInt8]) throws(SPDYError) -> SPDYHeaderBlock {
        var input = compressed
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let failure: SPDYError? = input.withUnsafeMutableBufferPointer { input in
            stream.pointee.next_in = input.baseAddress
            stream.pointee.avail_in = uInt(input.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { chunk in
                    stream.pointee.next_out = chunk.baseAddress
                    stream.pointee.avail_out = uInt(chunk.count)
                    var status = inflate(stream, Z_SYNC_FLUSH)
                    if status == Z_NEED_DICT {
                        status = SPDYHeaderBlock.dictionary.withUnsafeBufferPointer {
                            inflateSetDictionary(stream, $0.baseAddress, uInt($0.count))
                        }
                        if status == Z_OK { status = inflate(stream, Z_SYNC_FLUSH) }
                    }
                    return (status, chunk.count - Int(stream.pointee.avail_out))
                }
                output += chunk[0..<produced]
                if output.count > Self.maximumBlockSize { return .malformed("header block larger than \(Self.maximumBlockSize) bytes") }
                switch status {
                case Z_OK where stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0, Z_BUF_ERROR where stream.pointee.avail_in == 0:
                    return nil
                case Z_OK:
                    continue
                default:
                    return .compression("inflate failed (\(status))")
                }
            }
        }
        if let failure { throw failure }
        return try SPDYHeaderBlock(decoding: output)
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
