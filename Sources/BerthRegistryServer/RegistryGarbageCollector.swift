import BerthFiles
import BerthOCI
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Mark and sweep over the registry's storage: every blob a manifest of any repository refers
/// to (the manifest itself, its config and layers, an index's children, recursively) is kept;
/// every other blob is removed, with the repository links that pointed at it. Manifests stored
/// only by digest count like tagged ones. A push in flight has blobs no manifest names yet, so
/// collection refuses to run while a server serves the storage (a dry run only reads).
public struct RegistryGarbageCollector {
    /// One unreferenced blob.
    public struct Removal: Equatable, Sendable {
        public var digest: Digest
        public var size: Int64
    }

    /// What a collection found.
    public struct Report: Sendable {
        /// Blobs a manifest refers to.
        public var kept: Int
        /// Blobs removed (or, on a dry run, that would be).
        public var removed: [Removal]
        public var removedBytes: Int64 { removed.reduce(0) { $0 + $1.size } }
    }

    public let storage: RegistryStorage

    public init(storage: RegistryStorage) {
        self.storage = storage
    }

    /// The digests of every blob some manifest refers to.
    public func markReferenced() -> Set<Digest> {
        var marked: Set<Digest> = []
        func mark(_ digest: Digest) {
            guard marked.insert(digest).inserted, let bytes = FileIO.read(storage.blobPath(digest)),
                  let probe = try? JSONDecoder().decode(MediaTypeProbe.self, from: bytes)
            else { return }
            if probe.config != nil, let manifest = try? JSONDecoder().decode(Manifest.self, from: bytes) {
                marked.insert(manifest.config.digest)
                for layer in manifest.layers { marked.insert(layer.digest) }
            } else if probe.manifests != nil, let index = try? JSONDecoder().decode(Index.self, from: bytes) {
                for child in index.manifests { mark(child.digest) }
            }
        }
        for repository in storage.repositories() {
            for digest in storage.manifestDigests(repository) { mark(digest) }
        }
        return marked
    }

    /// Removes unreferenced blobs (only lists them when `dryRun`), calling `removing` for each.
    /// Fails with `registryServing` when a server runs on the storage, unless `dryRun`.
    public func collect(dryRun: Bool, removing: (Removal) -> Void = { _ in }) throws -> Report {
        let exclusive = dryRun ? nil : try ServingLock.collecting(root: storage.root)
        defer { withExtendedLifetime(exclusive) {} }
        let marked = markReferenced()
        let directory = "\(storage.root)/blobs/sha256"
        var removed: [Removal] = []
        var kept = 0
        for entry in FileIO.list(directory).sorted() {
            guard let digest = try? Digest(parsing: "sha256:\(entry)") else { continue }
            if marked.contains(digest) {
                kept += 1
                continue
            }
            let removal = Removal(digest: digest, size: FileIO.size("\(directory)/\(entry)") ?? 0)
            removing(removal)
            removed.append(removal)
            if !dryRun { unlink("\(directory)/\(entry)") }
        }
        if !dryRun, !removed.isEmpty {
            // The removals are done; a sync that fails leaves them to the file system's own schedule.
            try? AtomicFile.syncDirectory(directory)
            let gone = Set(removed.map(\.digest))
            for repository in storage.repositories(includingBlobOnly: true) {
                for digest in gone where FileIO.exists(storage.layerLinkPath(repository, digest)) {
                    _ = storage.unlinkBlob(repository, digest)
                }
            }
        }
        return Report(kept: kept, removed: removed)
    }
}
