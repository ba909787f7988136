import AsyncHTTPClient
import BerthDistribution
import BerthOCI
import Foundation
import NIOCore
import NIOHTTP1

/// A manifest or index exactly as the registry sent it.
public struct FetchedManifest: Sendable {
    public var bytes: [UInt8]
    public var mediaType: String
    /// The digest of `bytes` (checked against what was asked for or announced).
    public var digest: Digest
}

extension RegistryClient {
    /// The media types a pull accepts: OCI and Docker schema 2 manifests and indexes.
    public static let acceptedManifestTypes = [
        MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest,
    ]

    /// Manifests larger than this are refused (distribution's own limit is 4 MiB).
    static let manifestLimit = 4 << 20

    /// GET /v2/<name>/manifests/<tag|digest>, verified: by digest against that digest, by tag
    /// against the `Docker-Content-Digest` the registry announces.
    public func fetchManifest(_ repository: String, reference: String) async throws -> FetchedManifest {
        let path = "/v2/\(repository)/manifests/\(reference)"
        let response = try await send(.GET, path, headers: ["Accept": Self.acceptedManifestTypes.joined(separator: ", ")])
        guard response.status.code == 200 else {
            if response.status.code == 404 {
                let summary = await Self.errorSummary(response)
                if summary == nil || summary?.contains("MANIFEST_UNKNOWN") == true || summary?.contains("NAME_UNKNOWN") == true {
                    throw RegistryClientError.manifestUnknown("\(endpoint.registry)/\(repository):\(reference)"
                        .replacingOccurrences(of: ":sha256:", with: "@sha256:"))
                }
                throw RegistryClientError.registry(status: 404, summary: summary ?? "not found", url: url(path))
            }
            throw await failure(response, url: url(path))
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: Self.manifestLimit)
        } catch {
            throw RegistryClientError.protocolViolation("manifest \(reference) is larger than \(Self.manifestLimit) bytes")
        }
        let bytes = Array(body.readableBytesView)
        let actual = Digest.sha256(of: bytes)
        if let requested = try? Digest(parsing: reference), requested != actual {
            throw RegistryClientError.digestMismatch(what: "manifest \(reference)", expected: requested, actual: actual)
        }
        if let announced = response.headers.first(name: RegistryHeader.contentDigest).flatMap({ try? Digest(parsing: $0) }),
           announced.algorithm == actual.algorithm, announced != actual {
            throw RegistryClientError.digestMismatch(what: "manifest \(reference)", expected: announced, actual: actual)
        }
        let probe = try? JSONDecoder().decode(MediaTypeProbe.self, from: Data(bytes))
        let headerType = response.headers.first(name: "Content-Type")?.split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard let mediaType = probe?.mediaType ?? headerType.flatMap({ Self.acceptedManifestTypes.contains($0) ? $0 : nil })
                ?? probe?.effectiveMediaType else {
            throw RegistryClientError.protocolViolation("manifest \(reference) is not a manifest or index")
        }
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: actual)
    }

    /// PUT /v2/<name>/manifests/<reference> with the manifest's exact bytes; returns its digest.
    @discardableResult
    public func putManifest(_ bytes: [UInt8], mediaType: String, to repository: String, reference: String) async throws -> Digest {
        let headers: HTTPHeaders = ["Content-Type": mediaType, "Content-Length": String(bytes.count)]
        let response = try await expect([201], .PUT, "/v2/\(repository)/manifests/\(reference)", headers: headers) {
            .bytes(ByteBuffer(bytes: bytes))
        }
        _ = try? await response.body.collect(upTo: 1 << 20)
        let digest = Digest.sha256(of: bytes)
        if let announced = response.headers.first(name: RegistryHeader.contentDigest).flatMap({ try? Digest(parsing: $0) }),
           announced.algorithm == digest.algorithm, announced != digest {
            throw RegistryClientError.digestMismatch(what: "pushed manifest", expected: digest, actual: announced)
        }
        return digest
    }

    /// The repository's tags (GET /v2/<name>/tags/list, following `Link` pagination).
    public func listTags(_ repository: String) async throws -> [String] {
        struct TagList: Decodable { var tags: [String]? }
        var tags: [String] = []
        var next: String? = "/v2/\(repository)/tags/list"
        while let path = next {
            let response = try await expect([200], .GET, path)
            let body = try await response.body.collect(upTo: 16 << 20)
            guard let page = try? JSONDecoder().decode(TagList.self, from: Data(body.readableBytesView)) else {
                throw RegistryClientError.protocolViolation("tags/list answer is not a tag list")
            }
            tags += page.tags ?? []
            // Link: </v2/…/tags/list?last=…&n=…>; rel="next"
            next = response.headers.first(name: "Link").flatMap { link in
                guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close else { return nil }
                return String(link[link.index(after: open)..<close])
            }
        }
        return tags
    }

    /// GET /v2/ through the auth flow: succeeds when the registry accepts the session's credentials.
    public func checkAccess() async throws {
        let response = try await expect([200], .GET, "/v2/")
        _ = try? await response.body.collect(upTo: 1 << 20)
    }
}
