import BerthArchive
import BerthOCI
import Foundation

extension Store {
    /// Creates an image from `parent` and a container's overlay upper directory, as `docker
    /// commit` does: the parent's layers, then (unless `emptyLayer`) one uncompressed layer of
    /// the upper directory without the entries in `skipping`, and the config `configure` makes
    /// from the parent's; the history gains `history` (its `emptyLayer` set here).
    public func commitImage(parent: ImageRecord, upperDirectory: String, skipping: Set<String>, emptyLayer: Bool,
                            history: History, tag: Reference?, created: Date = Date(),
                            configure: (inout ImageConfig) throws -> Void) throws -> (id: Digest, tag: TagChange?) {
        try lock.withShared {
            var config = try self.config(of: parent)
            var layers = try manifest(of: parent).layers
            var layerSizes: [Digest: Int64] = [:]
            if !emptyLayer {
                let layer = try content.ingest(what: "the committed layer") { sink in
                    let writer = TarWriter(sink)
                    try DirectoryArchiver.write(root: upperDirectory, to: writer, fromOverlayUpper: true, skipping: skipping)
                    try writer.finish()
                }
                layerSizes[layer.digest] = try Self.fileBytes(inLayer: content.open(layer.digest), what: "the committed layer")
                config.rootfs.diffIDs.append(layer.digest)
                layers.append(Descriptor(mediaType: MediaType.ociLayer, digest: layer.digest, size: layer.size))
            }
            config.created = Timestamp.format(created)
            try configure(&config)
            var entry = history
            entry.created = config.created
            entry.emptyLayer = emptyLayer ? true : nil
            config.history = (config.history ?? []) + [entry]
            let configBytes = try CanonicalJSON.encode(config)
            let configDigest = try content.ingest(bytes: configBytes)
            let manifest = Manifest(
                config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
                layers: layers)
            let manifestDigest = try content.ingest(bytes: CanonicalJSON.encode(manifest))
            let changes = try register(manifestDigest: manifestDigest, config: config, configDigest: configDigest,
                                       layerSizes: layerSizes, tags: tag.map { [$0.withDefaultTag] } ?? [])
            return (configDigest, changes.first)
        }
    }
}
