import BerthArchive
import BerthBuild
import BerthDockerfile
import BerthFiles
import BerthOCI
import BerthRuntime
import BerthStore
import Foundation

/// `build` / `POST /build`: what to build and how.
public struct BuildOptions: Sendable {
    /// `-t` / `t`: names the image gets (`latest` when a name has no tag).
    public var tags: [String]
    /// `--build-arg` / `buildargs`; a nil value names an argument the client gave no value for,
    /// which only counts for the unused-arguments warning.
    public var buildArgs: [String: String?]
    /// `--label` / `labels`.
    public var labels: [String: String]
    public var target: String?
    public var noCache: Bool
    /// `--pull` / `pull`: which base images the front end pulls before the build (`basesToPull`):
    /// those the store lacks (Docker's default), all of them (`--pull`), or none.
    public var pull: PullPolicy
    /// `--network` / `networkmode`: RUN's network, `default` (the bridge), `host` or `none`.
    public var network: String
    public var platform: String?
    /// `--secret id=…,src=…`: files RUN --mount=type=secret reads, by id (absolute paths).
    public var secrets: [String: String]
    /// SOURCE_DATE_EPOCH: every timestamp in the image is clamped to it.
    public var sourceDateEpoch: Int64?

    public init(tags: [String] = [], buildArgs: [String: String?] = [:], labels: [String: String] = [:], target: String? = nil,
                noCache: Bool = false, pull: PullPolicy = .missing, network: String = "default", platform: String? = nil,
                secrets: [String: String] = [:], sourceDateEpoch: Int64? = nil) {
        self.tags = tags
        self.buildArgs = buildArgs
        self.labels = labels
        self.target = target
        self.noCache = noCache
        self.pull = pull
        self.network = network
        self.platform = platform
        self.secrets = secrets
        self.sourceDateEpoch = sourceDateEpoch
    }
}

/// Where the Dockerfile comes from.
public enum DockerfileSource: Sendable {
    /// Its text, given by the client (`-f -`, or a file outside the context), and the name messages use.
    case text(String, name: String)
    /// A path inside the context directory (the API's `dockerfile`, `Dockerfile` by default).
    case context(path: String)
}

/// What a build reports as it goes.
public enum BuildEvent: Sendable, Equatable {
    /// A line of progress in the build's style.
    case line(String)
    /// The built image's ID (the classic style's `aux` message).
    case imageID(Digest)
}

/// What `builder prune` removed.
public struct BuildCachePruneReport: Sendable {
    /// The cache entries' keys.
    public var deleted: [String]
    public var reclaimedBytes: Int64
}

extension Engine {
    /// The network modes a build's RUN steps may use.
    public static let buildNetworkModes: Set<String> = ["default", "bridge", "host", "none"]

    /// Builds an image from a context directory, reporting progress in `style`; in the classic
    /// style the build ends with dockerd's ` ---> ID`, `Successfully built` and `Successfully
    /// tagged` lines. Blocks until the build ends; `cancellation` stops it from elsewhere.
    public func build(_ options: BuildOptions, contextDirectory: String, dockerfile: DockerfileSource,
                      style: BuildProgressStyle, cancellation: BuildCancellation? = nil,
                      output: @escaping @Sendable (BuildEvent) -> Void) throws -> BuildResult {
        let request = try buildRequest(options, contextDirectory: contextDirectory, dockerfile: dockerfile, cancellation: cancellation)
        let builder = Builder(store: try store(), style: style) { output(.line($0)) }
        let result = try builder.build(request)
        if style == .classic {
            output(.line(" ---> \(result.imageID.shortID)"))
            output(.imageID(result.imageID))
            output(.line("Successfully built \(result.imageID.shortID)"))
            for tag in request.tags { output(.line("Successfully tagged \(tag.familiarString)")) }
        }
        for tag in request.tags {
            events.record(.image, "tag", id: result.imageID.description, attributes: ["name": tag.familiarString])
        }
        return result
    }

