import BerthRuntime
import Foundation
import Glibc
import NIOCore
import Synchronization

/// What an attach asks for (the API's `stdin`, `stdout`, `stderr`, `logs`, `stream` and
/// `detachKeys`).
public struct AttachOptions: Sendable {
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool
    /// Replay the log so far first.
    public var logs: Bool
    /// Stream from now on, until the run ends (the next run, for a container not running yet).
    public var stream: Bool
    public var detachKeys: String?
    /// Whether typing the detach keys on a terminal ends the attachment (Docker's attach; a
    /// Kubernetes attach has no detach keys).
    public var detachable: Bool

    public init(stdin: Bool = false, stdout: Bool = false, stderr: Bool = false, logs: Bool = false, stream: Bool = false,
                detachKeys: String? = nil, detachable: Bool = true) {
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.logs = logs
        self.stream = stream
        self.detachKeys = detachKeys
        self.detachable = detachable
    }
}

/// An attachment to a container's run, prepared before the client is told it is attached (so a
/// start the client sends next is seen from its first byte), then run with the client's streams.
///
/// Output without a terminal comes from the container's json-file log, opened now at its end
/// (a lossless reader, so no rotation takes output from under it; it keeps the file open, so a
/// `--rm` removal does not cut it short); with a terminal, from the monitor's attach socket.
/// Input goes through the attach socket. A container that is not running yet is held for this
/// client (`AttachHold`): its monitor waits for the client before it starts the process, as
/// dockerd connects an attach that came before the start.
public final class AttachSession {
    public let containerID: String
    /// Whether the container has a terminal: its output is one raw stream.
    public let tty: Bool
    private let options: AttachOptions
    private let runtime: ContainerRuntime
    private let detachKeys: DetachKeys
    /// Client input goes to the container (it was asked for and the container has `-i`).
    private let forwardsInput: Bool
    private let stdinOnce: Bool
    private let log: LogReader?
    private var hold: AttachHold?
    private let wasRunning: Bool
    private let startedAt: Date?

    init(runtime: ContainerRuntime, record: ContainerRecord, options: AttachOptions) throws {
        self.runtime = runtime
        self.options = options
        detachKeys = try DetachKeys(parsing: options.detachKeys)
        containerID = record.id
        tty = record.config.tty
        forwardsInput = options.stdin && record.config.openStdin
        stdinOnce = record.config.stdinOnce
        wasRunning = record.state.running
        startedAt = record.state.startedAt
        let path = runtime.containers.logPath(of: record.id)
        if !tty, options.stream || options.logs {
            log = options.logs
                ? try LogReader(path: path, includingRotated: true, lossless: options.stream, creating: true)
                : try LogReader(path: path, offset: LogReader.size(of: path), creating: true)
        } else if tty, options.logs {
            log = try LogReader(path: path, includingRotated: true, lossless: false, creating: true)
        } else {
            log = nil
        }
        if options.stream, needsSocket, !record.state.running {
            hold = try runtime.holdStartForAttach(record.id)
        }
    }

    private var needsSocket: Bool { tty || forwardsInput }

