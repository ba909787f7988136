import Glibc

/// Pull-based byte stream. `read` returns 0 at EOF.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer`; returns the number read, 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Push-based byte sink.
public protocol ByteSink: AnyObject {
    /// Consumes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes anything buffered; no writes may follow.
    func finish() throws
}

/// The buffer size used by streaming code in this module.
let streamBufferSize = 1 << 20

extension ByteSource {
    /// Reads until `buffer` is full or the source ends; returns the number of bytes read.
    func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }
}

extension ByteSink {
    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Reads a file or file descriptor (use fd 0 for stdin).
public final class FileSource: ByteSource {
    let fd: Int32
    private let closeOnDeinit: Bool
    private let path: String

    /// Opens `path` for reading.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.lastIO("open", path) }
        self.fd = fd
        self.closeOnDeinit = true
        self.path = path
    }

    /// Reads from an already open descriptor, closing it on deinit when `closeOnDeinit` is set.
    public init(fileDescriptor: Int32, closeOnDeinit: Bool) {
        self.fd = fileDescriptor
        self.closeOnDeinit = closeOnDeinit
        self.path = "fd \(fileDescriptor)"
    }

    deinit {
        if closeOnDeinit { close(fd) }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ArchiveError.lastIO("read", path)
        }
    }
}

/// Writes to a file or file descriptor.
public final class FileSink: ByteSink {
    let fd: Int32
    private let closeOnDeinit: Bool
    private let path: String

    /// Creates or truncates `path` for writing.
    public init(path: String, mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ArchiveError.lastIO("open", path) }
        self.fd = fd
        self.closeOnDeinit = true
        self.path = path
    }

    /// Writes to an already open descriptor, closing it on deinit when `closeOnDeinit` is set.
    public init(fileDescriptor: Int32, closeOnDeinit: Bool) {
        self.fd = fileDescriptor
        self.closeOnDeinit = closeOnDeinit
        self.path = "fd \(fileDescriptor)"
    }

    deinit {
        if closeOnDeinit { close(fd) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = Glibc.write(fd, base, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.lastIO("write", path)
            }
            remaining -= n
            base += n
        }
    }

    /// Nothing is buffered; call `sync()` for durability.
    public func finish() throws {}

    /// Flushes the file to stable storage (fsync).
    public func sync() throws {
        guard fsync(fd) == 0 else { throw ArchiveError.lastIO("fsync", path) }
    }
}

/// Reads from an in-memory byte array.
public final class BytesSource: ByteSource {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { all in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[position..<position + n]))
        }
        position += n
        return n
    }
}

/// Collects written bytes in memory.
public final class BytesSink: ByteSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes)
    }

    public func finish() throws {}
}
