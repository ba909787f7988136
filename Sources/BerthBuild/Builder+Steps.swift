import BerthArchive
import BerthDockerfile
import BerthOCI
import BerthRuntime
import BerthStore
import BerthTemplate
import Foundation
import Glibc

extension Builder {
    /// Runs one step that missed the cache and returns what it produced.
    func execute(_ command: Command, state: ImageState, scope: StageScope, source: CopySource?, plan: CopyPlan?,
                 mountSources: [String: ImageState], cmdSetInStage: Bool, step: BuildProgress.Step?, context: Context) throws -> BuildCache.Entry {
        let fileName = context.request.dockerfileName
        var config = state.config.config ?? ContainerConfig()
        var author: String?
        var layer: BuildCache.Layer?
        let created = timestamp(context)
        var createdBy: String
        switch command {
        case .arg(let arg):
            // As written (BuildKit's history); --build-arg values show in the RUN lines that see them.
            createdBy = "ARG " + arg.definitions.map { definition in
                definition.defaultValue.map { "\(definition.name)=\($0)" } ?? definition.name
            }.joined(separator: " ")
        case .maintainer(let maintainer):
            author = maintainer.value
            createdBy = "MAINTAINER \(maintainer.value)"
        case .workdir:
            try ConfigChanges.apply(command, to: &config)
            let path = config.WorkingDir ?? "/"
            createdBy = "WORKDIR \(path)"
            // Made where the image's symbolic links on the way point, as a COPY destination is.
            let target = try resolve(path, in: state)
            if try !exists(target, in: state) {
                let staging = try makeStaging()
                let owner = try resolveOwner(config.User ?? "", state: state, fileName: fileName, line: command.line)
                var directories = LayerDirectory.Directories(root: staging, owner: owner, lower: try lowerDirectories(state))
                try directories.makeDirectory(target)
                directories.restoreTimes()
                layer = try commit(staging, fromOverlayUpper: false, state: state, context: context)
            }
        case .copy(let copy):
            guard copy.exclude.isEmpty, !copy.parents else {
                throw BuildError.unsupported(copy.parents ? "COPY --parents" : "COPY --exclude", fileName: fileName,
                                             line: command.line)
            }
            createdBy = Self.copyHistory("COPY", copy.files, chown: copy.chown, chmod: copy.chmod)
            layer = try copyStep(command, files: copy.files, chown: copy.chown, chmod: copy.chmod, state: state,
                                 source: source, plan: plan, context: context)
        case .add(let add):
            guard add.exclude.isEmpty else {
                throw BuildError.unsupported("ADD --exclude", fileName: fileName, line: command.line)
            }
            createdBy = Self.copyHistory("ADD", add.files, chown: add.chown, chmod: add.chmod)
            layer = try copyStep(command, files: add.files, chown: add.chown, chmod: add.chmod, state: state,
                                 source: source, plan: plan, context: context)
        case .run(let run):
            let visible = scope.args.filter { name, _ in !ConfigChanges.environment(of: config).keys.contains(name) }
                .sorted { $0.key < $1.key }
            var script = run.commandLine.arguments.joined(separator: " ")
            var executable: HeredocFile?
            switch run.heredocScript {
            case .shell(let text):
                script = text
            case .executable(let name, let content):
                guard !name.contains("/"), name != ".", name != ".." else {
                    throw BuildError.invalid("invalid heredoc name \(name) for a script", fileName: fileName, line: command.line)
                }
                // Mounted read-only at /dev/pipes, outside the step's layer, as BuildKit mounts it.
                executable = HeredocFile(name: name, content: content)
                script = "/dev/pipes/" + name
            case nil:
                break
            }
            let arguments = run.commandLine.prependShell
                ? (config.Shell ?? ["/bin/sh", "-c"]) + [script]
                : run.commandLine.arguments
            let argsPrefix = visible.isEmpty ? "" : "|\(visible.count) " + visible.map { "\($0.key)=\($0.value)" }
                .joined(separator: " ") + " "
            createdBy = "RUN \(argsPrefix)\(arguments.joined(separator: " ")) # buildkit"
            let environment = (config.Env ?? []) + visible.map { "\($0.key)=\($0.value)" }
            layer = try runStep(arguments, environment: environment, run: run, executable: executable,
                                mountSources: mountSources, config: config,
                                network: run.network ?? context.request.network, command: command, state: state,
                                step: step, context: context)
        case .cmd(let line), .entrypoint(let line):
            try ConfigChanges.apply(command, to: &config)
            // ENTRYPOINT resets a CMD inherited from the base image (not one set in this stage).
            if case .entrypoint = command, !cmdSetInStage { config.Cmd = nil }
            let arguments = ConfigChanges.commandArguments(line, shell: config.Shell)
            createdBy = "\(command.instruction.keyword) [" + arguments.map(goQuoted).joined(separator: " ") + "]"
        case .expose(let expose):
            try ConfigChanges.apply(command, to: &config)
            let ports = try expose.ports.flatMap(ConfigChanges.exposedPorts).sorted()
            createdBy = "EXPOSE map[" + ports.map { "\($0):{}" }.joined(separator: " ") + "]"
        case .env(let pairs), .label(let pairs):
            try ConfigChanges.apply(command, to: &config)
            createdBy = command.instruction.keyword + " " + pairs.pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .volume(let volume):
            try ConfigChanges.apply(command, to: &config)
            createdBy = "VOLUME [\(volume.paths.joined(separator: " "))]"
        case .shell(let shell):
            try ConfigChanges.apply(command, to: &config)
            createdBy = "SHELL [\(shell.shell.joined(separator: " "))]"
        case .onbuild(let onbuild):
            try ConfigChanges.apply(command, to: &config)
            createdBy = "ONBUILD \(onbuild.expression)"
        case .user(let value), .stopSignal(let value):
            try ConfigChanges.apply(command, to: &config)
            createdBy = "\(command.instruction.keyword) \(value.value)"
        case .healthcheck:
            try ConfigChanges.apply(command, to: &config)
            createdBy = Self.displayText(command.instruction)
        case .from:
            throw BuildError.unsupported("FROM inside a stage", fileName: fileName, line: command.line)
        }
        let history = History(created: created, createdBy: createdBy, emptyLayer: layer == nil ? true : nil)
        return BuildCache.Entry(layer: layer, config: config, author: author, history: history)
    }

