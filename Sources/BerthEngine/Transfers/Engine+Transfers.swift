import BerthDistribution
import BerthOCI
import BerthRegistryClient
import BerthStore
import Foundation

/// `pull` / `POST /images/create?fromImage=…`.
public struct PullOptions: Sendable {
    /// `NAME[:TAG|@DIGEST]`.
    public var reference: String
    /// `-a`: every tag of the repository.
    public var allTags: Bool
    /// The registry's credentials (the CLI's saved ones, or the API's `X-Registry-Auth`).
    public var credentials: Credentials?
    /// Whether HTTPS is required and certificates verified (loopback registries may use HTTP anyway).
    public var tlsVerify: Bool
    /// The platform to pull; only the host's is supported.
    public var platform: String?

    public init(reference: String, allTags: Bool = false, credentials: Credentials? = nil, tlsVerify: Bool = true,
                platform: String? = nil) {
        self.reference = reference
        self.allTags = allTags
        self.credentials = credentials
        self.tlsVerify = tlsVerify
        self.platform = platform
    }
}

/// What a pull did.
public struct PullReport: Sendable {
    /// What was pulled, as Docker names it at the end (`docker.io/library/busybox:latest`, or the
    /// repository for all tags).
    public var pulled: String
    public var downloadedNewer: Bool
}

/// `push` / `POST /images/{name}/push`.
public struct PushOptions: Sendable {
    /// `NAME[:TAG]`.
    public var reference: String
    /// `-a`: every local tag of the repository.
    public var allTags: Bool
    public var credentials: Credentials?
    public var tlsVerify: Bool

    public init(reference: String, allTags: Bool = false, credentials: Credentials? = nil, tlsVerify: Bool = true) {
        self.reference = reference
        self.allTags = allTags
        self.credentials = credentials
        self.tlsVerify = tlsVerify
    }
}

extension Engine {
    /// Pulls an image, or every tag of a repository, reporting dockerd's progress messages:
    /// `Pulling from`, each layer's `Pulling fs layer` … `Pull complete` (or `Already exists`),
    /// `Digest:`, and one `Status:` line for what was asked for.
    public func pull(_ options: PullOptions, progress: @escaping TransferProgressHandler) async throws -> PullReport {
        let reference = try Self.parseReference(options.reference)
        if options.allTags, reference.tag != nil || reference.digest != nil {
            throw EngineError.invalidParameter("tag can't be used with --all-tags/-a")
        }
        if let platform = options.platform, !platform.isEmpty, platform != Platform.current.description {
            throw EngineError.invalidParameter("platform \(platform) is not supported: this machine runs \(Platform.current)")
        }
        let store = try store()
        let client = RegistryClient(endpoint: RegistryEndpoint(registry: reference.domain, tlsVerify: options.tlsVerify),
                                    credentials: options.credentials, scopes: [Scope.repository(reference.path, .pull)])
        do {
            let targets: [Reference]
            if options.allTags {
                targets = try await client.listTags(reference.path).sorted().map { reference.with(tag: $0) }
            } else {
                targets = [reference.withDefaultTag]
            }
            var downloadedNewer = false
            for target in targets {
                try Task.checkCancellation()
                let messages = TransferMessages(verb: "Downloading", first: TransferMessage(
                    id: target.digest?.description ?? target.tag ?? Reference.defaultTag, status: "Pulling from \(target.path)"),
                    emit: progress)
                let result = try await client.pull(target, into: store, observer: messages.observer)
                messages.start()
                downloadedNewer = downloadedNewer || result.downloadedNewer
                progress(TransferMessage(status: "Digest: \(result.repoDigest.digest?.description ?? "")"))
                events.record(.image, "pull", id: target.familiarString, attributes: ["name": target.familiarString])
            }
            let status = downloadedNewer ? "Downloaded newer image" : "Image is up to date"
            progress(TransferMessage(status: "Status: \(status) for \(options.allTags ? reference.familiarName : targets[0].familiarString)"))
            await client.shutdown()
            return PullReport(pulled: options.allTags ? reference.name : reference.withDefaultTag.description,
                              downloadedNewer: downloadedNewer)
        } catch {
            await client.shutdown()
            throw Self.transferError(error)
        }
    }

