import BerthKubeAPI
import BerthRuntime
import BerthTemplate
import Foundation

/// A container's waiting state as the kubelet reports it (`CrashLoopBackOff`, `ErrImagePull`, …).
struct StatusWaiting: Codable, Sendable, Equatable {
    var reason: String
    var message: String?
}

/// The pod status the kubelet publishes, in the field order and with the required fields
/// (`restartCount: 0`, `ready: false`, `lastState: {}`, `lastProbeTime: null`) its clients expect.
struct PublishedPodStatus: Sendable, Equatable {
    struct Condition: Sendable, Equatable {
        var type: String
        var status: String
        var lastTransitionTime: String
        var reason: String?
        var message: String?
    }

    struct Terminated: Sendable, Equatable {
        var exitCode: Int32
        var signal: Int32?
        var reason: String
        var startedAt: String
        var finishedAt: String
        var containerID: String
    }

    enum State: Sendable, Equatable {
        case waiting(StatusWaiting)
        case running(startedAt: String)
        case terminated(Terminated)
    }

    struct ContainerStatus: Sendable, Equatable {
        var name: String
        var state: State
        var lastState: Terminated?
        var ready: Bool
        var restartCount: Int
        var image: String
        var imageID: String
        var containerID: String?
        var started: Bool
    }

    var phase: String
    var conditions: [Condition]
    var hostIP: String
    var podIP: String?
    var startTime: String
    var initContainerStatuses: [ContainerStatus]
    var containerStatuses: [ContainerStatus]
    var qosClass: String
    var reason: String?
    var message: String?

    func json() throws -> OrderedJSON {
        var members: [(String, OrderedJSON)] = [("phase", .string(phase))]
        members.append(("conditions", .array(conditions.map { condition in
            var fields: [(String, OrderedJSON)] = [("type", .string(condition.type)), ("status", .string(condition.status)),
                                                   ("lastProbeTime", .null), ("lastTransitionTime", .string(condition.lastTransitionTime))]
            if let reason = condition.reason { fields.append(("reason", .string(reason))) }
            if let message = condition.message { fields.append(("message", .string(message))) }
            return .object(fields)
        })))
        if let message { members.append(("message", .string(message))) }
        if let reason { members.append(("reason", .string(reason))) }
        members.append(("hostIP", .string(hostIP)))
        members.append(("hostIPs", .array([.object([("ip", .string(hostIP))])])))
        if let podIP, !podIP.isEmpty {
            members.append(("podIP", .string(podIP)))
            members.append(("podIPs", .array([.object([("ip", .string(podIP))])])))
        }
        members.append(("startTime", .string(startTime)))
        if !initContainerStatuses.isEmpty { members.append(("initContainerStatuses", .array(initContainerStatuses.map(Self.json)))) }
        members.append(("containerStatuses", .array(containerStatuses.map(Self.json))))
        members.append(("qosClass", .string(qosClass)))
        return .object(members)
    }

    private static func json(_ status: ContainerStatus) -> OrderedJSON {
        var fields: [(String, OrderedJSON)] = [("name", .string(status.name)), ("state", json(status.state)),
                                               ("lastState", status.lastState.map { json(.terminated($0)) } ?? .object([])),
                                               ("ready", .bool(status.ready)), ("restartCount", .int(status.restartCount)),
                                               ("image", .string(status.image)), ("imageID", .string(status.imageID))]
        if let containerID = status.containerID { fields.append(("containerID", .string(containerID))) }
        fields.append(("started", .bool(status.started)))
        return .object(fields)
    }

    private static func json(_ state: State) -> OrderedJSON {
        switch state {
        case .waiting(let waiting):
            var fields: [(String, OrderedJSON)] = [("reason", .string(waiting.reason))]
            if let message = waiting.message { fields.append(("message", .string(message))) }
            return .object([("waiting", .object(fields))])
        case .running(let startedAt):
            return .object([("running", .object([("startedAt", .string(startedAt))]))])
        case .terminated(let terminated):
            var fields: [(String, OrderedJSON)] = [("exitCode", .int(Int(terminated.exitCode)))]
            if let signal = terminated.signal { fields.append(("signal", .int(Int(signal)))) }
            fields += [("reason", .string(terminated.reason)), ("startedAt", .string(terminated.startedAt)),
                       ("finishedAt", .string(terminated.finishedAt)), ("containerID", .string(terminated.containerID))]
            return .object([("terminated", .object(fields))])
        }
    }
}

/// Computes a pod's status from its containers in the runtime, the waiting reasons of this pass
/// and the probes' findings; conditions keep their transition times while they hold.
struct PodStatusBuilder {
    let pod: Pod
    let records: [ContainerRecord]
    let sandbox: PodSandboxInfo?
    let waiting: [String: StatusWaiting]
    let probes: PodProbes
    let initFailed: Bool

    static func timestamp(_ date: Date?) -> String { (date ?? Date(timeIntervalSince1970: 0)).formatted(.iso8601) }

