import BerthArchive
import BerthDockerfile
import BerthFiles
import BerthOCI
import BerthRuntime
import BerthStore
import Foundation
import Glibc

/// What to build: a Dockerfile, its context and the `berth build` options.
public struct BuildRequest: Sendable {
    /// The build context directory.
    public var contextDirectory: String
    /// The Dockerfile's text.
    public var dockerfile: String
    /// The Dockerfile's name, for messages (`Dockerfile:12`).
    public var dockerfileName: String
    /// `-t`: names the image gets.
    public var tags: [Reference]
    /// `--build-arg`.
    public var buildArgs: [String: String]
    /// `--label`: labels added to the final image.
    public var labels: [String: String]
    /// `--target`: the stage to build (default: the last one).
    public var target: String?
    /// `--no-cache`: run every step (results still fill the cache).
    public var noCache: Bool
    /// SOURCE_DATE_EPOCH: every timestamp in the image is clamped to it, so builds reproduce.
    public var sourceDateEpoch: Int64?
    /// RUN's default network: `default` (the bridge, as in Docker), `host` or `none`.
    public var network: String
    /// `--secret id=…,src=…`: files RUN --mount=type=secret can read, by id.
    public var secrets: [String: String]
    /// Stops the build from outside (see `BuildCancellation`).
    public var cancellation: BuildCancellation?

    public init(contextDirectory: String, dockerfile: String, dockerfileName: String = "Dockerfile",
                tags: [Reference] = [], buildArgs: [String: String] = [:], labels: [String: String] = [:],
                target: String? = nil, noCache: Bool = false, sourceDateEpoch: Int64? = nil, network: String = "default",
                secrets: [String: String] = [:], cancellation: BuildCancellation? = nil) {
        self.contextDirectory = contextDirectory
        self.dockerfile = dockerfile
        self.dockerfileName = dockerfileName
        self.tags = tags
        self.buildArgs = buildArgs
        self.labels = labels
        self.target = target
        self.noCache = noCache
        self.sourceDateEpoch = sourceDateEpoch
        self.network = network
        self.secrets = secrets
        self.cancellation = cancellation
    }
}

/// What a build produced.
public struct BuildResult: Sendable {
    /// The image ID (its config digest).
    public var imageID: Digest
    public var manifestDigest: Digest
    /// Steps that ran (RUN, COPY, ADD, WORKDIR, …) and steps served from the cache.
    public var executedSteps: Int
    public var cachedSteps: Int
}

/// Builds images from Dockerfiles: stages in dependency order, one cache lookup per step, RUN in
/// runc on an overlay of the parent's snapshots, one uncompressed layer per file-system step.
public final class Builder {
    let store: Store
    let cache: BuildCache
    let runcBinary: String
    let progress: BuildProgress
    /// What the build in progress holds: the images it reads, the layers it writes and those its
    /// steps run on, so that no `rmi`, prune or `builder prune` elsewhere takes them meanwhile.
    private(set) var lease = Lease.process()
    /// Whether the build has held anything yet: a fully cached rebuild holds nothing and writes
    /// no lease (its export checks that every layer is still there).
    private(set) var holding = false

    /// `output` receives the progress in `style`, one line per call.
    public init(store: Store, runcBinary: String = "runc", style: BuildProgressStyle = .plain,
                output: @escaping (String) -> Void) {
        self.store = store
        self.cache = BuildCache(root: store.root)
        self.runcBinary = runcBinary
        self.progress = BuildProgress(style: style, output)
    }

    var stateRoot: StateRoot { store.stateRoot }

    /// An image's state as a stage is built.
    struct ImageState {
        var config: ImageConfig
        var layers: [Descriptor]
        var layerSizes: [Digest: Int64]
        var key: Digest
        /// The store image the state starts from, whose snapshots the store unpacks.
        var baseImage: ImageRecord?
    }

