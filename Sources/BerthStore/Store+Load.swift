import BerthArchive
import BerthOCI
import Foundation

extension Store {
    /// One image that `load` stored.
    public struct LoadedImage: Sendable {
        public var id: Digest
        public var tags: [TagChange]
    }

    /// Loads images from an archive stream: a docker-archive (as `docker save` writes it, also
    /// gzip/zstd-compressed) or an OCI image layout archive. Every blob is verified against its
    /// digest on the way in; the images and tags are recorded in one transaction at the end, so an
    /// interrupted load leaves no half image (only unreferenced blobs, which GC removes).
    ///
    /// `loadedLayer` is told of each layer once it is verified: its chain ID and its size in the
    /// archive (what dockerd's "Loading layer" counts).
    public func load(from source: ByteSource,
                     loadedLayer: (_ chainID: Digest, _ size: Int64) -> Void = { _, _ in }) throws -> [LoadedImage] {
        try lock.withShared {
            let archive = try ArchiveContents.read(TarReader(DecompressingSource(source)), into: content)
            if archive.has("manifest.json") {
                return try loadDockerArchive(archive, loadedLayer: loadedLayer)
            }
            if archive.has("index.json") {
                return try loadOCILayout(archive, loadedLayer: loadedLayer)
            }
            throw StoreError.invalidArchive("neither manifest.json (docker-archive) nor index.json (OCI layout) found")
        }
    }

    // MARK: docker-archive

    private struct DockerArchiveEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    private func loadDockerArchive(_ archive: ArchiveContents, loadedLayer: (Digest, Int64) -> Void) throws -> [LoadedImage] {
        let entries: [DockerArchiveEntry]
        do {
            entries = try JSONDecoder().decode([DockerArchiveEntry].self, from: Data(archive.bytes("manifest.json")))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.invalidArchive("manifest.json: \(error)")
        }
        var loaded: [LoadedImage] = []
        for entry in entries {
            let configBytes = try archive.bytes(entry.Config)
            let config = try decodeConfig(configBytes, what: entry.Config)
            guard config.rootfs.diffIDs.count == entry.Layers.count else {
                throw StoreError.invalidArchive(
                    "\(entry.Config) lists \(config.rootfs.diffIDs.count) layers but manifest.json has \(entry.Layers.count)")
            }
            var layers: [Descriptor] = []
            var sizes: [Digest: Int64] = [:]
            let chain = ChainID.chain(config.rootfs.diffIDs)
            for ((path, diffID), chainID) in zip(zip(entry.Layers, config.rootfs.diffIDs), chain) {
                let blob = try archive.blob(path, store: content)
                let layer = try describeLayer(blob.digest, size: blob.size, diffID: diffID, what: "layer \(path)")
                layers.append(layer.descriptor)
                sizes[diffID] = layer.uncompressedSize
                loadedLayer(chainID, blob.size)
            }
            let configDigest = try content.ingest(bytes: configBytes, what: entry.Config)
            let manifest = Manifest(
                config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
                layers: layers)
            let manifestDigest = try content.ingest(bytes: CanonicalJSON.encode(manifest))
            let tags = try (entry.RepoTags ?? []).map { try Reference(parsing: $0).withDefaultTag }
            let changes = try register(manifestDigest: manifestDigest, config: config, configDigest: configDigest,
                                       layerSizes: sizes, tags: tags, recordingTagTime: false)
            loaded.append(LoadedImage(id: configDigest, tags: changes))
        }
        return loaded
    }

    // MARK: OCI layout

    private func loadOCILayout(_ archive: ArchiveContents, loadedLayer: (Digest, Int64) -> Void) throws -> [LoadedImage] {
        if archive.has("oci-layout") {
            let layout = try? JSONSerialization.jsonObject(with: Data(archive.bytes("oci-layout"))) as? [String: Any]
            guard layout?["imageLayoutVersion"] as? String == "1.0.0" else {
                throw StoreError.invalidArchive("oci-layout: unsupported imageLayoutVersion")
            }
        }
        let index = try decode(Index.self, archive.bytes("index.json"), what: "index.json")
        var loaded: [LoadedImage] = []
        for descriptor in index.manifests {
            let name = Self.imageName(from: descriptor.annotations)
            guard let (manifestDescriptor, manifest) = try resolveManifest(descriptor, in: archive) else { continue }
            let configBytes = try archive.blobBytes(manifest.config.digest, store: content)
            let config = try decodeConfig(configBytes, what: "config \(manifest.config.digest)")
            guard config.rootfs.diffIDs.count == manifest.layers.count else {
                throw StoreError.invalidArchive("manifest \(manifestDescriptor.digest) and its config disagree on the layer count")
            }
            var sizes: [Digest: Int64] = [:]
            let chain = ChainID.chain(config.rootfs.diffIDs)
            for ((layer, diffID), chainID) in zip(zip(manifest.layers, config.rootfs.diffIDs), chain) {
                let blob = try archive.blob(Self.blobPath(layer.digest), store: content)
                guard blob.digest == layer.digest else {
                    throw StoreError.digestMismatch(expected: layer.digest, actual: blob.digest, what: "layer")
                }
                sizes[diffID] = try describeLayer(blob.digest, size: blob.size, diffID: diffID,
                                                  what: "layer \(layer.digest)").uncompressedSize
                loadedLayer(chainID, blob.size)
            }
            try content.ingest(bytes: configBytes, expected: manifest.config.digest)
            let changes = try register(manifestDigest: manifestDescriptor.digest, config: config,
                                       configDigest: manifest.config.digest, layerSizes: sizes,
                                       tags: name.map { [$0] } ?? [], recordingTagTime: false)
            loaded.append(LoadedImage(id: manifest.config.digest, tags: changes))
        }
        return loaded
    }