    // MARK: COPY and ADD

    /// A COPY or ADD as BuildKit's history shows it: its --chown and --chmod, the source paths,
    /// then the heredocs (`<<NAME`), and the destination.
    static func copyHistory(_ keyword: String, _ files: SourcesAndDestination, chown: String?, chmod: String?) -> String {
        let flags = [chown.map { "--chown=" + $0 }, chmod.map { "--chmod=" + $0 }].compactMap { $0 }
        let words = [keyword] + flags + files.paths + files.inlineFiles.map { "<<" + $0.name } + [files.destination]
        return words.joined(separator: " ") + " # buildkit"
    }

    func copyStep(_ command: Command, files: SourcesAndDestination, chown: String?, chmod: String?, state: ImageState,
                  source: CopySource?,
                  plan: CopyPlan?, context: Context) throws -> BuildCache.Layer {
        let fileName = context.request.dockerfileName
        var mode: mode_t?
        if let chmod {
            guard let value = mode_t(chmod, radix: 8), value <= 0o7777 else {
                throw BuildError.invalidMode(chmod, fileName: fileName, line: command.line)
            }
            mode = value
        }
        let owner = try chown.map { try resolveOwner($0, state: state, fileName: fileName, line: command.line) }
        let staging = try makeStaging()
        var directories = LayerDirectory.Directories(root: staging, owner: owner ?? (0, 0), lower: try lowerDirectories(state))
        if let stageState = source?.stageState {
            // Another stage's file system, mounted read-only while it is copied.
            let lowers = try snapshotDirectories(stageState)
            let mountPoint = try makeStaging()
            defer {
                _ = umount2(mountPoint, Int32(MNT_DETACH))
                rmdir(mountPoint)
            }
            let root: String
            if lowers.count == 1 {
                root = lowers[0]
            } else if lowers.isEmpty {
                root = mountPoint
            } else {
                let options = "lowerdir=" + lowers.reversed().joined(separator: ":")
                guard mount("overlay", mountPoint, "overlay", UInt(MS_RDONLY), options) == 0 else {
                    throw BuildError.io(operation: "mount overlay on", path: mountPoint, errno: errno)
                }
                root = mountPoint
            }
            let stagePlan = try makePlan(command, state: state, root: root, ignore: nil, fileName: fileName)
            try LayerDirectory.copy(stagePlan, attributes: .init(owner: owner, mode: mode, keepOwner: true),
                                    directories: &directories)
        } else if let plan {
            try LayerDirectory.copy(plan, attributes: .init(owner: owner, mode: mode, keepOwner: false), directories: &directories)
        }
        // Heredoc sources (`COPY <<EOF /file`) become files named by their delimiter, or the
        // destination itself when it is the only source and not a directory.
        let inline = files.inlineFiles
        let destination = try resolve(ConfigChanges.resolveWorkdir(files.destination, current: state.config.config?.WorkingDir),
                                      in: state)
        for heredoc in inline {
            let single = inline.count == 1 && files.paths.isEmpty && !files.destination.hasSuffix("/")
            let asFile = try single && !isDirectory(destination, in: state)
            let target = asFile ? destination : CopyPlan.join(destination, heredoc.name)
            try directories.makeParents(of: target)
            let path = staging + target
            guard FileManager.default.createFile(atPath: path, contents: Data(heredoc.content.utf8)) else {
                throw BuildError.io(operation: "write", path: path, errno: errno)
            }
            _ = Glibc.chown(path, owner?.uid ?? 0, owner?.gid ?? 0)
            _ = Glibc.chmod(path, mode ?? 0o644)
        }
        directories.restoreTimes()
        return try commit(staging, fromOverlayUpper: false, state: state, context: context)
    }

