import BerthDistribution
import BerthOCI
import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Where an upload session stands: bytes received so far and the running hash over them.
struct UploadProgress: Sendable {
    var size: Int64
    var hasher: SHA256Digester
}

/// The running hashes of upload sessions, so finishing an upload never rereads its data. After a
/// restart a session's hash is rebuilt from its data file the first time it is needed. A session
/// is checked out while a request writes to it, so two requests never append at once.
actor UploadHashes {
    private var progress: [String: UploadProgress] = [:]
    private var busy: Set<String> = []

    enum CheckOut {
        /// Another request is writing to the session.
        case busy
        /// The session's running hash, nil when this process has not seen the session yet.
        case available(UploadProgress?)
    }

    func checkOut(_ id: String) -> CheckOut {
        guard !busy.contains(id) else { return .busy }
        busy.insert(id)
        return .available(progress.removeValue(forKey: id))
    }

    func checkIn(_ id: String, _ state: UploadProgress?) {
        busy.remove(id)
        if let state { progress[id] = state }
    }

    func forget(_ id: String) {
        progress.removeValue(forKey: id)
    }
}

extension RegistryStorage {
    func uploadPath(_ id: String) -> String { "\(uploadsDirectory)/\(id)" }
    func uploadDataPath(_ id: String) -> String { "\(uploadsDirectory)/\(id)/data" }

    /// Starts an upload session for `name`; returns its id.
    func createUpload(_ name: String) throws -> String {
        let id = UUID().uuidString.lowercased()
        let directory = uploadPath(id)
        try FileIO.makeDirectories(directory)
        try FileIO.writeAtomically(Data(name.utf8), to: "\(directory)/repository", temporaryDirectory: temporaryDirectory)
        let fd = open(uploadDataPath(id), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIO.fail("create", uploadDataPath(id)) }
        close(fd)
        return id
    }

    /// True when `id` is a session of repository `name` (ids are UUIDs: never a path).
    func uploadExists(_ name: String, _ id: String) -> Bool {
        guard UUID(uuidString: id) != nil else { return false }
        return FileIO.readString("\(uploadPath(id))/repository") == name && FileIO.exists(uploadDataPath(id))
    }

    func uploadSize(_ id: String) -> Int64 { FileIO.size(uploadDataPath(id)) ?? 0 }

    func deleteUpload(_ id: String) {
        FileIO.remove(uploadPath(id))
    }

    /// Hashes an upload's data file from the start (after a restart lost the running hash).
    func rehashUpload(_ id: String) throws -> UploadProgress {
        let path = uploadDataPath(id)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIO.fail("open", path) }
        defer { close(fd) }
        var hasher = SHA256Digester()
        var size: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileIO.bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileIO.fail("read", path)
            }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            size += Int64(count)
        }
        return UploadProgress(size: size, hasher: hasher)
    }

    /// Appends a request body to an upload's data file, hashing as it goes, in 1 MiB writes.
    /// Whole aligned blocks are written with direct I/O (see `FileIO.openDirect`), the rest
    /// (an unaligned start or the tail) through the page cache. Every 8 MiB a `BackgroundFlush`
    /// starts, so the fsync at commit, which covers both, finds little left to do.
    /// On a failure the file is cut back to where it was, so the session stays consistent.
    func appendUpload<Body: AsyncSequence>(_ id: String, body: Body, progress: inout UploadProgress) async throws
    where Body.Element == ByteBuffer {
        let path = uploadDataPath(id)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIO.fail("open", path) }
        defer { close(fd) }
        var direct = FileIO.openDirect(path, O_WRONLY)
        defer { if let direct { close(direct) } }
        let start = progress.size
        var running = progress
        let alignment = FileIO.directAlignment
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: FileIO.bufferSize, alignment: alignment)
        defer { staging.deallocate() }
        var staged = 0
        var position = start
        // The first write ends on a block boundary, so every later full one can go direct.
        var limit = staging.count - Int(start % Int64(alignment))
        let background = BackgroundFlush()
        var unflushed: Int64 = 0

        /// Writes `bytes` with direct I/O where it can; false when they must go through the page cache.
        func wroteDirect(_ bytes: UnsafeRawBufferPointer) throws -> Bool {
            guard let directFD = direct, position % Int64(alignment) == 0, staged % alignment == 0 else { return false }
            guard let failure = FileIO.pwriteAll(directFD, bytes, at: position) else { return true }
            // The filesystem took O_DIRECT at open but refuses the write: use the page cache.
            guard failure == EINVAL else { throw FileIO.fail("write", path) }
            close(directFD)
            direct = nil
            return false
        }

        func write() throws {
            let bytes = UnsafeRawBufferPointer(rebasing: staging[0..<staged])
            if try !wroteDirect(bytes), FileIO.pwriteAll(fd, bytes, at: position) != nil {
                throw FileIO.fail("write", path)
            }
            position += Int64(staged)
            unflushed += Int64(staged)
            staged = 0
            if unflushed >= FileIO.flushInterval {
                background.start(fd)
                unflushed = 0
            }
        }

        do {
            for try await chunk in body {
                try chunk.withUnsafeReadableBytes { bytes in
                    running.hasher.update(bytes)
                    running.size += Int64(bytes.count)
                    var offset = 0
                    while offset < bytes.count {
                        let count = min(bytes.count - offset, limit - staged)
                        UnsafeMutableRawBufferPointer(rebasing: staging[staged..<(staged + count)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
                        staged += count
                        offset += count
                        if staged == limit {
                            try write()
                            limit = staging.count
                        }
                    }
                }
            }
            if staged > 0 { try write() }
        } catch {
            _ = ftruncate(fd, off_t(start))
            throw error
        }
        progress = running
    }

    /// Makes a finished upload a blob: fsync, then rename into the content store (or drop it when
    /// the store already has that content), then link it into the repository.
    func commitUpload(_ id: String, name: String, digest: Digest) throws {
        let path = uploadDataPath(id)
        let blob = blobPath(digest)
        if FileIO.exists(blob) {
            deleteUpload(id)
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw FileIO.fail("open", path) }
            let synced = fsync(fd) == 0
            close(fd)
            guard synced else { throw FileIO.fail("fsync", path) }
            try FileIO.commit(path, to: blob)
            deleteUpload(id)
        }
        try linkBlob(name, digest)
    }

    /// Removes upload sessions idle for longer than `expiration`; returns their ids.
    @discardableResult
    func expireUploads(olderThan expiration: TimeInterval, now: Date = Date()) -> [String] {
        var expired: [String] = []
        for id in FileIO.list(uploadsDirectory) {
            let directory = uploadPath(id)
            let lastActivity = FileIO.modificationTime("\(directory)/data") ?? FileIO.modificationTime(directory)
            guard let lastActivity, now.timeIntervalSince(lastActivity) > expiration else { continue }
            FileIO.remove(directory)
            expired.append(id)
        }
        return expired
    }
}
