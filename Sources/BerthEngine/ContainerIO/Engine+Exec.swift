import BerthRuntime
import Foundation
import Glibc
import NIOCore
import Synchronization

/// What an exec runs (the API's ExecConfig, the CLI's `exec` flags).
public struct ExecConfig: Sendable, Equatable {
    public var command: [String]
    /// `NAME=value` entries added to the container's environment.
    public var env: [String]
    public var user: String?
    public var workingDir: String?
    public var tty: Bool
    public var attachStdin: Bool
    public var attachStdout: Bool
    public var attachStderr: Bool
    public var detachKeys: String?
    /// Whether typing the detach keys on a terminal ends the session (Docker's exec; a Kubernetes
    /// exec has no detach keys, so Ctrl-P reaches the shell).
    public var detachable: Bool
    public var consoleSize: TerminalSize?
    /// Every capability for the command (the container's seccomp and AppArmor confinement stay, as with Docker).
    public var privileged: Bool

    public init(command: [String], env: [String] = [], user: String? = nil, workingDir: String? = nil, tty: Bool = false,
                attachStdin: Bool = false, attachStdout: Bool = true, attachStderr: Bool = true, detachKeys: String? = nil,
                detachable: Bool = true, consoleSize: TerminalSize? = nil, privileged: Bool = false) {
        self.command = command
        self.env = env
        self.user = user
        self.workingDir = workingDir
        self.tty = tty
        self.attachStdin = attachStdin
        self.attachStdout = attachStdout
        self.attachStderr = attachStderr
        self.detachKeys = detachKeys
        self.detachable = detachable
        self.consoleSize = consoleSize
        self.privileged = privileged
    }

    /// The runtime's options for this exec.
    var runtimeOptions: ExecOptions {
        ExecOptions(command: command, env: env, user: user, workingDir: workingDir?.isEmpty == false ? workingDir : nil,
                    interactive: attachStdin, tty: tty, consoleSize: consoleSize, privileged: privileged)
    }
}

/// An exec instance as inspect reports it.
public struct ExecState: Sendable {
    public let id: String
    public let containerID: String
    public let config: ExecConfig
    public var running = false
    /// Set once the command ended (or could not start).
    public var exitCode: Int32?
    /// The command's pid on the host, while it runs.
    public var pid: Int32 = 0
    /// Whether it was started: an exec runs once.
    public var started = false
}

/// The exec instances of this process's life (dockerd keeps them in memory too), so that inspect
/// reports each one's exit code after it ended; an instance goes with its container.
public final class ExecRegistry: Sendable {
    private struct Instance {
        var state: ExecState
        var process: ExecProcess?
        /// The write end of a running terminal exec's resize pipe.
        var resize: Int32 = -1
    }

    private let instances = Mutex<[String: Instance]>([:])

    public init() {}

    func add(_ state: ExecState) {
        instances.withLock { $0[state.id] = Instance(state: state) }
    }

    /// The instance `id`, its pid read while it runs.
    public func state(_ id: String) throws -> ExecState {
        let instance = try instances.withLock { instances in
            guard let instance = instances[id] else { throw EngineError.notFound("No such exec instance: \(id)") }
            return instance
        }
        var state = instance.state
        if state.running, let process = instance.process { state.pid = process.commandPID }
        return state
    }

    /// Marks `id` started; refuses one that runs or ran, as dockerd does.
    func begin(_ id: String) throws -> ExecState {
        try instances.withLock { instances in
            guard var instance = instances[id] else { throw EngineError.notFound("No such exec instance: \(id)") }
            if instance.state.running { throw EngineError.conflict("exec command \(id) is already running") }
            if instance.state.started { throw EngineError.conflict("exec command \(id) has already run") }
            instance.state.started = true
            instance.state.running = true
            instances[id] = instance
            return instance.state
        }
    }

    func running(_ id: String, process: ExecProcess, resize: Int32) {
        instances.withLock { instances in
            instances[id]?.process = process
            instances[id]?.resize = resize
        }
    }

    func ended(_ id: String, exitCode: Int32) {
        instances.withLock { instances in
            guard var instance = instances[id] else { return }
            if instance.resize >= 0 { close(instance.resize) }
            instance.resize = -1
            instance.process = nil
            instance.state.running = false
            instance.state.pid = 0
            instance.state.exitCode = exitCode
            instances[id] = instance
        }
    }

    /// Sends a window size to a running terminal exec; nothing for one without a terminal.
    func resize(_ id: String, to size: TerminalSize) throws {
        try instances.withLock { instances in
            guard let instance = instances[id] else { throw EngineError.notFound("No such exec instance: \(id)") }
            guard instance.resize >= 0 else { return }
            let frame = AttachFrame.resize(size).encoded()
            _ = frame.withUnsafeBytes { write(instance.resize, $0.baseAddress, $0.count) }
        }
    }

    /// Forgets the instances of containers that no longer exist.
    func prune(keeping exists: (String) -> Bool) {
        instances.withLock { instances in
            instances = instances.filter { $0.value.state.running || exists($0.value.state.containerID) }
        }
    }
}