    /// The state of an image in the store, for FROM and COPY --from.
    func imageState(_ name: String) throws -> ImageState {
        let image: ImageRecord
        do {
            image = try store.image(named: name)
        } catch StoreError.noSuchImage {
            throw BuildError.baseImageNotFound(name)
        }
        let config = try store.config(of: image)
        let manifest = try store.manifest(of: image)
        return ImageState(config: config, layers: manifest.layers, layerSizes: try store.layerSizes(config.rootfs.diffIDs),
                          key: Digest.sha256(of: Array("FROM \(image.id)".utf8)), baseImage: image)
    }

    struct Context {
        var request: BuildRequest
        var stages: BuildStages
        var args: ArgScope
        var escape: Character
        var ignore: DockerIgnore?
        var built: [Int: ImageState] = [:]
        var executed = 0
        var cached = 0
        var dockerfileLines: [Substring]
    }

    /// Builds the request's target stage, writes the image and names it.
    public func build(_ request: BuildRequest) throws -> BuildResult {
        removeLeftovers()
        (lease, holding) = (Lease.process(), false)
        defer { if holding { try? store.release(lease) } }
        let load = progress.begin("[internal] load build definition from \(request.dockerfileName)")
        let dockerfile = try Dockerfile.parse(request.dockerfile, fileName: request.dockerfileName)
        let stages = try dockerfile.stages()
        progress.done(load)
        let platform = "\(Platform.current.os)/\(Platform.current.architecture)"
        let args = try ArgScope(metaArgs: stages.metaArgs, buildArgs: request.buildArgs,
                                platformArgs: ArgScope.platformArgs(build: platform, target: platform),
                                escape: dockerfile.directives.escape, fileName: request.dockerfileName)
        let ignoreStep = progress.begin("[internal] load .dockerignore")
        let ignore = FileManager.default.contents(atPath: request.contextDirectory + "/.dockerignore")
            .map { DockerIgnore(contents: String(decoding: $0, as: UTF8.self)) }
        progress.done(ignoreStep)
        var context = Context(request: request, stages: stages, args: args, escape: dockerfile.directives.escape,
                              ignore: ignore, dockerfileLines: request.dockerfile.split(separator: "\n", omittingEmptySubsequences: false))
        let target: Stage
        if let name = request.target {
            guard let stage = stages.stage(named: name) else { throw BuildError.targetNotFound(name) }
            target = stage
        } else {
            guard let last = stages.stages.last else { throw BuildError.targetNotFound("") }
            target = last
        }
        // The classic builder counts the ARGs before the first FROM and every instruction of the
        // stages up to the target.
        progress.instructionCount = stages.metaArgs.count
            + stages.stages[...target.index].reduce(0) { $0 + 1 + $1.commands.count }
        for arg in stages.metaArgs { progress.instruction(Self.displayText(arg.instruction)) }
        let state = try buildStage(target.index, &context)
        let declared = Set(stages.metaArgs.flatMap(\.definitions).map(\.name)
            + context.built.keys.flatMap { index in
                stages.stages[index].commands.flatMap { command -> [String] in
                    if case .arg(let arg) = command { return arg.definitions.map(\.name) }
                    return []
                }
            })
        let unused = request.buildArgs.keys.filter { !declared.contains($0) && !ArgScope.predefinedProxyArgs.contains($0) }
        if !unused.isEmpty {
            progress.raw("[Warning] One or more build-args [\(unused.sorted().joined(separator: " "))] were not consumed")
        }
        let (imageID, manifestDigest) = try export(state, &context)
        return BuildResult(imageID: imageID, manifestDigest: manifestDigest, executedSteps: context.executed,
                           cachedSteps: context.cached)
    }

    // MARK: Stages

    /// Whether a command makes a step of its own in the progress output (as BuildKit shows them).
    static func isVertex(_ command: Command) -> Bool {
        switch command {
        case .run, .copy, .add, .workdir: true
        default: false
        }
    }

