import BerthArchive
import BerthDistribution
import BerthOCI
import BerthRegistryClient
import BerthStore
import Foundation
import Testing

/// Pulls of a real image (the busybox base image) from the CNCF registry, through a proxy that
/// injects resets, server errors and delays: retries, giving up cleanly, garbage collection
/// during a pull, and indexes.
/// The offline busybox base image (scripts/make-base-images.sh).
enum BusyboxRootfs {
    static let path: String? = {
        let path = PeerRegistry.packageRoot + "/images-cache/busybox-rootfs.tar"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()
}

@Suite(.serialized, .enabled(if: PeerRegistry.isInstalled && BusyboxRootfs.path != nil,
                             "needs docker-registry and images-cache/busybox-rootfs.tar (scripts/make-base-images.sh)"))
struct PullResilienceTests {
    static let upstreamPort: UInt16 = 5385

    /// Guards the proxy's per-test counters.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [String: Int] = [:]

        /// How many times `key` was counted before this call.
        func next(_ key: String) -> Int {
            lock.withLock {
                defer { counts[key, default: 0] += 1 }
                return counts[key, default: 0]
            }
        }
    }

    init() throws {
        try PeerRegistry.script(["start", String(Self.upstreamPort)])
    }

    /// Imports busybox into a fresh store and pushes it to the registry as `repository:v1`.
    private func publish(_ repository: String) async throws -> (manifest: Manifest, root: String) {
        let root = try temporaryDirectory()
        let store = try Store(root: root)
        let imported = try store.importImage(from: try FileSource(path: BusyboxRootfs.path ?? ""), sourceName: "busybox",
                                             message: nil, tag: nil) { _ in }
        let image = try #require(try store.images().first { $0.id == imported.id })
        let session = RegistryClient(endpoint: RegistryEndpoint(registry: "127.0.0.1:\(Self.upstreamPort)"),
                                     credentials: nil, scopes: [.repository(repository, .pull, .push)])
        _ = try await session.push(image, from: store, to: try Reference(parsing: "127.0.0.1:\(Self.upstreamPort)/\(repository):v1"))
        await session.shutdown()
        return (try store.manifest(of: image), root)
    }

    private func pull(_ reference: String, through proxy: FaultInjectingProxy, into store: Store,
                      platform: Platform = .current) async throws -> PullResult {
        let registry = "127.0.0.1:\(proxy.port)"
        let parsed = try Reference(parsing: "\(registry)/\(reference)")
        let session = RegistryClient(endpoint: RegistryEndpoint(registry: registry), credentials: nil,
                                     scopes: [.repository(parsed.path, .pull)])
        do {
            let result = try await session.pull(parsed, into: store, platform: platform)
            await session.shutdown()
            return result
        } catch {
            await session.shutdown()
            throw error
        }
    }

    private func unique(_ name: String) -> String { "tests/\(name)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func resetsAndServerErrorsAreRetried() async throws {
        let repository = unique("retries")
        let (manifest, sourceRoot) = try await publish(repository)
        defer { try? FileManager.default.removeItem(atPath: sourceRoot) }
        let counter = Counter()
        let proxy = try FaultInjectingProxy(upstreamPort: Self.upstreamPort) { line in
            if line.hasPrefix("GET ") && line.contains("/manifests/") && counter.next("manifest") == 0 { return .status(503) }
            if line.hasPrefix("GET ") && line.contains("/blobs/") && counter.next("blob") == 0 { return .reset }
            return .forward
        }
        defer { proxy.stop() }
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store(root: root)
        let result = try await pull("\(repository):v1", through: proxy, into: store)
        #expect(result.imageID == manifest.config.digest)
        for descriptor in manifest.layers + [manifest.config] {
            #expect(store.content.contains(descriptor.digest))
        }
        let manifestGETs = proxy.requests.filter { $0.hasPrefix("GET ") && $0.contains("/manifests/v1") }
        #expect(manifestGETs.count == 2, "the 503 is retried once: \(proxy.requests)")
        let firstBlob = try #require(proxy.requests.first { $0.hasPrefix("GET ") && $0.contains("/blobs/") })
        #expect(proxy.requests.filter { $0 == firstBlob }.count == 2, "the reset download is retried: \(proxy.requests)")
    }