    func build() -> PublishedPodStatus {
        let now = Self.timestamp(Date.now)
        let initStatuses = (pod.spec.initContainers ?? []).map { status(of: $0, isInit: true) }
        let initialized = !initFailed && initStatuses.allSatisfy {
            if case .terminated(let terminated) = $0.state { return terminated.exitCode == 0 }
            return false
        }
        let statuses = pod.spec.containers.map { status(of: $0, isInit: false, initialized: initialized) }
        let policy = pod.spec.restartPolicy ?? "Always"
        let phase = phase(statuses: statuses, initialized: initialized, policy: policy)
        let previous = pod.status?.conditions ?? []
        func condition(_ type: String, _ isTrue: Bool, reason: String? = nil, message: String? = nil) -> PublishedPodStatus.Condition {
            let status = isTrue ? "True" : "False"
            let before = previous.first { $0.type == type }
            let since = before?.status == status ? before?.lastTransitionTime ?? now : now
            return .init(type: type, status: status, lastTransitionTime: since, reason: isTrue ? nil : reason, message: isTrue ? nil : message)
        }
        let terminal = phase == "Succeeded" || phase == "Failed"
        let unready = statuses.filter { !$0.ready }.map(\.name)
        let incompleteInit = initStatuses.filter {
            if case .terminated(let terminated) = $0.state { return terminated.exitCode != 0 }
            return true
        }.map(\.name)
        let containersReady = unready.isEmpty
        let readyReason = terminal ? "PodCompleted" : "ContainersNotReady"
        let readyMessage = terminal ? nil : "containers with unready status: [\(unready.joined(separator: " "))]"
        let conditions = [
            condition("PodReadyToStartContainers", sandbox != nil && !terminal),
            condition("Initialized", initialized || (terminal && !initFailed), reason: "ContainersNotInitialized",
                      message: "containers with incomplete status: [\(incompleteInit.joined(separator: " "))]"),
            condition("Ready", containersReady && !terminal, reason: readyReason, message: readyMessage),
            condition("ContainersReady", containersReady && !terminal, reason: readyReason, message: readyMessage),
            condition("PodScheduled", true),
        ]
        return PublishedPodStatus(
            phase: phase, conditions: conditions, hostIP: NodeAgent.hostIP(), podIP: sandbox?.podIP,
            startTime: pod.status?.startTime ?? now, initContainerStatuses: initStatuses, containerStatuses: statuses,
            qosClass: pod.status?.qosClass ?? Self.qosClass(pod), reason: nil, message: nil)
    }

    private func phase(statuses: [PublishedPodStatus.ContainerStatus], initialized: Bool, policy: String) -> String {
        if initFailed { return "Failed" }
        guard initialized else { return "Pending" }
        var running = 0, succeeded = 0, failed = 0, waitingCount = 0
        for status in statuses {
            switch status.state {
            case .running: running += 1
            case .terminated(let terminated): if terminated.exitCode == 0 { succeeded += 1 } else { failed += 1 }
            case .waiting:
                // A container waiting to restart has run: the pod runs on.
                if status.lastState != nil { running += 1 } else { waitingCount += 1 }
            }
        }
        if waitingCount > 0 { return "Pending" }
        if running > 0 { return "Running" }
        switch policy {
        case "Always": return "Running"
        case "OnFailure": return failed == 0 ? "Succeeded" : "Running"
        default: return failed == 0 ? "Succeeded" : "Failed"
        }
    }

    private func status(of container: Container, isInit: Bool, initialized: Bool = true) -> PublishedPodStatus.ContainerStatus {
        let instances = PodWorker.instances(of: container.name, in: records)
        let latest = instances.last
        let previous = instances.count > 1 ? instances[instances.count - 2] : nil
        var state: PublishedPodStatus.State
        var lastState = previous.map(Self.terminated)
        var ready = false
        var started = false
        if let waiting = waiting[container.name] {
            state = .waiting(waiting)
            if let latest, latest.state.status == .exited { lastState = Self.terminated(latest) }
        } else if let latest {
            switch latest.state.status {
            case .running, .paused, .restarting:
                state = .running(startedAt: Self.timestamp(latest.state.startedAt))
                started = probes.started(latest.id, hasProbe: container.startupProbe != nil)
                ready = started && probes.ready(latest.id, hasProbe: container.readinessProbe != nil) && !isInit
            case .exited, .dead, .removing:
                state = .terminated(Self.terminated(latest))
            default:
                state = .waiting(StatusWaiting(reason: "ContainerCreating"))
            }
        } else {
            state = .waiting(StatusWaiting(reason: isInit || initialized ? "ContainerCreating" : "PodInitializing"))
        }
        return PublishedPodStatus.ContainerStatus(
            name: container.name, state: state, lastState: lastState, ready: ready,
            restartCount: latest.map(PodWorker.attempt) ?? 0, image: container.image ?? "",
            imageID: latest?.imageID ?? "", containerID: latest.map { "berth://" + $0.id }, started: started)
    }

    static func terminated(_ record: ContainerRecord) -> PublishedPodStatus.Terminated {
        let code = record.state.exitCode
        let reason = record.state.oomKilled ? "OOMKilled" : code == 0 ? "Completed" : "Error"
        return .init(exitCode: code, signal: nil, reason: reason, startedAt: timestamp(record.state.startedAt),
                     finishedAt: timestamp(record.state.finishedAt), containerID: "berth://" + record.id)
    }

    /// Guaranteed, Burstable or BestEffort, from the containers' CPU and memory (`PodQOSClass`).
    static func qosClass(_ pod: Pod) -> String {
        PodQOSClass(pod.spec).rawValue
    }
}
