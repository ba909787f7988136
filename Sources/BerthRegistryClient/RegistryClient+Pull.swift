import BerthDistribution
import BerthOCI
import BerthStore
import Foundation
import Synchronization

/// What a pull did.
public struct PullResult: Sendable, Equatable {
    /// The image ID (its config's digest, the same as Docker's).
    public var imageID: Digest
    /// `name@digest` as recorded in RepoDigests: the digest of what the reference resolved to
    /// (the index for a multi-platform image).
    public var repoDigest: Reference
    /// False when the store already had the image under this reference: nothing was downloaded.
    public var downloadedNewer: Bool
}

extension RegistryClient {
    /// Pulls `reference` (by tag or digest) into the store: the manifest (from an index, the
    /// entry for `platform`), then config and layers, three at a time, each verified against its
    /// digest and each layer against its diff ID. The image is registered only once everything is
    /// in place, then tagged (for a pull by tag) and given its RepoDigest.
    /// The pull holds each blob in a lease of its own as the blob is stored, so a collection
    /// elsewhere runs meanwhile without taking blobs that are downloaded but not yet registered.
    public func pull(_ reference: Reference, into store: Store, platform: Platform = .current,
                     observer: TransferObserver? = nil) async throws -> PullResult {
        let lease = Lease.process()
        defer { try? store.release(lease) }
        return try await pull(reference, into: store, holdingIn: lease, platform: platform, observer: observer)
    }

    private func pull(_ reference: Reference, into store: Store, holdingIn lease: Lease, platform: Platform,
                      observer: TransferObserver?) async throws -> PullResult {
        let repository = reference.path
        let top = try await fetchManifest(repository, reference: reference.digest?.description ?? reference.tag ?? Reference.defaultTag)
        var fetched = top
        if MediaType.indexes.contains(top.mediaType) {
            let index: Index
            do {
                index = try CanonicalJSON.decode(Index.self, from: top.bytes)
            } catch {
                throw RegistryClientError.protocolViolation("index \(top.digest) is not valid: \(error)")
            }
            guard let entry = index.manifest(for: platform) else {
                throw RegistryClientError.noMatchingPlatform(reference: reference.familiarString, platform: platform.description)
            }
            fetched = try await fetchManifest(repository, reference: entry.digest.description)
            guard fetched.digest == entry.digest else {
                throw RegistryClientError.digestMismatch(what: "manifest for \(platform)", expected: entry.digest, actual: fetched.digest)
            }
        }
        guard MediaType.manifests.contains(fetched.mediaType) else {
            throw RegistryClientError.unsupportedMediaType(fetched.mediaType)
        }
        let manifest: Manifest
        do {
            manifest = try CanonicalJSON.decode(Manifest.self, from: fetched.bytes)
        } catch {
            throw RegistryClientError.protocolViolation("manifest \(fetched.digest) is not valid: \(error)")
        }
        for layer in manifest.layers where !MediaType.isLayer(layer.mediaType) {
            throw RegistryClientError.unsupportedMediaType(layer.mediaType)
        }
        let tag = reference.digest == nil ? reference.withDefaultTag : nil
        let previous = try? store.image(named: (tag ?? reference).description)

        try await downloadBlob(manifest.config, from: repository, into: store, holdingIn: lease)
        let config: ImageConfig
        do {
            config = try store.config(ofBlob: manifest.config.digest)
        } catch {
            throw RegistryClientError.protocolViolation("image config \(manifest.config.digest) is not valid: \(error)")
        }
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw RegistryClientError.protocolViolation(
                "manifest \(fetched.digest) has \(manifest.layers.count) layers but its config lists \(config.rootfs.diffIDs.count)")
        }
        let known = try store.layerSizes(config.rootfs.diffIDs)
        let sizes = LockedSizes()
        for layer in manifest.layers where !store.content.contains(layer.digest) { observer?(.waiting(layer: layer.digest)) }
        try await forEachConcurrently(Array(zip(manifest.layers, config.rootfs.diffIDs)), limit: Self.concurrentTransfers) { pair in
            let (layer, diffID) = pair
            let present = store.content.contains(layer.digest)
            if !present { observer?(.started(layer: layer.digest, total: layer.size)) }
            try await self.downloadBlob(layer, from: repository, into: store, holdingIn: lease) {
                observer?(.progressed(layer: layer.digest, bytes: $0))
            }
            if !present || known[diffID] == nil {
                let size = try inspectLayer(at: store.content.path(of: layer.digest), diffID: diffID,
                                            what: "layer \(layer.digest)")
                sizes.set(diffID, size)
            }
            observer?(.finished(layer: layer.digest, status: present ? .alreadyPresent : .pullComplete))
        }
        try store.hold(in: lease) {
            ((), [.blob(try store.content.ingest(bytes: fetched.bytes, expected: fetched.digest, what: "manifest"))])
        }
        let changes = try store.register(manifestDigest: fetched.digest, config: config, configDigest: manifest.config.digest,
                                         layerSizes: sizes.values, tags: tag.map { [$0] } ?? [])
        let repoDigest = Reference(domain: reference.domain, path: reference.path, tag: nil, digest: top.digest)
        try store.addRepoDigest(repoDigest, to: manifest.config.digest)
        let unchanged = previous?.id == manifest.config.digest && changes.allSatisfy { $0.previousImage == nil }
            && previous?.repoDigests.contains(repoDigest) == true
        return PullResult(imageID: manifest.config.digest, repoDigest: repoDigest, downloadedNewer: !unchanged)
    }
}

/// Layer sizes gathered by concurrent tasks.
private final class LockedSizes: Sendable {
    private let sizes = Mutex<[Digest: Int64]>([:])

    func set(_ diffID: Digest, _ size: Int64) { sizes.withLock { $0[diffID] = size } }
    var values: [Digest: Int64] { sizes.withLock { $0 } }
}

extension Store {
    /// Decodes a stored config blob.
    func config(ofBlob digest: Digest) throws -> ImageConfig {
        try CanonicalJSON.decode(ImageConfig.self, from: content.read(digest))
    }
}
