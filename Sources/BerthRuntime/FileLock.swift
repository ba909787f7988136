import BerthFiles
import Glibc

/// An flock(2) lock on a file, held while the descriptor is open. Descriptors are close-on-exec so
/// the runtime and the container never inherit (and so never prolong) a lock.
final class FileLock {
    let path: String
    /// The open lock file; -1 when not held.
    private(set) var descriptor: Int32 = -1

    init(_ path: String) {
        self.path = path
    }

    /// The lock held on `descriptor`, a descriptor inherited across execve (an flock belongs to
    /// the open file, so it is held without a gap).
    init(_ path: String, holdingOn descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { unlock() }

    private func open() throws {
        if descriptor >= 0 { return }
        descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor < 0 { throw RuntimeError.lastIO("open", path) }
    }

    /// Waits for the lock.
    func lock(exclusive: Bool = true) throws {
        try open()
        while flock(descriptor, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno != EINTR { throw RuntimeError.lastIO("lock", path) }
        }
    }

    /// Takes the lock if nobody holds it; false if someone does.
    func tryLock(exclusive: Bool = true) throws -> Bool {
        try open()
        if flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 { return true }
        if errno == EWOULDBLOCK { return false }
        throw RuntimeError.lastIO("lock", path)
    }

    func unlock() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
    }

    func withLock<T>(exclusive: Bool = true, _ body: () throws -> T) throws -> T {
        try lock(exclusive: exclusive)
        defer { unlock() }
        return try body()
    }
}

enum Files {
    /// Writes `bytes` to `path` through `AtomicFile`, so readers see the old or the new content,
    /// never a torn one, even if the writer is killed; errors keep their errno.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644, durability: Durability) throws {
        do {
            try AtomicFile.write(bytes, to: path, mode: mode, durability: durability)
        } catch {
            throw RuntimeError.io(operation: error.operation, path: error.path, errno: error.code)
        }
    }

    /// Replaces the content of `path` in place (keeping its inode, which a bind mount pins).
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 { throw RuntimeError.lastIO("create", path) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw RuntimeError.lastIO("write", path)
            }
            offset += written
        }
    }

    /// The decimal number a file holds (a pid file, a /proc value), whitespace around it aside;
    /// nil when it holds anything else. Foundation's trimming would cost a CharacterSet's first
    /// use in every monitor.
    static func readNumber<Number: FixedWidthInteger>(_ path: String) -> Number? {
        guard let bytes = try? read(path) else { return nil }
        let words = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        return words.count == 1 ? Number(words[0]) : nil
    }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw RuntimeError.lastIO("open", path) }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw RuntimeError.lastIO("read", path)
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        // Usually the directory is there (every monitor opens the stores): then no walk, whose
        // generic String splitting makes the Swift runtime scan the binary's conformances.
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { return }
        var current = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, mode) != 0, errno != EEXIST { throw RuntimeError.lastIO("mkdir", current) }
        }
    }

    /// Removes a directory tree without following symlinks and without crossing into mounts left
    /// behind (a mounted rootfs must be unmounted first; rmdir then fails instead of emptying it).
    static func removeTree(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw RuntimeError.lastIO("stat", path)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            guard let directory = opendir(path) else { throw RuntimeError.lastIO("opendir", path) }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names {
                var child = stat()
                let childPath = path + "/" + name
                if lstat(childPath, &child) == 0, (child.st_mode & S_IFMT) == S_IFDIR, child.st_dev != info.st_dev {
                    throw RuntimeError.io(operation: "remove", path: childPath, errno: EBUSY)
                }
                try removeTree(childPath)
            }
            if rmdir(path) != 0, errno != ENOENT { throw RuntimeError.lastIO("rmdir", path) }
        } else if unlink(path) != 0, errno != ENOENT {
            throw RuntimeError.lastIO("unlink", path)
        }
    }
}
