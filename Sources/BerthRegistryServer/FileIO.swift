import BerthFiles
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX file helpers: the registry needs fsync and rename, which Foundation hides.
enum FileIO {
    static let bufferSize = 1 << 20
    /// How much of a blob one response write carries: small enough that the buffers of many
    /// concurrent pulls stay small.
    static let sendChunkSize = 252 << 10

    static func fail(_ operation: String, _ path: String) -> RegistryServerError {
        .storage(path: path, operation: operation, errno: errno)
    }

    /// Writes all of `bytes` to `fd`, retrying short writes.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw fail("write", path)
            }
            offset += written
        }
    }

    /// Writes all of `bytes` to `fd` at `offset`, retrying short writes; nil on success, else
    /// the failing call's errno (also left in `errno`).
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) -> Int32? {
        var done = 0
        while done < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += written
        }
        return nil
    }

    /// How much newly written data makes an upload start a `BackgroundFlush`.
    static let flushInterval: Int64 = 8 << 20

    /// Offsets, lengths and addresses of direct I/O are multiples of this (the largest logical
    /// block size of common disks).
    static let directAlignment = 4096

    /// `O_DIRECT` from <fcntl.h>, which Swift's Glibc module leaves out (it is _GNU_SOURCE).
    #if arch(x86_64)
    private static let directFlag: Int32? = 0o40000
    #elseif arch(arm64)
    private static let directFlag: Int32? = 0o200000
    #else
    private static let directFlag: Int32? = nil
    #endif

    /// Opens `path` for direct I/O (no page cache: blob bytes go between the disk and Berth's
    /// buffers without the kernel allocating and copying cache pages, which costs more CPU than
    /// the rest of a transfer on a small machine); nil where the filesystem refuses it.
    static func openDirect(_ path: String, _ flags: Int32) -> Int32? {
        guard let directFlag else { return nil }
        let fd = open(path, flags | directFlag | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }

    static func makeDirectories(_ path: String) throws {
        do {
            try Directories.make(path)
        } catch {
            throw RegistryServerError.storage(path: error.path, operation: error.operation, errno: error.code)
        }
    }

    /// Writes `data` to `path` so that readers see either the old file or the whole new one, and
    /// a crash never leaves a partial file.
    static func writeAtomically(_ data: Data, to path: String, temporaryDirectory: String) throws {
        try makeDirectories((path as NSString).deletingLastPathComponent)
        do {
            try AtomicFile.write(data, to: path, durability: .durable, temporaryDirectory: temporaryDirectory)
        } catch {
            throw RegistryServerError.storage(path: error.path, operation: error.operation, errno: error.code)
        }
    }

    /// Renames a finished, fsynced file into place and makes the rename durable.
    static func commit(_ temporary: String, to path: String) throws {
        try makeDirectories((path as NSString).deletingLastPathComponent)
        do {
            try AtomicFile.commit(temporary, to: path, durability: .durable)
        } catch {
            throw RegistryServerError.storage(path: error.path, operation: error.operation, errno: error.code)
        }
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func size(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func modificationTime(_ path: String) -> Date? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))
    }

    static func read(_ path: String) -> Data? {
        FileManager.default.contents(atPath: path)
    }

    static func readString(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func list(_ path: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    }

    /// Removes now-empty directories from `path` up to (not including) `stop`.
    static func pruneEmptyDirectories(from path: String, upTo stop: String) {
        var current = path
        while current.count > stop.count, current.hasPrefix(stop) {
            guard rmdir(current) == 0 else { return }
            current = (current as NSString).deletingLastPathComponent
        }
    }
}

/// Makes a file's data durable on another thread while its writer goes on, so the fsync that
/// commits it has only the last stretch left. Direct I/O bypasses the guest's page cache, not the
/// disk's own: on a VM the first fsync after a large write waits for the host to store it, on the
/// critical path of every blob PUT.
final class BackgroundFlush: Sendable {
    private let inFlight = Atomic<Bool>(false)

    /// Starts an `fdatasync` of `fd` unless the previous one is still running (the next call
    /// catches up). It works on a duplicate, since the writer may close `fd` first.
    func start(_ fd: Int32) {
        guard inFlight.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        let duplicate = dup(fd)
        guard duplicate >= 0 else {
            inFlight.store(false, ordering: .releasing)
            return
        }
        DispatchQueue.global(qos: .utility).async {
            _ = fdatasync(duplicate)
            close(duplicate)
            self.inFlight.store(false, ordering: .releasing)
        }
    }
}
