import BerthKubeAPI
import BerthTemplate
import Foundation

/// Keeps `spec.replicas` active pods matching each ReplicaSet's selector: adopts matching orphans,
/// releases its pods that stop matching, creates pods from the template for missing ones (a deleted
/// or failed pod is no longer active, so it is replaced) and deletes the surplus in upstream's
/// ranking order; reports replicas/fullyLabeledReplicas/readyReplicas/availableReplicas.
struct ReplicaSetController: KubeReconciler {
    let store: KubeObjectStore
    let replicaSets: KubeResource
    let pods: KubeResource
    let podControl: PodControl
    let name = "replicaset-controller"

    init(store: KubeObjectStore, host: String) {
        self.store = store
        replicaSets = KubeResourceRegistry.replicaSets
        pods = KubeResourceRegistry.pods
        podControl = PodControl(store: store, recorder: KubeEventRecorder(store: store, component: name, host: host))
    }

    var triggers: [KubeTrigger] {
        [.own(replicaSets),
         KubeTrigger(resource: pods) { [store, replicaSets] event in
             Self.interestedReplicaSets(in: event.object, store: store, replicaSets: replicaSets)
         }]
    }

    /// The ReplicaSet controlling `pod`, or, for an orphan, every ReplicaSet whose selector matches it (to adopt it).
    private static func interestedReplicaSets(in pod: OrderedJSON, store: KubeObjectStore, replicaSets: KubeResource) -> [KubeObjectKey] {
        let namespace = pod.string("metadata", "namespace") ?? ""
        guard let meta = try? pod.value(at: ["metadata"])?.decode(ObjectMeta.self) else { return [] }
        if let controller = meta.controller {
            return controller.kind == "ReplicaSet" ? [KubeObjectKey(namespace: namespace, name: controller.name)] : []
        }
        let labels = meta.labels ?? [:]
        let candidates = (try? store.list(replicaSets, namespace: namespace).items) ?? []
        return candidates.filter { replicaSet in
            guard let selector = try? replicaSet.value(at: ["spec", "selector"])?.decode(LabelSelectorSpec.self) else { return false }
            return !selector.selector.requirements.isEmpty && selector.selector.matches(labels)
        }.map(KubeObjectKey.init)
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let replicaSet: OrderedJSON
        do {
            replicaSet = try store.get(replicaSets, namespace: key.namespace, name: key.name)
        } catch let error as KubeAPIError where error.code == 404 {
            return nil
        }
        // An empty selector would select every pod; the API refuses it, so it is left alone.
        guard let selectorSpec = try replicaSet.value(at: ["spec", "selector"])?.decode(LabelSelectorSpec.self),
              !selectorSpec.selector.requirements.isEmpty else { return nil }
        let selector = selectorSpec.selector
        let desired = replicaSet.value(at: ["spec", "replicas"])?.int ?? 1
        let minReadySeconds = replicaSet.value(at: ["spec", "minReadySeconds"])?.int ?? 0

        let candidates = try store.list(pods, namespace: key.namespace).items.filter(PodState.isActive)
        let owned = try OwnerRefs.claim(candidates, resource: pods, owner: replicaSet, selector: selector, store: store)

        var pods = owned
        var failure: (reason: String, message: String)?
        if replicaSet.value(at: ["metadata", "deletionTimestamp"]) == nil {
            failure = manageReplicas(&pods, desired: desired, replicaSet: replicaSet)
        }

        let now = Date.now
        let status = Self.status(of: pods, replicaSet: replicaSet, minReadySeconds: minReadySeconds, failure: failure, now: now)
        try store.updateStatus(replicaSets, replicaSet, to: status)
        if let failure { throw KubeAPIError(code: 500, reason: "InternalError", message: failure.message) }
        return PodState.nextAvailability(of: pods, minReadySeconds: minReadySeconds, now: now)
    }

    /// Creates or deletes pods until `desired` are active, keeping `pods` up to date with what it
    /// did; answers the ReplicaFailure to report, if any.
    private func manageReplicas(_ pods: inout [OrderedJSON], desired: Int, replicaSet: OrderedJSON) -> (reason: String, message: String)? {
        let difference = pods.count - desired
        let template = replicaSet.value(at: ["spec", "template"]) ?? .object([])
        let generateName = (replicaSet.string("metadata", "name") ?? "") + "-"
        if difference < 0 {
            for _ in 0 ..< -difference {
                do {
                    pods.append(try podControl.createPod(from: template, owner: replicaSet, generateName: generateName))
                } catch let error as KubeAPIError {
                    return ("FailedCreate", error.message)
                } catch {
                    return ("FailedCreate", "\(error)")
                }
            }
        } else if difference > 0 {
            for pod in PodState.deletionOrder(pods).prefix(difference) {
                do {
                    try podControl.deletePod(pod, owner: replicaSet)
                    let uid = pod.string("metadata", "uid")
                    pods.removeAll { $0.string("metadata", "uid") == uid }
                } catch let error as KubeAPIError {
                    return ("FailedDelete", error.message)
                } catch {
                    return ("FailedDelete", "\(error)")
                }
            }
        }
        return nil
    }

    /// The status of the pods as this sync leaves them (upstream counts the pods seen before its
    /// own creations and deletions; counting after them keeps a Deployment from reading pods
    /// that are going as available); zero counts are left out as Go's omitempty does.
    static func status(of pods: [OrderedJSON], replicaSet: OrderedJSON, minReadySeconds: Int,
                       failure: (reason: String, message: String)?, now: Date) -> OrderedJSON {
        let templateLabels = replicaSet.stringMap(at: ["spec", "template", "metadata", "labels"]) ?? [:]
        let fullyLabeled = pods.filter { pod in
            let labels = pod.stringMap(at: ["metadata", "labels"]) ?? [:]
            return templateLabels.allSatisfy { labels[$0.key] == $0.value }
        }.count
        let ready = pods.filter(PodState.isReady).count
        let available = pods.filter { PodState.isAvailable($0, minReadySeconds: minReadySeconds, now: now) }.count
        var members: [(String, OrderedJSON)] = [("replicas", .int(pods.count))]
        if fullyLabeled > 0 { members.append(("fullyLabeledReplicas", .int(fullyLabeled))) }
        if ready > 0 { members.append(("readyReplicas", .int(ready))) }
        if available > 0 { members.append(("availableReplicas", .int(available))) }
        if let generation = replicaSet.value(at: ["metadata", "generation"])?.int { members.append(("observedGeneration", .int(generation))) }
        var conditions: [OrderedJSON] = []
        if case .array(let existing)? = replicaSet.value(at: ["status", "conditions"]) {
            conditions = existing.filter { $0.string("type") != "ReplicaFailure" }
        }
        if let failure {
            let previous = replicaSet.value(at: ["status", "conditions"]).flatMap { list -> OrderedJSON? in
                guard case .array(let items) = list else { return nil }
                return items.first { $0.string("type") == "ReplicaFailure" && $0.string("reason") == failure.reason }
            }
            conditions.append(.object([
                ("type", .string("ReplicaFailure")), ("status", .string("True")),
                ("lastTransitionTime", previous?["lastTransitionTime"] ?? .string(now.formatted(.iso8601))),
                ("reason", .string(failure.reason)), ("message", .string(failure.message)),
            ]))
        }
        if !conditions.isEmpty { members.append(("conditions", .array(conditions))) }
        return .object(members)
    }
}
