import BerthEngine
import BerthKubeAPI
import BerthRuntime
import BerthTemplate
import Foundation
import Glibc
import Synchronization

/// The probes of the pods' running containers: one task per container instance runs its
/// startup, liveness and readiness probes on their schedules. Readiness and startup findings
/// feed the pod status; a liveness (or startup) probe failing `failureThreshold` times in a row
/// stops the container, which the pod worker then restarts per the pod's restart policy.
final class PodProbes: Sendable {
    enum Outcome: Sendable, Equatable {
        case success
        case failure(String)
    }

    private struct Findings {
        var ready = false
        var started = false
        var task: Task<Void, Never>?
        var podUID = ""
    }

    private let engine: Engine
    private let events: KubeEventRecorder
    private let findings = Mutex<[String: Findings]>([:])
    /// Asks for the pod's status to be published now, when readiness or startup changes.
    private let changed: @Sendable (KubeObjectKey) -> Void

    init(engine: Engine, events: KubeEventRecorder, changed: @escaping @Sendable (KubeObjectKey) -> Void) {
        self.engine = engine
        self.events = events
        self.changed = changed
    }

    /// Records a finding of container `id`; a change wakes the pod's worker.
    private func record(_ id: String, _ object: OrderedJSON, _ update: (inout Findings) -> Void) {
        let differs = findings.withLock { findings -> Bool in
            guard var entry = findings[id] else { return false }
            let before = (entry.ready, entry.started)
            update(&entry)
            findings[id] = entry
            return before != (entry.ready, entry.started)
        }
        if differs { changed(KubeObjectKey(object)) }
    }

    /// Whether the container passed its readiness probe (always, without one).
    func ready(_ id: String, hasProbe: Bool) -> Bool {
        !hasProbe || findings.withLock { $0[id]?.ready ?? false }
    }

    /// Whether the container passed its startup probe (always, without one).
    func started(_ id: String, hasProbe: Bool) -> Bool {
        !hasProbe || findings.withLock { $0[id]?.started ?? false }
    }

    /// Starts probing a running container instance unless it is probed already.
    func ensure(object: OrderedJSON, pod: Pod, container: Container, record: ContainerRecord, sandbox: PodSandboxInfo) {
        guard container.livenessProbe != nil || container.readinessProbe != nil || container.startupProbe != nil else { return }
        let id = record.id
        // A container a restarted daemon adopts keeps what its probes last found (its published
        // status), so the restart does not take it out of its Services for a probe period.
        let published = pod.status?.containerStatuses?.first { $0.name == container.name && $0.containerID == "berth://" + id }
        let isNew = findings.withLock { findings in
            guard findings[id] == nil else { return false }
            findings[id] = Findings(ready: published?.ready ?? false, started: published?.started ?? false, podUID: pod.metadata.uid ?? "")
            return true
        }
        guard isNew else { return }
        let task = Task { [self] in await self.probe(object: object, pod: pod, container: container, id: id, sandbox: sandbox) }
        findings.withLock { $0[id]?.task = task }
    }

    /// Stops probing the pod's instances not in `ids`.
    func retain(_ ids: [String], podUID: String) {
        let keep = Set(ids)
        let stopped = findings.withLock { findings in
            let gone = findings.filter { $0.value.podUID == podUID && !keep.contains($0.key) }
            for id in gone.keys { findings[id] = nil }
            return gone.values.compactMap(\.task)
        }
        stopped.forEach { $0.cancel() }
    }

    func stop(podUID: String) { retain([], podUID: podUID) }

