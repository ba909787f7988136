import BerthBuild
import BerthEngine
import BerthOCI
import BerthRegistryClient
import BerthRuntime
import Foundation
import NIOCore
import NIOHTTP1

extension Routes {
    static func build(_ engine: Engine) -> [Route] {
        [
            Route(.POST, "/build") { request, response in try await build(engine, request, response) },
            Route(.POST, "/build/prune") { request, response in
                let query = request.query
                if try !Filters(json: query.string("filters")).isEmpty {
                    throw APIError(status: .badRequest, message: "filters are not supported: berth's build cache is pruned as a whole")
                }
                for name in ["keep-storage", "reserved-space", "max-used-space", "min-free-space"] where try (query.int(name) ?? 0) != 0 {
                    throw APIError(status: .badRequest, message: "\(name) is not supported: berth's build cache is pruned as a whole")
                }
                let report = try await engine.blocking { try engine.pruneBuildCache() }
                try await response.sendJSON(BuildPruneResponse(deleted: report.deleted, reclaimed: report.reclaimedBytes))
            },
        ]
    }

    /// `POST /build`: the classic builder's API. The tar context is spooled to a scratch file and
    /// extracted (safely: nothing escapes its directory) beside it, both removed when the build
    /// ends; base images the store lacks are pulled first (all of them with `pull`), as dockerd's
    /// builder pulls them; a client that goes away cancels the build, and with it the RUN step
    /// that runs.
    private static func build(_ engine: Engine, _ request: APIRequest, _ response: ResponseWriter) async throws {
        let options = try buildOptions(request.query)
        let dockerfile = DockerfileSource.context(path: request.query.string("dockerfile") ?? "")
        let quiet = request.query.bool("q")
        let stream = JSONMessageStream(response)
        let cancellation = BuildCancellation()
        let watcher = Task {
            await response.clientGone()
            cancellation.cancel()
        }
        defer { watcher.cancel() }
        let directory = try engine.makeScratchDirectory("build")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let context = directory + "/context"
        try await Spool.write(request.body, to: directory + "/context.tar")
        try await engine.blocking { try engine.extractBuildContext(directory + "/context.tar", into: context) }
        let bases = try await engine.blocking {
            try engine.basesToPull(options, contextDirectory: context, dockerfile: dockerfile)
        }
        let credentials = registryConfig(request.headers)
        for base in bases {
            let domain = try? Reference(parsing: base).domain
            let pull = PullOptions(reference: base, credentials: domain.flatMap { credentials[$0] })
            do {
                try await transfer(stream, showing: !quiet) { progress in _ = try await engine.pull(pull, progress: progress) }
            } catch {
                try await stream.fail(error)
                return
            }
        }
        // With `q`, the build's output is kept and sent only when it fails, as dockerd does.
        var kept: [JSONMessage] = []

        let (events, continuation) = AsyncStream.makeStream(of: BuildEvent.self)
        let task = Task {
            defer { continuation.finish() }
            return try await engine.onBuildThread {
                try engine.build(options, contextDirectory: context, dockerfile: dockerfile, style: .classic,
                                 cancellation: cancellation) { continuation.yield($0) }
            }
        }
        do {
            for await event in events {
                let message: JSONMessage
                switch event {
                case .line(let text): message = JSONMessage(stream: text + "\n")
                case .imageID(let id): message = JSONMessage(aux: ["ID": .string(id.description)])
                }
                if quiet { kept.append(message) } else { try await stream.write(message) }
            }
        } catch {
            cancellation.cancel()
            _ = await task.result
            return
        }
        do {
            let result = try await task.value
            if quiet { try await stream.write(JSONMessage(stream: result.imageID.description + "\n")) }
        } catch {
            if quiet { for message in kept { try await stream.write(message) } }
            guard stream.hasStarted else {
                if error is EngineError { throw error }
                throw APIError(status: .badRequest, message: Engine.buildFailureMessage(error))
            }
            var code: Int?
            if case BuildError.processFailed(_, let exitCode, _, _) = error { code = Int(exitCode) }
            try await stream.fail(APIError(status: .internalServerError, message: Engine.buildFailureMessage(error)), code: code)
        }
    }

    /// The `X-Registry-Config` header's credentials by registry host (base64url JSON of
    /// AuthConfigs keyed by server address), for the base images a build pulls.
    static func registryConfig(_ headers: HTTPHeaders) -> [String: Credentials] {
        guard let header = headers.first(name: "X-Registry-Config"), let data = base64URLDecoded(header),
              let configs = try? JSONDecoder().decode([String: AuthConfig].self, from: data) else { return [:] }
        var credentials: [String: Credentials] = [:]
        for (server, config) in configs {
            if let found = config.credentials { credentials[Engine.registryHost(config.serveraddress ?? server)] = found }
        }
        return credentials
    }

    /// The query's build options; what Berth cannot do is refused, never ignored.
    static func buildOptions(_ query: Query) throws -> BuildOptions {
        func refuse(_ what: String) -> APIError {
            APIError(status: .badRequest, message: "\(what) is not supported by berth's builder")
        }
        if let version = query.string("version"), !version.isEmpty, version != "1" {
            guard version == "2" else { throw APIError(status: .badRequest, message: "invalid version \"\(version)\"") }
            throw APIError(status: .badRequest, message: "BuildKit (version 2) is not supported by berth serve: use the classic builder (DOCKER_BUILDKIT=0)")
        }
        if let remote = query.string("remote"), !remote.isEmpty { throw refuse("a remote build context (remote=\(remote))") }
        for name in ["memory", "memswap", "cpushares", "cpuperiod", "cpuquota", "shmsize"] where try (query.int(name) ?? 0) != 0 {
            throw refuse("\(name)")
        }
        for name in ["cpusetcpus", "cpusetmems", "cgroupparent", "session", "outputs"] where !(query.string(name) ?? "").isEmpty {
            throw refuse(name)
        }
        if let isolation = query.string("isolation"), !isolation.isEmpty, isolation != "default" { throw refuse("isolation \(isolation)") }
        if !query.strings("extrahosts").filter({ !$0.isEmpty }).isEmpty { throw refuse("extrahosts") }
        if !query.strings("securityopt").filter({ !$0.isEmpty }).isEmpty {
            throw APIError(status: .badRequest, message: "security options are not supported on linux")
        }
        if query.bool("squash") { throw APIError(status: .badRequest, message: "squash is only supported with experimental mode") }
        if let ulimits = try query.json("ulimits", as: [BuildUlimit]?.self), let ulimits, !ulimits.isEmpty { throw refuse("ulimits") }
        if let cacheFrom = try query.json("cachefrom", as: [String]?.self), let cacheFrom, !cacheFrom.isEmpty { throw refuse("cachefrom") }
        let buildArgs = try query.json("buildargs", as: [String: String?].self) ?? [:]
        let labels = try query.json("labels", as: [String: String].self) ?? [:]
        return BuildOptions(
            tags: query.strings("t").filter { !$0.isEmpty }, buildArgs: buildArgs, labels: labels, target: query.string("target"),
            noCache: query.bool("nocache"), pull: query.bool("pull") ? .always : .missing, network: query.string("networkmode") ?? "default",
            platform: query.string("platform"))
    }

    struct BuildUlimit: Decodable {
        var Name: String?
    }
}

/// `POST /build/prune`'s answer.
struct BuildPruneResponse: Encodable {
    @NullWhenEmpty var deleted: [String]
    let reclaimed: Int64

    enum CodingKeys: String, CodingKey {
        case deleted = "CachesDeleted", reclaimed = "SpaceReclaimed"
    }
}