    @Test func persistentServerErrorsFailInOneLineAndStoreNothing() async throws {
        let repository = unique("failing")
        let (_, sourceRoot) = try await publish(repository)
        defer { try? FileManager.default.removeItem(atPath: sourceRoot) }
        let proxy = try FaultInjectingProxy(upstreamPort: Self.upstreamPort) { line in
            line.hasPrefix("GET ") && line.contains("/blobs/") ? .status(503) : .forward
        }
        defer { proxy.stop() }
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store(root: root)
        await #expect {
            _ = try await pull("\(repository):v1", through: proxy, into: store)
        } throws: { error in
            "\(error)".split(separator: "\n").count == 1 && "\(error)".contains("503")
        }
        #expect(proxy.requests.filter { $0.contains("/blobs/") }.count == 3, "three attempts: \(proxy.requests)")
        #expect(try store.images().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/ingest").isEmpty)
    }

    /// Garbage collection started while a pull is half done (config downloaded, the layer held
    /// back) must wait: the config is not referenced by any image until the pull registers it.
    @Test func garbageCollectionWaitsForAPullInProgress() async throws {
        let repository = unique("gc")
        let (manifest, sourceRoot) = try await publish(repository)
        defer { try? FileManager.default.removeItem(atPath: sourceRoot) }
        let layers = Set(manifest.layers.map { "/blobs/\($0.digest)" })
        let proxy = try FaultInjectingProxy(upstreamPort: Self.upstreamPort) { line in
            layers.contains { line.contains($0) } ? .hold : .forward
        }
        defer { proxy.stop() }
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store(root: root)
        let pulling = Task { try await pull("\(repository):v1", through: proxy, into: store) }
        while !proxy.requests.contains(where: { line in layers.contains { line.contains($0) } }) {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        #expect(store.content.contains(manifest.config.digest))
        // Another process's view of the store: its own lock descriptor.
        let collecting = Task.detached { try Store(root: root).collectGarbage() }
        try await Task.sleep(nanoseconds: 200_000_000)
        proxy.release()
        let result = try await pulling.value
        let collected = try await collecting.value
        #expect(result.imageID == manifest.config.digest)
        #expect(!collected.blobs.contains(manifest.config.digest))
        for descriptor in manifest.layers + [manifest.config] {
            #expect(store.content.contains(descriptor.digest))
        }
        #expect(try store.images().map(\.id) == [manifest.config.digest])
    }

    /// An OCI index with a linux/amd64 and a linux/arm64 entry: the pull takes the host's.
    @Test func pullFromAnIndexChoosesThePlatform() async throws {
        let repository = unique("index")
        let (manifest, sourceRoot) = try await publish(repository)
        defer { try? FileManager.default.removeItem(atPath: sourceRoot) }
        let source = try Store(root: sourceRoot)
        var armConfig = try CanonicalJSON.decode(ImageConfig.self, from: try source.content.read(manifest.config.digest))
        armConfig.architecture = "arm64"
        let armConfigBytes = try CanonicalJSON.encode(armConfig)
        let armConfigDigest = try source.content.ingest(bytes: armConfigBytes)
        let armConfigDescriptor = Descriptor(mediaType: MediaType.ociConfig, digest: armConfigDigest, size: Int64(armConfigBytes.count))
        let session = RegistryClient(endpoint: RegistryEndpoint(registry: "127.0.0.1:\(Self.upstreamPort)"),
                                     credentials: nil, scopes: [.repository(repository, .pull, .push)])
        _ = try await session.uploadBlob(armConfigDescriptor, from: source.content, to: repository)
        let armManifestBytes = try CanonicalJSON.encode(Manifest(config: armConfigDescriptor, layers: manifest.layers))
        let armManifest = try await session.putManifest(armManifestBytes, mediaType: MediaType.ociManifest, to: repository,
                                                        reference: "arm64")
        let amd64 = try await session.fetchManifest(repository, reference: "v1")
        let index = Index(manifests: [
            Descriptor(mediaType: MediaType.ociManifest, digest: armManifest, size: Int64(armManifestBytes.count),
                       platform: Platform(architecture: "arm64", os: "linux")),
            Descriptor(mediaType: amd64.mediaType, digest: amd64.digest, size: Int64(amd64.bytes.count),
                       platform: Platform(architecture: "amd64", os: "linux")),
        ])
        let indexBytes = try CanonicalJSON.encode(index)
        let indexDigest = try await session.putManifest(indexBytes, mediaType: MediaType.ociIndex, to: repository, reference: "multi")
        await session.shutdown()

        let proxy = try FaultInjectingProxy(upstreamPort: Self.upstreamPort) { _ in .forward }
        defer { proxy.stop() }
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store(root: root)
        let result = try await pull("\(repository):multi", through: proxy, into: store,
                                    platform: Platform(architecture: "amd64", os: "linux"))
        #expect(result.imageID == manifest.config.digest)
        #expect(result.repoDigest.digest == indexDigest, "RepoDigests name the index, as Docker's do")
        #expect(!store.content.contains(armConfigDigest))

        await #expect {
            _ = try await pull("\(repository):multi", through: proxy, into: store,
                               platform: Platform(architecture: "s390x", os: "linux"))
        } throws: { error in
            "\(error)".contains("s390x") && "\(error)".split(separator: "\n").count == 1
        }
    }
}
