import BerthDistribution
import BerthOCI
import Foundation
import Testing
@testable import BerthRegistryServer

@Suite struct EndpointTests {
    @Test func baseAnswersWithTheAPIVersion() async throws {
        try await withRegistry { registry in
            let result = try await registry.request("GET", "/v2/")
            #expect(result.status == 200)
            #expect(result.header("Docker-Distribution-API-Version") == "registry/2.0")
        }
    }

    @Test func monolithicBlobPushThenGetHeadRangeAndDelete() async throws {
        try await withRegistry { registry in
            let content = Data("0123456789abcdef".utf8)
            let digest = try await registry.pushBlob("a/b", content)

            let get = try await registry.request("GET", "/v2/a/b/blobs/\(digest)")
            #expect(get.status == 200)
            #expect(get.body == content)
            #expect(get.header("Docker-Content-Digest") == digest.description)

            let head = try await registry.request("HEAD", "/v2/a/b/blobs/\(digest)")
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "16")
            #expect(head.body.isEmpty)

            let range = try await registry.request("GET", "/v2/a/b/blobs/\(digest)", headers: ["Range": "bytes=4-7"])
            #expect(range.status == 206)
            #expect(range.text == "4567")
            #expect(range.header("Content-Range") == "bytes 4-7/16")

            let unsatisfiable = try await registry.request("GET", "/v2/a/b/blobs/\(digest)", headers: ["Range": "bytes=99-"])
            #expect(unsatisfiable.status == 416)
            #expect(unsatisfiable.header("Content-Range") == "bytes */16")
            #expect(unsatisfiable.errorCode == nil)

            // RFC 9110: another unit must be ignored; several ranges or a malformed one may be. All
            // get the whole blob.
            for ignored in ["items=0-1", "bytes=0-1,3-4", "bytes=7-3", "bytes=x-"] {
                let whole = try await registry.request("GET", "/v2/a/b/blobs/\(digest)", headers: ["Range": ignored])
                #expect(whole.status == 200, "Range: \(ignored)")
                #expect(whole.body == content, "Range: \(ignored)")
            }

            // A lookup by another algorithm the image-spec registers finds nothing; pushing by one
            // the server does not verify is refused.
            let sha512 = "sha512:" + String(repeating: "ab", count: 64)
            let unknown = try await registry.request("GET", "/v2/a/b/blobs/\(sha512)")
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "BLOB_UNKNOWN")
            let refused = try await registry.request("POST", "/v2/a/b/blobs/uploads/?digest=\(sha512)", body: content)
            #expect(refused.status == 400)
            #expect(refused.errorCode == "DIGEST_INVALID")
            #expect(try FileManager.default.contentsOfDirectory(atPath: registry.root + "/uploads").isEmpty)

            // Another repository cannot read it without a mount.
            #expect(try await registry.request("GET", "/v2/other/blobs/\(digest)").errorCode == "BLOB_UNKNOWN")