    /// Extracts a tar build context (plain or compressed, as `docker build` uploads it) into a
    /// new `directory`; nothing in it may reach out of the directory.
    public func extractBuildContext(_ archive: String, into directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
            _ = try SafeExtractor(root: directory, whiteouts: .keep).extract(TarReader(DecompressingSource(FileSource(path: archive))))
        } catch {
            throw EngineError.invalidParameter("invalid build context: \(error)")
        }
    }

    /// The images the build's stages start from (their FROM after ARG expansion) or copy and mount
    /// from (COPY --from, RUN --mount from=), other than `scratch` and stages, that `options.pull`
    /// says to pull: those the store lacks (which Docker's builders pull), all of them, or none.
    public func basesToPull(_ options: BuildOptions, contextDirectory: String, dockerfile: DockerfileSource) throws -> [String] {
        guard options.pull != .never else { return [] }
        let request = try buildRequest(options, contextDirectory: contextDirectory, dockerfile: dockerfile, cancellation: nil)
        let parsed = try Dockerfile.parse(request.dockerfile, fileName: request.dockerfileName)
        let stages = try parsed.stages()
        let platform = "\(Platform.current.os)/\(Platform.current.architecture)"
        let args = try ArgScope(metaArgs: stages.metaArgs, buildArgs: request.buildArgs,
                                platformArgs: ArgScope.platformArgs(build: platform, target: platform),
                                escape: parsed.directives.escape, fileName: request.dockerfileName)
        var names: [String] = []
        for stage in stages.stages {
            var used = [try args.resolve(stage.from, fileName: request.dockerfileName).baseName]
            var scope = args.stageScope()
            for command in stage.commands {
                switch try scope.apply(command, fileName: request.dockerfileName) {
                case .copy(let copy): used += copy.from.map { [$0] } ?? []
                case .run(let run): used += run.mounts.compactMap(\.from)
                default: break
                }
            }
            for name in used where name != "scratch" && stages.stage(named: name, before: stage.index) == nil && !names.contains(name) {
                if options.pull == .missing, (try? image(named: name)) != nil { continue }
                names.append(name)
            }
        }
        return names
    }

    /// Runs a build (blocking work that lasts as long as its RUN steps do) on a thread of its own
    /// rather than on the engine's pool, which a few long builds would otherwise fill.
    public func onBuildThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "berth build"
            thread.start()
        }
    }

    /// The builder's request for `options`, once they are checked.
    func buildRequest(_ options: BuildOptions, contextDirectory: String, dockerfile: DockerfileSource,
                      cancellation: BuildCancellation?) throws -> BuildRequest {
        let host = "\(Platform.current.os)/\(Platform.current.architecture)"
        if let platform = options.platform, !platform.isEmpty, platform != host {
            throw EngineError.invalidParameter("platform \(platform) is not supported: berth builds for the host's \(host)")
        }
        let network = options.network.isEmpty ? "default" : options.network
        guard Self.buildNetworkModes.contains(network) else {
            throw EngineError.invalidParameter("network mode \(network) is not supported for builds; use default, host or none")
        }
        let tags = try options.tags.map { value -> Reference in
            do {
                return try Reference(parsing: value).withDefaultTag
            } catch {
                throw EngineError.invalidParameter("invalid tag \"\(value)\": \(error)")
            }
        }
        let text: String
        let name: String
        switch dockerfile {
        case .text(let given, let givenName):
            (text, name) = (given, givenName)
        case .context(let path):
            let relative = path.isEmpty ? "Dockerfile" : path
            // Resolved as inside the context: a symlink in an uploaded context cannot reach out of it.
            let resolved = SecurePath.join(contextDirectory, relative)
            guard let data = FileManager.default.contents(atPath: resolved) else {
                throw EngineError.invalidParameter("Cannot locate specified Dockerfile: \(relative)")
            }
            (text, name) = (String(decoding: data, as: UTF8.self), (relative as NSString).lastPathComponent)
        }
        return BuildRequest(
            contextDirectory: contextDirectory, dockerfile: text, dockerfileName: name, tags: tags,
            buildArgs: options.buildArgs.compactMapValues { $0 }, labels: options.labels, target: options.target.flatMap { $0.isEmpty ? nil : $0 },
            noCache: options.noCache, sourceDateEpoch: options.sourceDateEpoch, network: network, secrets: options.secrets,
            cancellation: cancellation)
    }

    /// A failed build's error as one line that names the Dockerfile's line when there is one
    /// (`Dockerfile:5: process "/bin/sh -c false" did not complete successfully: exit code: 1`).
    public static func buildFailureMessage(_ error: any Error) -> String {
        let text = "\(error)"
        guard let error = error as? BuildError, let location = error.location else { return text }
        let prefix = "\(location.fileName):\(location.line)"
        return text.hasPrefix(prefix) ? text : "\(prefix): \(text)"
    }

    /// Empties the build cache (keeping what running builds use) and collects what it held.
    public func pruneBuildCache() throws -> BuildCachePruneReport {
        let cacheRoot = StateRoot(root).buildCache
        BuildStepRecord.releaseAbandoned(berthRoot: root)
        let before = Self.diskUsage(cacheRoot)
        let store = try store()
        let deleted = try BuildCache(root: root).prune(store: store)
        let garbage = try store.collectGarbage()
        let reclaimed = max(0, before - Self.diskUsage(cacheRoot)) + garbage.reclaimedBytes
        events.record(.builder, "prune", id: "", attributes: ["reclaimed": String(reclaimed)])
        return BuildCachePruneReport(deleted: deleted, reclaimedBytes: reclaimed)
    }

    /// Bytes of the regular files under `path`.
    public static func diskUsage(_ path: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        for case let name as String in walker {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG { total += Int64(info.st_size) }
        }
        return total
    }
}
