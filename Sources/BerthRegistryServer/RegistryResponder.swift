import BerthDistribution
import BerthOCI
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Who sent a request: an htpasswd user, the holder of a bearer token, or nobody.
struct Caller: Sendable {
    var user: String?
    var token: BearerToken?

    static let anonymous = Caller(user: nil, token: nil)

    var logName: String { user ?? token?.user ?? "-" }
}

/// Answers every request: authenticates, authorizes, dispatches to the endpoint, and logs one
/// access line.
struct RegistryResponder: HTTPResponder {
    typealias Context = RegistryRequestContext

    let storage: RegistryStorage
    /// Blob GETs are sent with sendfile through the pipeline's `FileRegionHandler`; nil under TLS.
    let transfers: FileTransfers?
    /// See `RegistryConfiguration.sendfileToLoopback`.
    let sendfileToLoopback: Bool
    let access: AccessPolicy
    let maximumManifestSize: Int
    let logger: Logger
    let uploads = UploadHashes()
    let credentials = CredentialCache()

    func respond(to request: Request, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        var caller = Caller.anonymous
        var response: Response
        do {
            response = try await handle(request, caller: &caller, channel: context.channel)
        } catch let failure as RegistryFailure {
            response = Self.errorResponse(failure)
        } catch {
            logger.error("request failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            response = Self.errorResponse(RegistryFailure(.unsupported, "internal error: \(error)", status: 500))
        }
        response.headers[HeaderField.Name(RegistryHeader.apiVersion)!] = RegistryHeader.apiVersionValue
        // The access line is written once the body has gone out, so it reports the whole transfer.
        let body = response.body
        let line: Logger.Metadata = [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "bytes": "\(body.contentLength ?? 0)", "user": "\(caller.logName)",
        ]
        let logger = logger
        response.body = ResponseBody(contentLength: body.contentLength) { writer in
            do {
                try await body.write(writer)
                logger.info("request", metadata: line.merging(["duration_ms": "\(Self.milliseconds(since: started))"]) { $1 })
            } catch {
                logger.info("request", metadata: line.merging([
                    "duration_ms": "\(Self.milliseconds(since: started))", "error": "\(error)",
                ]) { $1 })
                throw error
            }
        }
        return response
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        return String(format: "%.1f", Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }

    private func handle(_ request: Request, caller: inout Caller, channel: any Channel) async throws -> Response {
        if request.uri.path == "/token" {
            switch request.method {
            case .get:
                do {
                    caller = try await authenticate(request)
                } catch var failure as RegistryFailure {
                    // The token service itself takes Basic credentials.
                    failure.headers = [("WWW-Authenticate", AuthChallenge(scheme: .basic, parameters: ["realm": access.realm]).description)]
                    throw failure
                }
                let query = request.uri.queryParameters
                return try tokenResponse(service: query.get("service"), scopes: query.getAll("scope").map { String($0) }, caller: caller)
            case .post:
                return try await oauthTokenResponse(request, caller: &caller)
            default:
                throw Self.methodNotAllowed
            }
        }
        caller = try await authenticate(request)
        guard let route = RegistryRoute(path: request.uri.path) else {
            throw RegistryFailure(.unsupported, "no such endpoint: \(request.uri.path)", status: 404)
        }
        if let name = route.repository, RepositoryName(name) == nil {
            throw RegistryFailure(.nameInvalid, "invalid repository name \"\(name)\"", detail: .object(["name": .string(name)]))
        }
        switch route {
        case .base:
            guard request.method == .get || request.method == .head else { throw Self.methodNotAllowed }
            try authorizeBase(caller)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        case .catalog:
            guard request.method == .get else { throw Self.methodNotAllowed }
            try authorizeBase(caller)
            return catalog(request, caller: caller)
        case .tags(let name):
            guard request.method == .get else { throw Self.methodNotAllowed }
            try authorize(caller, name, [.pull])
            return try tags(request, name: name)
        case .manifest(let name, let reference):
            switch request.method {
            case .get, .head:
                try authorize(caller, name, [.pull])
                return try getManifest(request, name: name, reference: reference)
            case .put:
                try authorize(caller, name, [.push])
                return try await putManifest(request, name: name, reference: reference)
            case .delete:
                try authorize(caller, name, [.delete])
                return try deleteManifest(name: name, reference: reference)
            default: throw Self.methodNotAllowed
            }
        case .blob(let name, let digest):
            switch request.method {
            case .get, .head:
                try authorize(caller, name, [.pull])
                return try getBlob(request, name: name, digest: digest, channel: channel)
            case .delete:
                try authorize(caller, name, [.delete])
                return try deleteBlob(name: name, digest: digest)
            default: throw Self.methodNotAllowed
            }
        case .upload(let name, let session):
            if session.isEmpty {
                guard request.method == .post else { throw Self.methodNotAllowed }
                try authorize(caller, name, [.push])
                return try await startUpload(request, name: name, caller: caller, channel: channel)
            }
            switch request.method {
            case .get:
                try authorize(caller, name, [.push])
                return try uploadStatus(name: name, id: session)
            case .patch:
                try authorize(caller, name, [.push])
                return try await patchUpload(request, name: name, id: session, channel: channel)
            case .put:
                try authorize(caller, name, [.push])
                return try await finishUpload(request, name: name, id: session, channel: channel)
            case .delete:
                try authorize(caller, name, [.push])
                return try await cancelUpload(name: name, id: session)
            default: throw Self.methodNotAllowed
            }
        case .referrers(let name, let digest):
            guard request.method == .get else { throw Self.methodNotAllowed }
            try authorize(caller, name, [.pull])
            return try referrers(request, name: name, digest: digest)
        }
    }

    static let methodNotAllowed = RegistryFailure(.unsupported, "method not allowed on this endpoint")

    // MARK: Authentication and authorization

    private func authenticate(_ request: Request) async throws -> Caller {
        guard let header = request.headers[.authorization] else { return .anonymous }
        let parts = header.split(separator: " ", maxSplits: 1)
        // Clients without credentials may answer a Basic challenge with empty ones.
        if parts.count == 1, parts[0].lowercased() == "basic" { return .anonymous }
        guard parts.count == 2 else { throw challenge(repository: nil, actions: [], message: "malformed Authorization header") }
        let scheme = parts[0].lowercased()
        let value = String(parts[1]).trimmingCharacters(in: .whitespaces)
        if scheme == "basic" {
            // A registry without users ignores credentials, as distribution does.
            guard let users = access.users else { return .anonymous }
            guard let decoded = Data(base64Encoded: value),
                  let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { throw challenge(repository: nil, actions: [], message: "invalid username or password") }
            let user = String(text[..<colon])
            let password = String(text[text.index(after: colon)...])
            if user.isEmpty, password.isEmpty { return .anonymous }
            guard await credentials.verify(user: user, password: password, users: users) else {
                throw challenge(repository: nil, actions: [], message: "invalid username or password")
            }
            return Caller(user: user, token: nil)
        }
        if scheme == "bearer" {
            guard let settings = access.token,
                  let token = BearerToken.verify(value, key: settings.secret, audience: settings.service)
            else { throw challenge(repository: nil, actions: [], message: "invalid or expired token") }
            return Caller(user: nil, token: token)
        }
        throw challenge(repository: nil, actions: [], message: "unsupported authorization scheme \(parts[0])")
    }

    /// `/v2/` and `_catalog`: open registries answer anyone; otherwise the caller must have
    /// authenticated.
    private func authorizeBase(_ caller: Caller) throws {
        // Nobody can authenticate without users or tokens: the per-repository rules decide.
        if access.isOpen || (access.users == nil && access.token == nil) { return }
        if access.token != nil {
            guard caller.token != nil || caller.user != nil else { throw challenge(repository: nil, actions: [], message: nil) }
            return
        }
        guard caller.user != nil else { throw challenge(repository: nil, actions: [], message: nil) }
    }

    /// The actions the caller holds on a repository.
    func granted(_ caller: Caller, _ repository: String) -> Set<Scope.Action> {
        if let token = caller.token { return token.actions(on: repository) }
        if access.token != nil, caller.user == nil { return [] }
        return access.actions(for: caller.user, repository: repository)
    }

    func authorize(_ caller: Caller, _ repository: String, _ needed: Set<Scope.Action>) throws {
        guard !needed.isSubset(of: granted(caller, repository)) else { return }
        if caller.user == nil || access.token != nil {
            throw challenge(repository: repository, actions: needed, message: nil, insufficientScope: caller.token != nil)
        }
        throw RegistryFailure(.denied, "user \(caller.user ?? "") may not \(needed.sorted().map(\.rawValue).joined(separator: ",")) \(repository)")
    }

    /// 401 with the challenge the client should answer: Basic, or Bearer pointing at the token
    /// service with the scope this request needs.
    func challenge(repository: String?, actions: Set<Scope.Action>, message: String?, insufficientScope: Bool = false) -> RegistryFailure {
        var failure = RegistryFailure(.unauthorized, message)
        let header: AuthChallenge
        if let token = access.token {
            var parameters = ["realm": token.realm, "service": token.service]
            if let repository, !actions.isEmpty {
                parameters["scope"] = Scope(name: repository, actions: actions).description
            }
            if insufficientScope { parameters["error"] = "insufficient_scope" }
            header = AuthChallenge(scheme: .bearer, parameters: parameters)
        } else {
            header = AuthChallenge(scheme: .basic, parameters: ["realm": access.realm])
        }
        failure.headers.append(("WWW-Authenticate", header.description))
        return failure
    }

    // MARK: Responses

    static func errorResponse(_ failure: RegistryFailure) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        for (name, value) in failure.headers {
            headers.append(HeaderField(name: HeaderField.Name(name)!, value: value))
        }
        return Response(
            status: HTTPResponse.Status(code: failure.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: failure.body.encoded())))
    }

