import BerthArchive
import BerthOCI

/// Passes bytes through to another sink while hashing and counting them.
final class HashingSink: ByteSink {
    private let inner: ByteSink
    private var digester = SHA256Digester()
    private(set) var count: Int64 = 0

    init(_ inner: ByteSink) { self.inner = inner }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        digester.update(bytes)
        count += Int64(bytes.count)
        try inner.write(bytes)
    }

    func finish() throws { try inner.finish() }

    var digest: Digest { digester.finalize() }
}

/// Hashes and counts what is read through it.
public final class HashingSource: ByteSource {
    private let inner: ByteSource
    private var digester = SHA256Digester()
    public private(set) var count: Int64 = 0

    public init(_ inner: ByteSource) { self.inner = inner }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 {
            digester.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            count += Int64(n)
        }
        return n
    }

    /// Reads whatever is left (e.g. tar padding after the end-of-archive blocks) so the digest covers it all.
    public func drain() throws -> Digest {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while try read(into: buffer) > 0 {}
        return digester.finalize()
    }
}

/// Copies what is read through it into a sink, so one pass over a stream can both parse and store it.
final class CopyingSource: ByteSource {
    private let inner: ByteSource
    private let sink: ByteSink

    init(_ inner: ByteSource, into sink: ByteSink) {
        self.inner = inner
        self.sink = sink
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 { try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<n])) }
        return n
    }

    /// Reads and copies whatever the parser left (tar padding after the end-of-archive blocks).
    func copyRest() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while try read(into: buffer) > 0 {}
    }
}

/// Discards what is written.
final class NullSink: ByteSink {
    func write(_ bytes: UnsafeRawBufferPointer) throws {}
    func finish() throws {}
}
