import BerthEngine
import BerthKubeAPI
import BerthRuntime
import BerthTemplate
import Foundation

/// The kubelet's pod loop: for each pod bound to this node, brings the runtime's containers to
/// what the pod asks (sandbox, init containers in order, app containers restarted per
/// `restartPolicy` with back-off), then publishes the pod's status; binds unscheduled pods to the
/// node first, and stops and deletes pods marked for deletion. Level-triggered: everything is read
/// from the store and the runtime on each pass, so a restarted daemon adopts the containers it
/// finds (by their `io.kubernetes.*` labels) without restarting them.
struct PodWorker: KubeReconciler {
    let context: KubeletContext

    var name: String { "kubelet" }
    var triggers: [KubeTrigger] { [.own(KubeResourceRegistry.pods)] }
    var wakeups: AsyncStream<KubeObjectKey>? { context.wakeups }

    private var store: KubeObjectStore { context.store }
    private var engine: Engine { context.engine }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let object: OrderedJSON
        do {
            object = try store.get(KubeResourceRegistry.pods, namespace: key.namespace, name: key.name)
        } catch let error as KubeAPIError where error.code == 404 {
            try await removeContainers(namespace: key.namespace, name: key.name, keepingUID: nil)
            return nil
        }
        let pod = try object.decode(Pod.self)
        guard let nodeName = pod.spec.nodeName, !nodeName.isEmpty else {
            return try PodScheduler(context: context).schedule(object, pod)
        }
        guard nodeName == context.nodeName else { return nil }
        if pod.metadata.deletionTimestamp != nil {
            try await terminate(object, pod)
            return nil
        }
        return try await sync(object, pod)
    }

    // MARK: Running

    /// One pass over a live pod: answers when to look again (containers change without the store knowing).
    private func sync(_ object: OrderedJSON, _ pod: Pod) async throws -> Duration? {
        var object = object
        let uid = pod.metadata.uid ?? ""
        try await removeContainers(namespace: pod.metadata.namespace ?? "", name: pod.metadata.name ?? "", keepingUID: uid)
        var records = try await containers(of: uid)
        let phase = pod.status?.phase
        if phase == "Succeeded" || phase == "Failed" {
            // A finished pod keeps its containers (for logs) but not its sandbox or processes.
            for record in records where record.state.running { try? await engine.killContainer(record.id) }
            context.probes.stop(podUID: uid)
            return nil
        }
        if pod.status?.containerStatuses == nil {
            // A new pod shows its containers being created (kubectl: ContainerCreating) while its
            // volumes, sandbox and containers are set up, as the kubelet's first status does.
            object = try publish(PodStatusBuilder(pod: pod, records: records, sandbox: nil, waiting: [:], probes: context.probes,
                                                  initFailed: false).build(), object)
        }
        let volumes = try await podVolumes(object, pod)
        let sandbox = try await ensureSandbox(object, pod, records: records)
        records = try await containers(of: uid)
        var waiting: [String: StatusWaiting] = [:]
        var failed = false
        let policy = pod.spec.restartPolicy ?? "Always"

        var initialized = true
        for container in pod.spec.initContainers ?? [] {
            let instances = Self.instances(of: container.name, in: records)
            guard let latest = instances.last else {
                initialized = false
                waiting[container.name] = await start(container, attempt: 0, object, pod, sandbox, volumes)
                break
            }
            if latest.state.status == .exited, latest.state.exitCode == 0 { continue }
            initialized = false
            if latest.state.status == .exited {
                if policy == "Never" {
                    failed = true
                } else {
                    waiting[container.name] = await restart(container, after: latest, object, pod, sandbox, volumes)
                }
            }
            break
        }
        if initialized {
            for container in pod.spec.containers {
                let instances = Self.instances(of: container.name, in: records)
                guard let latest = instances.last else {
                    waiting[container.name] = await start(container, attempt: 0, object, pod, sandbox, volumes)
                    continue
                }
                if latest.state.running {
                    context.probes.ensure(object: object, pod: pod, container: container, record: latest, sandbox: sandbox)
                } else if latest.state.status == .exited, Self.restarts(policy, exitCode: latest.state.exitCode) {
                    waiting[container.name] = await restart(container, after: latest, object, pod, sandbox, volumes)
                }
            }
        }
        records = try await containers(of: uid)
        context.probes.retain(records.filter(\.state.running).map(\.id), podUID: uid)
        let status = PodStatusBuilder(pod: pod, records: records, sandbox: sandbox, waiting: waiting, probes: context.probes,
                                      initFailed: failed).build()
        try publish(status, object)
        return status.phase == "Succeeded" || status.phase == "Failed" ? .milliseconds(100) : .seconds(1)
    }

    /// The running sandbox of the pod, or a new one (the first, or after the last one died: then
    /// the pod's containers, which lost their network, are killed to be started again).
    private func ensureSandbox(_ object: OrderedJSON, _ pod: Pod, records: [ContainerRecord]) async throws -> PodSandboxInfo {
        let sandboxes = Self.instances(of: PodContainerNaming.sandboxContainerName, in: records)
        let hostNetwork = pod.spec.hostNetwork ?? false
        if let latest = sandboxes.last, latest.state.running {
            for old in sandboxes.dropLast() { await context.sandboxes.remove(old.id) }
            return PodSandboxes.info(latest, hostNetwork: hostNetwork)
        }
        if sandboxes.contains(where: { $0.state.startedAt != nil }) {
            context.events.record(object, .normal, reason: "SandboxChanged", message: "Pod sandbox changed, it will be killed and re-created.")
        }
        for record in records where record.state.running && Self.containerName(record) != PodContainerNaming.sandboxContainerName {
            try? await engine.killContainer(record.id)
        }
        for old in sandboxes { await context.sandboxes.remove(old.id) }
        let attempt = sandboxes.last.map { Self.attempt($0) + 1 } ?? 0
        return try await context.sandboxes.create(pod: pod, attempt: attempt)
    }

    /// Restarts an exited container unless its back-off window is still open: then it waits
    /// (`CrashLoopBackOff`, with the kubelet's message and a `BackOff` event).
    private func restart(_ container: Container, after latest: ContainerRecord, _ object: OrderedJSON, _ pod: Pod,
                         _ sandbox: PodSandboxInfo, _ volumes: PodVolumes) async -> StatusWaiting? {
        let key = KubeletBackOff.key(podUID: pod.metadata.uid ?? "", container: container.name)
        let exitedAgo = Duration.seconds(Date.now.timeIntervalSince(latest.state.finishedAt ?? .distantPast))
        if let window = context.backOff.window(for: key, exitedAgo: exitedAgo) {
            let podName = "\(pod.metadata.name ?? "")_\(pod.metadata.namespace ?? "")(\(pod.metadata.uid ?? ""))"
            context.events.record(object, .warning, reason: "BackOff", message: "Back-off restarting failed container \(container.name) in pod \(podName)",
                                  fieldPath: Self.fieldPath(container, pod))
            return StatusWaiting(reason: "CrashLoopBackOff",
                                          message: "back-off \(window.components.seconds)s restarting failed container=\(container.name) pod=\(podName)")
        }
        context.backOff.failed(key)
        let waiting = await start(container, attempt: Self.attempt(latest) + 1, object, pod, sandbox, volumes)
        // The previous instance stays for `logs --previous` and lastState; older ones go.
        if let records = try? await containers(of: pod.metadata.uid ?? "") {
            for old in Self.instances(of: container.name, in: records).dropLast(2) {
                try? await engine.removeContainer(old.id, force: true)
            }
        }
        return waiting
    }

    /// Pulls the image, creates and starts one container of the pod, runs its postStart hook;
    /// answers the waiting state to report when that fails.
    private func start(_ container: Container, attempt: Int, _ object: OrderedJSON, _ pod: Pod, _ sandbox: PodSandboxInfo,
                       _ volumes: PodVolumes) async -> StatusWaiting? {
        let fieldPath = Self.fieldPath(container, pod)
        do {
            try await PodImages.ensure(pod: pod, container: container, store: store, engine: engine, recorder: context.events)
        } catch {
            // PodImages recorded the kubelet's events for it.
            return StatusWaiting(reason: error.reason.rawValue, message: error.message)
        }
        var options: ContainerCreateOptions
        do {
            options = try await PodContainerConfig.make(pod: pod, podObject: object, container: container, sandbox: sandbox,
                                                        store: store, engine: engine, volumes: volumes, recorder: context.events)
        } catch let error as PodSpecError {
            context.events.record(object, .warning, reason: "Failed", message: "Error: \(error.message)", fieldPath: fieldPath)
            return StatusWaiting(reason: error.reason.rawValue, message: error.message)
        } catch {
            context.events.record(object, .warning, reason: "Failed", message: "Error: \(error)", fieldPath: fieldPath)
            return StatusWaiting(reason: "CreateContainerConfigError", message: "\(error)")
        }
        options.name = PodContainerNaming.runtimeName(container: container.name, pod: pod.metadata, attempt: attempt)
        options.labels.merge(PodContainerNaming.labels(container: container.name, pod: pod.metadata, attempt: attempt)) { _, new in new }
        options.networkMode = sandbox.networkMode
        let record: ContainerRecord
        do {
            record = try await engine.createContainer(options)
        } catch {
            context.events.record(object, .warning, reason: "Failed", message: "Error: \(error)", fieldPath: fieldPath)
            return StatusWaiting(reason: "CreateContainerError", message: "\(error)")
        }
        context.events.record(object, .normal, reason: "Created", message: "Created container \(container.name)", fieldPath: fieldPath)
        do {
            try await engine.startContainer(record.id)
        } catch {
            context.events.record(object, .warning, reason: "Failed", message: "Error: \(error)", fieldPath: fieldPath)
            return nil
        }
        context.events.record(object, .normal, reason: "Started", message: "Started container \(container.name)", fieldPath: fieldPath)
        if let hook = container.lifecycle?.postStart {
            let result = await context.probes.runHandler(hook, containerID: record.id, container: container, sandbox: sandbox,
                                                         timeout: .seconds(pod.spec.terminationGracePeriodSeconds ?? 30))
            if case .failure(let message) = result {
                context.events.record(object, .warning, reason: "FailedPostStartHook", message: message, fieldPath: fieldPath)
                context.events.record(object, .normal, reason: "Killing", message: "FailedPostStartHook", fieldPath: fieldPath)
                try? await engine.stopContainer(record.id, timeout: pod.spec.terminationGracePeriodSeconds ?? 30)
            }
        }
        return nil
    }

    private func podVolumes(_ object: OrderedJSON, _ pod: Pod) async throws -> PodVolumes {
        let uid = pod.metadata.uid ?? ""
        if let volumes = context.volumes.withLock({ $0[uid] }) {
            _ = try await volumes.refresh(pod: pod, store: store, engine: engine)
            return volumes
        }
        let volumes: PodVolumes
        do {
            volumes = try await PodVolumes.prepare(pod: pod, store: store, engine: engine, root: engine.root)
        } catch let error as PodVolumeError {
            context.events.record(object, .warning, reason: "FailedMount", message: error.message)
            throw error
        }
        context.volumes.withLock { $0[uid] = volumes }
        return volumes
    }

    /// Writes the pod's status when it changed, as the status subresource does (the spec kept).
    @discardableResult
    private func publish(_ status: PublishedPodStatus, _ object: OrderedJSON) throws -> OrderedJSON {
        let encoded = try status.json()
        guard object.value(at: ["status"]) != encoded else { return object }
        return try store.replace(KubeResourceRegistry.pods, namespace: object.string("metadata", "namespace"),
                                 name: object.string("metadata", "name") ?? "", object: object.setting(["status"], to: encoded), scope: .status)
    }

    // MARK: Stopping

    /// A pod marked for deletion: preStop hooks, SIGTERM, up to the grace period, SIGKILL; then
    /// its containers and sandbox are removed and the object deleted for good.
    private func terminate(_ object: OrderedJSON, _ pod: Pod) async throws {
        let uid = pod.metadata.uid ?? ""
        let grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30
        let records = try await containers(of: uid)
        let sandbox = Self.instances(of: PodContainerNaming.sandboxContainerName, in: records).last
            .map { PodSandboxes.info($0, hostNetwork: pod.spec.hostNetwork ?? false) }
        context.probes.stop(podUID: uid)
        let deadline = ContinuousClock.now + .seconds(grace)
        // New connections stop reaching the pod before its containers hear of the end.
        if let gate = context.trafficGate, let podIP = pod.status?.podIP, !(pod.spec.hostNetwork ?? false) {
            await gate.waitUntilUnrouted(podIP, timeout: min(.seconds(2), .seconds(grace)))
        }
        await withTaskGroup(of: Void.self) { group in
            for record in records where record.state.running && Self.containerName(record) != PodContainerNaming.sandboxContainerName {
                let name = Self.containerName(record)
                guard let container = (pod.spec.containers + (pod.spec.initContainers ?? [])).first(where: { $0.name == name }) else { continue }
                group.addTask { [context] in
                    context.events.record(object, .normal, reason: "Killing", message: "Stopping container \(name)",
                                          fieldPath: Self.fieldPath(container, pod))
                    if let hook = container.lifecycle?.preStop, let sandbox {
                        let result = await context.probes.runHandler(hook, containerID: record.id, container: container, sandbox: sandbox,
                                                                     timeout: deadline - .now)
                        if case .failure(let message) = result {
                            context.events.record(object, .warning, reason: "FailedPreStopHook", message: message,
                                                  fieldPath: Self.fieldPath(container, pod))
                        }
                    }
                    let left = max(0, Int((deadline - .now).components.seconds))
                    try? await context.engine.stopContainer(record.id, timeout: left)
                }
            }
        }
        try await removeContainers(namespace: pod.metadata.namespace ?? "", name: pod.metadata.name ?? "", keepingUID: nil)
        do {
            // Grace 0: the containers are gone, so the pod's grace period ends and the object goes.
            _ = try store.delete(KubeResourceRegistry.pods, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "",
                                 options: KubeDeleteOptions(preconditionUID: uid, gracePeriodSeconds: 0))
        } catch let error as KubeAPIError where error.code == 404 || error.code == 409 {}
    }

    /// Removes the containers of a pod (by namespace and name), but those of the incarnation `keepingUID`.
    private func removeContainers(namespace: String, name: String, keepingUID: String?) async throws {
        let records = try await engine.listContainers(ContainerListOptions(all: true)).filter {
            $0.config.labels[PodContainerNaming.podNamespaceLabel] == namespace && $0.config.labels[PodContainerNaming.podNameLabel] == name
                && $0.config.labels[PodContainerNaming.podUIDLabel] != keepingUID
        }
        try await remove(records)
    }

    private func remove(_ records: [ContainerRecord]) async throws {
        // App containers first, the sandbox (whose namespace they use) last.
        let ordered = records.sorted { a, _ in Self.containerName(a) != PodContainerNaming.sandboxContainerName }
        var uids = Set<String>()
        for record in ordered {
            try? await engine.removeContainer(record.id, force: true)
            uids.insert(record.config.labels[PodContainerNaming.podUIDLabel] ?? "")
        }
        for uid in uids {
            context.backOff.forget(podUID: uid)
            PodImages.backOff.forget(podUID: uid)
            context.probes.stop(podUID: uid)
            if let volumes = context.volumes.withLock({ $0.removeValue(forKey: uid) }) { try? await volumes.release() }
        }
    }

    /// Removes the containers whose pod no longer exists (deleted while the daemon was down).
    func removeOrphans() async {
        let started = Date.now
        guard let records = try? await engine.listContainers(ContainerListOptions(all: true)),
              let pods = try? store.list(KubeResourceRegistry.pods, namespace: nil).items else { return }
        let live = Set(pods.compactMap { $0.string("metadata", "uid") })
        let orphans = records.filter {
            guard let uid = $0.config.labels[PodContainerNaming.podUIDLabel] else { return false }
            return !live.contains(uid)
        }
        try? await remove(orphans)
        try? PodVolumes.releaseOrphans(root: engine.root, live: live, before: started)
    }

    // MARK: Runtime containers

    private func containers(of uid: String) async throws -> [ContainerRecord] {
        try await engine.listContainers(ContainerListOptions(all: true)).filter {
            $0.config.labels[PodContainerNaming.podUIDLabel] == uid
        }
    }

    /// The instances of one container of the pod, oldest attempt first.
    static func instances(of container: String, in records: [ContainerRecord]) -> [ContainerRecord] {
        records.filter { containerName($0) == container }.sorted { attempt($0) < attempt($1) }
    }

    static func containerName(_ record: ContainerRecord) -> String {
        record.config.labels[PodContainerNaming.containerNameLabel] ?? ""
    }

    static func attempt(_ record: ContainerRecord) -> Int {
        Int(record.config.labels[PodContainerNaming.attemptLabel] ?? "") ?? 0
    }

    static func restarts(_ policy: String, exitCode: Int32) -> Bool {
        policy == "Always" || (policy == "OnFailure" && exitCode != 0)
    }

    /// `spec.containers{web}` or `spec.initContainers{init}`, as events name a container.
    static func fieldPath(_ container: Container, _ pod: Pod) -> String {
        let isInit = pod.spec.initContainers?.contains { $0.name == container.name } ?? false
        return (isInit ? "spec.initContainers" : "spec.containers") + "{\(container.name)}"
    }
}