    /// `user[:group]` as uid and gid, names looked up in the image's /etc/passwd and /etc/group.
    func resolveOwner(_ spec: String, state: ImageState, fileName: String, line: Int) throws -> (uid: UInt32, gid: UInt32) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        func lookup(_ file: String, _ name: String) throws -> (id: UInt32, gid: UInt32?) {
            if let numeric = UInt32(name) { return (numeric, nil) }
            for lower in try snapshotDirectories(state).reversed() {
                guard let data = FileManager.default.contents(atPath: lower + file) else { continue }
                for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                    let fields = line.split(separator: ":", omittingEmptySubsequences: false)
                    if fields.count > 3, fields[0] == name, let id = UInt32(fields[2]) {
                        return (id, file == "/etc/passwd" ? UInt32(fields[3]) : nil)
                    }
                }
                break
            }
            throw BuildError.unknownOwner(name, fileName: fileName, line: line)
        }
        if userPart.isEmpty { return (0, 0) }
        let user = try lookup("/etc/passwd", userPart)
        if parts.count > 1 {
            return (user.id, try lookup("/etc/group", parts[1]).id)
        }
        return (user.id, user.gid ?? user.id)
    }

    // MARK: RUN

    /// A RUN heredoc that runs as an executable file (its body starts with `#!`).
    struct HeredocFile {
        var name: String
        var content: String
    }

    func runStep(_ arguments: [String], environment: [String], run: RunCommand, executable: HeredocFile?,
                 mountSources: [String: ImageState],
                 config: ContainerConfig, network: String, command: Command,
                 state: ImageState, step: BuildProgress.Step?, context: Context) throws -> BuildCache.Layer {
        let lowers = try snapshotDirectories(state)
        let directory = try makeStaging()
        // Recorded before anything is mounted or started, so that a killed build's step is found
        // and released by the next command; dropped last.
        let record = try BuildStepRecord.write(directory: directory, runcBinary: runcBinary, stateRoot: stateRoot.buildRuntimeState,
                                               berthRoot: store.root)
        defer { record.remove() }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Bind mounts' overlays live under the step's directory and go before it does.
        defer { BuildStepRunner.unmountAll(under: directory + "/mounts") }
        var mounts = try runMounts(run, sources: mountSources, directory: directory, context: context, line: command.line)
        if let executable {
            let pipes = directory + "/pipes"
            try FileManager.default.createDirectory(atPath: pipes, withIntermediateDirectories: true)
            let path = pipes + "/" + executable.name
            guard FileManager.default.createFile(atPath: path, contents: Data(executable.content.utf8),
                                                 attributes: [.posixPermissions: 0o755]) else {
                throw BuildError.io(operation: "write", path: path, errno: errno)
            }
            mounts.append(.init(destination: "/dev/pipes", source: pipes, readOnly: true))
        }
        try FileManager.default.createDirectory(atPath: stateRoot.buildRuntimeState, withIntermediateDirectories: true)
        let lines = OutputLines { [progress] text in
            if let step { progress.line(step, text) }
        }
        let process = BuildStepRunner.Process(arguments: arguments, environment: environment,
                                              workingDirectory: config.WorkingDir ?? "/", user: config.User ?? "",
                                              network: network, mounts: mounts)
        progress.running(record.containerID)
        let status = try BuildStepRunner.run(process, lowers: lowers, directory: directory, runcBinary: runcBinary,
                                             stateRoot: stateRoot.buildRuntimeState, berthRoot: store.root,
                                             cancellation: context.request.cancellation, output: lines.append)
        lines.finish()
        if status != 0 {
            let shown = arguments.joined(separator: " ")
            let error = BuildError.processFailed(command: shown, exitCode: status, fileName: context.request.dockerfileName,
                                                 line: command.line)
            if context.request.cancellation?.isCancelled == true { throw BuildError.cancelled }
            if let step {
                progress.error(step, error.description)
                progress.errorReport("------")
                progress.errorReport(" > \(step.name):")
                for line in lines.tail { progress.errorReport(line) }
                progress.errorReport("------")
            }
            progress.errorReport("\(context.request.dockerfileName):\(command.line)")
            progress.errorReport("--------------------")
            let first = command.instruction.startLine
            for number in first...max(first, command.instruction.endLine) where number - 1 < context.dockerfileLines.count {
                progress.errorReport(String(format: "%4d | >>> ", number) + context.dockerfileLines[number - 1])
            }
            progress.errorReport("--------------------")
            throw error
        }
        return try commit(directory + "/upper", fromOverlayUpper: true, state: state, context: context)
    }

    /// RUN --mount as container mounts: cache directories that persist under the build root,
    /// tmpfs, binds of the build context or of a stage's or image's file system, and `--secret`
    /// files. Binds are read-only unless `rw`, and then writes go to a scratch overlay under
    /// `directory` that is discarded with the step.
    func runMounts(_ run: RunCommand, sources: [String: ImageState], directory: String, context: Context,
                   line: Int) throws -> [BuildStepRunner.Mount] {
        let fileName = context.request.dockerfileName
        var mounts: [BuildStepRunner.Mount] = []
        var contextLowers: [String]?
        for (number, mount) in run.mounts.enumerated() {
            func option(_ key: String) -> String? { mount.options.last(where: { $0.key == key })?.value }
            switch mount.type {
            case .cache:
                let target = mount.target ?? ""
                let id = option("id") ?? target
                let source = stateRoot.buildMounts + "/cache/" + Digest.sha256(of: Array(id.utf8)).encoded
                try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
                mounts.append(.init(destination: target, source: source, readOnly: mount.readOnly ?? false))
            case .tmpfs:
                mounts.append(.init(destination: mount.target ?? "", source: nil, readOnly: false))
            case .bind:
                let lowers: [String]
                if let from = mount.from {
                    guard let state = sources[from] else { throw BuildError.baseImageNotFound(from) }
                    lowers = try snapshotDirectories(state)
                } else {
                    lowers = try contextLowers ?? filteredContext(context, hiddenIn: directory + "/context-ignored")
                    contextLowers = lowers
                }
                let readOnly = mount.readOnly ?? true
                let root = try bindRoot(lowers: lowers, writable: !readOnly, at: directory + "/mounts/\(number)")
                // Resolved inside the root, so a symlink in an image cannot point the bind at the host.
                let source = SecurePath.join(root, mount.source ?? "/")
                guard CopyPlan.exists(source) else {
                    throw BuildError.sourceNotFound(mount.source ?? ".", fileName: fileName, line: line)
                }
                mounts.append(.init(destination: mount.target ?? "", source: source, readOnly: readOnly))
            case .secret:
                let id = option("id") ?? mount.target.map { ($0 as NSString).lastPathComponent } ?? ""
                guard let source = context.request.secrets[id] else {
                    if option("required") == "true" {
                        throw BuildError.unsupported("a missing required secret \"\(id)\" (pass --secret id=\(id),src=FILE)",
                                                     fileName: fileName, line: line)
                    }
                    continue
                }
                mounts.append(.init(destination: mount.target ?? "/run/secrets/" + id, source: source, readOnly: true))
            case .ssh:
                throw BuildError.unsupported("RUN --mount=type=ssh", fileName: fileName, line: line)
            }
        }
        return mounts
    }

    /// The build context as RUN --mount=type=bind sees it, as lowers for `bindRoot`: what
    /// `.dockerignore` takes out is not there, as for COPY (BuildKit's context is filtered before
    /// the builder sees it). Nothing is copied: the context alone when nothing is ignored, else the
    /// context under a directory `hidden` of overlay whiteouts for the ignored entries, whose
    /// parents keep the context's modes, owners and times (an overlay shows the top layer's).
    func filteredContext(_ context: Context, hiddenIn hidden: String) throws -> [String] {
        // Absolute, as runc resolves a relative bind source against the bundle (`berth build .`).
        let given = context.request.contextDirectory
        let root = given.hasPrefix("/") ? given : FileManager.default.currentDirectoryPath + "/" + given
        guard let ignore = context.ignore, !ignore.patterns.isEmpty else { return [root] }
        let excluded = try CopyPlan.excludedEntries(root: root, ignore: ignore)
        if excluded.isEmpty { return [root] }
        func parentPath(_ relative: String) -> String {
            relative.lastIndex(of: "/").map { String(relative[..<$0]) } ?? ""
        }
        /// Gives `relative` in `hidden` the context's mode, owner and times.
        func copyAttributes(_ relative: String) throws {
            var info = stat()
            guard lstat(root + "/" + relative, &info) == 0 else {
                throw BuildError.io(operation: "stat", path: root + "/" + relative, errno: errno)
            }
            let path = hidden + "/" + relative
            _ = chown(path, info.st_uid, info.st_gid)
            _ = chmod(path, info.st_mode & 0o7777)
            _ = utimensat(AT_FDCWD, path, [info.st_atim, info.st_mtim], AT_SYMLINK_NOFOLLOW)
        }
        func makeDirectory(_ relative: String) throws {
            let path = hidden + "/" + relative
            if CopyPlan.exists(path) { return }
            let parent = parentPath(relative)
            if !parent.isEmpty { try makeDirectory(parent) }
            guard mkdir(path, 0o700) == 0 else { throw BuildError.io(operation: "create", path: path, errno: errno) }
        }
        try FileManager.default.createDirectory(atPath: hidden, withIntermediateDirectories: true)
        for relative in excluded {
            let parent = parentPath(relative)
            if !parent.isEmpty { try makeDirectory(parent) }
            let path = hidden + "/" + relative
            guard mknod(path, S_IFCHR, 0) == 0 else { throw BuildError.io(operation: "create a whiteout at", path: path, errno: errno) }
        }
        // Last, deepest first: each entry made in a directory changed its modification time.
        var directories: [String] = []
        for relative in excluded {
            var parent = parentPath(relative)
            while !parent.isEmpty {
                directories.append(parent)
                parent = parentPath(parent)
            }
        }
        for relative in Set(directories).sorted(by: >) + [""] { try copyAttributes(relative) }
        return [root, hidden]
    }

    /// The directory a bind mount's source is taken from: a single read-only lower as it is, or an
    /// overlay of the lowers at `mountPoint` (read-only, or with a scratch upper directory for `rw`).
    func bindRoot(lowers: [String], writable: Bool, at mountPoint: String) throws -> String {
        if lowers.count == 1, !writable { return lowers[0] }
        let manager = FileManager.default
        for path in [mountPoint, mountPoint + "-upper", mountPoint + "-work", mountPoint + "-empty"] {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        var options = "lowerdir=" + (lowers.isEmpty ? [mountPoint + "-empty"] : lowers.reversed()).joined(separator: ":")
        if writable {
            options += ",upperdir=\(mountPoint)-upper,workdir=\(mountPoint)-work"
        } else if lowers.count < 2 {
            // An overlay needs two lowers without an upper directory; an empty one does.
            options += ":" + mountPoint + "-empty"
        }
        guard mount("overlay", mountPoint, "overlay", writable ? 0 : UInt(MS_RDONLY), options) == 0 else {
            throw BuildError.io(operation: "mount overlay on", path: mountPoint, errno: errno)
        }
        return mountPoint
    }

    /// What RUN --mount adds to a step's cache key: the content of bound context directories, and
    /// the cache keys of the stages and images bound.
    func mountCacheText(_ run: RunCommand, sources: [String: ImageState], context: Context, line: Int) throws -> String {
        try run.mounts.filter { $0.type == .bind }.map { mount in
            if let from = mount.from { return sources[from]?.key.description ?? from }
            let plan = try CopyPlan.make(sources: [mount.source ?? "."], destination: "/", workingDirectory: nil,
                                         root: context.request.contextDirectory, ignore: context.ignore,
                                         extractArchives: false, fileName: context.request.dockerfileName, line: line)
            return try plan.contentHash(ownership: false).description
        }.joined(separator: ",")
    }

    // MARK: Layers and snapshots

    /// A fresh directory on the store's file system, so finished layers can be renamed into place.
    /// Named `<pid>-<uuid>` so a later build can tell the leftovers of a killed one.
    func makeStaging() throws -> String {
        let path = stateRoot.buildTemporary + "/\(getpid())-" + UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Removes what builds killed mid-step left behind: their RUN containers, network
    /// attachments, mounts and staging directories (those whose process is gone).
    func removeLeftovers() {
        BuildStepRecord.releaseAbandoned(berthRoot: store.root)
        let directory = stateRoot.buildTemporary
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let pid = name.split(separator: "-").first.flatMap({ Int32($0) }), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = directory + "/" + name
            BuildStepRunner.cleanUp(directory: path, runcBinary: runcBinary, stateRoot: stateRoot.buildRuntimeState,
                                    berthRoot: store.root)
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Archives `directory` into an uncompressed layer in the content store, then keeps the
    /// directory as the layer's snapshot for later RUN steps.
    func commit(_ directory: String, fromOverlayUpper: Bool, state: ImageState, context: Context) throws -> BuildCache.Layer {
        let epoch = context.request.sourceDateEpoch
        let (digest, size) = try hold {
            let layer = try store.content.ingest(what: "layer") { sink in
                let writer = TarWriter(sink)
                try DirectoryArchiver.write(root: directory, to: writer, fromOverlayUpper: fromOverlayUpper, sourceDateEpoch: epoch)
                try writer.finish()
            }
            let chainID = ChainID.chain(state.config.rootfs.diffIDs + [layer.digest]).last ?? layer.digest
            return (layer, [.blob(layer.digest), .snapshot(chainID)])
        }
        let fileBytes = try LayerDirectory.fileBytes(under: directory)
        let chainID = ChainID.chain(state.config.rootfs.diffIDs + [digest]).last ?? digest
        let snapshot = stateRoot.buildSnapshots + "/" + chainID.encoded
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        if rename(directory, snapshot + "/fs") != 0 {
            try? FileManager.default.removeItem(atPath: directory)
        }
        return BuildCache.Layer(diffID: digest, size: size, fileBytes: fileBytes)
    }

    /// The state's layers as snapshot directories, base first: the store's unpacked snapshots or
    /// the builder's own, unpacking from the content store what neither has.
    func snapshotDirectories(_ state: ImageState) throws -> [String] {
        let chain = ChainID.chain(state.config.rootfs.diffIDs)
        // The base image's layers are unpacked where `berth run` finds them too.
        if let base = state.baseImage, let first = chain.first, !CopyPlan.exists(store.snapshotPath(first)) {
            _ = try store.unpack(base)
        }
        return try chain.enumerated().map { position, chainID in
            let unpacked = store.snapshotPath(chainID)
            if CopyPlan.exists(unpacked) { return unpacked }
            let snapshot = stateRoot.buildSnapshots + "/" + chainID.encoded
            if CopyPlan.exists(snapshot + "/fs") { return snapshot + "/fs" }
            let staging = try makeStaging()
            let reader = TarReader(try DecompressingSource(store.content.open(state.layers[position].digest)))
            _ = try SafeExtractor(root: staging, whiteouts: .overlay).extract(reader)
            try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
            if rename(staging, snapshot + "/fs") != 0 { try? FileManager.default.removeItem(atPath: staging) }
            return snapshot + "/fs"
        }
    }

    /// Whether `path` exists in the state's file system (the topmost layer that has it or a
    /// whiteout for it decides).
    func exists(_ path: String, in state: ImageState) throws -> Bool {
        for lower in try snapshotDirectories(state).reversed() {
            var info = stat()
            if lstat(lower + path, &info) == 0 {
                return !((info.st_mode & S_IFMT) == S_IFCHR && info.st_rdev == 0)
            }
        }
        return false
    }

    /// Looks up directories in the state's file system: the metadata of the directory at an
    /// absolute path (the topmost layer that has the path decides), or nil when it has none.
    func lowerDirectories(_ state: ImageState) throws -> (String) -> stat? {
        let lowers = try snapshotDirectories(state)
        return { path in
            for lower in lowers.reversed() {
                var info = stat()
                if lstat(lower + path, &info) == 0 { return (info.st_mode & S_IFMT) == S_IFDIR ? info : nil }
            }
            return nil
        }
    }

    /// `path` (absolute in the image) with the symbolic links of the state's file system on its
    /// way followed inside that file system, as BuildKit and the classic builder resolve a COPY
    /// destination: a copy into `/lib/x/` where `/lib` links to `usr/lib` writes `/usr/lib/x/`
    /// instead of hiding the link under a directory.
    func resolve(_ path: String, in state: ImageState) throws -> String {
        let lowers = try snapshotDirectories(state)
        /// The link target at an absolute image path, when the topmost layer that has the path
        /// holds a symbolic link there.
        func link(_ candidate: String) -> String? {
            for lower in lowers.reversed() {
                var info = stat()
                guard lstat(lower + candidate, &info) == 0 else { continue }
                guard (info.st_mode & S_IFMT) == S_IFLNK else { return nil }
                return try? CopyPlan.linkTarget(lower + candidate)
            }
            return nil
        }
        var resolved: [Substring] = []
        var pending = path.split(separator: "/")[...]
        var hops = 0
        while let component = pending.popFirst() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = "/" + (resolved + [component]).joined(separator: "/")
            guard hops < 255, let target = link(candidate) else {
                resolved.append(component)
                continue
            }
            hops += 1
            if target.hasPrefix("/") { resolved = [] }
            pending = ArraySlice(target.split(separator: "/") + pending)
        }
        return "/" + resolved.joined(separator: "/")
    }

    /// Whether `path` is a directory in the state's file system.
    func isDirectory(_ path: String, in state: ImageState) throws -> Bool {
        for lower in try snapshotDirectories(state).reversed() {
            var info = stat()
            if lstat(lower + path, &info) == 0 { return (info.st_mode & S_IFMT) == S_IFDIR }
        }
        return false
    }

    // MARK: Export

    /// Writes the config and manifest, registers the image and names it in one transaction.
    func export(_ state: ImageState, _ context: inout Context) throws -> (Digest, Digest) {
        let step = progress.begin("exporting to image")
        var config = state.config
        if !context.request.labels.isEmpty {
            var container = config.config ?? ContainerConfig()
            var labels = container.Labels ?? [:]
            labels.merge(context.request.labels) { _, new in new }
            container.Labels = labels
            config.config = container
        }
        config.created = context.request.sourceDateEpoch.map { Timestamp.format(Date(timeIntervalSince1970: TimeInterval($0))) }
            ?? config.history?.last?.created ?? now
        progress.note(step, "exporting layers done")
        let configBytes = try CanonicalJSON.encode(config)
        let configDigest = Digest.sha256(of: configBytes)
        let manifestBytes = try CanonicalJSON.encode(Manifest(
            config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
            layers: state.layers))
        let manifestDigest = Digest.sha256(of: manifestBytes)
        progress.note(step, "writing image \(configDigest) done")
        let tags = context.request.tags.map(\.withDefaultTag)
        let unchanged = !tags.isEmpty && tags.allSatisfy { tag in
            (try? store.image(named: tag.description)).map { $0.id == configDigest && $0.manifestDigest == manifestDigest } ?? false
        }
        // Every layer must still be in the store: a build whose content was taken meanwhile (by
        // `builder prune`, say) fails here instead of naming a broken image.
        let resources = [LeaseResource.manifest(manifestDigest)] + Self.resources(state)
        if unchanged {
            // The same image under the same names: nothing to write (no database commit).
            try store.checkPresent(resources)
        } else {
            try hold {
                try store.content.ingest(bytes: configBytes, expected: configDigest)
                try store.content.ingest(bytes: manifestBytes, expected: manifestDigest)
                return ((), resources)
            }
            try store.register(manifestDigest: manifestDigest, config: config, configDigest: configDigest,
                               layerSizes: state.layerSizes, tags: tags)
        }
        for tag in context.request.tags {
            progress.note(step, "naming to \(tag.withDefaultTag) done")
        }
        progress.done(step)
        return (configDigest, manifestDigest)
    }
}
