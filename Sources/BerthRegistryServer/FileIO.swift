import Foundation
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

    /// How much newly written data `startWriteback` is asked to push to disk at a time.
    static let writebackInterval: Int64 = 8 << 20

    /// Asks the kernel to start writing a range to disk without waiting for it (Linux's
    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`); durability still comes from the later fsync.
    static func startWriteback(_ fd: Int32, offset: Int64, length: Int64) {
        _ = syncFileRange?(fd, off_t(offset), off_t(length), syncFileRangeWrite)
    }

    private typealias SyncFileRange = @convention(c) (Int32, off_t, off_t, UInt32) -> Int32
    /// `SYNC_FILE_RANGE_WRITE` from <fcntl.h>.
    private static let syncFileRangeWrite: UInt32 = 2
    /// Swift's Glibc module leaves out the _GNU_SOURCE `sync_file_range`; look it up in libc.
    private static let syncFileRange: SyncFileRange? = dlsym(nil, "sync_file_range").map {
        unsafeBitCast($0, to: SyncFileRange.self)
    }

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

    static func fsyncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func makeDirectories(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RegistryServerError.storage(path: path, operation: "create directory", errno: EIO)
        }
    }

    /// Writes `data` to `path` so that readers see either the old file or the whole new one, and
    /// a crash never leaves a partial file: temp file in `temporaryDirectory`, fsync, rename.
    static func writeAtomically(_ data: Data, to path: String, temporaryDirectory: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try makeDirectories(directory)
        let temporary = "\(temporaryDirectory)/\(UUID().uuidString)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("create", temporary) }
        do {
            try data.withUnsafeBytes { try writeAll(fd, $0, path: temporary) }
            guard fsync(fd) == 0 else { throw fail("fsync", temporary) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        try commit(temporary, to: path)
    }

    /// Renames a finished, fsynced file into place and makes the rename durable.
    static func commit(_ temporary: String, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try makeDirectories(directory)
        guard rename(temporary, path) == 0 else {
            let error = fail("rename into", path)
            unlink(temporary)
            throw error
        }
        fsyncDirectory(directory)
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
