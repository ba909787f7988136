import BerthKubeAPI
import BerthTemplate
import Foundation

/// What the Job, CronJob, StatefulSet and DaemonSet controllers share beyond `PodControl`: API
/// timestamps, workload conditions, and the objects an owner controls.
enum KubeTime {
    /// An API timestamp (RFC 3339 in UTC, whole seconds), as Go's metav1.Time encodes.
    static func format(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    static func parse(_ text: String?) -> Date? {
        text.flatMap { try? Date($0, strategy: .iso8601) }
    }

    /// The wait until `date` from `now`, rounded up to whole milliseconds plus a little, so a
    /// requeued reconcile finds the moment passed.
    static func until(_ date: Date, from now: Date) -> Duration {
        .milliseconds(Int64((max(0, date.timeIntervalSince(now)) * 1000).rounded(.up)) + 50)
    }
}

/// A condition of a workload's status (Job, Deployment, StatefulSet…), as the API spells it.
struct WorkloadCondition: Codable, Sendable, Equatable {
    var type: String
    var status: String
    var lastProbeTime: String?
    var lastTransitionTime: String?
    var reason: String?
    var message: String?
}

extension [WorkloadCondition] {
    func isTrue(_ type: String) -> Bool { contains { $0.type == type && $0.status == "True" } }

    /// Sets the condition of `type`, keeping its transition time when the status does not change.
    mutating func set(_ type: String, _ status: String, reason: String, message: String, now: Date, probeTime: Bool = false) {
        let stamp = KubeTime.format(now)
        if let index = firstIndex(where: { $0.type == type }) {
            let keep = self[index].status == status
            self[index] = WorkloadCondition(type: type, status: status, lastProbeTime: probeTime ? stamp : nil,
                                            lastTransitionTime: keep ? self[index].lastTransitionTime : stamp, reason: reason, message: message)
        } else {
            append(WorkloadCondition(type: type, status: status, lastProbeTime: probeTime ? stamp : nil, lastTransitionTime: stamp,
                                     reason: reason, message: message))
        }
    }
}

extension KubeObjectStore {
    /// The objects of `resource` in `owner`'s namespace that `owner` controls.
    func controlled(_ resource: KubeResource, by owner: OrderedJSON) throws -> [OrderedJSON] {
        let uid = owner.string("metadata", "uid")
        return try list(resource, namespace: owner.string("metadata", "namespace")).items.filter { OwnerRefs.controllerUID(of: $0) == uid }
    }
}

/// Reading pods as the workload controllers do, beyond `PodState`.
enum PodFacts {
    static func name(_ pod: OrderedJSON) -> String { pod.string("metadata", "name") ?? "" }
    static func phase(_ pod: OrderedJSON) -> String? { pod.string("status", "phase") }
    static func isTerminal(_ pod: OrderedJSON) -> Bool { phase(pod) == "Succeeded" || phase(pod) == "Failed" }
    static func isDeleting(_ pod: OrderedJSON) -> Bool { pod.value(at: ["metadata", "deletionTimestamp"]) != nil }
    static func isRunningAndReady(_ pod: OrderedJSON) -> Bool { phase(pod) == "Running" && PodState.isReady(pod) }

    static func label(_ pod: OrderedJSON, _ key: String) -> String? { pod.stringMap(at: ["metadata", "labels"])?[key] }

    /// Restarts of all the pod's containers, init containers included.
    static func restarts(_ pod: OrderedJSON) -> Int {
        ["initContainerStatuses", "containerStatuses"].reduce(0) { total, member in
            guard case .array(let statuses)? = pod.value(at: ["status", member]) else { return total }
            return total + statuses.reduce(0) { $0 + ($1["restartCount"]?.int ?? 0) }
        }
    }
}

/// Finalizers of any stored object, as the garbage collector and the Job controller edit them.
extension OrderedJSON {
    var finalizers: [String] {
        guard case .array(let values)? = value(at: ["metadata", "finalizers"]) else { return [] }
        return values.compactMap { if case .string(let text) = $0 { text } else { nil } }
    }

    /// The object with `finalizer` removed from its finalizers (the member removed when none is left).
    func removingFinalizer(_ finalizer: String) -> OrderedJSON {
        let kept = finalizers.filter { $0 != finalizer }
        return setting(["metadata", "finalizers"], to: kept.isEmpty ? nil : .strings(kept))
    }
}
