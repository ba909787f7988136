import BerthArchive
import BerthOCI
import Foundation
import Glibc

/// Content-addressable blobs under `blobs/sha256/<hex>`. Content is written to `ingest/` first,
/// verified against its digest, and only then renamed into place, so a blob's name always
/// matches its bytes even after kill -9.
public final class ContentStore: @unchecked Sendable {
    public let root: String
    let ingestDirectory: String

    init(root: String) throws {
        self.root = root + "/blobs"
        self.ingestDirectory = root + "/ingest"
        try FileSystem.makeDirectories(self.root + "/sha256")
        try FileSystem.makeDirectories(ingestDirectory)
    }

    /// The path of a blob, whether or not it exists.
    public func path(of digest: Digest) -> String {
        "\(root)/\(digest.algorithm)/\(digest.encoded)"
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
    /// refused and nothing is stored.
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

    /// Runs `produce` against a sink into a fresh ingest file, then verifies and commits it.
    public func ingest(what: String = "blob", expected: Digest? = nil, expectedSize: Int64? = nil,
                       _ produce: (ByteSink) throws -> Void) throws -> (digest: Digest, size: Int64) {
        let temporary = "\(ingestDirectory)/\(UUID().uuidString)"
        let file = try FileSink(path: temporary)
        var committed = false
        defer { if !committed { unlink(temporary) } }
        let hashing = HashingSink(file)
        try produce(hashing)
        try hashing.finish()
        let digest = hashing.digest
        if let expected, expected != digest {
            throw StoreError.digestMismatch(expected: expected, actual: digest, what: what)
        }
        if let expectedSize, expectedSize != hashing.count {
            throw StoreError.sizeMismatch(expected: expectedSize, actual: hashing.count, what: what)
        }
        let final = path(of: digest)
        try FileSystem.makeDirectories("\(root)/\(digest.algorithm)")
        guard rename(temporary, final) == 0 else { throw StoreError.lastIO("rename", final) }
        committed = true
        return (digest, hashing.count)
    }

    /// A fresh path in the ingest directory, for a writer that verifies content itself as it
    /// arrives (a download); `commit(ingested:as:)` moves it into place. The writer holds the
    /// store's writer lock (`Store.withWriterLock`), so garbage collection leaves the file alone.
    public func newIngestPath() -> String {
        "\(ingestDirectory)/\(UUID().uuidString)"
    }

    /// Commits an ingest file whose content the caller verified against `digest`.
    public func commit(ingested path: String, as digest: Digest) throws {
        let final = self.path(of: digest)
        try FileSystem.makeDirectories("\(root)/\(digest.algorithm)")
        guard rename(path, final) == 0 else { throw StoreError.lastIO("rename", final) }
    }

    /// All stored blob digests.
    public func list() throws -> [Digest] {
        let directory = root + "/sha256"
        return try FileSystem.entries(of: directory).compactMap { try? Digest(parsing: "sha256:" + $0) }
    }

    public func delete(_ digest: Digest) throws {
        if unlink(path(of: digest)) != 0, errno != ENOENT { throw StoreError.lastIO("remove", path(of: digest)) }
    }

    /// Removes ingest files left by interrupted writers. Callers hold the store's exclusive lock.
    func removeAbandonedIngests() throws {
        for name in try FileSystem.entries(of: ingestDirectory) {
            unlink("\(ingestDirectory)/\(name)")
        }
    }
}
