import CZlib
import CZstd

/// Compression formats of layer blobs, recognised by their magic bytes.
public enum Compression: String, Sendable {
    case none, gzip, zstd

    /// Identifies the compression of a stream from its first bytes (at least 4 for zstd).
    public static func detect(_ prefix: [UInt8]) -> Compression {
        if prefix.count >= 2, prefix[0] == 0x1f, prefix[1] == 0x8b { return .gzip }
        if prefix.count >= 4, prefix[0] == 0x28, prefix[1] == 0xb5, prefix[2] == 0x2f, prefix[3] == 0xfd {
            return .zstd
        }
        return .none
    }
}

/// Wraps a source, sniffs the first bytes, and transparently decompresses gzip (including
/// multi-member streams) or zstd (including multiple frames); passes plain data through.
public final class DecompressingSource: ByteSource {
    /// The compression detected at the start of the stream.
    public let compression: Compression
    private let source: ByteSource
    private let input: UnsafeMutableRawBufferPointer
    private let inputBase: UnsafeMutablePointer<UInt8>
    private var inputStart = 0
    private var inputEnd = 0
    private var sourceEnded = false
    private let decoder: Decoder

    private enum Decoder {
        case plain
        case gzip(UnsafeMutablePointer<z_stream>)
        case zstd(OpaquePointer)
    }

    /// Whether the current gzip member or zstd frame has ended (so EOF here is clean).
    private var atFrameBoundary = true

    /// Reads the first bytes of `source` to choose a decoder.
    public init(_ source: ByteSource) throws {
        self.source = source
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: streamBufferSize, alignment: 16)
        inputBase = input.bindMemory(to: UInt8.self).baseAddress.unsafelyUnwrapped
        do {
            inputEnd = try source.readFully(into: UnsafeMutableRawBufferPointer(rebasing: input[0..<4]))
        } catch {
            input.deallocate()
            throw error
        }
        compression = Compression.detect(Array(input[0..<inputEnd]))
        switch compression {
        case .none:
            decoder = .plain
        case .gzip:
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            guard berth_inflateInit2(stream, 16 + 15) == Z_OK else {
                stream.deallocate()
                input.deallocate()
                throw ArchiveError.decompression("cannot initialise zlib")
            }
            decoder = .gzip(stream)
        case .zstd:
            guard let context = ZSTD_createDCtx() else {
                input.deallocate()
                throw ArchiveError.decompression("cannot initialise zstd")
            }
            decoder = .zstd(context)
        }
    }

    deinit {
        switch decoder {
        case .plain: break
        case .gzip(let stream):
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        case .zstd(let context):
            ZSTD_freeDCtx(context)
        }
        input.deallocate()
    }

    /// Makes sure some input is buffered unless the source has ended; returns false at end of input.
    private func fillInput() throws -> Bool {
        if inputStart < inputEnd { return true }
        if sourceEnded { return false }
        inputStart = 0
        inputEnd = try source.read(into: input)
        if inputEnd == 0 { sourceEnded = true }
        return inputEnd > 0
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        switch decoder {
        case .plain:
            if inputStart < inputEnd {
                let n = min(buffer.count, inputEnd - inputStart)
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[inputStart..<inputStart + n]))
                inputStart += n
                return n
            }
            return try source.read(into: buffer)
        case .gzip(let stream):
            return try readGzip(stream, into: buffer)
        case .zstd(let context):
            return try readZstd(context, into: buffer)
        }
    }

    private func readGzip(_ stream: UnsafeMutablePointer<z_stream>, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let outputBase = buffer.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return 0 }
        while true {
            let haveInput = try fillInput()
            if !haveInput && atFrameBoundary { return 0 }
            // Without new input inflate may still hold output that did not fit last time.
            let available = inputEnd - inputStart
            stream.pointee.next_in = inputBase + inputStart
            stream.pointee.avail_in = uInt(available)
            stream.pointee.next_out = outputBase
            stream.pointee.avail_out = uInt(min(buffer.count, Int(UInt32.max)))
            let rc = inflate(stream, Z_NO_FLUSH)
            let produced = buffer.count - Int(stream.pointee.avail_out)
            inputStart += available - Int(stream.pointee.avail_in)
            switch rc {
            case Z_STREAM_END:
                // Another gzip member may follow (pigz and concatenated files produce these).
                atFrameBoundary = true
                inflateReset(stream)
            case Z_OK, Z_BUF_ERROR:
                atFrameBoundary = false
                if !haveInput && produced == 0 { throw ArchiveError.decompression("gzip stream is truncated") }
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                throw ArchiveError.decompression("gzip: \(message)")
            }
            if produced > 0 { return produced }
        }
    }

    private func readZstd(_ context: OpaquePointer, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let haveInput = try fillInput()
            if !haveInput && atFrameBoundary { return 0 }
            var inBuffer = ZSTD_inBuffer(
                src: UnsafeRawPointer(inputBase + inputStart), size: inputEnd - inputStart, pos: 0)
            var outBuffer = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
            let rc = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(rc) != 0 {
                throw ArchiveError.decompression("zstd: \(String(cString: ZSTD_getErrorName(rc)))")
            }
            inputStart += inBuffer.pos
            // 0 means the frame is complete and fully flushed; a call that did nothing says nothing.
            if rc == 0 {
                atFrameBoundary = true
            } else if inBuffer.pos > 0 || outBuffer.pos > 0 {
                atFrameBoundary = false
            } else if !haveInput {
                throw ArchiveError.decompression("zstd stream is truncated")
            }
            if outBuffer.pos > 0 { return outBuffer.pos }
        }
    }
}