    /// Pushes an image, or every local tag of a repository, reporting dockerd's progress messages:
    /// `The push refers to repository […]`, each layer's `Preparing` … `Pushed` (or `Layer already
    /// exists`, `Mounted from …`), then `TAG: digest: … size: …` with the manifest as `aux`.
    public func push(_ options: PushOptions, progress: @escaping TransferProgressHandler) async throws -> [TransferMessage.PushedManifest] {
        let reference = try Self.parseReference(options.reference)
        guard reference.digest == nil else { throw EngineError.invalidParameter("cannot push a digest reference") }
        if options.allTags, reference.tag != nil { throw EngineError.invalidParameter("tag can't be used with --all-tags/-a") }
        let store = try store()
        // First, as dockerd's: a name with no local image fails after it.
        progress(TransferMessage(status: "The push refers to repository [\(reference.name)]"))
        let targets: [Reference]
        if options.allTags {
            targets = try store.images().flatMap(\.tags).filter { $0.name == reference.name }.sorted { $0.description < $1.description }
            guard !targets.isEmpty else { throw Self.notLocal(reference) }
        } else {
            targets = [reference.withDefaultTag]
        }
        let images = try targets.map { target -> ImageRecord in
            do {
                return try store.image(named: target.description)
            } catch StoreError.noSuchImage {
                throw Self.notLocal(target)
            }
        }
        let sources = try RegistryClient.mountSources(in: store, registry: reference.domain, excluding: reference.path)
        let scopes = [Scope.repository(reference.path, .pull, .push)]
            + Set(sources.values.joined()).sorted().map { Scope.repository($0, .pull) }
        let client = RegistryClient(endpoint: RegistryEndpoint(registry: reference.domain, tlsVerify: options.tlsVerify),
                                    credentials: options.credentials, scopes: scopes)
        do {
            var pushed: [TransferMessage.PushedManifest] = []
            for (target, image) in zip(targets, images) {
                try Task.checkCancellation()
                for layer in try store.manifest(of: image).layers.reversed() {
                    progress(TransferMessage(id: layer.digest.shortID, status: "Preparing", isIntermediate: true))
                }
                let messages = TransferMessages(verb: "Pushing", first: nil, emit: progress)
                let result = try await client.push(image, from: store, to: target, mountSources: sources, observer: messages.observer)
                let tag = target.tag ?? Reference.defaultTag
                let manifest = TransferMessage.PushedManifest(tag: tag, digest: result.digest, size: result.size)
                progress(TransferMessage(status: "\(tag): digest: \(result.digest) size: \(result.size)"))
                progress(TransferMessage(status: "", aux: manifest))
                pushed.append(manifest)
                events.record(.image, "push", id: target.familiarString, attributes: ["name": target.familiarString])
            }
            await client.shutdown()
            return pushed
        } catch {
            await client.shutdown()
            throw Self.transferError(error)
        }
    }

    /// Signs in to a registry with `credentials` (as `docker login` checks them); returns the
    /// registry's host. The front end keeps the credentials: the CLI in its config file, an API
    /// client in its own.
    public func login(server: String?, credentials: Credentials, tlsVerify: Bool = true) async throws -> String {
        let host = Self.registryHost(server)
        let client = RegistryClient(endpoint: RegistryEndpoint(registry: host, tlsVerify: tlsVerify), credentials: credentials, scopes: [])
        do {
            try await client.checkAccess()
        } catch {
            await client.shutdown()
            throw Self.transferError(error)
        }
        await client.shutdown()
        return host
    }

    /// The registry a server argument names: `docker.io` by default, URLs reduced to host[:port].
    public static func registryHost(_ server: String?) -> String {
        guard let server, !server.isEmpty else { return "docker.io" }
        var host = Substring(server)
        if let scheme = host.range(of: "://") { host = host[scheme.upperBound...] }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        return host == "index.docker.io" ? "docker.io" : String(host)
    }

    static func parseReference(_ text: String) throws -> Reference {
        do {
            return try Reference(parsing: text)
        } catch {
            throw EngineError.invalidParameter("\(error)")
        }
    }

    /// Docker's failure for a reference with no local image.
    static func notLocal(_ reference: Reference) -> EngineError {
        .notFound("An image does not exist locally with the tag: \(reference.familiarName)")
    }

    /// A registry client's error as the kind dockerd gives it (a refused login is 401, an unknown
    /// manifest 404); the message stays.
    static func transferError(_ error: any Error) -> any Error {
        guard let error = error as? RegistryClientError else { return error }
        switch error {
        case .unauthorized: return EngineError(.unauthorized, error.description)
        case .manifestUnknown: return EngineError(.notFound, error.description)
        case .registry(let status, _, _) where status == 404: return EngineError(.notFound, error.description)
        case .noMatchingPlatform, .unsupportedMediaType: return EngineError(.invalidParameter, error.description)
        default: return EngineError(.system, error.description)
        }
    }
}