    private func probe(object: OrderedJSON, pod: Pod, container: Container, id: String, sandbox: PodSandboxInfo) async {
        let fieldPath = PodWorker.fieldPath(container, pod)
        let grace = pod.spec.terminationGracePeriodSeconds ?? 30
        var started = container.startupProbe == nil || findings.withLock { $0[id]?.started ?? false }
        if started { findings.withLock { $0[id]?.started = true } }
        var lastRun: [String: ContinuousClock.Instant] = [:]
        var successes: [String: Int] = [:]
        var failures: [String: Int] = [:]
        let begin = ContinuousClock.now
        while !Task.isCancelled {
            let kinds: [(String, Probe)] = started
                ? [("Liveness", container.livenessProbe), ("Readiness", container.readinessProbe)].compactMap { kind, probe in probe.map { (kind, $0) } }
                : [container.startupProbe.map { ("Startup", $0) }].compactMap { $0 }
            for (kind, probe) in kinds {
                let period = Duration.seconds(probe.periodSeconds ?? 10)
                let due = lastRun[kind].map { $0 + period } ?? begin + .seconds(probe.initialDelaySeconds ?? 0)
                guard ContinuousClock.now >= due else { continue }
                lastRun[kind] = .now
                let handler = Handler(exec: probe.exec, httpGet: probe.httpGet, tcpSocket: probe.tcpSocket, sleepSeconds: nil)
                let outcome = await run(handler, containerID: id, container: container, sandbox: sandbox,
                                        timeout: .seconds(probe.timeoutSeconds ?? 1))
                if Task.isCancelled { return }
                switch outcome {
                case .success:
                    failures[kind] = 0
                    successes[kind, default: 0] += 1
                    if successes[kind, default: 0] >= (kind == "Readiness" ? probe.successThreshold ?? 1 : 1) {
                        if kind == "Readiness" { record(id, object) { $0.ready = true } }
                        if kind == "Startup" {
                            started = true
                            record(id, object) { $0.started = true }
                        }
                    }
                case .failure(let message):
                    successes[kind] = 0
                    failures[kind, default: 0] += 1
                    events.record(object, .warning, reason: "Unhealthy", message: "\(kind) probe failed: \(message)", fieldPath: fieldPath)
                    guard failures[kind, default: 0] >= probe.failureThreshold ?? 3 else { continue }
                    if kind == "Readiness" {
                        record(id, object) { $0.ready = false }
                        continue
                    }
                    let verb = kind == "Liveness" ? "liveness" : "startup"
                    events.record(object, .normal, reason: "Killing",
                                  message: "Container \(container.name) failed \(verb) probe, will be restarted", fieldPath: fieldPath)
                    try? await engine.stopContainer(id, timeout: probe.terminationGracePeriodSeconds ?? grace)
                    return
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Runs a probe or lifecycle hook handler against a container: exec in it, an HTTP GET or a
    /// TCP connect to the pod's address, or a sleep.
    func runHandler(_ handler: Lifecycle.Handler, containerID: String, container: Container, sandbox: PodSandboxInfo,
                    timeout: Duration) async -> Outcome {
        await run(Handler(exec: handler.exec, httpGet: handler.httpGet, tcpSocket: handler.tcpSocket, sleepSeconds: handler.sleep?.seconds),
                  containerID: containerID, container: container, sandbox: sandbox, timeout: timeout)
    }

    /// What a probe or a hook does.
    private struct Handler {
        var exec: ExecAction?
        var httpGet: HTTPGetAction?
        var tcpSocket: TCPSocketAction?
        var sleepSeconds: Int?
    }

    private func run(_ handler: Handler, containerID: String, container: Container, sandbox: PodSandboxInfo,
                     timeout: Duration) async -> Outcome {
        if let seconds = handler.sleepSeconds {
            try? await Task.sleep(for: .seconds(seconds))
            return .success
        }
        if let exec = handler.exec {
            return await runExec(exec.command ?? [], containerID: containerID, timeout: timeout)
        }
        let host = { (name: String?) in name.flatMap { $0.isEmpty ? nil : $0 } ?? (sandbox.podIP.isEmpty ? "127.0.0.1" : sandbox.podIP) }
        if let http = handler.httpGet {
            guard let port = Self.port(http.port, in: container) else { return .failure("unknown port \(http.port)") }
            let address = host(http.host)
            let path = http.path ?? "/"
            let headers = (http.httpHeaders ?? []).map { "\($0.name): \($0.value)\r\n" }.joined()
            let request = "GET \(path.hasPrefix("/") ? path : "/" + path) HTTP/1.1\r\nHost: \(address):\(port)\r\nUser-Agent: kube-probe/1.32\r\n\(headers)Accept: */*\r\nConnection: close\r\n\r\n"
            return await blocking {
                let url = "http://\(address):\(port)\(path)"
                guard let socket = Self.connect(address, port, timeout: timeout) else {
                    return .failure("Get \"\(url)\": dial tcp \(address):\(port): connect: connection refused")
                }
                defer { close(socket) }
                _ = Array(request.utf8).withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                var buffer = [UInt8](repeating: 0, count: 1024)
                let count = recv(socket, &buffer, buffer.count, 0)
                let line = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).split(separator: "\r\n").first ?? ""
                let parts = line.split(separator: " ")
                guard parts.count >= 2, let code = Int(parts[1]) else {
                    return .failure("Get \"\(url)\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
                }
                return (200..<400).contains(code) ? .success : .failure("HTTP probe failed with statuscode: \(code)")
            }
        }
        if let tcp = handler.tcpSocket {
            guard let port = Self.port(tcp.port, in: container) else { return .failure("unknown port \(tcp.port)") }
            let address = host(tcp.host)
            return await blocking {
                guard let socket = Self.connect(address, port, timeout: timeout) else {
                    return .failure("dial tcp \(address):\(port): connect: connection refused")
                }
                close(socket)
                return .success
            }
        }
        return .failure("no handler")
    }

    private func runExec(_ command: [String], containerID: String, timeout: Duration) async -> Outcome {
        let engine = engine
        let output = ExecOutput()
        do {
            let id = try engine.createExec(containerID, ExecConfig(command: command))
            let state = try engine.beginExec(id)
            let code = await withTaskGroup(of: Int32?.self) { group in
                group.addTask { await engine.runExec(state, input: nil) { _, buffer in output.bytes.withLock { $0 += Array(buffer.readableBytesView) } } }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard let code else { return .failure("command \(command) timed out") }
            if code == 0 { return .success }
            let text = String(decoding: output.bytes.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(text.isEmpty ? "command \(Self.goList(command)) exited with \(code)" : text)
        } catch {
            return .failure("\(error)")
        }
    }

    /// `[sh -c exit 1]`, as Go prints a string slice.
    private static func goList(_ items: [String]) -> String { "[" + items.joined(separator: " ") + "]" }

    /// A named port is looked up among the container's ports.
    static func port(_ value: IntOrString, in container: Container) -> Int? {
        switch value {
        case .int(let number): return number
        case .string(let name):
            return Int(name) ?? container.ports?.first { $0.name == name }?.containerPort
        }
    }

    private func blocking(_ body: @escaping @Sendable () -> Outcome) async -> Outcome {
        (try? await engine.blocking(body)) ?? .failure("cancelled")
    }

    /// A TCP connection to an IPv4 address within `timeout`, or nil.
    private static func connect(_ address: String, _ port: Int, timeout: Duration) -> Int32? {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        let seconds = max(1, Int(timeout.components.seconds))
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &target.sin_addr) == 1 else {
            close(socket)
            return nil
        }
        let result = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(socket)
            return nil
        }
        return socket
    }
}

/// What a probe's command printed (its message when it fails).
private final class ExecOutput: Sendable {
    let bytes = Mutex<[UInt8]>([])
}