    /// Relays until the run ends, the client detaches (its detach keys, or the end of its input
    /// when that does not only close the container's stdin), or `clientGone` returns.
    public func run(input: AsyncStream<ByteBuffer>, clientGone: @escaping @Sendable () async -> Void,
                    output: @escaping @Sendable (StdStream, ByteBuffer) async throws -> Void) async throws {
        defer { hold?.release() }
        if options.logs, let log {
            // With a terminal the log replays the terminal's output; streaming goes on from the socket.
            try await deliver(log.readAvailable(), output)
        }
        guard options.stream else { return }
        let stop = StopFlag()
        guard needsSocket else {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await clientGone()
                    stop.set()
                }
                try await followLog(until: stop, output)
                group.cancelAll()
            }
            return
        }
        guard let socket = try await connect(until: stop, clientGone: clientGone) else {
            // The run came and went without this client (or the client left): what it wrote is in the log.
            if !tty, let log { try await deliver(log.readAvailable(), output) }
            return
        }
        hold?.release()
        hold = nil
        let forwardsInput = forwardsInput, closesInputOnly = stdinOnce && !tty
        let matcher = tty && options.detachable ? DetachKeys.Matcher(detachKeys) : nil
        let wantsOutput = options.stdout || options.stderr
        try await socket.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                let channel = socket.channel
                group.addTask {
                    await clientGone()
                    stop.set()
                    try? await channel.close()
                }
                if forwardsInput {
                    group.addTask {
                        var matcher = matcher
                        for await chunk in input {
                            var bytes = Array(chunk.readableBytesView)
                            var detach = false
                            if var current = matcher {
                                (bytes, detach) = current.filter(bytes)
                                matcher = current
                            }
                            if !bytes.isEmpty {
                                try await outbound.write(ByteBuffer(bytes: AttachFrame.input(bytes).encoded()))
                            }
                            if detach {
                                stop.set()
                                try? await channel.close()
                                return
                            }
                        }
                        // Cancelled: the run ended.
                        if Task.isCancelled { return }
                        // dockerd's StdinOnce: the client's end of input is the container's; otherwise it ends the attach.
                        if closesInputOnly {
                            try await outbound.write(ByteBuffer(bytes: AttachFrame.closeInput.encoded()))
                        } else {
                            stop.set()
                            try? await channel.close()
                        }
                    }
                }
                if tty {
                    do {
                        for try await chunk in inbound where wantsOutput { try await output(.stdout, chunk) }
                    } catch is IOError {
                        // The monitor closed the connection: the run ended.
                    }
                } else {
                    try await self.followLog(until: stop, output)
                }
                group.cancelAll()
            }
        }
    }

    /// Connects to the monitor's attach socket once it listens; nil if the run ended meanwhile
    /// without this client, or the client left.
    private func connect(until stop: StopFlag, clientGone: @escaping @Sendable () async -> Void) async throws
        -> DescriptorStreams.Channel? {
        let runtime = runtime, id = containerID
        let watcher = Task {
            await clientGone()
            // Cancelled once connected: the client is still there.
            if !Task.isCancelled { stop.set() }
        }
        defer { watcher.cancel() }
        var delay: UInt64 = 5_000_000
        while !stop.isSet {
            if let client = runtime.connectAttach(id, size: nil) {
                let descriptor = dup(client.descriptor)
                client.close()
                guard descriptor >= 0 else { throw EngineError(.system, "dup: \(String(cString: strerror(errno)))") }
                return try await DescriptorStreams.socket(descriptor)
            }
            if runEnded() { return nil }
            try await Task.sleep(nanoseconds: delay)
            delay = min(delay * 2, 50_000_000)
        }
        return nil
    }

    /// Whether the run this attachment follows is over: the container is gone, or its monitor
    /// ended after a run that began since the attach (for one running then, any end).
    private func runEnded() -> Bool {
        guard let current = (try? runtime.containers.record(containerID)) ?? nil else { return true }
        if runtime.isMonitored(containerID) { return false }
        return wasRunning || current.state.startedAt != startedAt
    }

    /// Delivers new log entries until the run ends or `stop` is set, polling briefly at first
    /// (a short run's output and end show at once) and every 50 ms later.
    private func followLog(until stop: StopFlag, _ output: (StdStream, ByteBuffer) async throws -> Void) async throws {
        guard let log else { return }
        var delay: UInt64 = 5_000_000
        while !stop.isSet {
            let ended = runEnded()
            try await deliver(log.readAvailable(), output)
            if ended { return }
            try await Task.sleep(nanoseconds: delay)
            delay = min(delay + 5_000_000, 50_000_000)
        }
    }

    private func deliver(_ entries: [JSONLog.Entry], _ output: (StdStream, ByteBuffer) async throws -> Void) async throws {
        for entry in entries {
            let stream = tty ? StdStream.stdout : StdStream(logStream: entry.stream)
            guard stream == .stderr ? options.stderr : options.stdout else { continue }
            try await output(stream, ByteBuffer(bytes: entry.log))
        }
    }
}

/// Set once, from any task: the attachment should end.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .acquiring) }

    func set() { value.store(true, ordering: .releasing) }
}

extension Engine {
    /// Sets the window size of a running container's terminal (nothing for one without).
    public func resize(_ reference: String, to size: TerminalSize) async throws {
        let record = try runtime.container(reference)
        guard record.state.running else { throw EngineError.conflict("Container \(record.id) is not running") }
        guard record.config.tty else { return }
        let runtime = runtime
        try await blocking { runtime.connectAttach(record.id, size: size)?.close() }
        events.record(.container, "resize", id: record.id,
                      attributes: record.eventAttributes(["height": String(size.rows), "width": String(size.columns)]))
    }

    /// Prepares an attachment to a container (created, running or stopped: a stream waits for
    /// its next run). Refuses a paused or restarting container, as dockerd does.
    public func attach(_ reference: String, _ options: AttachOptions) throws -> AttachSession {
        let record = try runtime.container(reference)
        if record.state.status == .paused {
            throw EngineError.conflict("container \(reference) is paused, unpause the container before attach")
        }
        if record.state.status == .restarting {
            throw EngineError.conflict("container \(reference) is restarting, wait until the container is running")
        }
        let session = try AttachSession(runtime: runtime, record: record, options: options)
        events.record(.container, "attach", id: record.id, attributes: record.eventAttributes())
        return session
    }
}
