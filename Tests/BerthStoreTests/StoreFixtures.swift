import BerthArchive
import BerthOCI
import BerthStore
import Foundation

/// Builds image archives in memory, and temporary store roots, for the store tests.
enum StoreFixtures {
    /// A fresh empty directory under /tmp, removed by the caller with `cleanUp`.
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "berth-store-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func cleanUp(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A layer tar holding `files` (path → contents), plus directory entries for their parents.
    static func layer(_ files: [String: String], extra: [TarEntry] = []) throws -> [UInt8] {
        let sink = BytesSink()
        let writer = TarWriter(sink)
        var directories = Set<String>()
        for path in files.keys.sorted() {
            var parent = ""
            for component in path.split(separator: "/").dropLast() {
                parent += component + "/"
                if directories.insert(parent).inserted {
                    try writer.write(TarEntry(kind: .directory, path: parent, mode: 0o755), bytes: [])
                }
            }
            try writer.write(TarEntry(kind: .file, path: path, mode: 0o644), bytes: Array(files[path]!.utf8))
        }
        for entry in extra { try writer.write(entry, bytes: []) }
        try writer.finish()
        return sink.bytes
    }

    static func config(diffIDs: [Digest], cmd: [String] = ["sh"]) throws -> [UInt8] {
        var config = ImageConfig(created: "2024-05-01T10:20:30Z")
        config.config?.Cmd = cmd
        config.config?.Env = ["PATH=/bin"]
        config.rootfs = RootFS(diffIDs: diffIDs)
        config.history = diffIDs.map { _ in History(created: "2024-05-01T10:20:30Z", createdBy: "test") }
        return try CanonicalJSON.encode(config)
    }

    /// A docker-archive as Docker 20.10's `docker save` lays it out (manifest.json last).
    static func dockerArchive(layers: [[UInt8]], repoTags: [String]) throws -> (archive: [UInt8], imageID: Digest) {
        let diffIDs = layers.map { Digest.sha256(of: $0) }
        let configBytes = try config(diffIDs: diffIDs)
        let imageID = Digest.sha256(of: configBytes)
        let sink = BytesSink()
        let writer = TarWriter(sink)
        var layerPaths: [String] = []
        for (index, layer) in layers.enumerated() {
            let directory = "layer\(index)"
            try writer.write(TarEntry(kind: .directory, path: directory + "/", mode: 0o755), bytes: [])
            try writer.write(TarEntry(kind: .file, path: directory + "/VERSION"), bytes: Array("1.0".utf8))
            try writer.write(TarEntry(kind: .file, path: directory + "/layer.tar"), bytes: layer)
            layerPaths.append(directory + "/layer.tar")
        }
        try writer.write(TarEntry(kind: .file, path: imageID.encoded + ".json"), bytes: configBytes)
        let manifest: [[String: Any]] = [["Config": imageID.encoded + ".json", "RepoTags": repoTags, "Layers": layerPaths]]
        try writer.write(TarEntry(kind: .file, path: "manifest.json"),
                         bytes: Array(try JSONSerialization.data(withJSONObject: manifest)))
        try writer.finish()
        return (sink.bytes, imageID)
    }

    /// An OCI image layout archive with gzip-compressed layers.
    static func ociArchive(layers: [[UInt8]], name: String?, corruptLayerName: Bool = false,
                           diffIDs overridingDiffIDs: [Digest]? = nil) throws -> (archive: [UInt8], imageID: Digest) {
        var blobs: [(Digest, [UInt8])] = []
        var descriptors: [Descriptor] = []
        for layer in layers {
            let gzipped = BytesSink()
            let gzip = GzipSink(gzipped)
            try layer.withUnsafeBytes { try gzip.write($0) }
            try gzip.finish()
            let digest = Digest.sha256(of: gzipped.bytes)
            blobs.append((digest, gzipped.bytes))
            descriptors.append(Descriptor(mediaType: MediaType.ociLayerGzip, digest: digest, size: Int64(gzipped.bytes.count)))
        }
        let configBytes = try config(diffIDs: overridingDiffIDs ?? layers.map { Digest.sha256(of: $0) })
        let configDigest = Digest.sha256(of: configBytes)
        blobs.append((configDigest, configBytes))
        let manifest = Manifest(config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest,
                                                   size: Int64(configBytes.count)), layers: descriptors)
        let manifestBytes = try CanonicalJSON.encode(manifest)
        let manifestDigest = Digest.sha256(of: manifestBytes)
        blobs.append((manifestDigest, manifestBytes))
        var entry = Descriptor(mediaType: MediaType.ociManifest, digest: manifestDigest, size: Int64(manifestBytes.count))
        if let name { entry.annotations = ["org.opencontainers.image.ref.name": name] }
        let sink = BytesSink()
        let writer = TarWriter(sink)
        try writer.write(TarEntry(kind: .file, path: "oci-layout"), bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        try writer.write(TarEntry(kind: .file, path: "index.json"), bytes: try CanonicalJSON.encode(Index(manifests: [entry])))
        for (index, (digest, bytes)) in blobs.enumerated() {
            let stored = corruptLayerName && index == 0 ? bytes + [0] : bytes
            try writer.write(TarEntry(kind: .file, path: "blobs/sha256/\(digest.encoded)"), bytes: stored)
        }
        try writer.finish()
        return (sink.bytes, configDigest)
    }
}
