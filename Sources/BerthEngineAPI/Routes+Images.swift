import BerthArchive
import BerthEngine
import BerthOCI
import BerthRegistryClient
import BerthStore
import Foundation
import NIOCore
import NIOHTTP1

extension Routes {
    static func images(_ engine: Engine) -> [Route] {
        [
            Route(.GET, "/images/json") { request, response in try await listImages(engine, request, response) },
            Route(.POST, "/images/create") { request, response in try await createImage(engine, request, response) },
            Route(.POST, "/images/load") { request, response in try await loadImages(engine, request, response) },
            Route(.GET, "/images/get") { request, response in
                try await saveImages(engine, request.query.strings("names"), response)
            },
            Route(.GET, "/images/search") { request, response in try await searchImages(request) },
            Route(.POST, "/images/prune") { request, response in try await pruneImages(engine, request, response) },
            Route(.POST, "/commit") { request, response in
                guard let container = nonEmpty(request.query.string("container")) else {
                    throw APIError(status: .badRequest, message: "No such container: ")
                }
                var reference = nonEmpty(request.query.string("repo"))
                if let repository = reference, let tag = nonEmpty(request.query.string("tag")) { reference = repository + ":" + tag }
                // API 1.13 and later pause by default, as dockerd does.
                let pause = request.query.string("pause").map { _ in request.query.bool("pause") } ?? true
                let options = CommitOptions(reference: reference, comment: nonEmpty(request.query.string("comment")),
                                            author: nonEmpty(request.query.string("author")), pause: pause,
                                            changes: request.query.strings("changes").filter { !$0.isEmpty })
                let id = try await engine.commitContainer(container, options)
                try await response.sendJSON(["Id": id.description], status: .created)
            },
            Route(.POST, "/auth") { request, response in try await login(engine, request, response) },
            Route(.GET, "/images/{name*}/json") { request, response in
                let fields = ImageInspectFields.api(minor: request.version.minor)
                let name = request.parameter("name")
                let document = try await engine.blocking { try engine.inspectImage(name, fields: fields).compact }
                try await response.send(.ok, headers: ["Content-Type": "application/json"], body: ByteBuffer(string: document + "\n"))
            },
            Route(.GET, "/images/{name*}/history") { request, response in
                let name = request.parameter("name")
                let entries = try await engine.blocking { try engine.imageHistory(name) }
                try await response.sendJSON(entries.map(ImageHistoryItem.init))
            },
            Route(.GET, "/images/{name*}/get") { request, response in
                try await saveImages(engine, [request.parameter("name")], response)
            },
            Route(.POST, "/images/{name*}/tag") { request, response in
                let repository = request.query.string("repo") ?? ""
                guard !repository.isEmpty else { throw APIError(status: .badRequest, message: "repository name must have at least one component") }
                let tag = request.query.string("tag") ?? ""
                let target = tag.isEmpty ? repository : repository + ":" + tag
                let name = request.parameter("name")
                try await engine.blocking { try engine.tagImage(name, as: target) }
                try await response.sendStatus(.created)
            },
            Route(.POST, "/images/{name*}/push") { request, response in try await pushImage(engine, request, response) },
            Route(.DELETE, "/images/{name*}") { request, response in
                let name = request.parameter("name")
                guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw APIError(status: .badRequest, message: "image name cannot be blank")
                }
                let force = request.query.bool("force")
                let removed = try await engine.blocking { try engine.removeImage(name, force: force) }
                try await response.sendJSON(removed.map(ImageDeleteItem.init))
            },
        ] + build(engine)
    }

    // MARK: Listing

    private static func listImages(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        if request.query.bool("manifests") {
            throw APIError(status: .badRequest, message: "manifests is not supported: berth stores one platform's manifest per image")
        }
        let options = ImageListOptions(all: request.query.bool("all"), filters: try Filters(json: request.query.string("filters")))
        let sharedSize = request.version >= APIVersion(1, 42) && request.query.bool("shared-size")
        let virtualSize = request.version < APIVersion(1, 44)
        let summaries = try await engine.blocking { try engine.imageSummaries(options, sharedSize: sharedSize) }
        try await response.sendJSON(summaries.map { ImageSummaryItem($0, virtualSize: virtualSize) })
    }

    // MARK: Pull and import

    /// `POST /images/create`: a pull (`fromImage`, `tag`) or an import (`fromSrc`, `repo`, `tag`).
    private static func createImage(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let query = request.query
        let stream = JSONMessageStream(response)
        guard let image = query.string("fromImage"), !image.isEmpty else {
            return try await importImage(engine, request, stream)
        }
        // `pull -a` sends the repository with a trailing colon.
        var reference = image.hasSuffix(":") ? String(image.dropLast()) : image
        if let tag = query.string("tag"), !tag.isEmpty {
            reference += tag.hasPrefix("sha256:") ? "@" + tag : ":" + tag
        }
        // A name without a tag or digest pulls every tag of the repository, as dockerd does.
        let named = try? Reference(parsing: reference)
        let options = PullOptions(reference: reference, allTags: named.map { $0.tag == nil && $0.digest == nil } ?? false,
                                  credentials: registryAuth(request.headers), platform: query.string("platform"))
        do {
            try await transfer(stream) { progress in _ = try await engine.pull(options, progress: progress) }
        } catch {
            try await stream.fail(error)
        }
    }

    private static func importImage(_ engine: Engine, _ request: APIRequest, _ stream: JSONMessageStream) async throws {
        let query = request.query
        guard let source = query.string("fromSrc"), !source.isEmpty else {
            throw APIError(status: .badRequest, message: "fromImage or fromSrc is required")
        }
        guard source == "-" else {
            throw APIError(status: .badRequest, message: "importing from a URL is not supported; send the tarball as the request body (fromSrc=-)")
        }
        let repository = query.string("repo") ?? ""
        let tag = query.string("tag") ?? ""
        let options = ImageImportOptions(
            changes: query.strings("changes"), message: query.string("message").flatMap { $0.isEmpty ? nil : $0 },
            platform: query.string("platform"), reference: repository.isEmpty ? nil : (tag.isEmpty ? repository : repository + ":" + tag),
            sourceName: source)
        let id = try await withUploadedFile(engine, request.body, purpose: "import") { path in
            try await engine.blocking { try engine.importImage(from: try FileSource(path: path), options: options) }
        }
        try await stream.write(JSONMessage(status: id.description))
    }

    /// Runs a pull or push, writing its messages as they come (unless `showing` is false); a
    /// client that goes away cancels it. Throws the transfer's failure, or the write's when the
    /// client went away, once the transfer has stopped.
    static func transfer(_ stream: JSONMessageStream, showing: Bool = true,
                         _ work: @escaping @Sendable (@escaping TransferProgressHandler) async throws -> Void) async throws {
        let (messages, continuation) = AsyncStream.makeStream(of: TransferMessage.self)
        let task = Task {
            defer { continuation.finish() }
            try await work { continuation.yield($0) }
        }
        let watcher = Task {
            await stream.response.clientGone()
            task.cancel()
        }
        defer { watcher.cancel() }
        do {
            for await message in messages where showing { try await stream.write(JSONMessage(message)) }
        } catch {
            task.cancel()
            _ = await task.result
            throw error
        }
        try await task.value
    }

    /// The `X-Registry-Auth` header's credentials (base64url JSON); an unreadable or empty header
    /// means none, as dockerd takes it.
    static func registryAuth(_ headers: HTTPHeaders) -> Credentials? {
        guard let header = headers.first(name: "X-Registry-Auth"), let data = base64URLDecoded(header) else { return nil }
        return (try? JSONDecoder().decode(AuthConfig.self, from: data))?.credentials
    }

    /// Go's base64.URLEncoding, with or without its padding.
    static func base64URLDecoded(_ text: String) -> Data? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard)
    }

    // MARK: Push

    private static func pushImage(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let name = request.parameter("name")
        let tag = request.query.string("tag") ?? ""
        if let platform = request.query.string("platform"), !platform.isEmpty, request.version >= APIVersion(1, 46) {
            throw APIError(status: .badRequest, message: "platform is not supported for push: berth pushes the image's one manifest")
        }
        let options = PushOptions(reference: tag.isEmpty ? name : name + ":" + tag, allTags: tag.isEmpty,
                                  credentials: registryAuth(request.headers))
        let stream = JSONMessageStream(response)
        do {
            try await transfer(stream) { progress in _ = try await engine.push(options, progress: progress) }
        } catch {
            try await stream.fail(error)
        }
    }

    // MARK: Login

    private static func login(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let auth = try await request.decodeBody(AuthConfig.self)
        guard let username = auth.username, !username.isEmpty, let password = auth.password, !password.isEmpty else {
            throw APIError(status: .badRequest, message: "username and password are required: identity tokens are not supported")
        }
        _ = try await engine.login(server: auth.serveraddress, credentials: Credentials(username: username, password: password))
        try await response.sendJSON(["Status": "Login Succeeded"])
    }

    /// Docker's AuthConfig, as `/auth`, `X-Registry-Auth` and `X-Registry-Config` carry it.
    struct AuthConfig: Decodable {
        var username: String?
        var password: String?
        /// `user:password` in base64, as config.json keeps it.
        var auth: String?
        var serveraddress: String?

        /// The user name and password it gives, if any.
        var credentials: Credentials? {
            if let username, !username.isEmpty, let password {
                return Credentials(username: username, password: password)
            }
            guard let auth, let data = Data(base64Encoded: auth) else { return nil }
            let decoded = String(decoding: data, as: UTF8.self)
            guard let colon = decoded.firstIndex(of: ":") else { return nil }
            return Credentials(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
        }
    }

    // MARK: Search

    private static func searchImages(_ request: APIRequest) async throws {
        let term = request.query.string("term") ?? ""
        if let limit = request.query.string("limit"), !limit.isEmpty, Int(limit).map({ $0 < 0 }) ?? true {
            throw APIError(status: .badRequest, message: "invalid limit specified")
        }
        throw APIError(status: .internalServerError, message: "Get \"https://index.docker.io/v1/search?q=\(term)&n=25\": berth serve searches no registry index: it reaches only the registries images are pulled from")
    }

    // MARK: Prune

    private static func pruneImages(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let filters = try Filters(json: request.query.string("filters"))
        let report = try await engine.blocking { try engine.pruneImages(filters) }
        try await response.sendJSON(ImagePruneResponse(deleted: report.removed.map(ImageDeleteItem.init), reclaimed: report.reclaimedBytes))
    }

    // MARK: Load and save

    private static func loadImages(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let stream = JSONMessageStream(response)
        // The docker CLI asks for progress (quiet=0) when it writes to a terminal.
        let quiet = request.query.string("quiet").map { $0 == "1" || $0 == "true" } ?? false
        do {
            let (lines, layers) = try await withUploadedFile(engine, request.body, purpose: "load") { path in
                try await engine.blocking {
                    var layers: [TransferMessage] = []
                    let lines = try engine.loadImages(from: try FileSource(path: path)) { layers.append($0) }
                    return (lines, layers)
                }
            }
            if !quiet {
                for layer in layers { try await stream.write(JSONMessage(layer)) }
            }
            for line in lines { try await stream.write(JSONMessage(stream: line + "\n")) }
        } catch {
            // dockerd answers a load's failure in the stream, with status 200.
            try await stream.write(JSONMessage(error: (error as? APIError)?.message ?? "\(error)"))
        }
    }

    /// Saves to a scratch file first (so a missing image fails with its status before any byte),
    /// then streams it.
    private static func saveImages(_ engine: Engine, _ names: [String], _ response: ResponseWriter) async throws {
        let directory = try engine.makeScratchDirectory("save")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/images.tar"
        try await engine.blocking { try engine.saveImages(names, to: try FileSink(path: path, mode: 0o600)) }
        try await response.startStream(contentType: "application/x-tar")
        try await Spool.send(path, to: response)
        try await response.end()
    }

    /// Spools a request body to a scratch file, runs `body` on it, and removes it, however `body` ends.
    static func withUploadedFile<T: Sendable>(_ engine: Engine, _ upload: RequestBody, purpose: String,
                                               _ body: (String) async throws -> T) async throws -> T {
        let directory = try engine.makeScratchDirectory(purpose)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/upload"
        try await Spool.write(upload, to: path)
        return try await body(path)
    }
}