    func buildStage(_ index: Int, _ context: inout Context) throws -> ImageState {
        if let state = context.built[index] { return state }
        let stage = context.stages.stages[index]
        let fileName = context.request.dockerfileName
        let (baseName, platform) = try context.args.resolve(stage.from, fileName: fileName)
        let host = "\(Platform.current.os)/\(Platform.current.architecture)"
        if let platform, platform != host {
            throw BuildError.unsupported("FROM --platform=\(platform) (berth builds for the host's \(host))",
                                         fileName: fileName, line: stage.from.instruction.startLine)
        }
        // Stages this one depends on are built first.
        for command in stage.commands {
            var froms: [String] = []
            if case .copy(let copy) = command, let from = copy.from { froms.append(from) }
            if case .run(let run) = command { froms += run.mounts.filter { $0.type == .bind }.compactMap(\.from) }
            for from in froms {
                if let source = context.stages.stage(named: from, before: index) { _ = try buildStage(source.index, &context) }
            }
        }
        var state: ImageState
        let parentStage = context.stages.stage(named: baseName, before: index)
        if let parentStage {
            state = try buildStage(parentStage.index, &context)
        } else if baseName == "scratch" {
            state = ImageState(config: ImageConfig(history: []), layers: [], layerSizes: [:],
                               key: Digest.sha256(of: Array("FROM scratch".utf8)))
        } else {
            state = try imageState(baseName)
        }
        // An image's ONBUILD triggers run first in a build FROM it, and are not inherited further.
        var triggers: [Command] = []
        if parentStage == nil {
            for expression in state.config.config?.OnBuild ?? [] {
                for instruction in try Dockerfile.parse(expression, fileName: fileName).instructions {
                    triggers.append(try Command(instruction, escape: context.escape, fileName: fileName))
                }
            }
            if !triggers.isEmpty { state.config.config?.OnBuild = nil }
        }
        let commands = triggers + stage.commands
        let total = 1 + commands.filter(Self.isVertex).count
        let prefix = stage.name ?? (context.stages.stages.count > 1 ? "stage-\(index)" : nil)
        let label = { (position: Int) -> String in
            "[\(prefix.map { $0 + " " } ?? "")\(position)/\(total)]"
        }
        let shownBase = parentStage == nil && baseName != "scratch"
            ? ((try? Reference(parsing: baseName).withDefaultTag.description) ?? baseName) : baseName
        progress.instruction(Self.displayText(stage.from.instruction))
        progress.done(progress.begin("\(label(1)) FROM \(shownBase)"))
        // BuildKit gives every stage a PATH when its base image has none.
        var baseConfig = state.config.config ?? ContainerConfig()
        if !(baseConfig.Env ?? []).contains(where: { $0.hasPrefix("PATH=") }) {
            baseConfig.Env = (baseConfig.Env ?? []) + ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
            state.config.config = baseConfig
        }
        state.config.comment = nil

        var scope = context.args.stageScope(imageEnvironment: ConfigChanges.environment(of: state.config.config ?? ContainerConfig()))
        var position = 1
        var cmdSetInStage = false
        for (offset, command) in commands.enumerated() {
            defer { if case .cmd = command { cmdSetInStage = true } }
            if context.request.cancellation?.isCancelled == true { throw BuildError.cancelled }
            // ONBUILD triggers run within the FROM step, as the classic builder shows them.
            if offset >= triggers.count { progress.instruction(Self.displayText(command.instruction)) }
            let expanded = try scope.apply(command, fileName: fileName)
            var step: BuildProgress.Step?
            if Self.isVertex(command) {
                position += 1
                step = progress.begin("\(label(position)) \(Self.stepName(command))")
            }
            var extra = ""
            var copySource: CopySource?
            var copyPlan: CopyPlan?
            switch expanded {
            case .copy(let copy):
                copySource = try resolveCopySource(from: copy.from, index: index, context: &context, fileName: fileName,
                                                   line: command.line)
            case .add:
                copySource = CopySource(root: context.request.contextDirectory, ignore: context.ignore, stageKey: nil)
            default:
                break
            }
            var mountSources: [String: ImageState] = [:]
            if case .run(let run) = expanded {
                for from in run.mounts.filter({ $0.type == .bind }).compactMap(\.from) where mountSources[from] == nil {
                    mountSources[from] = try resolveCopySource(from: from, index: index, context: &context, fileName: fileName,
                                                               line: command.line).stageState
                }
                extra = try mountCacheText(run, sources: mountSources, context: context, line: command.line)
                // The line holds only the markers: the bodies are what runs.
                extra += run.heredocs.map { "\0\($0.name)\0\($0.content)" }.joined()
            }
            // ADD's URLs are fetched on every build, as BuildKit does: their content is the cache key.
            // A URL pinned by --checksum is fetched only when the step runs: the checksum is the key.
            let pinnedURL = Self.checksumPinnedURL(expanded)
            var downloads: String?
            defer { if let downloads { try? FileManager.default.removeItem(atPath: downloads) } }
            if pinnedURL == nil, case .add(let add) = expanded, add.files.paths.contains(where: RemoteSource.isURL) {
                downloads = try makeStaging()
            }
            if let copySource {
                if let pinnedURL {
                    extra = pinnedURL
                } else {
                    copyPlan = try plan(for: expanded, state: state, source: copySource, downloads: downloads, context: context)
                    extra = try copySource.cacheText(copyPlan)
                }
                if case .copy(let copy) = expanded {
                    extra += copy.files.inlineFiles.map { "\($0.name)\0\($0.content)" }.joined(separator: "\0")
                } else if case .add(let add) = expanded {
                    extra += add.files.inlineFiles.map { "\($0.name)\0\($0.content)" }.joined(separator: "\0")
                }
            }
            let visibleArgs = scope.args.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let keyText = [state.key.description, command.instruction.original, visibleArgs.joined(separator: "\n"),
                           context.request.network, extra].joined(separator: "\0")
            let key = Digest.sha256(of: Array(keyText.utf8))
            if !context.request.noCache, let entry = cache.entry(for: key),
               entry.layer.map({ store.content.contains($0.diffID) }) ?? true {
                apply(entry, to: &state, key: key)
                if let step {
                    context.cached += 1
                    progress.cached(step)
                }
                continue
            }
            if pinnedURL != nil {
                downloads = try makeStaging()
                copyPlan = try plan(for: expanded, state: state, source: copySource, downloads: downloads, context: context)
            }
            // What the step runs on is held before it runs (cache hits until now were not).
            try hold(([state] + mountSources.values).flatMap(Self.resources))
            let entry = try execute(expanded, state: state, scope: scope, source: copySource, plan: copyPlan,
                                    mountSources: mountSources,
                                    cmdSetInStage: cmdSetInStage, step: step, context: context)
            try cache.store(entry, for: key)
            if let layer = entry.layer { try store.hold([.blob(layer.diffID)], in: .buildCache) }
            apply(entry, to: &state, key: key)
            if let step {
                context.executed += 1
                progress.done(step)
            }
        }
        context.built[index] = state
        return state
    }