    /// Follows an index entry to the manifest for this machine's platform, storing the manifest
    /// (and any index on the way) in the content store.
    private func resolveManifest(_ descriptor: Descriptor, in archive: ArchiveContents) throws -> (Descriptor, Manifest)? {
        let bytes = try archive.blobBytes(descriptor.digest, store: content)
        let probe = try decode(MediaTypeProbe.self, bytes, what: "blob \(descriptor.digest)")
        switch probe.effectiveMediaType ?? descriptor.mediaType {
        case let type where MediaType.indexes.contains(type):
            let index = try decode(Index.self, bytes, what: "index \(descriptor.digest)")
            guard let child = index.manifest(for: Platform.current) else { return nil }
            return try resolveManifest(child, in: archive)
        case let type where MediaType.manifests.contains(type):
            try content.ingest(bytes: bytes, expected: descriptor.digest)
            return (descriptor, try decode(Manifest.self, bytes, what: "manifest \(descriptor.digest)"))
        default:
            return nil
        }
    }

    /// The image name an OCI layout entry carries: containerd's full name, or a reference-shaped
    /// `org.opencontainers.image.ref.name` (a bare tag there names no repository, so it is ignored).
    static func imageName(from annotations: [String: String]?) -> Reference? {
        if let full = annotations?["io.containerd.image.name"], let reference = try? Reference(parsing: full) {
            return reference.withDefaultTag
        }
        if let name = annotations?["org.opencontainers.image.ref.name"], name.contains("/") || name.contains(":"),
           let reference = try? Reference(parsing: name) {
            return reference.withDefaultTag
        }
        return nil
    }

    static func blobPath(_ digest: Digest) -> String { "blobs/\(digest.algorithm)/\(digest.encoded)" }

    // MARK: Layers

    /// The descriptor for a stored layer blob, checking that it is a tar whose uncompressed content
    /// has `diffID`. Also returns the layer's size as Docker reports it: the bytes of its files.
    func describeLayer(_ digest: Digest, size: Int64, diffID: Digest, what: String)
        throws -> (descriptor: Descriptor, uncompressedSize: Int64) {
        let source = try DecompressingSource(content.open(digest))
        let mediaType: String
        switch source.compression {
        case .none: mediaType = MediaType.ociLayer
        case .gzip: mediaType = MediaType.ociLayerGzip
        case .zstd: mediaType = MediaType.ociLayerZstd
        }
        // An uncompressed blob is its own diff ID: its digest was verified on the way in.
        let hashing = source.compression == .none ? nil : HashingSource(source)
        let fileBytes = try Self.fileBytes(inLayer: hashing ?? source, what: what)
        if let hashing {
            let actual = try hashing.drain()
            guard actual == diffID else {
                throw StoreError.digestMismatch(expected: diffID, actual: actual, what: "\(what) (diff ID)")
            }
        } else if digest != diffID {
            throw StoreError.digestMismatch(expected: diffID, actual: digest, what: "\(what) (diff ID)")
        }
        return (Descriptor(mediaType: mediaType, digest: digest, size: size), fileBytes)
    }

    /// Reads a layer through as tar and adds up its size as Docker's overlay2 driver measures it:
    /// each file's size once, plus each symlink's target length (a symlink's st_size). Every entry
    /// is checked on the way (`LayerEntryChecks`): a layer that could write outside its root is
    /// refused when it arrives, not at the first `run`.
    public static func fileBytes(inLayer source: ByteSource, what: String) throws -> Int64 {
        let reader = TarReader(source)
        var total: Int64 = 0
        while let entry = try nextEntry(reader, what: what) {
            do {
                try LayerEntryChecks.check(entry)
            } catch ArchiveError.unsafePath(let path, let reason) {
                throw StoreError.unsafeLayer(layer: what, entry: path, reason: reason)
            }
            switch entry.kind {
            case .file: total += entry.size
            case .symlink: total += Int64(entry.linkName.utf8.count)
            default: break
            }
        }
        return total
    }

