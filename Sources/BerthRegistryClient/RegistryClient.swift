import AsyncHTTPClient
import BerthDistribution
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A session with one registry for one set of scopes (the repositories a push or pull touches):
/// it answers auth challenges (Basic, and Bearer through the token service), caches tokens by
/// scope, falls back to plain HTTP where allowed, and retries transient failures with backoff.
public final class RegistryClient: Sendable {
    public let endpoint: RegistryEndpoint
    let credentials: Credentials?
    /// The scopes a Bearer token is requested for.
    let scopes: [Scope]
    let http: HTTPClient

    /// What the session learns as requests go (concurrent ones: a push's layers).
    private struct Session {
        var useTLS = true
        var authorization: String?
        var tokens: [String: String] = [:]
    }
    private let session: Mutex<Session>

    /// Attempts per request for connection errors, 429 and 5xx answers.
    static let attempts = 3

    public init(endpoint: RegistryEndpoint, credentials: Credentials?, scopes: [Scope]) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.scopes = scopes
        session = Mutex(Session())
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(5), read: .seconds(300)))
        if !endpoint.verifiesTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            configuration.tlsConfiguration = tls
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections; call once the session is done.
    public func shutdown() async {
        try? await http.shutdown()
    }

    deinit {
        // A session ended by an error may have skipped `shutdown()`: close its connections now
        // instead of leaking them (a debug build of AsyncHTTPClient traps on that). Once shut
        // down, this second call only fails, harmlessly.
        _ = http.shutdown()
    }

    /// The registry's URL for an API path (`/v2/…`), or an absolute URL as given.
    func url(_ pathOrURL: String) -> String {
        if pathOrURL.hasPrefix("http://") || pathOrURL.hasPrefix("https://") { return pathOrURL }
        return endpoint.baseURL(tls: session.withLock { $0.useTLS }) + pathOrURL
    }

    /// A request body that can be made again for a retry.
    typealias BodyMaker = @Sendable () throws -> HTTPClientRequest.Body

    /// Sends a request, answering auth challenges and retrying transient failures. Returns any
    /// other answer, error statuses included; the caller consumes the body.
    func send(_ method: HTTPMethod, _ pathOrURL: String, headers: HTTPHeaders = [:],
              body: BodyMaker? = nil) async throws -> HTTPClientResponse {
        var attempt = 1
        var answeredChallenge = false
        while true {
            var request = HTTPClientRequest(url: url(pathOrURL))
            request.method = method
            request.headers = headers
            if let authorization = session.withLock({ $0.authorization }), isSameRegistry(request.url) {
                request.headers.replaceOrAdd(name: "Authorization", value: authorization)
            }
            request.body = try body?()
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, deadline: .now() + .hours(24))
            } catch {
                if fallBackToHTTP(requested: pathOrURL, sentTo: request.url) { continue }
                guard attempt < Self.attempts, Self.isTransient(error) else {
                    throw RegistryClientError.unreachable(url: request.url, reason: Self.describe(error))
                }
                try await backoff(attempt)
                attempt += 1
                continue
            }
            let status = Int(response.status.code)
            if status == 401, !answeredChallenge {
                answeredChallenge = true
                let challenges = AuthChallenge.parse(response.headers["WWW-Authenticate"].joined(separator: ", "))
                let detail = await Self.errorSummary(response)
                try await authenticate(challenges, detail: detail)
                continue
            }
            if status == 401 {
                let summary = await Self.errorSummary(response) ?? "authentication required"
                // Basic credentials refused outright are wrong, not merely short of rights.
                let sentBasic = session.withLock { $0.authorization?.hasPrefix("Basic ") ?? false }
                throw RegistryClientError.unauthorized(
                    registry: endpoint.registry, detail: sentBasic ? "incorrect username or password" : summary)
            }
            if (status == 429 || status >= 500), attempt < Self.attempts {
                _ = try? await response.body.collect(upTo: 1 << 20)
                try await backoff(attempt)
                attempt += 1
                continue
            }
            return response
        }
    }

    /// Sends a request and fails with the registry's error unless the status is one of `expected`.
    func expect(_ expected: Set<Int>, _ method: HTTPMethod, _ pathOrURL: String, headers: HTTPHeaders = [:],
                body: BodyMaker? = nil) async throws -> HTTPClientResponse {
        let response = try await send(method, pathOrURL, headers: headers, body: body)
        guard expected.contains(Int(response.status.code)) else {
            throw await failure(response, url: url(pathOrURL))
        }
        return response
    }

    /// The error for an unexpected answer, with the registry's error body in one line.
    func failure(_ response: HTTPClientResponse, url: String) async -> RegistryClientError {
        let status = Int(response.status.code)
        let summary = await Self.errorSummary(response) ?? response.status.reasonPhrase
        if status == 401 || status == 403 {
            return .unauthorized(registry: endpoint.registry, detail: summary)
        }
        return .registry(status: status, summary: summary, url: url)
    }

    /// Reads an error body: the spec's `{"errors":[…]}` as `CODE: message`, else the text itself.
    static func errorSummary(_ response: HTTPClientResponse) async -> String? {
        guard let buffer = try? await response.body.collect(upTo: 1 << 20), buffer.readableBytes > 0 else { return nil }
        let data = Data(buffer.readableBytesView)
        if let body = RegistryErrorBody.decode(data), !body.errors.isEmpty { return body.summary }
        let text = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
        return text.isEmpty ? nil : String(text.prefix(200))
    }

    // MARK: Authentication

    private func authenticate(_ challenges: [AuthChallenge], detail: String?) async throws {
        if let bearer = challenges.first(where: { $0.scheme == .bearer }) {
            let token = try await fetchToken(for: bearer)
            session.withLock { $0.authorization = "Bearer " + token }
        } else if challenges.contains(where: { $0.scheme == .basic }) {
            // Docker's words for a Basic challenge met without a login.
            guard let credentials else { throw RegistryClientError.unauthorized(registry: endpoint.registry, detail: "no basic auth credentials") }
            session.withLock { $0.authorization = credentials.basicAuthorization }
        } else {
            throw RegistryClientError.unauthorized(registry: endpoint.registry, detail: detail ?? "authentication required")
        }
    }

    /// Docker's token flow: GET realm?service=…&scope=…, with Basic credentials when there are
    /// any (anonymously otherwise); tokens are cached by the scopes they were asked for.
    private func fetchToken(for challenge: AuthChallenge) async throws -> String {
        guard let realm = challenge.realm, var components = URLComponents(string: realm), components.host != nil else {
            throw RegistryClientError.protocolViolation("Bearer challenge without a usable realm")
        }
        var wanted = scopes
        for scope in Scope.parseList(challenge.scope ?? "") where !wanted.contains(scope) { wanted.append(scope) }
        let key = wanted.map(\.description).sorted().joined(separator: " ")
        if let cached = session.withLock({ $0.tokens[key] }), session.withLock({ $0.authorization }) != "Bearer " + cached {
            return cached
        }
        var query = components.queryItems ?? []
        if let service = challenge.service { query.append(URLQueryItem(name: "service", value: service)) }
        for scope in wanted { query.append(URLQueryItem(name: "scope", value: scope.description)) }
        if let credentials { query.append(URLQueryItem(name: "account", value: credentials.username)) }
        components.queryItems = query.isEmpty ? nil : query
        guard let tokenURL = components.url?.absoluteString else {
            throw RegistryClientError.protocolViolation("cannot build a token request from realm \(realm)")
        }
        var request = HTTPClientRequest(url: tokenURL)
        if let credentials { request.headers.add(name: "Authorization", value: credentials.basicAuthorization) }
        var attempt = 1
        while true {
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, deadline: .now() + .seconds(60))
            } catch {
                guard attempt < Self.attempts, Self.isTransient(error) else {
                    throw RegistryClientError.unreachable(url: tokenURL, reason: Self.describe(error))
                }
                try await backoff(attempt)
                attempt += 1
                continue
            }
            let status = Int(response.status.code)
            if (status == 429 || status >= 500), attempt < Self.attempts {
                _ = try? await response.body.collect(upTo: 1 << 20)
                try await backoff(attempt)
                attempt += 1
                continue
            }
            guard status == 200 else {
                let summary = await Self.errorSummary(response)
                if status == 401 || status == 403 {
                    throw RegistryClientError.unauthorized(
                        registry: endpoint.registry,
                        detail: credentials == nil ? (summary ?? "authentication required") : "incorrect username or password")
                }
                throw RegistryClientError.registry(status: status, summary: summary ?? "token request failed", url: tokenURL)
            }
            struct TokenResponse: Decodable {
                var token: String?
                var access_token: String?
            }
            let body = try await response.body.collect(upTo: 1 << 20)
            guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(body.readableBytesView)),
                  let token = decoded.token ?? decoded.access_token, !token.isEmpty else {
                throw RegistryClientError.protocolViolation("token service at \(realm) answered without a token")
            }
            session.withLock { $0.tokens[key] = token }
            return token
        }
    }

    // MARK: Transport

    /// Credentials go only to the registry itself, not to storage a blob request redirects to.
    private func isSameRegistry(_ url: String) -> Bool {
        URLComponents(string: url).map { components in
            let host = (components.host ?? "") + (components.port.map { ":\($0)" } ?? "")
            return host == endpoint.host || components.host == endpoint.host
        } ?? false
    }

    /// An insecure registry that does not speak TLS is reached over plain HTTP:
    /// an API path that failed over HTTPS is retried over HTTP. Requests sent concurrently over
    /// HTTPS (a push's layers) each retry, whichever of them switched the session.
    private func fallBackToHTTP(requested pathOrURL: String, sentTo url: String) -> Bool {
        guard !endpoint.verifiesTLS, pathOrURL.hasPrefix("/"), url.hasPrefix("https://") else { return false }
        session.withLock { $0.useTLS = false }
        return true
    }

    private func backoff(_ attempt: Int) async throws {
        try await Task.sleep(nanoseconds: UInt64(250_000_000) << UInt64(attempt))
    }

    /// Dropped connections and timeouts mid-request. Not a failed connect: the connection pool
    /// already retried that until the connect timeout.
    static func isTransient(_ error: Error) -> Bool {
        if error is NIOSSLError { return false }
        if let client = error as? HTTPClientError {
            return [HTTPClientError.remoteConnectionClosed, .readTimeout, .writeTimeout].contains(client)
        }
        if let io = error as? IOError { return io.errnoCode == ECONNRESET || io.errnoCode == EPIPE }
        return error is ChannelError
    }

    static func describe(_ error: Error) -> String {
        if let io = error as? IOError { return io.description }
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "x509: certificate signed by unknown authority (trust the registry's CA on this host, or use --tls-verify=false)"
        }
        if text.contains("WRONG_VERSION_NUMBER") {
            return "the registry does not answer HTTPS (use --tls-verify=false for a plain-HTTP registry)"
        }
        return text
    }
}