extension Engine {
    /// Creates an exec instance in a running container; its ID.
    public func createExec(_ reference: String, _ config: ExecConfig) throws -> String {
        guard !config.command.isEmpty else { throw EngineError.invalidParameter("No exec command specified") }
        _ = try DetachKeys(parsing: config.detachKeys)
        let record = try runtime.container(reference)
        switch record.state.status {
        case .running: break
        case .paused: throw EngineError.conflict("Container \(record.id) is paused, unpause the container before exec")
        case .restarting: throw EngineError.conflict("Container \(record.id) is restarting, wait until the container is running")
        default: throw EngineError.conflict("Container \(record.id) is not running")
        }
        if let workingDir = config.workingDir, !workingDir.isEmpty, !workingDir.hasPrefix("/") {
            throw EngineError.invalidParameter("the working directory '\(workingDir)' is invalid, it needs to be an absolute path")
        }
        let runtime = runtime
        execs.prune { (try? runtime.containers.record($0)) != nil }
        let id = ContainerID.random()
        execs.add(ExecState(id: id, containerID: record.id, config: config))
        events.record(.container, "exec_create: " + config.command.joined(separator: " "), id: record.id,
                      attributes: record.eventAttributes(["execID": id]))
        return id
    }

    /// Marks the exec started (404 for an unknown one, 409 for one that ran); run it with `runExec`.
    public func beginExec(_ id: String) throws -> ExecState {
        try execs.begin(id)
    }

    public func resizeExec(_ id: String, to size: TerminalSize) throws {
        try execs.resize(id, to: size)
    }

    /// Runs a begun exec: its output to `output` (one raw stream with a terminal), `input` (when
    /// it attaches stdin) to its stdin, whose end closes the command's stdin. Returns once the
    /// command exited and its output is drained (what a background process it left keeps
    /// writing is cut 2 s later); its exit code is recorded before. A command that cannot start
    /// says why on `output` and exits 126, as with dockerd 20.10 (newer ones exit 127 when it was
    /// not found).
    @discardableResult
    public func runExec(_ state: ExecState, input: AsyncStream<ByteBuffer>?,
                        output: @escaping @Sendable (StdStream, ByteBuffer) async throws -> Void) async -> Int32 {
        await recordingExec(state, report: { message in try? await output(.stdout, ByteBuffer(string: message + "\r\n")) }) {
            try await relayExec(state, input: state.config.attachStdin ? input : nil, output: output)
        }
    }

    /// Runs a begun exec on descriptors of this process, for a front end that has them (the CLI's
    /// own stdio): without a terminal they are the command's `stdin` (when it attaches stdin),
    /// `stdout` and `stderr`; with one (`tty`), the terminal's input and output, its window
    /// resized with `resizeExec`. Otherwise as `runExec(_:input:output:)`, the reason a command
    /// could not start going to `stdout`.
    public func runExec(_ state: ExecState, stdin: Int32?, stdout: Int32, stderr: Int32) async -> Int32 {
        await recordingExec(state, report: { message in
            // dockerd's line end, which the docker CLI passes on as it is.
            let line = Array((message + "\r\n").utf8)
            _ = line.withUnsafeBytes { write(stdout, $0.baseAddress, $0.count) }
        }) {
            let runtime = runtime, containerID = state.containerID, options = state.config.runtimeOptions
            let stdin = state.config.attachStdin ? stdin : nil
            let resize = state.config.tty ? try DescriptorStreams.pipe() : nil
            let process: ExecProcess
            do {
                process = try await blocking {
                    try runtime.startExec(containerID, options, stdin: stdin, stdout: stdout, stderr: stderr, resize: resize?.read)
                }
            } catch {
                if let resize { [resize.read, resize.write].forEach { close($0) } }
                throw error
            }
            if let resize { close(resize.read) }
            execs.running(state.id, process: process, resize: resize?.write ?? -1)
            return try await blocking { try process.wait() }
        }
    }

    /// Starts a begun exec for a front end that leaves at once (the CLI's `exec -d`): runc
    /// detaches the command, so nothing here waits for it or records its exit. Returns once the
    /// command runs, throws when it cannot start.
    public func startDetachedExec(_ state: ExecState) async throws {
        events.record(.container, "exec_start: " + state.config.command.joined(separator: " "), id: state.containerID,
                      attributes: execAttributes(state))
        let runtime = runtime, containerID = state.containerID, options = state.config.runtimeOptions
        do {
            try await blocking { try runtime.execDetached(containerID, options) }
        } catch {
            execs.ended(state.id, exitCode: 126)
            throw error
        }
    }