// MARK: Response bodies

/// One image of `GET /images/json` (moby's image.Summary), in dockerd's field order.
struct ImageSummaryItem: Encodable {
    let summary: ImageSummary
    let virtualSize: Bool

    init(_ summary: ImageSummary, virtualSize: Bool) {
        self.summary = summary
        self.virtualSize = virtualSize
    }

    enum CodingKeys: String, CodingKey {
        case containers = "Containers", created = "Created", id = "Id", labels = "Labels", parentID = "ParentId"
        case repoDigests = "RepoDigests", repoTags = "RepoTags", sharedSize = "SharedSize", size = "Size", virtualSize = "VirtualSize"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let image = summary.image
        try container.encode(-1, forKey: .containers)
        try container.encode(Int64(image.createdDate?.timeIntervalSince1970 ?? 0), forKey: .created)
        try container.encode(image.id.description, forKey: .id)
        if let labels = summary.labels { try container.encode(labels, forKey: .labels) } else { try container.encodeNil(forKey: .labels) }
        try container.encode("", forKey: .parentID)
        try container.encode(image.repoDigests.map(\.familiarString), forKey: .repoDigests)
        try container.encode(image.tags.map(\.familiarString), forKey: .repoTags)
        try container.encode(summary.sharedSize ?? -1, forKey: .sharedSize)
        try container.encode(image.size, forKey: .size)
        if virtualSize { try container.encode(image.size, forKey: .virtualSize) }
    }
}

