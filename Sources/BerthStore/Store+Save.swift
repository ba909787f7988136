import BerthArchive
import BerthOCI
import Foundation

extension Store {
    /// Writes images as one archive that is both an OCI image layout (`oci-layout`, `index.json`,
    /// `blobs/`) and a docker-archive (`manifest.json`), as Docker 25+ writes it: `docker load`,
    /// skopeo (`oci-archive:`) and umoci all read it. `names` are as given to `save` (tags or IDs).
    public func save(_ names: [String], to sink: ByteSink) throws {
        struct Saved { var image: ImageRecord; var manifest: Manifest; var tags: [Reference] }
        var saved: [Saved] = []
        for name in names {
            let image = try image(named: name)
            // A tag names just itself; an image named by ID is saved without names, as Docker does.
            let reference = (try? Reference(parsing: name)).map(\.withDefaultTag)
            let tags = reference.flatMap { image.tags.contains($0) ? [$0] : nil } ?? []
            if let index = saved.firstIndex(where: { $0.image.id == image.id }) {
                saved[index].tags += tags.filter { !saved[index].tags.contains($0) }
            } else {
                saved.append(Saved(image: image, manifest: try manifest(of: image), tags: tags))
            }
        }

        var blobs: [Digest] = []
        var indexEntries: [Descriptor] = []
        var dockerEntries: [[String: Any]] = []
        for item in saved {
            for digest in [item.image.manifestDigest, item.manifest.config.digest] + item.manifest.layers.map(\.digest)
            where !blobs.contains(digest) {
                blobs.append(digest)
            }
            let manifestSize = try content.size(of: item.image.manifestDigest)
            let descriptor = Descriptor(mediaType: item.manifest.mediaType ?? MediaType.ociManifest,
                                        digest: item.image.manifestDigest, size: manifestSize)
            if item.tags.isEmpty {
                indexEntries.append(descriptor)
            }
            for tag in item.tags {
                var named = descriptor
                named.annotations = ["io.containerd.image.name": tag.description,
                                     "org.opencontainers.image.ref.name": tag.tag ?? Reference.defaultTag]
                indexEntries.append(named)
            }
            dockerEntries.append([
                "Config": Self.blobPath(item.manifest.config.digest),
                "RepoTags": item.tags.map(\.familiarString),
                "Layers": item.manifest.layers.map { Self.blobPath($0.digest) },
            ])
        }

        let writer = TarWriter(sink)
        for directory in ["blobs", "blobs/sha256"] {
            try writer.write(TarEntry(kind: .directory, path: directory + "/", mode: 0o755), bytes: [])
        }
        for digest in blobs {
            let size = try content.size(of: digest)
            try writer.write(TarEntry(kind: .file, path: Self.blobPath(digest), mode: 0o644, size: size),
                             contents: try content.open(digest))
        }
        try writer.write(TarEntry(kind: .file, path: "index.json"),
                         bytes: try CanonicalJSON.encode(Index(manifests: indexEntries)))
        let dockerManifest = try JSONSerialization.data(withJSONObject: dockerEntries,
                                                        options: [.sortedKeys, .withoutEscapingSlashes])
        try writer.write(TarEntry(kind: .file, path: "manifest.json"), bytes: Array(dockerManifest))
        try writer.write(TarEntry(kind: .file, path: "oci-layout"), bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        try writer.finish()
    }
}
