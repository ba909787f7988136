import Glibc

/// How far a file write goes to survive a crash.
public enum Durability: Sendable {
    /// The content reaches stable storage before the rename, and the rename after it (fsync of
    /// the file, rename, fsync of its directory): after a power loss the file has the old content
    /// or the whole new one. For records that are not rebuilt from elsewhere.
    case durable
    /// Rename only: a killed process leaves the old content or the new, never a torn file, but a
    /// power loss may. For caches and for state that lasts only as long as the machine is up.
    case atomicOnly
}

/// Replacing a file's content all at once: a temporary file, then a rename over the target. The
/// temporary file beside the target is a dot file (`.<name>.tmp-…`), so a reader that lists the
/// directory can skip files being written by their leading dot.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically. The temporary file goes in `temporaryDirectory` (on the
    /// same file system) when given, else beside `path`. Errors name `path` and keep the errno.
    public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644,
                             durability: Durability, temporaryDirectory: String? = nil) throws(FileError) {
        let temporary = temporaryPath(for: path, in: temporaryDirectory)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError.last("create", temporary) }
        var failure: FileError?
        let contiguous = bytes.withContiguousStorageIfAvailable { writeAll(fd, UnsafeRawBufferPointer($0), path: path) }
        failure = contiguous ?? Array(bytes).withUnsafeBytes { writeAll(fd, $0, path: path) }
        if failure == nil, durability == .durable, fsync(fd) != 0 { failure = FileError.last("fsync", path) }
        close(fd)
        if let failure {
            unlink(temporary)
            throw failure
        }
        try rename(temporary, to: path, durability: durability, fileSynced: true)
    }

    /// Renames a finished temporary file over `path`. With `.durable`, the file is synced first
    /// and the directory after.
    public static func commit(_ temporary: String, to path: String, durability: Durability) throws(FileError) {
        try rename(temporary, to: path, durability: durability, fileSynced: false)
    }

    /// Syncs a directory, so a rename or unlink in it survives a power loss.
    public static func syncDirectory(_ directory: String) throws(FileError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.last("open directory", directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError.last("fsync directory", directory) }
    }

    private static func rename(_ temporary: String, to path: String, durability: Durability,
                               fileSynced: Bool) throws(FileError) {
        do throws(FileError) {
            if durability == .durable, !fileSynced {
                let fd = open(temporary, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw FileError.last("open", temporary) }
                let synced = fsync(fd) == 0
                let code = errno
                close(fd)
                guard synced else { throw FileError(operation: "fsync", path: path, code: code) }
            }
            guard Glibc.rename(temporary, path) == 0 else { throw FileError.last("rename into", path) }
        } catch {
            unlink(temporary)
            throw error
        }
        if durability == .durable { try syncDirectory(parent(of: path)) }
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) -> FileError? {
        var offset = 0
        while offset < bytes.count, let base = bytes.baseAddress {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return FileError.last("write", path)
            }
            offset += n
        }
        return nil
    }

    private static func temporaryPath(for path: String, in directory: String?) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? "file"
        let unique = "\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 16))"
        return "\(directory ?? parent(of: path))/.\(name).tmp-\(unique)"
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