            #expect(try await registry.request("DELETE", "/v2/a/b/blobs/\(digest)").status == 202)
            let gone = try await registry.request("GET", "/v2/a/b/blobs/\(digest)")
            #expect(gone.status == 404)
            #expect(gone.errorCode == "BLOB_UNKNOWN")
        }
    }

    @Test func expectContinueGetsAnInterimResponseBeforeTheBodyIsSent() async throws {
        try await withRegistry { registry in
            let scratch = makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let content = Data(repeating: 0x61, count: 64 << 10)
            try content.write(to: URL(fileURLWithPath: "\(scratch)/blob"))
            // Without the interim response curl would wait out --expect100-timeout, then send anyway.
            let (status, output) = try await runProcess("/usr/bin/curl", [
                "-sS", "-o", "/dev/null", "-D", "-", "-X", "POST", "-H", "Expect: 100-continue", "--expect100-timeout", "5",
                "--data-binary", "@\(scratch)/blob",
                "\(registry.scheme)://127.0.0.1:\(registry.port)/v2/a/b/blobs/uploads/?digest=\(Digest.sha256(of: content))",
            ])
            #expect(status == 0)
            #expect(output.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(output)")
            #expect(output.contains("HTTP/1.1 201 Created\r\n"), "\(output)")
        }
    }

    @Test func chunkedUploadWithOutOfOrderChunkAndStatus() async throws {
        try await withRegistry { registry in
            let start = try await registry.request("POST", "/v2/chunked/blobs/uploads/")
            #expect(start.status == 202)
            let location = try #require(start.header("Location"))
            #expect(start.header("Range") == "0-0")
            #expect(start.header("Docker-Upload-UUID") != nil)

            let first = try await registry.request(
                "PATCH", location, headers: ["Content-Range": "0-4", "Content-Type": "application/octet-stream"], body: Data("hello".utf8))
            #expect(first.status == 202)
            #expect(first.header("Range") == "0-4")

            let outOfOrder = try await registry.request("PATCH", location, headers: ["Content-Range": "10-14"], body: Data("xxxxx".utf8))
            #expect(outOfOrder.status == 416)
            #expect(outOfOrder.header("Range") == "0-4")

            let status = try await registry.request("GET", location)
            #expect(status.status == 204)
            #expect(status.header("Range") == "0-4")

            let second = try await registry.request("PATCH", location, headers: ["Content-Range": "5-10"], body: Data(" world".utf8))
            #expect(second.status == 202)

            let content = Data("hello world!".utf8)
            let digest = Digest.sha256(of: content)
            let finish = try await registry.request("PUT", "\(location)?digest=\(digest)", body: Data("!".utf8))
            #expect(finish.status == 201)
            #expect(finish.header("Location") == "/v2/chunked/blobs/\(digest)")
            #expect(finish.header("Docker-Content-Digest") == digest.description)
            #expect(try await registry.request("GET", "/v2/chunked/blobs/\(digest)").body == content)
            #expect(try await registry.request("GET", location).errorCode == "BLOB_UPLOAD_UNKNOWN")
        }
    }

    /// Chunks of odd sizes put the upload's file offsets off block boundaries (where the storage
    /// switches between direct and cached writes), and a blob larger than one send chunk makes
    /// full and Range GETs cross read boundaries at unaligned offsets.
    @Test func largeChunkedUploadServesEveryByteAndRange() async throws {
        try await withRegistry { registry in
            var generator = SystemRandomNumberGenerator()
            let content = Data((0..<1_300_007).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let start = try await registry.request("POST", "/v2/big/blobs/uploads/")
            var location = try #require(start.header("Location"))
            var offset = 0
            for size in [5_003, 1_048_576 + 4_095, 8_192] {
                let chunk = content[offset..<(offset + size)]
                let patch = try await registry.request(
                    "PATCH", location, headers: ["Content-Range": "\(offset)-\(offset + size - 1)"], body: Data(chunk))
                #expect(patch.status == 202)
                location = try #require(patch.header("Location"))
                offset += size
            }
            let digest = Digest.sha256(of: content)
            let finish = try await registry.request("PUT", "\(location)?digest=\(digest)", body: Data(content[offset...]))
            #expect(finish.status == 201)

            #expect(try await registry.request("GET", "/v2/big/blobs/\(digest)").body == content)
            for (first, last) in [(0, 0), (4_097, 600_000), (258_047, 258_048), (1_000_000, 1_300_006)] {
                let range = try await registry.request("GET", "/v2/big/blobs/\(digest)", headers: ["Range": "bytes=\(first)-\(last)"])
                #expect(range.status == 206)
                #expect(range.body == content[first...last])
            }
            let suffix = try await registry.request("GET", "/v2/big/blobs/\(digest)", headers: ["Range": "bytes=-1000"])
            #expect(suffix.body == content.suffix(1000))
        }
    }

    @Test func wrongDigestStoresNothing() async throws {
        try await withRegistry { registry in
            let claimed = Digest.sha256(of: Data("something else".utf8))
            let monolithic = try await registry.request("POST", "/v2/x/blobs/uploads/?digest=\(claimed)", body: Data("actual".utf8))
            #expect(monolithic.status == 400)
            #expect(monolithic.errorCode == "DIGEST_INVALID")

            let start = try await registry.request("POST", "/v2/x/blobs/uploads/")
            let location = try #require(start.header("Location"))
            let finish = try await registry.request("PUT", "\(location)?digest=\(claimed)", body: Data("actual".utf8))
            #expect(finish.errorCode == "DIGEST_INVALID")

            #expect(try await registry.request("HEAD", "/v2/x/blobs/\(claimed)").status == 404)
            #expect(try await registry.request("HEAD", "/v2/x/blobs/\(Digest.sha256(of: Data("actual".utf8)))").status == 404)
            #expect(FileIO.list("\(registry.root)/blobs/sha256").isEmpty)
            #expect(FileIO.list("\(registry.root)/uploads").isEmpty)

            let malformed = try await registry.request("POST", "/v2/x/blobs/uploads/?digest=sha256:nothex", body: Data("a".utf8))
            #expect(malformed.errorCode == "DIGEST_INVALID")
        }
    }

    @Test func cancelledUploadIsGone() async throws {
        try await withRegistry { registry in
            let location = try #require(try await registry.request("POST", "/v2/x/blobs/uploads/").header("Location"))
            _ = try await registry.request("PATCH", location, body: Data("partial".utf8))
            #expect(try await registry.request("DELETE", location).status == 204)
            #expect(try await registry.request("GET", location).status == 404)
            #expect(FileIO.list("\(registry.root)/blobs/sha256").isEmpty)
        }
    }

    @Test func crossRepositoryMount() async throws {
        try await withRegistry { registry in
            let digest = try await registry.pushBlob("source/repo", Data("shared layer".utf8))
            let mounted = try await registry.request("POST", "/v2/target/blobs/uploads/?mount=\(digest)&from=source/repo")
            #expect(mounted.status == 201)
            #expect(mounted.header("Location") == "/v2/target/blobs/\(digest)")
            #expect(try await registry.request("GET", "/v2/target/blobs/\(digest)").text == "shared layer")

            let missing = Digest.sha256(of: Data("nowhere".utf8))
            let fallback = try await registry.request("POST", "/v2/target/blobs/uploads/?mount=\(missing)&from=source/repo")
            #expect(fallback.status == 202)
            #expect(fallback.header("Location")?.hasPrefix("/v2/target/blobs/uploads/") == true)
        }
    }

    @Test func manifestsByTagAndDigest() async throws {
        try await withRegistry { registry in
            let (bytes, digest) = try await registry.pushImage("pixelpotato/python-helloworld", tag: "v1.0.0")

            for reference in ["v1.0.0", digest.description] {
                let get = try await registry.request("GET", "/v2/pixelpotato/python-helloworld/manifests/\(reference)")
                #expect(get.status == 200)
                #expect(get.body == bytes)
                #expect(get.header("Content-Type") == MediaType.ociManifest)
                #expect(get.header("Docker-Content-Digest") == digest.description)
                let head = try await registry.request("HEAD", "/v2/pixelpotato/python-helloworld/manifests/\(reference)")
                #expect(head.status == 200)
                #expect(head.header("Content-Length") == String(bytes.count))
            }
            let unknown = try await registry.request("GET", "/v2/pixelpotato/python-helloworld/manifests/nope")
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "MANIFEST_UNKNOWN")

            // Deleting the tag leaves the manifest reachable by digest; deleting the digest removes it.
            #expect(try await registry.request("DELETE", "/v2/pixelpotato/python-helloworld/manifests/v1.0.0").status == 202)
            #expect(try await registry.request("GET", "/v2/pixelpotato/python-helloworld/manifests/v1.0.0").status == 404)
            #expect(try await registry.request("GET", "/v2/pixelpotato/python-helloworld/manifests/\(digest)").status == 200)
            #expect(try await registry.request("DELETE", "/v2/pixelpotato/python-helloworld/manifests/\(digest)").status == 202)
            #expect(try await registry.request("GET", "/v2/pixelpotato/python-helloworld/manifests/\(digest)").status == 404)
        }
    }

    @Test func manifestNamingAMissingBlobIsRefused() async throws {
        try await withRegistry { registry in
            let config = try await registry.pushBlob("r", Data("{}".utf8))
            let missing = Digest.sha256(of: Data("never pushed".utf8))
            let manifest = Manifest(
                config: Descriptor(mediaType: MediaType.ociConfig, digest: config, size: 2),
                layers: [Descriptor(mediaType: MediaType.ociLayerGzip, digest: missing, size: 12)])
            let result = try await registry.request(
                "PUT", "/v2/r/manifests/latest", headers: ["Content-Type": MediaType.ociManifest], body: try JSONEncoder().encode(manifest))
            #expect(result.status == 400)
            #expect(result.errorCode == "MANIFEST_BLOB_UNKNOWN")
            #expect(try await registry.request("GET", "/v2/r/manifests/latest").status == 404)

            let index = Index(manifests: [Descriptor(mediaType: MediaType.ociManifest, digest: missing, size: 10)])
            let indexResult = try await registry.request(
                "PUT", "/v2/r/manifests/multi", headers: ["Content-Type": MediaType.ociIndex], body: try JSONEncoder().encode(index))
            #expect(indexResult.errorCode == "MANIFEST_BLOB_UNKNOWN")
        }
    }

    @Test func manifestDigestMustMatchItsReference() async throws {
        try await withRegistry { registry in
            let (bytes, _) = try await registry.pushImage("r", tag: "one")
            let wrong = Digest.sha256(of: Data("x".utf8))
            let result = try await registry.request(
                "PUT", "/v2/r/manifests/\(wrong)", headers: ["Content-Type": MediaType.ociManifest], body: bytes)
            #expect(result.errorCode == "DIGEST_INVALID")
        }
    }

    @Test func oversizedManifestIsRejected() async throws {
        try await withRegistry { registry in
            let huge = Data(#"{"schemaVersion":2,"annotations":{"a":""#.utf8) + Data(repeating: UInt8(ascii: "x"), count: 5 << 20)
                + Data(#""}}"#.utf8)
            let result = try await registry.request("PUT", "/v2/r/manifests/big", headers: ["Content-Type": MediaType.ociManifest], body: huge)
            #expect(result.status == 413)
            #expect(result.errorCode == "MANIFEST_INVALID")
        }
    }

    @Test(arguments: ["/v2/a/../b/manifests/latest", "/v2/UPPER/manifests/latest", "/v2/a//b/tags/list",
                      "/v2/-a/blobs/uploads/", "/v2/../blobs/sha256:\(String(repeating: "0", count: 64))"])
    func invalidNamesAreRefused(path: String) async throws {
        try await withRegistry { registry in
            let result = try await registry.request("GET", path)
            #expect(result.status == 400)
            #expect(result.errorCode == "NAME_INVALID")
        }
    }

    @Test func tagsListAndCatalogPaginate() async throws {
        try await withRegistry { registry in
            for tag in ["c", "a", "B", "d"] { try await registry.pushImage("team/app", tag: tag) }
            try await registry.pushImage("team/other", tag: "x")
            try await registry.pushImage("solo", tag: "x")

            let all = try await registry.request("GET", "/v2/team/app/tags/list")
            #expect(all.status == 200)
            // The spec's lexical order is case-insensitive (distribution 2.8.2 would put "B" first).
            #expect(try all.json()["tags"] as? [String] == ["a", "B", "c", "d"])
            #expect(try all.json()["name"] as? String == "team/app")

            let page = try await registry.request("GET", "/v2/team/app/tags/list?n=2")
            #expect(try page.json()["tags"] as? [String] == ["a", "B"])
            #expect(page.header("Link") == "</v2/team/app/tags/list?n=2&last=B>; rel=\"next\"")
            let next = try await registry.request("GET", "/v2/team/app/tags/list?n=2&last=B")
            #expect(try next.json()["tags"] as? [String] == ["c", "d"])
            #expect(next.header("Link") == nil)

            let unknown = try await registry.request("GET", "/v2/nobody/tags/list")
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "NAME_UNKNOWN")

            let catalog = try await registry.request("GET", "/v2/_catalog")
            #expect(try catalog.json()["repositories"] as? [String] == ["solo", "team/app", "team/other"])
            let catalogPage = try await registry.request("GET", "/v2/_catalog?n=1&last=solo")
            #expect(try catalogPage.json()["repositories"] as? [String] == ["team/app"])
        }
    }

    @Test func referrersListsManifestsWithASubject() async throws {
        try await withRegistry { registry in
            let (subjectBytes, subjectDigest) = try await registry.pushImage("r", tag: "v1")
            let empty = try await registry.pushBlob("r", Data("{}".utf8))
            func artifact(_ type: String) throws -> Data {
                var manifest = Manifest(config: Descriptor(mediaType: MediaType.ociEmptyJSON, digest: empty, size: 2), layers: [])
                manifest.artifactType = type
                manifest.subject = Descriptor(mediaType: MediaType.ociManifest, digest: subjectDigest, size: Int64(subjectBytes.count))
                manifest.annotations = ["kind": type]
                return try JSONEncoder().encode(manifest)
            }
            for type in ["application/vnd.example.sbom", "application/vnd.example.signature"] {
                let bytes = try artifact(type)
                let put = try await registry.request(
                    "PUT", "/v2/r/manifests/\(Digest.sha256(of: bytes))", headers: ["Content-Type": MediaType.ociManifest], body: bytes)
                #expect(put.status == 201)
                #expect(put.header("OCI-Subject") == subjectDigest.description)
            }
            let all = try await registry.request("GET", "/v2/r/referrers/\(subjectDigest)")
            #expect(all.status == 200)
            #expect(all.header("Content-Type") == MediaType.ociIndex)
            let index = try JSONDecoder().decode(Index.self, from: all.body)
            #expect(Set(index.manifests.compactMap(\.artifactType)) == ["application/vnd.example.sbom", "application/vnd.example.signature"])
            #expect(index.manifests.allSatisfy { $0.annotations?["kind"] == $0.artifactType })

            let filtered = try await registry.request("GET", "/v2/r/referrers/\(subjectDigest)?artifactType=application/vnd.example.sbom")
            #expect(filtered.header("OCI-Filters-Applied") == "artifactType")
            #expect(try JSONDecoder().decode(Index.self, from: filtered.body).manifests.map(\.artifactType) == ["application/vnd.example.sbom"])

            let none = try await registry.request("GET", "/v2/r/referrers/\(Digest.sha256(of: Data("z".utf8)))")
            #expect(none.status == 200)
            #expect(try JSONDecoder().decode(Index.self, from: none.body).manifests.isEmpty)
            #expect(try await registry.request("GET", "/v2/r/referrers/sha256:bad").errorCode == "DIGEST_INVALID")
        }
    }

    @Test func indexNeedsItsChildrenAndClientsWithoutIndexSupportGetAmd64() async throws {
        try await withRegistry { registry in
            let (bytes, digest) = try await registry.pushImage("multi", tag: "amd64")
            let index = Index(manifests: [
                Descriptor(mediaType: MediaType.ociManifest, digest: digest, size: Int64(bytes.count),
                           platform: Platform(architecture: "amd64", os: "linux")),
            ])
            let put = try await registry.request(
                "PUT", "/v2/multi/manifests/latest", headers: ["Content-Type": MediaType.ociIndex], body: try JSONEncoder().encode(index))
            #expect(put.status == 201)
            let asIndex = try await registry.request("GET", "/v2/multi/manifests/latest", headers: ["Accept": MediaType.ociIndex])
            #expect(asIndex.header("Content-Type") == MediaType.ociIndex)
            let asManifest = try await registry.request("GET", "/v2/multi/manifests/latest", headers: ["Accept": MediaType.ociManifest])
            #expect(asManifest.header("Content-Type") == MediaType.ociManifest)
            #expect(asManifest.header("Docker-Content-Digest") == digest.description)

            // A type refused with q=0 is not accepted.
            let refusingIndexes = try await registry.request(
                "GET", "/v2/multi/manifests/latest", headers: ["Accept": "\(MediaType.ociManifest), \(MediaType.ociIndex);q=0"])
            #expect(refusingIndexes.header("Docker-Content-Digest") == digest.description)

            // A digest names exactly one manifest: the index itself, whatever the client accepts.
            let indexDigest = try #require(put.header("Docker-Content-Digest"))
            let byDigest = try await registry.request(
                "GET", "/v2/multi/manifests/\(indexDigest)", headers: ["Accept": MediaType.ociManifest])
            #expect(byDigest.status == 200)
            #expect(byDigest.header("Content-Type") == MediaType.ociIndex)
            #expect(byDigest.header("Docker-Content-Digest") == indexDigest)
            #expect(Digest.sha256(of: byDigest.body).description == indexDigest)
        }
    }
}