    static func jsonResponse(_ data: Data, contentType: String = "application/json", headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A digest that names content to look up: any algorithm the image-spec registers (content
    /// under one the server does not store is simply unknown).
    static func parseDigest(_ text: String) throws -> Digest {
        guard let digest = try? Digest(parsing: text) else {
            throw RegistryFailure(.digestInvalid, "invalid digest \"\(text)\"", detail: RegistryFailure.digestDetail(text))
        }
        return digest
    }

    /// A digest that content sent to the server must match: sha256, the one algorithm it verifies
    /// and stores (the image-spec requires sha256; sha512 is optional).
    static func parseContentDigest(_ text: String) throws -> Digest {
        let digest = try parseDigest(text)
        guard digest.algorithm == "sha256" else {
            throw RegistryFailure(.digestInvalid, "unsupported digest algorithm \(digest.algorithm); use sha256",
                                  detail: RegistryFailure.digestDetail(text))
        }
        return digest
    }
}

/// Hummingbird's basic request context plus the connection, which blob GETs watch for closing.
struct RegistryRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }
}

/// Hummingbird re-exports `HTTPFields` but not `HTTPField`; reach it through the collection.
typealias HeaderField = HTTPFields.Element

extension HeaderField.Name {
    static let dockerContentDigest = HeaderField.Name(RegistryHeader.contentDigest)!
    static let dockerUploadUUID = HeaderField.Name(RegistryHeader.uploadUUID)!
    static let ociSubject = HeaderField.Name(RegistryHeader.subject)!
    static let ociFiltersApplied = HeaderField.Name(RegistryHeader.filtersApplied)!
    static let rangeHeader = HeaderField.Name("Range")!
    static let contentRangeHeader = HeaderField.Name("Content-Range")!
    static let linkHeader = HeaderField.Name("Link")!
}

/// Remembers passwords that bcrypt already verified (as SHA-256 hashes, never in clear), because
/// bcrypt is deliberately slow and clients send Basic credentials with every request.
actor CredentialCache {
    private var verified: [String: String] = [:]

    func verify(user: String, password: String, users: Htpasswd) -> Bool {
        guard let hash = users.entries[user] else { return false }
        var digester = SHA256Digester()
        digester.update(Array("\(hash)\u{0}\(password)".utf8))
        let key = digester.finalize().encoded
        if verified[user] == key { return true }
        guard users.verify(user: user, password: password) else { return false }
        verified[user] = key
        return true
    }
}
