import BerthDistribution
import BerthOCI
import BerthRegistryClient
import BerthStore
import Foundation
import Testing

/// The CNCF registry of scripts/peer-registry.sh on 127.0.0.1.
enum PeerRegistry {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let isInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry")

    /// Runs the script with its output discarded (the registry it starts detaches from us).
    static func script(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: packageRoot + "/scripts/peer-registry.sh")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw RegistryClientError.protocolViolation("scripts/peer-registry.sh \(arguments.joined(separator: " ")) failed")
        }
    }
}

@Suite(.serialized, .enabled(if: PeerRegistry.isInstalled, "docker-registry is not installed"))
struct PeerRegistryTests {
    static let open = "127.0.0.1:5381"
    static let secured = "127.0.0.1:5382"
    static let good = Credentials(username: "berth", password: "berth-secret")

    init() throws {
        try PeerRegistry.script(["start", "5381"])
        try PeerRegistry.script(["start", "5382", "htpasswd"])
    }

    private func client(_ registry: String, _ credentials: Credentials?, scopes: [Scope] = []) -> RegistryClient {
        RegistryClient(endpoint: RegistryEndpoint(registry: registry), credentials: credentials, scopes: scopes)
    }

    @Test func basicAuthAcceptsTheRightPasswordOnly() async throws {
        let right = client(Self.secured, Self.good)
        try await right.checkAccess()
        await right.shutdown()

        let wrong = client(Self.secured, Credentials(username: "berth", password: "nope"))
        await #expect {
            try await wrong.checkAccess()
        } throws: { error in
            guard case RegistryClientError.unauthorized(let registry, let detail) = error else { return false }
            return registry == Self.secured && detail == "incorrect username or password"
        }
        await wrong.shutdown()

        let anonymous = client(Self.secured, nil)
        await #expect(throws: RegistryClientError.self) { try await anonymous.checkAccess() }
        await anonymous.shutdown()
    }

    @Test func unreachableRegistryIsReported() async throws {
        let nobody = client("127.0.0.1:9", nil)
        await #expect {
            try await nobody.checkAccess()
        } throws: { error in
            guard case RegistryClientError.unreachable(let url, _) = error else { return false }
            return url == "http://127.0.0.1:9/v2/" && "\(error)".split(separator: "\n").count == 1
        }
        await nobody.shutdown()
    }

    private func storeWithBlob(_ bytes: [UInt8]) throws -> (Store, String, Descriptor) {
        let root = try temporaryDirectory()
        let store = try Store(root: root)
        let digest = try store.content.ingest(bytes: bytes)
        return (store, root, Descriptor(mediaType: "application/octet-stream", digest: digest, size: Int64(bytes.count)))
    }

    private func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    @Test(arguments: [false, true])
    func blobUploadDownloadAndMount(chunked: Bool) async throws {
        let bytes = randomBytes(3 * (1 << 20) + 12345)
        let (source, sourceRoot, descriptor) = try storeWithBlob(bytes)
        defer { try? FileManager.default.removeItem(atPath: sourceRoot) }
        let repository = "tests/blobs-\(chunked ? "chunked" : "monolithic")-\(UUID().uuidString.prefix(8).lowercased())"
        let session = client(Self.secured, Self.good, scopes: [.repository(repository, .pull, .push)])
        #expect(try await !session.blobExists(descriptor.digest, in: repository))
        let outcome = try await session.uploadBlob(descriptor, from: source.content, to: repository,
                                                   chunkSize: chunked ? 1 << 20 : RegistryClient.chunkedUploadThreshold)
        #expect(outcome == .uploaded)
        #expect(try await session.blobExists(descriptor.digest, in: repository))

        let otherRepository = repository + "-mounted"
        let mounted = try await session.uploadBlob(descriptor, from: source.content, to: otherRepository, mountSources: [repository])
        #expect(mounted == .mounted(from: repository))

        let targetRoot = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: targetRoot) }
        let target = try Store(root: targetRoot)
        try await session.downloadBlob(descriptor, from: otherRepository, into: target, holdingIn: .process())
        #expect(try target.content.read(descriptor.digest) == bytes)
        await session.shutdown()
    }

    @Test func downloadThatDoesNotMatchItsDescriptorStoresNothing() async throws {
        let bytes = randomBytes(100_000)
        let (source, sourceRoot, descriptor) = try storeWithBlob(bytes)
        defer { try? FileManager.default.removeItem(atPath: sourceRoot) }
        let repository = "tests/short"
        let session = client(Self.open, nil, scopes: [.repository(repository, .pull, .push)])
        _ = try await session.uploadBlob(descriptor, from: source.content, to: repository)

        let targetRoot = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: targetRoot) }
        let target = try Store(root: targetRoot)
        var lying = descriptor
        lying.size = 1000
        await #expect(throws: RegistryClientError.self) {
            try await session.downloadBlob(lying, from: repository, into: target, holdingIn: .process())
        }
        #expect(!target.content.contains(descriptor.digest))
        #expect(try FileManager.default.contentsOfDirectory(atPath: targetRoot + "/ingest").isEmpty)
        await session.shutdown()
    }

    @Test func manifestsByTagAndDigestAreVerified() async throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store(root: root)
        let configBytes = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let configDigest = try store.content.ingest(bytes: configBytes)
        let config = Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count))
        let repository = "tests/manifests"
        let session = client(Self.open, nil, scopes: [.repository(repository, .pull, .push)])
        _ = try await session.uploadBlob(config, from: store.content, to: repository)
        let manifestBytes = try CanonicalJSON.encode(Manifest(config: config, layers: []))
        let digest = try await session.putManifest(manifestBytes, mediaType: MediaType.ociManifest, to: repository, reference: "v1")
        #expect(digest == Digest.sha256(of: manifestBytes))

        let byTag = try await session.fetchManifest(repository, reference: "v1")
        #expect(byTag.bytes == manifestBytes && byTag.digest == digest && byTag.mediaType == MediaType.ociManifest)
        let byDigest = try await session.fetchManifest(repository, reference: digest.description)
        #expect(byDigest.bytes == manifestBytes)
        #expect(try await session.listTags(repository) == ["v1"])

        await #expect {
            try await session.fetchManifest(repository, reference: "missing")
        } throws: { error in
            "\(error)" == "manifest for 127.0.0.1:5381/tests/manifests:missing not found: manifest unknown"
        }
        await session.shutdown()
    }
}
