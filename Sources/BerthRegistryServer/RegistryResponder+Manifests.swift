import BerthDistribution
import BerthOCI
import Foundation
import Hummingbird
import NIOCore

extension RegistryResponder {
    // MARK: Manifests

    /// The manifest digest a reference (tag or digest) names in the repository.
    private func resolve(_ name: String, _ reference: String) throws -> Digest {
        if reference.contains(":") { return try Self.parseDigest(reference) }
        guard TagName.isValid(reference), let digest = storage.resolveTag(name, reference) else {
            throw RegistryFailure(.manifestUnknown, "manifest unknown: \(name):\(reference)",
                                  detail: .object(["tag": .string(reference)]))
        }
        return digest
    }

    func getManifest(_ request: Request, name: String, reference: String) throws -> Response {
        var digest = try resolve(name, reference)
        guard var mediaType = storage.manifestMediaType(name, digest), var bytes = FileIO.read(storage.blobPath(digest)) else {
            throw RegistryFailure(.manifestUnknown, "manifest unknown: \(name)@\(reference)")
        }
        // A client that does not accept indexes gets the linux/amd64 image for a tag, as distribution
        // does; a digest names exactly one manifest, which is what the client verifies it against.
        let accepted = Self.acceptedMediaTypes(request)
        if !reference.contains(":"), MediaType.indexes.contains(mediaType), !accepted.isEmpty, !accepted.contains(mediaType), !accepted.contains("*/*"),
           let index = try? JSONDecoder().decode(Index.self, from: bytes),
           let child = index.manifests.first(where: {
               accepted.contains($0.mediaType) && $0.platform.map { $0.os == "linux" && $0.architecture == "amd64" } == true
           }),
           let childType = storage.manifestMediaType(name, child.digest), let childBytes = FileIO.read(storage.blobPath(child.digest)) {
            digest = child.digest
            mediaType = childType
            bytes = childBytes
        }
        let headers: HTTPFields = [
            .contentType: mediaType, .dockerContentDigest: digest.description, .contentLength: String(bytes.count),
            .eTag: "\"\(digest)\"",
        ]
        if request.method == .head {
            return Response(status: .ok, headers: headers, body: ResponseBody())
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The media types the request's Accept headers name, without those given `q=0` (refused).
    static func acceptedMediaTypes(_ request: Request) -> Set<String> {
        var types: Set<String> = []
        for value in request.headers[values: .accept] {
            for item in value.split(separator: ",") {
                let fields = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let type = fields.first, !type.isEmpty else { continue }
                let refused = fields.dropFirst().contains { field in
                    let parameter = field.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    return parameter.count == 2 && parameter[0].lowercased() == "q" && Double(parameter[1]) == 0
                }
                if !refused { types.insert(type) }
            }
        }
        return types
    }

    func putManifest(_ request: Request, name: String, reference: String) async throws -> Response {
        let limit = maximumManifestSize
        let tooLarge = RegistryFailure(.manifestInvalid, "manifest exceeds the \(limit / (1 << 20)) MiB limit", status: 413)
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { throw tooLarge }
        var collected = ByteBuffer()
        for try await chunk in request.body {
            guard collected.readableBytes + chunk.readableBytes <= limit else { throw tooLarge }
            collected.writeImmutableBuffer(chunk)
        }
        let bytes = Data(collected.readableBytesView)
        let digest = Digest.sha256(of: bytes)

        var tag: String?
        if reference.contains(":") {
            let named = try Self.parseContentDigest(reference)
            guard named == digest else {
                throw RegistryFailure(.digestInvalid, "manifest digest \(digest) does not match \(named)",
                                      detail: RegistryFailure.digestDetail(reference))
            }
        } else {
            guard TagName.isValid(reference) else {
                throw RegistryFailure(.manifestInvalid, "invalid tag \"\(reference)\"", detail: .object(["tag": .string(reference)]))
            }
            tag = reference
        }

        guard let probe = try? JSONDecoder().decode(MediaTypeProbe.self, from: bytes) else {
            throw RegistryFailure(.manifestInvalid, "manifest is not valid JSON")
        }
        let contentType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
        if let declared = probe.mediaType, let contentType, contentType != declared {
            throw RegistryFailure(.manifestInvalid, "Content-Type \(contentType) does not match the manifest's mediaType \(declared)")
        }
        guard let mediaType = probe.mediaType ?? contentType ?? probe.effectiveMediaType else {
            throw RegistryFailure(.manifestInvalid, "manifest has no media type")
        }

        let subject: Descriptor?
        let referrer: Descriptor
        if probe.config != nil, !MediaType.indexes.contains(mediaType) {
            guard let manifest = try? JSONDecoder().decode(Manifest.self, from: bytes) else {
                throw RegistryFailure(.manifestInvalid, "invalid image manifest")
            }
            for descriptor in [manifest.config] + manifest.layers where (descriptor.urls ?? []).isEmpty {
                guard storage.blobSize(name, descriptor.digest) != nil else {
                    throw RegistryFailure(.manifestBlobUnknown, "manifest references unknown blob \(descriptor.digest)",
                                          detail: RegistryFailure.digestDetail(descriptor.digest.description))
                }
            }
            subject = manifest.subject
            referrer = Self.descriptor(mediaType, digest, bytes.count, manifest.artifactType ?? manifest.config.mediaType, manifest.annotations)
        } else if probe.manifests != nil {
            guard let index = try? JSONDecoder().decode(Index.self, from: bytes) else {
                throw RegistryFailure(.manifestInvalid, "invalid image index")
            }
            for child in index.manifests {
                let known = MediaType.manifests.contains(child.mediaType) || MediaType.indexes.contains(child.mediaType)
                    ? storage.manifestMediaType(name, child.digest) != nil
                    : storage.blobSize(name, child.digest) != nil
                guard known else {
                    throw RegistryFailure(.manifestBlobUnknown, "index references unknown manifest \(child.digest)",
                                          detail: RegistryFailure.digestDetail(child.digest.description))
                }
            }
            subject = index.subject
            referrer = Self.descriptor(mediaType, digest, bytes.count, index.artifactType, index.annotations)
        } else {
            throw RegistryFailure(.manifestInvalid, "unsupported manifest type \(mediaType): expected an image manifest or index")
        }

        try storage.putManifest(
            name, bytes: bytes, digest: digest, mediaType: mediaType, tag: tag,
            referrer: subject.map { (subject: $0.digest, descriptor: referrer) })
        var headers: HTTPFields = [
            .location: "/v2/\(name)/manifests/\(digest)", .dockerContentDigest: digest.description, .contentLength: "0",
        ]
        if let subject { headers[.ociSubject] = subject.digest.description }
        return Response(status: .created, headers: headers)
    }

    private static func descriptor(
        _ mediaType: String, _ digest: Digest, _ size: Int, _ artifactType: String?, _ annotations: [String: String]?
    ) -> Descriptor {
        var descriptor = Descriptor(mediaType: mediaType, digest: digest, size: Int64(size), annotations: annotations)
        descriptor.artifactType = artifactType
        return descriptor
    }

    func deleteManifest(name: String, reference: String) throws -> Response {
        if reference.contains(":") {
            let digest = try Self.parseDigest(reference)
            guard storage.deleteManifest(name, digest) else {
                throw RegistryFailure(.manifestUnknown, "manifest unknown: \(name)@\(reference)")
            }
        } else {
            guard TagName.isValid(reference), storage.deleteTag(name, reference) else {
                throw RegistryFailure(.manifestUnknown, "manifest unknown: \(name):\(reference)")
            }
        }
        return Response(status: .accepted, headers: [.contentLength: "0"])
    }

    // MARK: Listings

    func tags(_ request: Request, name: String) throws -> Response {
        guard let all = storage.tags(name) else {
            throw RegistryFailure(.nameUnknown, "repository \(name) not known to registry", detail: .object(["name": .string(name)]))
        }
        let (page, link) = Self.paginate(all, by: TagName.precedes, request: request, path: "/v2/\(name)/tags/list")
        struct TagList: Encodable { var name: String; var tags: [String] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Self.jsonResponse(try encoder.encode(TagList(name: name, tags: page)), headers: link)
    }

    func catalog(_ request: Request, caller: Caller) -> Response {
        var repositories = storage.repositories()
        if !access.isOpen {
            let user = caller.user ?? caller.token?.user
            repositories = repositories.filter { access.actions(for: user, repository: $0).contains(.pull) }
        }
        let (page, link) = Self.paginate(repositories, by: <, request: request, path: "/v2/_catalog")
        struct Catalog: Encodable { var repositories: [String] }
        return Self.jsonResponse((try? JSONEncoder().encode(Catalog(repositories: page))) ?? Data(), headers: link)
    }

    /// The spec's pagination of entries sorted `by` an order: those after `last`, at most `n`, and
    /// a `Link` to the next page.
    static func paginate(_ sorted: [String], by order: (String, String) -> Bool, request: Request, path: String)
        -> ([String], HTTPFields) {
        let query = request.uri.queryParameters
        var entries = sorted
        if let last = query.get("last") { entries = entries.filter { order(last, $0) } }
        guard let limit = query.get("n").flatMap({ Int($0) }), limit >= 0, entries.count > limit else {
            return (entries, [:])
        }
        let page = Array(entries.prefix(limit))
        guard let next = page.last else { return (page, [:]) }
        let escaped = next.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? next
        return (page, [.linkHeader: "<\(path)?n=\(limit)&last=\(escaped)>; rel=\"next\""])
    }

    // MARK: Referrers

    func referrers(_ request: Request, name: String, digest text: String) throws -> Response {
        let subject = try Self.parseDigest(text)
        var descriptors = storage.referrers(name, subject: subject)
        var headers: HTTPFields = [:]
        if let artifactType = request.uri.queryParameters.get("artifactType") {
            descriptors = descriptors.filter { $0.artifactType == artifactType }
            headers[.ociFiltersApplied] = "artifactType"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Self.jsonResponse(try encoder.encode(Index(manifests: descriptors)), contentType: MediaType.ociIndex, headers: headers)
    }

    // MARK: Token service

    /// A token for `scopes` (each a space-separated list), as much of them as `caller` may have.
    func tokenResponse(service: String?, scopes: [String], caller: Caller) throws -> Response {
        guard let settings = access.token else {
            throw RegistryFailure(.unsupported, "this registry has no token service (set auth.token in the configuration)", status: 404)
        }
        if let service, service != settings.service {
            throw RegistryFailure(.denied, "unknown service \(service); this registry is \(settings.service)")
        }
        var grants: [BearerToken.Access] = []
        for scope in scopes.flatMap({ Scope.parseList(String($0)) }) {
            switch scope.type {
            case "repository":
                guard RepositoryName(scope.name) != nil else { continue }
                var requested = scope.actions
                if requested.contains(.all) { requested = AccessPolicy.allActions }
                let allowed = requested.intersection(access.actions(for: caller.user, repository: scope.name))
                grants.append(.init(type: "repository", name: scope.name, actions: allowed.sorted().map(\.rawValue)))
            case "registry" where scope.name == "catalog" && caller.user != nil:
                grants.append(.init(type: "registry", name: "catalog", actions: ["*"]))
            default:
                continue
            }
        }
        let now = Date()
        let issued = Int64(now.timeIntervalSince1970)
        let claims = BearerToken(
            iss: settings.issuer, sub: caller.user ?? "", aud: settings.service, iat: issued, nbf: issued,
            exp: issued + Int64(settings.lifetime), jti: UUID().uuidString, access: grants)
        let token = claims.signed(with: settings.secret)
        struct TokenBody: Encodable {
            var token: String
            var access_token: String
            var expires_in: Int
            var issued_at: String
        }
        let body = TokenBody(
            token: token, access_token: token, expires_in: Int(settings.lifetime),
            issued_at: ISO8601DateFormatter().string(from: now))
        return Self.jsonResponse(try JSONEncoder().encode(body))
    }

    /// The token specification's OAuth2 form (what containerd tries first when it has
    /// credentials): a POST of `grant_type=password` with the user, password, service and scope
    /// as form fields instead of a GET with Basic credentials. Refresh tokens are not issued, so
    /// no other grant is taken.
    func oauthTokenResponse(_ request: Request, caller: inout Caller) async throws -> Response {
        let limit = 64 << 10
        var collected = ByteBuffer()
        for try await chunk in request.body {
            guard collected.readableBytes + chunk.readableBytes <= limit else {
                throw RegistryFailure(.unsupported, "token request exceeds \(limit) bytes", status: 413)
            }
            collected.writeImmutableBuffer(chunk)
        }
        let form = Self.formFields(String(decoding: collected.readableBytesView, as: UTF8.self))
        func field(_ name: String) -> String? { form.first { $0.0 == name }?.1 }
        guard field("grant_type") == "password" else {
            throw RegistryFailure(.unsupported, "unsupported grant_type \(field("grant_type") ?? "(none)"); this token service takes password", status: 400)
        }
        guard let users = access.users, let user = field("username"), let password = field("password"),
              await credentials.verify(user: user, password: password, users: users) else {
            throw RegistryFailure(.unauthorized, "invalid username or password")
        }
        caller = Caller(user: user, token: nil)
        return try tokenResponse(service: field("service"), scopes: form.filter { $0.0 == "scope" }.map(\.1), caller: caller)
    }

    /// `application/x-www-form-urlencoded` fields in order (`+` is a space, then percent-decoding).
    static func formFields(_ body: String) -> [(String, String)] {
        body.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decoded(parts[0]), parts.count == 2 ? decoded(parts[1]) : "")
        }
    }
}
