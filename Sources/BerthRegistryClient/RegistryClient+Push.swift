import BerthDistribution
import BerthOCI
import BerthStore
import Foundation

/// What a push did.
public struct PushResult: Sendable, Equatable {
    /// The pushed manifest's digest (what `name@digest` pulls).
    public var digest: Digest
    /// The manifest's size in bytes.
    public var size: Int
}

extension RegistryClient {
    /// Concurrent blob transfers per push or pull, as Docker's default.
    public static let concurrentTransfers = 3

    /// Pushes a stored image to `reference` (its tag, or its digest when it has no tag): each layer
    /// and the config unless the repository has it (mounted from `mountSources[digest]` where
    /// possible), then the manifest's exact stored bytes. Records the RepoDigest in the store.
    public func push(_ image: ImageRecord, from store: Store, to reference: Reference,
                     mountSources: [Digest: [String]] = [:], observer: TransferObserver? = nil) async throws -> PushResult {
        let repository = reference.path
        let manifestBytes = try store.content.read(image.manifestDigest)
        let manifest = try store.manifest(of: image)
        for descriptor in manifest.layers + [manifest.config] where !store.content.contains(descriptor.digest) {
            throw RegistryClientError.localFile(
                path: store.content.path(of: descriptor.digest), reason: "blob \(descriptor.digest) of the image is missing from the store")
        }
        // Layers as Docker lists them, top first; the config goes with them but is not shown.
        let layers = Array(manifest.layers.reversed())
        let config = manifest.config
        try await forEachConcurrently(layers + [config], limit: Self.concurrentTransfers) { descriptor in
            try await self.pushBlob(descriptor, isLayer: descriptor.digest != config.digest, from: store.content,
                                    to: repository, mountSources: mountSources[descriptor.digest] ?? [], observer: observer)
        }
        let mediaType = manifest.mediaType ?? MediaType.ociManifest
        let digest = try await putManifest(manifestBytes, mediaType: mediaType, to: repository,
                                           reference: reference.tag ?? image.manifestDigest.description)
        try store.addRepoDigest(Reference(domain: reference.domain, path: reference.path, tag: nil, digest: digest), to: image.id)
        return PushResult(digest: digest, size: manifestBytes.count)
    }

    /// Puts one blob into the repository unless it is there already, reporting layers (not the config).
    private func pushBlob(_ descriptor: Descriptor, isLayer: Bool, from content: ContentStore, to repository: String,
                          mountSources: [String], observer: TransferObserver?) async throws {
        let report: TransferObserver? = isLayer ? observer : nil
        if try await blobExists(descriptor.digest, in: repository) {
            report?(.finished(layer: descriptor.digest, status: .alreadyExists))
            return
        }
        report?(.started(layer: descriptor.digest, total: descriptor.size))
        let digest = descriptor.digest
        let progress: (@Sendable (Int) -> Void)? = report.map { report in { @Sendable bytes in report(.progressed(layer: digest, bytes: bytes)) } }
        let outcome = try await uploadBlob(descriptor, from: content, to: repository, mountSources: mountSources,
                                           progress: progress)
        switch outcome {
        case .mounted(let source): report?(.finished(layer: digest, status: .mounted(from: source)))
        case .uploaded: report?(.finished(layer: digest, status: .pushed))
        }
    }

    /// For each blob of the images in `store`, the other repositories of `registry` it was pushed
    /// to or pulled from (by their RepoDigests): where a cross-repository mount may find it.
    public static func mountSources(in store: Store, registry: String, excluding repository: String) throws -> [Digest: [String]] {
        var sources: [Digest: [String]] = [:]
        for image in try store.images() {
            let repositories = Set(image.repoDigests.filter { $0.domain == registry && $0.path != repository }.map(\.path))
            guard !repositories.isEmpty, let manifest = try? store.manifest(of: image) else { continue }
            for blob in manifest.layers + [manifest.config] {
                for name in repositories.sorted() where !(sources[blob.digest]?.contains(name) ?? false) {
                    sources[blob.digest, default: []].append(name)
                }
            }
        }
        return sources
    }
}
