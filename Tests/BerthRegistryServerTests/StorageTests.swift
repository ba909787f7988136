import BerthOCI
import Foundation
import Testing
@testable import BerthRegistryServer

@Suite struct StorageTests {
    @Test func uploadResumesAfterARestart() async throws {
        let root = makeTemporaryDirectory()
        var location = ""
        try await withRegistry(root: root) { registry in
            location = try #require(try await registry.request("POST", "/v2/resume/blobs/uploads/").header("Location"))
            #expect(try await registry.request("PATCH", location, body: Data("first half, ".utf8)).status == 202)
        }
        try await withRegistry(root: root) { registry in
            let status = try await registry.request("GET", location)
            #expect(status.status == 204)
            #expect(status.header("Range") == "0-11")
            let content = Data("first half, second half".utf8)
            let digest = Digest.sha256(of: content)
            let finish = try await registry.request(
                "PUT", "\(location)?digest=\(digest)", headers: ["Content-Range": "12-22"], body: Data("second half".utf8))
            #expect(finish.status == 201)
            #expect(try await registry.request("GET", "/v2/resume/blobs/\(digest)").body == content)
        }
    }

    @Test func idleUploadsExpire() throws {
        let storage = try RegistryStorage(root: makeTemporaryDirectory())
        let old = try storage.createUpload("a")
        let fresh = try storage.createUpload("a")
        let past = Date().addingTimeInterval(-7200)
        var times = [timespec(tv_sec: Int(past.timeIntervalSince1970), tv_nsec: 0),
                     timespec(tv_sec: Int(past.timeIntervalSince1970), tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, storage.uploadDataPath(old), &times, 0) == 0)
        #expect(storage.expireUploads(olderThan: 3600) == [old])
        #expect(!storage.uploadExists("a", old))
        #expect(storage.uploadExists("a", fresh))
    }

    @Test func interruptedWritesNeverBecomeVisible() throws {
        let root = makeTemporaryDirectory()
        let storage = try RegistryStorage(root: root)
        // What a kill -9 leaves: a half-written temp file and an unfinished upload.
        try Data("half a manifest".utf8).write(to: URL(fileURLWithPath: "\(root)/tmp/leftover"))
        let id = try storage.createUpload("a")
        try Data("partial blob".utf8).write(to: URL(fileURLWithPath: storage.uploadDataPath(id)))
        let reopened = try RegistryStorage(root: root)
        #expect(FileIO.list("\(root)/tmp").isEmpty)
        #expect(FileIO.list("\(root)/blobs/sha256").isEmpty)
        #expect(try reopened.rehashUpload(id).size == 12)
        #expect(reopened.blobSize("a", Digest.sha256(of: Data("partial blob".utf8))) == nil)
    }

    @Test func garbageCollectionKeepsReferencedBlobs() async throws {
        let root = makeTemporaryDirectory()
        var kept: [Digest] = []
        var orphan = Digest.sha256(of: Data())
        var untaggedLayer = orphan
        try await withRegistry(root: root) { registry in
            let (bytes, digest) = try await registry.pushImage("gc/app", tag: "v1", layer: Data("layer one".utf8))
            let manifest = try JSONDecoder().decode(Manifest.self, from: bytes)
            kept = [digest, manifest.config.digest, manifest.layers[0].digest]
            // A manifest stored by digest only, inside an index: both kept.
            let (childBytes, childDigest) = try await registry.pushImage("gc/app", tag: "temp", layer: Data("layer two".utf8))
            untaggedLayer = try JSONDecoder().decode(Manifest.self, from: childBytes).layers[0].digest
            #expect(try await registry.request("DELETE", "/v2/gc/app/manifests/temp").status == 202)
            let index = Index(manifests: [Descriptor(mediaType: MediaType.ociManifest, digest: childDigest, size: Int64(childBytes.count))])
            let indexBytes = try JSONEncoder().encode(index)
            let put = try await registry.request(
                "PUT", "/v2/gc/app/manifests/\(Digest.sha256(of: indexBytes))", headers: ["Content-Type": MediaType.ociIndex],
                body: indexBytes)
            #expect(put.status == 201)
            kept += [childDigest, untaggedLayer, Digest.sha256(of: indexBytes)]
            orphan = try await registry.pushBlob("gc/app", Data("nobody refers to me".utf8))
        }
        let collector = RegistryGarbageCollector(storage: try RegistryStorage(root: root))
        let dryRun = try collector.collect(dryRun: true)
        #expect(dryRun.removed.map(\.digest) == [orphan])
        #expect(FileIO.exists(collector.storage.blobPath(orphan)))

        let report = try collector.collect(dryRun: false)
        #expect(report.removed.map(\.digest) == [orphan])
        #expect(report.removedBytes == 19)
        #expect(!FileIO.exists(collector.storage.blobPath(orphan)))
        #expect(!FileIO.exists(collector.storage.layerLinkPath("gc/app", orphan)))
        for digest in kept { #expect(FileIO.exists(collector.storage.blobPath(digest)), "\(digest) removed") }
        #expect(try collector.collect(dryRun: false).removed.isEmpty)
    }

    @Test func servesTLS() async throws {
        let directory = makeTemporaryDirectory()
        let (status, output) = try await runProcess("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "\(directory)/key.pem", "-out", "\(directory)/cert.pem",
        ])
        try #require(status == 0, "openssl failed: \(output)")
        try await withRegistry(tls: ("\(directory)/cert.pem", "\(directory)/key.pem")) { registry in
            let result = try await registry.request("GET", "/v2/", extraCurlArguments: ["--cacert", "\(directory)/cert.pem"])
            #expect(result.status == 200)
            #expect(result.header("Docker-Distribution-API-Version") == "registry/2.0")
            // Without the CA the client refuses the certificate.
            await #expect(throws: TestFailure.self) { _ = try await registry.request("GET", "/v2/") }
        }
    }

    @Test func routesSplitAtTheLastEndpointMarker() {
        #expect(RegistryRoute(path: "/v2/") == .base)
        #expect(RegistryRoute(path: "/v2") == .base)
        #expect(RegistryRoute(path: "/v2/_catalog") == .catalog)
        #expect(RegistryRoute(path: "/v2/a/blobs/b/manifests/latest") == .manifest(name: "a/blobs/b", reference: "latest"))
        #expect(RegistryRoute(path: "/v2/a/manifests/b/blobs/sha256:x") == .blob(name: "a/manifests/b", digest: "sha256:x"))
        #expect(RegistryRoute(path: "/v2/a/b/blobs/uploads/") == .upload(name: "a/b", session: ""))
        #expect(RegistryRoute(path: "/v2/a/b/blobs/uploads") == .upload(name: "a/b", session: ""))
        #expect(RegistryRoute(path: "/v2/a/b/blobs/uploads/123") == .upload(name: "a/b", session: "123"))
        #expect(RegistryRoute(path: "/v2/a/tags/list") == .tags(name: "a"))
        #expect(RegistryRoute(path: "/v2/a/referrers/sha256:x") == .referrers(name: "a", digest: "sha256:x"))
        #expect(RegistryRoute(path: "/v3/a/tags/list") == nil)
        #expect(RegistryRoute(path: "/v2/a/manifests/") == nil)
    }
}
