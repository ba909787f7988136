import BerthKubeAPI
import BerthTemplate
import Foundation

/// What workload controllers share, as upstream's `controller_utils.go` and the ref manager offer it:
/// the resources they work on, pods made from templates, controller ownerReferences with adoption and
/// release, pod activity/readiness/availability and the scale-down ranking.
///
/// Berth needs no "expectations" (upstream's guard against a lagging informer cache): the store is
/// read directly and a write is visible to the next list as soon as it returns.
extension KubeObjectStore {
    /// Writes `status` as the object's status (the `/status` subresource's effect), unless it is
    /// already that; conflicts throw, so the reconcile retries with the fresh object.
    @discardableResult
    func updateStatus(_ resource: KubeResource, _ object: OrderedJSON, to status: OrderedJSON) throws -> OrderedJSON {
        guard object["status"] != status else { return object }
        return try replace(resource, namespace: object.string("metadata", "namespace"), name: object.string("metadata", "name") ?? "",
                           object: object.setting(["status"], to: status))
    }
}

/// Creates and deletes a controller's pods, recording the events upstream's pod control records.
struct PodControl: Sendable {
    let store: KubeObjectStore
    let pods: KubeResource
    let recorder: KubeEventRecorder

    init(store: KubeObjectStore, recorder: KubeEventRecorder) {
        self.store = store
        self.pods = KubeResourceRegistry.pods
        self.recorder = recorder
    }

    /// The pod `template` describes, owned by `owner`, named `generateName` + 5 random characters:
    /// the template's labels, annotations and finalizers, its spec as is.
    static func pod(from template: OrderedJSON, owner: OrderedJSON, generateName: String) -> OrderedJSON {
        var metadata: [(String, OrderedJSON)] = [("generateName", .string(generateName))]
        for field in ["labels", "annotations", "finalizers"] {
            if let value = template.value(at: ["metadata", field]) { metadata.append((field, value)) }
        }
        metadata.append(("ownerReferences", .array([OwnerRefs.controllerReference(to: owner)])))
        return .object([
            ("apiVersion", .string("v1")), ("kind", .string("Pod")),
            ("metadata", .object(metadata)),
            ("spec", template["spec"] ?? .object([])),
        ])
    }

    /// Creates a pod from `template` for `owner` (`<generateName>xxxxx`) and records
    /// SuccessfulCreate, or FailedCreate before rethrowing.
    @discardableResult
    func createPod(from template: OrderedJSON, owner: OrderedJSON, generateName: String) throws -> OrderedJSON {
        let namespace = owner.string("metadata", "namespace")
        do {
            let pod = try store.create(pods, namespace: namespace, object: Self.pod(from: template, owner: owner, generateName: generateName))
            recorder.record(owner, .normal, reason: "SuccessfulCreate", message: "Created pod: \(pod.string("metadata", "name") ?? "")")
            return pod
        } catch let error as KubeAPIError {
            recorder.record(owner, .warning, reason: "FailedCreate", message: "Error creating: \(error.message)")
            throw error
        }
    }

    /// Deletes `pod` on behalf of `owner` and records SuccessfulDelete (FailedDelete before
    /// rethrowing); a pod already gone counts as deleted.
    func deletePod(_ pod: OrderedJSON, owner: OrderedJSON) throws {
        let name = pod.string("metadata", "name") ?? ""
        do {
            _ = try store.delete(pods, namespace: pod.string("metadata", "namespace"), name: name,
                                 preconditionUID: pod.string("metadata", "uid"))
            recorder.record(owner, .normal, reason: "SuccessfulDelete", message: "Deleted pod: \(name)")
        } catch let error as KubeAPIError where error.code == 404 {
            return
        } catch let error as KubeAPIError {
            recorder.record(owner, .warning, reason: "FailedDelete", message: "Error deleting: \(error.message)")
            throw error
        }
    }
}

/// ownerReferences: building them, finding the controller, adopting orphans and releasing objects
/// that no longer match (upstream's ControllerRefManager).
enum OwnerRefs {
    /// A reference to `owner` as its controller (`controller: true`, `blockOwnerDeletion: true`).
    static func controllerReference(to owner: OrderedJSON) -> OrderedJSON {
        .object([
            ("apiVersion", .string(owner.string("apiVersion") ?? "")), ("kind", .string(owner.string("kind") ?? "")),
            ("name", .string(owner.string("metadata", "name") ?? "")), ("uid", .string(owner.string("metadata", "uid") ?? "")),
            ("controller", .bool(true)), ("blockOwnerDeletion", .bool(true)),
        ])
    }

    /// The uid of the controller named in `object`'s ownerReferences, if any.
    static func controllerUID(of object: OrderedJSON) -> String? {
        guard case .array(let references)? = object.value(at: ["metadata", "ownerReferences"]) else { return nil }
        return references.first { $0["controller"] == .bool(true) }?.string("uid")
    }

    /// Whether `object` names `uid` among its owners (controller or not).
    static func isOwned(_ object: OrderedJSON, by uid: String) -> Bool {
        guard case .array(let references)? = object.value(at: ["metadata", "ownerReferences"]) else { return false }
        return references.contains { $0.string("uid") == uid }
    }

    /// `object` without the ownerReference to `uid` (the member removed when none is left).
    static func removingOwner(_ uid: String, from object: OrderedJSON) -> OrderedJSON {
        guard case .array(let references)? = object.value(at: ["metadata", "ownerReferences"]) else { return object }
        let kept = references.filter { $0.string("uid") != uid }
        return object.setting(["metadata", "ownerReferences"], to: kept.isEmpty ? nil : .array(kept))
    }