    /// The next entry; a failed read or write (a full disk) keeps its own error, anything else
    /// means the layer is not a tar.
    private static func nextEntry(_ reader: TarReader, what: String) throws -> TarEntry? {
        do {
            return try reader.next()
        } catch let error as ArchiveError {
            if case .io = error { throw error }
            throw StoreError.invalidArchive("\(what) is not a valid tar layer: \(error)")
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.invalidArchive("\(what) is not a valid tar layer: \(error)")
        }
    }

    func decodeConfig(_ bytes: [UInt8], what: String) throws -> ImageConfig {
        let config = try decode(ImageConfig.self, bytes, what: what)
        guard config.os == "linux" else {
            throw StoreError.invalidImage("\(what): image is for \(config.os), Berth runs linux images")
        }
        return config
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
        do {
            return try CanonicalJSON.decode(type, from: bytes)
        } catch {
            throw StoreError.invalidArchive("\(what) is not valid: \(error)")
        }
    }
}

/// The files of an image archive, read in one streaming pass (the manifest may come last, and
/// stdin cannot be rewound). Small files stay in memory; large ones go straight into the content
/// store as blobs, hashed on the way.
struct ArchiveContents {
    enum File {
        case bytes([UInt8])
        case blob(Digest, Int64)
        case link(String)
    }

    private var files: [String: File] = [:]
    static let inMemoryLimit: Int64 = 1 << 20

    static func read(_ reader: TarReader, into content: ContentStore) throws -> ArchiveContents {
        var contents = ArchiveContents()
        while let entry = try reader.next() {
            let path = normalize(entry.path)
            switch entry.kind {
            case .file where entry.size <= inMemoryLimit:
                contents.files[path] = .bytes(try reader.readContents())
            case .file:
                let named = path.hasPrefix("blobs/sha256/") ? try? Digest(parsing: "sha256:" + path.dropFirst(13)) : nil
                if let named, content.contains(named) {
                    // Stored already, but the archive's copy is read anyway: a corrupt one is refused.
                    let hashing = HashingSink(NullSink())
                    try reader.readContents(into: hashing)
                    guard hashing.digest == named else {
                        throw StoreError.digestMismatch(expected: named, actual: hashing.digest, what: path)
                    }
                    contents.files[path] = .blob(named, hashing.count)
                    continue
                }
                // A blob named by its digest is ingested under it, meeting concurrent writers of
                // the same content.
                let blob = try content.ingest(what: path, expected: named, expectedSize: named.map { _ in entry.size }) {
                    try reader.readContents(into: $0)
                }
                contents.files[path] = .blob(blob.digest, blob.size)
            case .symlink:
                let base = path.split(separator: "/").dropLast().joined(separator: "/")
                contents.files[path] = .link(normalize(entry.linkName.hasPrefix("/") ? entry.linkName : base + "/" + entry.linkName))
            case .hardlink:
                contents.files[path] = .link(normalize(entry.linkName))
            default:
                continue
            }
        }
        return contents
    }

    /// Archive paths are compared without `./` prefixes and with `..` resolved lexically.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." && !part.isEmpty {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return parts.joined(separator: "/")
    }

    func has(_ path: String) -> Bool { (try? resolve(path)) != nil }

    private func resolve(_ path: String) throws -> File {
        var current = Self.normalize(path)
        for _ in 0..<16 {
            switch files[current] {
            case .link(let target): current = target
            case .some(let file): return file
            case .none: throw StoreError.invalidArchive("\(path) is missing from the archive")
            }
        }
        throw StoreError.invalidArchive("\(path): too many levels of links")
    }

    /// A small file's contents.
    func bytes(_ path: String) throws -> [UInt8] {
        switch try resolve(path) {
        case .bytes(let bytes): return bytes
        case .blob: throw StoreError.invalidArchive("\(path) is too large for a metadata file")
        case .link: throw StoreError.invalidArchive("\(path): unresolved link")
        }
    }

    /// A file as a stored blob (stored now if it was small).
    func blob(_ path: String, store: ContentStore) throws -> (digest: Digest, size: Int64) {
        switch try resolve(path) {
        case .bytes(let bytes): return (try store.ingest(bytes: bytes, what: path), Int64(bytes.count))
        case .blob(let digest, let size): return (digest, size)
        case .link: throw StoreError.invalidArchive("\(path): unresolved link")
        }
    }

    /// The bytes of `blobs/<alg>/<hex>`, verified against the digest its name claims.
    func blobBytes(_ digest: Digest, store: ContentStore) throws -> [UInt8] {
        let path = Store.blobPath(digest)
        let bytes: [UInt8]
        switch try resolve(path) {
        case .bytes(let small): bytes = small
        case .blob(let stored, _):
            guard stored == digest else { throw StoreError.digestMismatch(expected: digest, actual: stored, what: path) }
            return try store.read(stored)
        case .link: throw StoreError.invalidArchive("\(path): unresolved link")
        }
        let actual = Digest.sha256(of: bytes)
        guard actual == digest else { throw StoreError.digestMismatch(expected: digest, actual: actual, what: path) }
        return bytes
    }
}