    /// Holds `resources` in the build's lease.
    func hold(_ resources: [LeaseResource]) throws {
        holding = true
        try store.hold(resources, in: lease)
    }

    /// Runs `body`, which writes content, and holds what it returns in the build's lease (see
    /// `Store.hold(in:_:)`).
    func hold<T>(_ body: () throws -> (T, [LeaseResource])) throws -> T {
        holding = true
        return try store.hold(in: lease, body)
    }

    /// A state's layer blobs and the snapshots of its layers.
    static func resources(_ state: ImageState) -> [LeaseResource] {
        state.layers.map { .blob($0.digest) } + ChainID.chain(state.config.rootfs.diffIDs).map { .snapshot($0) }
    }

    func apply(_ entry: BuildCache.Entry, to state: inout ImageState, key: Digest) {
        state.config.config = entry.config
        if let author = entry.author { state.config.author = author }
        state.config.history = (state.config.history ?? []) + [entry.history]
        if let layer = entry.layer {
            state.config.rootfs.diffIDs.append(layer.diffID)
            state.layers.append(Descriptor(mediaType: MediaType.ociLayer, digest: layer.diffID, size: layer.size))
            state.layerSizes[layer.diffID] = layer.fileBytes
        }
        state.key = key
    }

    /// Where a COPY or ADD reads from: the build context or an earlier stage's file system.
    struct CopySource {
        var root: String
        var ignore: DockerIgnore?
        /// For a stage, its cache key stands for its content.
        var stageKey: Digest?
        var stageState: ImageState?