    /// The objects among `candidates` that `owner` controls once adoption and release are done:
    /// its own that still match `selector`, plus orphans that match (adopted by adding a controller
    /// reference). Its own that stop matching are released. Nothing is adopted or released while
    /// the owner or the object is being deleted.
    static func claim(_ candidates: [OrderedJSON], resource: KubeResource, owner: OrderedJSON, selector: LabelSelector,
                      store: KubeObjectStore) throws -> [OrderedJSON] {
        let ownerUID = owner.string("metadata", "uid") ?? ""
        let ownerDeleting = owner.value(at: ["metadata", "deletionTimestamp"]) != nil
        var claimed: [OrderedJSON] = []
        for object in candidates {
            let matches = selector.matches(object.stringMap(at: ["metadata", "labels"]) ?? [:])
            let deleting = object.value(at: ["metadata", "deletionTimestamp"]) != nil
            let name = object.string("metadata", "name") ?? ""
            let namespace = object.string("metadata", "namespace")
            switch controllerUID(of: object) {
            case ownerUID?:
                if matches || ownerDeleting || deleting {
                    claimed.append(object)
                } else {
                    do {
                        _ = try store.replace(resource, namespace: namespace, name: name, object: removingOwner(ownerUID, from: object))
                    } catch let error as KubeAPIError where error.code == 404 {}
                }
            case nil where matches && !ownerDeleting && !deleting:
                var references: [OrderedJSON] = []
                if case .array(let existing)? = object.value(at: ["metadata", "ownerReferences"]) { references = existing }
                references.append(controllerReference(to: owner))
                do {
                    claimed.append(try store.replace(resource, namespace: namespace, name: name,
                                                     object: object.setting(["metadata", "ownerReferences"], to: .array(references))))
                } catch let error as KubeAPIError where error.code == 404 {}
            default:
                continue
            }
        }
        return claimed
    }
}

/// Pod states as controllers count them (upstream `podutil`).
enum PodState {
    /// Neither finished (Succeeded/Failed) nor being deleted: counts toward a controller's replicas.
    static func isActive(_ pod: OrderedJSON) -> Bool {
        let phase = pod.string("status", "phase")
        return phase != "Succeeded" && phase != "Failed" && pod.value(at: ["metadata", "deletionTimestamp"]) == nil
    }

    /// When the Ready condition became True; nil when the pod is not ready.
    static func readySince(_ pod: OrderedJSON) -> Date? {
        guard case .array(let conditions)? = pod.value(at: ["status", "conditions"]),
              let ready = conditions.first(where: { $0.string("type") == "Ready" }), ready.string("status") == "True" else { return nil }
        return ready.string("lastTransitionTime").flatMap { try? Date($0, strategy: .iso8601) } ?? .distantPast
    }

    static func isReady(_ pod: OrderedJSON) -> Bool { readySince(pod) != nil }

    /// Ready for at least `minReadySeconds` at `now`.
    static func isAvailable(_ pod: OrderedJSON, minReadySeconds: Int, now: Date) -> Bool {
        guard let since = readySince(pod) else { return false }
        return minReadySeconds <= 0 || since.addingTimeInterval(TimeInterval(minReadySeconds)) <= now
    }

    /// How long until the next of `pods` that is ready but not yet available becomes available;
    /// nil when none is waiting (the controller looks again then, as upstream requeues after minReadySeconds).
    static func nextAvailability(of pods: [OrderedJSON], minReadySeconds: Int, now: Date) -> Duration? {
        guard minReadySeconds > 0 else { return nil }
        let waits = pods.compactMap { pod -> TimeInterval? in
            guard let since = readySince(pod) else { return nil }
            let remaining = since.addingTimeInterval(TimeInterval(minReadySeconds)).timeIntervalSince(now)
            return remaining > 0 ? remaining : nil
        }
        return waits.min().map { .milliseconds(Int64(($0 * 1000).rounded(.up)) + 10) }
    }

    /// `pods` in the order a controller deletes them when scaling down (upstream's ActivePods
    /// ranking): unscheduled before scheduled, Pending before Unknown before Running, not ready
    /// before ready, ready for less time first, more restarts first, newer before older.
    static func deletionOrder(_ pods: [OrderedJSON]) -> [OrderedJSON] {
        func scheduled(_ pod: OrderedJSON) -> Bool { !(pod.string("spec", "nodeName") ?? "").isEmpty }
        func phaseRank(_ pod: OrderedJSON) -> Int {
            switch pod.string("status", "phase") {
            case "Pending", nil: return 0
            case "Unknown": return 1
            case "Running": return 2
            default: return 3
            }
        }
        func restarts(_ pod: OrderedJSON) -> Int {
            guard case .array(let statuses)? = pod.value(at: ["status", "containerStatuses"]) else { return 0 }
            return statuses.map { $0["restartCount"]?.int ?? 0 }.max() ?? 0
        }
        func created(_ pod: OrderedJSON) -> Date {
            pod.string("metadata", "creationTimestamp").flatMap { try? Date($0, strategy: .iso8601) } ?? .distantFuture
        }
        return pods.sorted { a, b in
            if scheduled(a) != scheduled(b) { return !scheduled(a) }
            if phaseRank(a) != phaseRank(b) { return phaseRank(a) < phaseRank(b) }
            let readyA = readySince(a), readyB = readySince(b)
            if (readyA == nil) != (readyB == nil) { return readyA == nil }
            if let readyA, let readyB, readyA != readyB { return readyA > readyB }
            if restarts(a) != restarts(b) { return restarts(a) > restarts(b) }
            return created(a) > created(b)
        }
    }
}