/// One entry of `GET /images/{name}/history` (moby's HistoryResponseItem).
struct ImageHistoryItem: Encodable {
    let entry: ImageHistoryEntry

    enum CodingKeys: String, CodingKey {
        case comment = "Comment", created = "Created", createdBy = "CreatedBy", id = "Id", size = "Size", tags = "Tags"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entry.comment, forKey: .comment)
        try container.encode(Int64(entry.created?.timeIntervalSince1970 ?? 0), forKey: .created)
        try container.encode(entry.createdBy, forKey: .createdBy)
        try container.encode(entry.imageID?.description ?? "<missing>", forKey: .id)
        try container.encode(entry.size, forKey: .size)
        if entry.tags.isEmpty { try container.encodeNil(forKey: .tags) } else { try container.encode(entry.tags, forKey: .tags) }
    }
}

/// `{"Untagged": …}` or `{"Deleted": …}` (moby's image.DeleteResponse).
struct ImageDeleteItem: Encodable {
    let event: Store.RemovalEvent

    enum CodingKeys: String, CodingKey {
        case untagged = "Untagged", deleted = "Deleted"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch event {
        case .untagged(let name): try container.encode(name, forKey: .untagged)
        case .deleted(let id): try container.encode(id.description, forKey: .deleted)
        }
    }
}

/// `POST /images/prune`'s answer.
struct ImagePruneResponse: Encodable {
    @NullWhenEmpty var deleted: [ImageDeleteItem]
    let reclaimed: Int64

    enum CodingKeys: String, CodingKey {
        case deleted = "ImagesDeleted", reclaimed = "SpaceReclaimed"
    }
}