        init(root: String, ignore: DockerIgnore?, stageKey: Digest?, stageState: ImageState? = nil) {
            self.root = root
            self.ignore = ignore
            self.stageKey = stageKey
            self.stageState = stageState
        }

        func cacheText(_ plan: CopyPlan?) throws -> String {
            if let stageKey { return stageKey.description }
            guard let plan else { return "" }
            return try plan.contentHash(ownership: false).description
        }
    }

    func resolveCopySource(from: String?, index: Int, context: inout Context, fileName: String, line: Int) throws -> CopySource {
        guard let from else {
            return CopySource(root: context.request.contextDirectory, ignore: context.ignore, stageKey: nil)
        }
        if let stage = context.stages.stage(named: from, before: index) {
            let state = try buildStage(stage.index, &context)
            return CopySource(root: "", ignore: nil, stageKey: state.key, stageState: state)
        }
        let state = try imageState(from)
        return CopySource(root: "", ignore: nil, stageKey: state.key, stageState: state)
    }

    /// For `ADD --checksum=DIGEST URL`, the URL and digest, which stand for the content; nil when
    /// the instruction is anything else or its checksum is unusable (`makePlan` reports why).
    static func checksumPinnedURL(_ command: Command) -> String? {
        guard case .add(let add) = command, let checksum = add.checksum, add.files.paths.count == 1,
              let url = add.files.paths.first, RemoteSource.isURL(url),
              let digest = try? Digest(parsing: checksum) else { return nil }
        return "\(url)\0\(digest)"
    }

    /// The selection a COPY/ADD makes from the context (nil for a stage source: it is selected
    /// once the stage's file system is mounted).
    func plan(for command: Command, state: ImageState, source: CopySource?, downloads: String?,
              context: Context) throws -> CopyPlan? {
        guard let source, source.stageKey == nil else { return nil }
        return try makePlan(command, state: state, root: source.root, ignore: source.ignore, downloads: downloads,
                            fileName: context.request.dockerfileName)
    }

