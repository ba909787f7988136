import BerthEngine
import BerthKubeAPI
import BerthRuntime
import Foundation
import NIOCore
import Synchronization

/// `kubectl exec` and `kubectl attach`: the pod's container is chosen as the apiserver does, its
/// running instance found on this node, and the command run (or the main process attached) on
/// the engine, for whichever streaming front end the client speaks.
extension Kubelet: KubePodStreamSource {
    public func check(_ request: KubePodStreamRequest, attach: Bool) async throws {
        _ = try runningContainer(request)
    }

    public func exec(_ request: KubePodStreamRequest) async throws -> KubePodStreamSession {
        let record = try runningContainer(request)
        guard !request.command.isEmpty else { throw KubeAPIError.badRequest("you must specify at least 1 command") }
        let engine = context.engine
        let config = ExecConfig(command: request.command, tty: request.tty, attachStdin: request.stdin,
                                attachStdout: request.stdout, attachStderr: request.stderr && !request.tty,
                                detachable: false)
        let state: ExecState
        do {
            state = try engine.beginExec(try engine.createExec(record.id, config))
        } catch where [.conflict, .notFound].contains(EngineError.kind(of: error)) {
            // It stopped since it was found.
            throw Self.containerNotFound(record)
        }
        let control = ExecControl(engine: engine, id: state.id)
        let command = request.command, wantsInput = request.stdin
        return KubePodStreamSession(tty: request.tty, resize: { control.resize($0) }, cancel: { control.kill() }) { input, stdout, stderr in
            let relay = Task { await control.applyWhenRunning() }
            defer { relay.cancel() }
            let code = await engine.runExec(state, input: wantsInput ? Self.buffers(input) : nil) { stream, chunk in
                (stream == .stderr ? stderr : stdout).yield(Array(chunk.readableBytesView))
            }
            return code == 0 ? .success : .exitCode(code, command: command)
        }
    }

    public func attach(_ request: KubePodStreamRequest) async throws -> KubePodStreamSession {
        let record = try runningContainer(request)
        let engine = context.engine
        let options = AttachOptions(stdin: request.stdin, stdout: request.stdout, stderr: request.stderr, stream: true,
                                    detachable: false)
        let left = Departure()
        let id = record.id
        // Resizes applied in their order: kubectl attach sends one cell larger, then the size, to force a redraw.
        let (sizes, resizing) = AsyncStream.makeStream(of: KubeTerminalSize.self)
        return KubePodStreamSession(tty: record.config.tty, resize: { resizing.yield($0) }, cancel: { left.set() }) { input, stdout, stderr in
            let resizer = Task {
                for await size in sizes { try? await engine.resize(id, to: TerminalSize(rows: size.height, columns: size.width)) }
            }
            defer {
                resizing.finish()
                resizer.cancel()
            }
            do {
                // The attachment is made on the session's own task (it is not Sendable); the
                // container was running a moment ago, so it seldom fails.
                let attachment = try engine.attach(id, options)
                try await attachment.run(input: Self.buffers(input), clientGone: { await left.wait() }) { stream, chunk in
                    (stream == .stderr ? stderr : stdout).yield(Array(chunk.readableBytesView))
                }
                return .success
            } catch {
                return .failure("\(error)")
            }
        }
    }

    /// The request's container (the pod's only one when none is named, as the apiserver picks)
    /// and its running instance; the apiserver's and the kubelet's errors when there is none.
    private func runningContainer(_ request: KubePodStreamRequest) throws -> ContainerRecord {
        let pod = try context.store.get(KubeResourceRegistry.pods, namespace: request.namespace, name: request.pod).decode(Pod.self)
        let all = (pod.spec.initContainers ?? []) + pod.spec.containers
        let name: String
        if let asked = request.container, !asked.isEmpty {
            guard all.contains(where: { $0.name == asked }) else {
                throw KubeAPIError.badRequest("container \(asked) is not valid for pod \(request.pod)")
            }
            name = asked
        } else if pod.spec.containers.count == 1 {
            name = pod.spec.containers[0].name
        } else {
            throw KubeAPIError.badRequest(
                "a container name must be specified for pod \(request.pod), choose one of: [\(all.map(\.name).joined(separator: " "))]")
        }
        guard pod.spec.nodeName?.isEmpty == false else {
            throw KubeAPIError.badRequest("pod \(request.pod) does not have a host assigned")
        }
        let records = try context.engine.listContainersNow(ContainerListOptions(all: true)).filter {
            $0.config.labels[PodContainerNaming.podUIDLabel] == pod.metadata.uid
        }
        guard let latest = PodWorker.instances(of: name, in: records).last, latest.state.running else {
            throw KubeNodeStreamError.containerNotFound(name)
        }
        return latest
    }

    private static func containerNotFound(_ record: ContainerRecord) -> KubeNodeStreamError {
        .containerNotFound(PodWorker.containerName(record))
    }

    /// The client's input as the engine takes it.
    private static func buffers(_ input: AsyncStream<[UInt8]>) -> AsyncStream<ByteBuffer> {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        let task = Task {
            for await bytes in input { continuation.yield(ByteBuffer(bytes: bytes)) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// A streamed exec's terminal size and end: a resize that comes before the command runs (the
/// client sends its size at once) is applied when it does, and a client that leaves before then
/// gets the command killed as soon as it runs.
private final class ExecControl: Sendable {
    private struct State {
        var size: TerminalSize?
        var running = false
        var killed = false
    }

    private let engine: Engine
    private let id: String
    private let state = Mutex(State())

    init(engine: Engine, id: String) {
        self.engine = engine
        self.id = id
    }

    func resize(_ size: KubeTerminalSize) {
        let terminal = TerminalSize(rows: size.height, columns: size.width)
        let running = state.withLock { state in
            state.size = terminal
            return state.running
        }
        if running { try? engine.resizeExec(id, to: terminal) }
    }

    func kill() {
        let running = state.withLock { state in
            state.killed = true
            return state.running
        }
        if running { engine.killExec(id) }
    }

    /// Waits for the command to run, then applies what came before.
    func applyWhenRunning() async {
        var delay: UInt64 = 2_000_000
        while !Task.isCancelled {
            if let exec = try? engine.execs.state(id), exec.pid > 0 || !exec.running {
                let (size, killed) = state.withLock { state in
                    state.running = true
                    return (state.size, state.killed)
                }
                if killed {
                    engine.killExec(id)
                } else if let size {
                    try? engine.resizeExec(id, to: size)
                }
                return
            }
            try? await Task.sleep(nanoseconds: delay)
            delay = min(delay * 2, 20_000_000)
        }
    }
}

/// Whether an attach's client left. The engine asks more than once (and cancels a wait once the
/// run is connected), so this is a flag polled by each wait rather than a one-shot stream.
private final class Departure: Sendable {
    private let left = Atomic<Bool>(false)

    func set() { left.store(true, ordering: .releasing) }

    /// Returns once the client left, or the waiting task is cancelled.
    func wait() async {
        while !left.load(ordering: .acquiring), !Task.isCancelled {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
    }
}
