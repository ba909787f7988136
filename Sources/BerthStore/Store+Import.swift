import BerthArchive
import BerthOCI
import Foundation

extension Store {
    /// Creates a one-layer image from a root filesystem tarball (plain, gzip or zstd), as
    /// `docker import` does. The layer is stored uncompressed, so its digest is its diff ID.
    /// `sourceName` is what the history comment says it came from (Docker says `-` for files and stdin).
    public func importImage(from input: ByteSource, sourceName: String, message: String?, tag: Reference?,
                            created: Date = Date(), configure: (inout ContainerConfig) throws -> Void) throws
        -> (id: Digest, tag: TagChange?) {
        try lock.withShared {
            // One pass: the tar is read (sized and checked) as it is copied into the store.
            var fileBytes: Int64 = 0
            let layer = try content.ingest(what: "the imported layer") { sink in
                let copying = CopyingSource(try DecompressingSource(input), into: sink)
                fileBytes = try Self.fileBytes(inLayer: copying, what: "the imported layer")
                try copying.copyRest()
            }
            var config = ImageConfig(created: Timestamp.format(created))
            config.rootfs = RootFS(diffIDs: [layer.digest])
            var containerConfig = ContainerConfig()
            try configure(&containerConfig)
            config.config = containerConfig
            config.comment = message ?? "Imported from \(sourceName)"
            config.history = [History(created: config.created, comment: config.comment)]
            let configBytes = try CanonicalJSON.encode(config)
            let configDigest = try content.ingest(bytes: configBytes)
            let manifest = Manifest(
                config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
                layers: [Descriptor(mediaType: MediaType.ociLayer, digest: layer.digest, size: layer.size)])
            let manifestDigest = try content.ingest(bytes: CanonicalJSON.encode(manifest))
            let changes = try register(manifestDigest: manifestDigest, config: config, configDigest: configDigest,
                                       layerSizes: [layer.digest: fileBytes], tags: tag.map { [$0.withDefaultTag] } ?? [])
            return (configDigest, changes.first)
        }
    }

}
