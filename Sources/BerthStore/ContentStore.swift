import BerthArchive
import BerthFiles
import BerthOCI
import Foundation
import Glibc
import Synchronization

/// Content-addressable blobs under `blobs/sha256/<hex>`. Content is written to `ingest/` first,
/// verified against its digest, synced, made read-only and only then renamed into place, so a
/// blob's name matches its bytes even after kill -9 or a power loss.
public final class ContentStore: Sendable {
    /// The blobs' directory, `<state root>/blobs`.
    public let root: String
    let stateRoot: StateRoot
    let ingestDirectory: String

    init(stateRoot: StateRoot) throws {
        self.stateRoot = stateRoot
        root = stateRoot.blobs
        ingestDirectory = stateRoot.ingest
        try FileSystem.makeDirectories(stateRoot.blobs(algorithm: "sha256"))
        try FileSystem.makeDirectories(ingestDirectory)
    }

    /// The path of a blob, whether or not it exists.
    public func path(of digest: Digest) -> String {
        stateRoot.blob(algorithm: digest.algorithm, encoded: digest.encoded)
    }

    public func contains(_ digest: Digest) -> Bool {
        access(path(of: digest), F_OK) == 0
    }

    /// The size of a stored blob.
    public func size(of digest: Digest) throws -> Int64 {
        var info = stat()
        guard stat(path(of: digest), &info) == 0 else { throw StoreError.missingBlob(digest) }
        return Int64(info.st_size)
    }

    /// Opens a stored blob for streaming.
    public func open(_ digest: Digest) throws -> FileSource {
        guard contains(digest) else { throw StoreError.missingBlob(digest) }
        return try FileSource(path: path(of: digest))
    }

    /// Reads a whole (small) blob: manifests and configs.
    public func read(_ digest: Digest) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path(of: digest)) else {
            throw StoreError.missingBlob(digest)
        }
        return Array(data)
    }

    /// Streams `source` into the store. When `expected` is given, content with another digest is
    /// refused and nothing is stored, and `source` is not read at all if that blob is stored already.
    @discardableResult
    public func ingest(_ source: ByteSource, expected: Digest? = nil, expectedSize: Int64? = nil,
                       what: String = "blob") throws -> (digest: Digest, size: Int64) {
        try ingest(what: what, expected: expected, expectedSize: expectedSize) { sink in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = try source.read(into: buffer)
                if n == 0 { break }
                try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            }
        }
    }

    /// Stores `bytes`, verified against `expected` when given.
    @discardableResult
    public func ingest(bytes: [UInt8], expected: Digest? = nil, what: String = "blob") throws -> Digest {
        let digest = Digest.sha256(of: bytes)
        if let expected, expected != digest {
            throw StoreError.digestMismatch(expected: expected, actual: digest, what: what)
        }
        if contains(digest) { return digest }
        return try ingest(what: what, expected: digest, expectedSize: nil) { sink in
            try bytes.withUnsafeBytes { try sink.write($0) }
        }.digest
    }

    /// Runs `produce` against a sink into an ingest file, then verifies and commits it. When
    /// `expected` is known the ingest is keyed by it: a second writer of the same blob waits for
    /// the first and, once it has committed, returns without calling `produce` at all.
    public func ingest(what: String = "blob", expected: Digest? = nil, expectedSize: Int64? = nil,
                       _ produce: (ByteSink) throws -> Void) throws -> (digest: Digest, size: Int64) {
        let file: IngestFile
        if let expected {
            guard let keyed = try IngestFile.open(keyedBy: expected, in: self, waiting: true) else {
                return (expected, try size(of: expected))
            }
            file = keyed
        } else {
            file = try IngestFile.open(unkeyedIn: self)
        }
        let hashing = HashingSink(FileSink(fileDescriptor: file.descriptor, closeOnDeinit: false))
        do {
            try produce(hashing)
            try hashing.finish()
        } catch ArchiveError.io("write", _, let code) {
            throw StoreError.io(operation: "write \(what) to", path: file.path, errno: code)
        }
        let digest = hashing.digest
        if let expected, expected != digest {
            throw StoreError.digestMismatch(expected: expected, actual: digest, what: what)
        }
        if let expectedSize, expectedSize != hashing.count {
            throw StoreError.sizeMismatch(expected: expectedSize, actual: hashing.count, what: what)
        }
        try file.commit(as: digest)
        return (digest, hashing.count)
    }

    /// Starts the ingest of a blob whose digest is known, for a writer that streams and verifies
    /// the content itself (a download), then calls `IngestFile.commit(as:)`. Returns nil when the
    /// blob is in the store already, perhaps committed by another writer this one waited for.
    /// The file's flock tells garbage collection that it is being written. The wait for another writer blocks a thread outside Swift's
    /// cooperative pool, so tasks of one process that write the same blob cannot starve it.
    public func beginIngest(of digest: Digest) async throws -> IngestFile? {
        if let file = try IngestFile.open(keyedBy: digest, in: self, waiting: false) { return file }
        if contains(digest) { return nil }
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try IngestFile.open(keyedBy: digest, in: self, waiting: true) })
            }
        }
    }

    /// Makes a verified ingest file the blob named `digest`: read-only, synced, renamed into
    /// `blobs/`, then the directory synced, so a blob that is there after a crash is whole.
    fileprivate func commit(_ file: IngestFile, as digest: Digest) throws {
        let final = path(of: digest)
        guard fchmod(file.descriptor, 0o444) == 0 else { throw StoreError.lastIO("make read-only", file.path) }
        try FileSystem.makeDirectories(stateRoot.blobs(algorithm: digest.algorithm))
        do {
            try AtomicFile.commit(file.path, to: final, durability: .durable)
        } catch {
            throw StoreError(error)
        }
    }

    /// All stored blob digests.
    public func list() throws -> [Digest] {
        let directory = stateRoot.blobs(algorithm: "sha256")
        return try FileSystem.entries(of: directory).compactMap { try? Digest(parsing: "sha256:" + $0) }
    }

    /// Hashes a stored blob; nil when it is missing.
    public func actualDigest(of digest: Digest) throws -> Digest? {
        guard contains(digest) else { return nil }
        return try HashingSource(open(digest)).drain()
    }

    public func delete(_ digest: Digest) throws {
        if unlink(path(of: digest)) != 0, errno != ENOENT { throw StoreError.lastIO("remove", path(of: digest)) }
    }

    /// Removes what killed writers left in `ingest/`. Runs under the exclusive store lock, which
    /// keeps out every writer but a download: a keyed ingest file that its writer holds locked is
    /// being written, and stays.
    func removeAbandonedIngests() throws {
        for name in try FileSystem.entries(of: ingestDirectory) {
            let path = "\(ingestDirectory)/\(name)"
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                unlink(path)
                continue
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(path) }
            close(fd)
        }
    }
}