/// Compresses into gzip format deterministically: the header carries no mtime, no file name and
/// a fixed OS byte (255, "unknown", as Go's compress/gzip writes), so equal input gives equal output.
public final class GzipSink: ByteSink {
    private let inner: ByteSink
    private let level: Int32
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    private let outputBase: UnsafeMutablePointer<UInt8>
    private var crc: uLong = crc32(0, nil, 0)
    private var totalIn: UInt64 = 0
    private var wroteHeader = false
    private var finished = false
    private var initialised: Bool

    /// Compresses into `inner` at zlib `level` (1 fastest … 9 best).
    public init(_ inner: ByteSink, level: Int32 = 6) {
        self.inner = inner
        self.level = level
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: streamBufferSize, alignment: 16)
        outputBase = output.bindMemory(to: UInt8.self).baseAddress.unsafelyUnwrapped
        // Raw deflate (negative window bits): the gzip framing is written here.
        initialised = berth_deflateInit2(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK
    }

    deinit {
        if initialised { deflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        output.deallocate()
    }

    private func writeHeaderIfNeeded() throws {
        guard !wroteHeader else { return }
        guard initialised else { throw ArchiveError.decompression("cannot initialise zlib deflate") }
        wroteHeader = true
        let extraFlags: UInt8 = level == 9 ? 2 : (level == 1 ? 4 : 0)
        try inner.write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extraFlags, 255])
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try writeHeaderIfNeeded()
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 30)
            let pointer = UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            crc = crc32(crc, pointer, uInt(chunk))
            stream.pointee.next_in = pointer
            stream.pointee.avail_in = uInt(chunk)
            try deflateLoop(flush: Z_NO_FLUSH)
            offset += chunk
        }
        totalIn &+= UInt64(bytes.count)
    }

    private func deflateLoop(flush: Int32) throws {
        while true {
            stream.pointee.next_out = outputBase
            stream.pointee.avail_out = uInt(output.count)
            let rc = deflate(stream, flush)
            guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                throw ArchiveError.decompression("gzip deflate failed with zlib error \(rc)")
            }
            let produced = output.count - Int(stream.pointee.avail_out)
            if produced > 0 { try inner.write(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
            if flush == Z_FINISH {
                if rc == Z_STREAM_END { return }
            } else if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 {
                return
            }
        }
    }

    public func finish() throws {
        guard !finished else { return }
        try writeHeaderIfNeeded()
        finished = true
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try deflateLoop(flush: Z_FINISH)
        let crcValue = UInt32(truncatingIfNeeded: crc)
        let size = UInt32(truncatingIfNeeded: totalIn)
        var trailer: [UInt8] = []
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: crcValue >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
        try inner.write(trailer)
        try inner.finish()
    }
}