    /// The selection a COPY/ADD makes under `root`; ADD's URLs are fetched into `downloads`.
    func makePlan(_ command: Command, state: ImageState, root: String, ignore: DockerIgnore?, downloads: String? = nil,
                  fileName: String) throws -> CopyPlan {
        let workdir = state.config.config?.WorkingDir
        switch command {
        case .copy(let copy):
            let plan = try CopyPlan.make(sources: copy.files.paths, destination: copy.files.destination, workingDirectory: workdir,
                                         root: root, ignore: ignore, extractArchives: false, fileName: fileName, line: command.line,
                                         isExistingDirectory: { try self.isDirectory($0, in: state) },
                                         resolveTarget: { try self.resolve($0, in: state) })
            try Self.checkDestination(command, sourceCount: plan.sourceCount + copy.files.inlineFiles.count,
                                      destination: copy.files.destination, fileName: fileName)
            return plan
        case .add(let add):
            let line = command.line
            let sources = add.files.paths
            for source in sources where RemoteSource.isGit(source) {
                throw BuildError.unsupported("ADD from a Git repository (\(source))", fileName: fileName, line: line)
            }
            var checksum: Digest?
            if let text = add.checksum {
                guard sources.count == 1 else {
                    throw BuildError.invalid("checksum can't be specified for multiple sources", fileName: fileName, line: line)
                }
                guard RemoteSource.isURL(sources[0]) else {
                    throw BuildError.invalid("checksum can't be specified for non-HTTP(S) sources", fileName: fileName,
                                             line: line)
                }
                do {
                    checksum = try Digest(parsing: text)
                } catch {
                    throw BuildError.invalid("invalid checksum digest format: \(error)", fileName: fileName, line: line)
                }
            }
            let urls = sources.filter(RemoteSource.isURL)
            let locals = sources.filter { !RemoteSource.isURL($0) }
            let destination = add.files.destination
            var plan = locals.isEmpty ? CopyPlan() : try CopyPlan.make(
                sources: locals, destination: destination,
                workingDirectory: workdir, root: root, ignore: ignore, extractArchives: add.unpack ?? true, fileName: fileName,
                line: line, isExistingDirectory: { try self.isDirectory($0, in: state) },
                resolveTarget: { try self.resolve($0, in: state) })
            try Self.checkDestination(command, sourceCount: plan.sourceCount + urls.count + add.files.inlineFiles.count,
                                      destination: destination, fileName: fileName)
            let target = try resolve(ConfigChanges.resolveWorkdir(destination, current: workdir), in: state)
            for url in urls {
                guard let downloads else { throw BuildError.unsupported("ADD from a URL here", fileName: fileName, line: line) }
                let download = try RemoteSource.fetch(url, into: downloads, checksum: checksum, fileName: fileName, line: line)
                // Remote files are not extracted; a directory destination gets the URL's file name.
                let intoDirectory = try destination.hasSuffix("/") || sources.count > 1 || isDirectory(target, in: state)
                plan.items.append(CopyPlan.Item(source: download.path,
                                                target: intoDirectory ? CopyPlan.join(target, download.name) : target,
                                                kind: .file))
            }
            return plan
        default:
            return CopyPlan()
        }
    }

    /// Several sources (a wildcard's matches each count) go into a directory, which the
    /// destination must say by its trailing slash (Docker's rule and message).
    static func checkDestination(_ command: Command, sourceCount: Int, destination: String, fileName: String) throws {
        guard sourceCount > 1, !destination.hasSuffix("/") else { return }
        throw BuildError.invalid(
            "When using \(command.instruction.keyword) with more than one source file, the destination must be a directory and end with a /",
            fileName: fileName, line: command.line)
    }

    /// The instruction as the progress shows it: keyword and arguments on one line.
    static func displayText(_ instruction: Instruction) -> String {
        let flags = instruction.flags.map(\.text)
        let arguments = String(String.UnicodeScalarView(instruction.rawArguments.unicodeScalars.map { $0 == "\n" ? " " : $0 }))
        return ([instruction.keyword] + flags + [arguments]).filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// A step's name in BuildKit's progress: the instruction, and for a RUN whose command is one
    /// heredoc, the script's first line (`RUN <<EOF (apt-get update...)`).
    static func stepName(_ command: Command) -> String {
        guard case .run(let run) = command, let script = run.scriptHeredoc else { return displayText(command.instruction) }
        let lines = script.content.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n", omittingEmptySubsequences: false)
        return displayText(command.instruction) + " (\(lines.first ?? "")\(lines.count > 1 ? "..." : ""))"
    }

    var now: String {
        Timestamp.format(Date())
    }

    func timestamp(_ context: Context) -> String {
        context.request.sourceDateEpoch.map { Timestamp.format(Date(timeIntervalSince1970: TimeInterval($0))) } ?? now
    }
}