    /// Starts a begun exec whose output nobody reads, for a front end that stays (the Engine
    /// API's detached start): throws, as dockerd does, when the command cannot start; else
    /// returns once it runs, and this process waits for it and records its exit code.
    public func startExecInBackground(_ state: ExecState) async throws {
        let attributes = execAttributes(state)
        events.record(.container, "exec_start: " + state.config.command.joined(separator: " "), id: state.containerID,
                      attributes: attributes)
        var background = state.config.runtimeOptions
        background.interactive = false
        let runtime = runtime, containerID = state.containerID, options = background
        let ended = { @Sendable (code: Int32) in
            self.execs.ended(state.id, exitCode: code)
            self.events.record(.container, "exec_die", id: state.containerID,
                               attributes: attributes.merging(["exitCode": String(code)]) { $1 })
        }
        let process: ExecProcess
        do {
            process = try await blocking {
                let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
                defer { close(null) }
                return try runtime.startExec(containerID, options, stdin: nil, stdout: null, stderr: null, resize: nil)
            }
        } catch {
            ended(126)
            throw error
        }
        execs.running(state.id, process: process, resize: -1)
        Task {
            let status = await ChildProcess.exitStatus(of: process.pid)
            ended((try? process.finish(waitStatus: status)) ?? 126)
        }
    }

    private func execAttributes(_ state: ExecState) -> [String: String] {
        let record = try? runtime.container(state.containerID)
        return record.map { $0.eventAttributes(["execID": state.id]) } ?? ["execID": state.id]
    }

    /// Runs `body` as the exec `state`, with its events and its recorded exit code; a command
    /// that cannot start is told to `report` and exits 126.
    private func recordingExec(_ state: ExecState, report: (String) async -> Void,
                               _ body: () async throws -> Int32) async -> Int32 {
        let attributes = execAttributes(state)
        events.record(.container, "exec_start: " + state.config.command.joined(separator: " "), id: state.containerID,
                      attributes: attributes)
        let code: Int32
        do {
            code = try await body()
        } catch {
            await report("\(error)")
            code = 126
        }
        execs.ended(state.id, exitCode: code)
        events.record(.container, "exec_die", id: state.containerID, attributes: attributes.merging(["exitCode": String(code)]) { $1 })
        return code
    }

    private func relayExec(_ state: ExecState, input: AsyncStream<ByteBuffer>?,
                           output: @escaping @Sendable (StdStream, ByteBuffer) async throws -> Void) async throws -> Int32 {
        let config = state.config
        let options = config.runtimeOptions
        let stdout = try DescriptorStreams.pipe()
        let stderr = config.tty ? nil : try DescriptorStreams.pipe()
        let stdin = input == nil ? nil : try DescriptorStreams.pipe()
        let resize = config.tty ? try DescriptorStreams.pipe() : nil
        let childEnds = [stdout.write, stderr?.write, stdin?.read, resize?.read].compactMap { $0 }
        let ours = [stdout.read, stderr?.read, stdin?.write, resize?.write].compactMap { $0 }
        let runtime = runtime, containerID = state.containerID
        let process: ExecProcess
        do {
            process = try await blocking {
                try runtime.startExec(containerID, options, stdin: stdin?.read, stdout: stdout.write,
                                      stderr: stderr?.write ?? stdout.write, resize: resize?.read)
            }
        } catch {
            (childEnds + ours).forEach { close($0) }
            throw error
        }
        childEnds.forEach { close($0) }
        execs.running(state.id, process: process, resize: resize?.write ?? -1)
        let outputChannel = try await DescriptorStreams.reading(stdout.read)
        let errorChannel: DescriptorStreams.Channel? = if let stderr { try await DescriptorStreams.reading(stderr.read) } else { nil }
        let inputChannel: DescriptorStreams.Channel? = if let stdin { try await DescriptorStreams.writing(stdin.write) } else { nil }
        let wantsOut = config.attachStdout, wantsErr = config.attachStderr
        let detachKeys = try DetachKeys(parsing: config.detachKeys)
        let inputTask = inputChannel.flatMap { channel in
            input.map { input in
                let watchesForDetach = config.tty && config.detachable
                return Task {
                    try? await channel.executeThenClose { _, outbound in
                        var matcher = watchesForDetach ? DetachKeys.Matcher(detachKeys) : nil
                        for await chunk in input {
                            var bytes = Array(chunk.readableBytesView)
                            var detach = false
                            if var current = matcher {
                                (bytes, detach) = current.filter(bytes)
                                matcher = current
                            }
                            if !bytes.isEmpty { try await outbound.write(ByteBuffer(bytes: bytes)) }
                            if detach { return }
                        }
                        // The close that follows drops writes still queued for a slow reader:
                        // an empty write completes after them.
                        try await channel.channel.writeAndFlush(ByteBuffer())
                    }
                }
            }
        }
        let status = await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await DescriptorStreams.forEachChunk(of: outputChannel) { chunk in
                    if wantsOut { try await output(.stdout, chunk) }
                }
            }
            if let errorChannel {
                group.addTask {
                    try? await DescriptorStreams.forEachChunk(of: errorChannel) { chunk in
                        if wantsErr { try await output(.stderr, chunk) }
                    }
                }
            }
            let waited = await ChildProcess.exitStatus(of: process.pid)
            inputTask?.cancel()
            // The output a command wrote before it exited is read to its end; a background
            // process that keeps the pipes open is not waited for.
            let cut = Task {
                try await Task.sleep(nanoseconds: 2_000_000_000)
                try? await outputChannel.channel.close()
                try? await errorChannel?.channel.close()
            }
            await group.waitForAll()
            cut.cancel()
            return waited
        }
        return try process.finish(waitStatus: status)
    }
}