/// A file in `ingest/` being written. Keyed by digest (`ingest/sha256-<hex>`) when the digest is
/// known, under an exclusive flock, so two writers of one blob meet at one file and the second
/// waits; unkeyed (a unique name) otherwise. Removed unless committed. One writer uses it at a
/// time (it may move between threads, as a download's task does).
public final class IngestFile: Sendable {
    public let path: String
    public let descriptor: Int32
    private let store: ContentStore
    private let committed = Atomic(false)

    private init(path: String, descriptor: Int32, store: ContentStore) {
        self.path = path
        self.descriptor = descriptor
        self.store = store
    }

    deinit {
        if !committed.load(ordering: .acquiring) { unlink(path) }
        close(descriptor)
    }

    static func open(unkeyedIn store: ContentStore) throws -> IngestFile {
        let path = "\(store.ingestDirectory)/\(UUID().uuidString)"
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.lastIO("create", path) }
        return IngestFile(path: path, descriptor: fd, store: store)
    }

    /// Opens and locks the keyed ingest file for `digest`; nil when the blob is committed already,
    /// or (not `waiting`) when another writer holds the lock.
    static func open(keyedBy digest: Digest, in store: ContentStore, waiting: Bool) throws -> IngestFile? {
        let path = "\(store.ingestDirectory)/\(digest.algorithm)-\(digest.encoded)"
        while true {
            if store.contains(digest) { return nil }
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw StoreError.lastIO("create", path) }
            while flock(fd, LOCK_EX | (waiting ? 0 : LOCK_NB)) != 0 {
                if errno == EINTR { continue }
                let error = StoreError.lastIO("lock", path)
                close(fd)
                if case .io(_, _, EWOULDBLOCK) = error { return nil }
                throw error
            }
            // The writer this one waited for committed (renamed the file away) or gave up
            // (unlinked it): this descriptor is no longer the file at `path`. Start over.
            var held = stat()
            var current = stat()
            guard fstat(fd, &held) == 0, stat(path, &current) == 0,
                  held.st_ino == current.st_ino, held.st_dev == current.st_dev else {
                close(fd)
                continue
            }
            if store.contains(digest) {
                close(fd)
                unlink(path)
                return nil
            }
            // What a killed writer left is started over.
            guard ftruncate(fd, 0) == 0 else {
                let error = StoreError.lastIO("truncate", path)
                close(fd)
                throw error
            }
            return IngestFile(path: path, descriptor: fd, store: store)
        }
    }

    /// Commits the content, which the writer verified against `digest`, as that blob.
    public func commit(as digest: Digest) throws {
        try store.commit(self, as: digest)
        committed.store(true, ordering: .releasing)
    }
}
