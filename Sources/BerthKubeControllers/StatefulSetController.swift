import BerthKubeAPI
import BerthTemplate
import Foundation

/// Keeps a StatefulSet's pods `<set>-0 … <set>-(n-1)` with stable names, hostnames and one
/// PersistentVolumeClaim per claim template and ordinal (upstream's statefulset controller).
/// OrderedReady creates each pod only once the ones before it run and are ready, and removes from
/// the highest ordinal down, one at a time; Parallel does both at once. RollingUpdate replaces pods
/// of an old revision from the highest ordinal down to the partition, one ready pod at a time.
struct StatefulSetController: KubeReconciler {
    let store: KubeObjectStore
    let recorder: KubeEventRecorder
    let now: @Sendable () -> Date
    let name = "statefulset-controller"

    static let podNameLabel = "statefulset.kubernetes.io/pod-name"
    static let podIndexLabel = "apps.kubernetes.io/pod-index"
    static let revisionLabel = "controller-revision-hash"

    init(store: KubeObjectStore, host: String, now: @escaping @Sendable () -> Date = { Date.now }) {
        self.store = store
        self.recorder = KubeEventRecorder(store: store, component: "statefulset-controller", host: host)
        self.now = now
    }

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.statefulSets), .controlled(KubeResourceRegistry.pods, byKind: "StatefulSet")]
    }

    struct Spec: Decodable {
        struct Strategy: Decodable {
            struct RollingUpdate: Decodable { var partition: Int? }
            var type: String?
            var rollingUpdate: RollingUpdate?
        }

        struct RetentionPolicy: Decodable {
            var whenDeleted: String?
            var whenScaled: String?
        }

        struct ClaimTemplate: Decodable {
            struct Metadata: Decodable { var name: String? }
            var metadata: Metadata?
        }

        var replicas: Int?
        var selector: LabelSelectorSpec?
        var serviceName: String?
        var podManagementPolicy: String?
        var updateStrategy: Strategy?
        var revisionHistoryLimit: Int?
        var minReadySeconds: Int?
        var volumeClaimTemplates: [ClaimTemplate]?
        var persistentVolumeClaimRetentionPolicy: RetentionPolicy?
    }

    struct Status: Codable, Equatable {
        var observedGeneration: Int?
        var replicas: Int
        var readyReplicas: Int?
        var currentReplicas: Int?
        var updatedReplicas: Int?
        var currentRevision: String?
        var updateRevision: String?
        var collisionCount: Int?
        var availableReplicas: Int
        var conditions: [WorkloadCondition]?
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        guard let set = try? store.get(KubeResourceRegistry.statefulSets, namespace: key.namespace, name: key.name),
              set.value(at: ["metadata", "deletionTimestamp"]) == nil else { return nil }
        let spec = try (set["spec"] ?? .object([])).decode(Spec.self)
        let previous = try set["status"].map { try $0.decode(Status.self) }
        let uid = set.string("metadata", "uid")
        let selector = spec.selector?.selector ?? LabelSelector(requirements: [.in("", [])])
        let candidates = try store.list(KubeResourceRegistry.pods, namespace: key.namespace).items.filter {
            selector.matches($0.stringMap(at: ["metadata", "labels"]) ?? [:]) || OwnerRefs.controllerUID(of: $0) == uid
        }
        var byOrdinal: [Int: OrderedJSON] = [:]
        for pod in try OwnerRefs.claim(candidates, resource: KubeResourceRegistry.pods, owner: set, selector: selector, store: store) {
            if let ordinal = Self.ordinal(of: PodFacts.name(pod), set: key.name) { byOrdinal[ordinal] = pod }
        }

        let history = RevisionHistory(store: store, owner: set)
        let inUse = Set(byOrdinal.values.compactMap { PodFacts.label($0, Self.revisionLabel) })
        let update = try history.sync(collisionCount: previous?.collisionCount ?? 0, limit: spec.revisionHistoryLimit ?? 10,
                                      inUse: inUse, keep: previous?.currentRevision)
        let updateRevision = update.string("metadata", "name") ?? ""
        let currentRevision = previous?.currentRevision ?? updateRevision
        let current = currentRevision == updateRevision ? update
            : (try? store.get(KubeResourceRegistry.controllerRevisions, namespace: key.namespace, name: currentRevision)) ?? update

        let replicas = spec.replicas ?? 1
        let ordered = spec.podManagementPolicy != "Parallel"
        let rolling = (spec.updateStrategy?.type ?? "RollingUpdate") == "RollingUpdate"
        let partition = rolling ? spec.updateStrategy?.rollingUpdate?.partition ?? 0 : 0

        var waiting = false
        // Every ordinal below `replicas` gets its claims and a running, ready pod (in order when OrderedReady).
        for ordinal in 0..<max(0, replicas) where !waiting {
            if let pod = byOrdinal[ordinal] {
                if PodFacts.isDeleting(pod) {
                    waiting = ordered
                } else if PodFacts.isTerminal(pod) {
                    try deletePod(pod, set: set)
                    byOrdinal[ordinal] = nil
                    waiting = ordered
                } else {
                    try createClaims(for: ordinal, set: set, spec: spec)
                    waiting = ordered && !PodFacts.isRunningAndReady(pod)
                }
            } else {
                let revision = rolling && ordinal < partition ? current : update
                try createClaims(for: ordinal, set: set, spec: spec)
                byOrdinal[ordinal] = try createPod(ordinal, set: set, spec: spec, revision: revision)
                waiting = ordered
            }
        }
        // Pods beyond `replicas` go, highest ordinal first.
        for ordinal in byOrdinal.keys.filter({ $0 >= replicas }).sorted(by: >) where !waiting {
            guard let pod = byOrdinal[ordinal] else { continue }
            if !PodFacts.isDeleting(pod) { try deletePod(pod, set: set) }
            waiting = ordered
        }
        // RollingUpdate: replace old-revision pods from the highest ordinal down to the partition.
        if rolling, !waiting {
            for ordinal in (min(partition, replicas)..<max(0, replicas)).reversed() {
                guard let pod = byOrdinal[ordinal] else { break }
                if PodFacts.label(pod, Self.revisionLabel) != updateRevision, !PodFacts.isDeleting(pod) {
                    try deletePod(pod, set: set)
                    break
                }
                if !PodFacts.isRunningAndReady(pod) { break }
            }
        }
        if spec.persistentVolumeClaimRetentionPolicy?.whenScaled == "Delete" {
            try deleteScaledClaims(set: set, spec: spec, replicas: replicas, live: Set(byOrdinal.keys))
        }

        let pods = try store.controlled(KubeResourceRegistry.pods, by: set).filter { Self.ordinal(of: PodFacts.name($0), set: key.name) != nil }
        let now = now()
        let minReady = spec.minReadySeconds ?? 0
        var status = Status(observedGeneration: set.value(at: ["metadata", "generation"])?.int, replicas: pods.count, readyReplicas: nil,
                            currentReplicas: nil, updatedReplicas: nil, currentRevision: currentRevision, updateRevision: updateRevision,
                            collisionCount: previous?.collisionCount ?? 0, availableReplicas: 0, conditions: previous?.conditions)
        let ready = pods.filter(PodFacts.isRunningAndReady)
        status.readyReplicas = ready.count.nilIfZero
        status.availableReplicas = ready.filter { PodState.isAvailable($0, minReadySeconds: minReady, now: now) }.count
        let settled = pods.filter { !PodFacts.isDeleting($0) }
        status.currentReplicas = settled.filter { PodFacts.label($0, Self.revisionLabel) == currentRevision }.count.nilIfZero
        status.updatedReplicas = settled.filter { PodFacts.label($0, Self.revisionLabel) == updateRevision }.count.nilIfZero
        // All wanted pods must exist: while a replaced pod is gone and not yet recreated, the rest alone do not finish the rollout.
        if rolling, status.replicas == replicas, (status.updatedReplicas ?? 0) == replicas, (status.readyReplicas ?? 0) == replicas {
            status.currentRevision = updateRevision
            status.currentReplicas = status.updatedReplicas
        }
        try store.updateStatus(KubeResourceRegistry.statefulSets, set, to: try OrderedJSON(encoding: status))
        return PodState.nextAvailability(of: ready, minReadySeconds: minReady, now: now)
    }

    /// The ordinal of a pod named `<set>-<ordinal>`; nil for any other name.
    static func ordinal(of podName: String, set: String) -> Int? {
        guard podName.hasPrefix(set + "-"), let ordinal = Int(podName.dropFirst(set.count + 1)), ordinal >= 0,
              podName == "\(set)-\(ordinal)" else { return nil }
        return ordinal
    }

    /// The claim of template `template` for `ordinal`: `<template>-<set>-<ordinal>`.
    static func claimName(_ template: String, set: String, ordinal: Int) -> String { "\(template)-\(set)-\(ordinal)" }

    private func createPod(_ ordinal: Int, set: OrderedJSON, spec: Spec, revision: OrderedJSON) throws -> OrderedJSON {
        let setName = set.string("metadata", "name") ?? ""
        let podName = "\(setName)-\(ordinal)"
        var template = RevisionHistory.template(of: revision) ?? set.value(at: ["spec", "template"]) ?? .object([])
        var labels = template.stringMap(at: ["metadata", "labels"]) ?? [:]
        labels[Self.podNameLabel] = podName
        labels[Self.podIndexLabel] = String(ordinal)
        labels[Self.revisionLabel] = revision.string("metadata", "name") ?? ""
        template = template.setting(["metadata", "labels"], to: .stringMap(labels))
        template = template.setting(["spec", "hostname"], to: .string(podName))
        if let service = spec.serviceName, !service.isEmpty { template = template.setting(["spec", "subdomain"], to: .string(service)) }
        var volumes: [OrderedJSON] = []
        if case .array(let existing)? = template.value(at: ["spec", "volumes"]) { volumes = existing }
        for claim in (spec.volumeClaimTemplates ?? []).compactMap(\.metadata?.name) {
            let volume = OrderedJSON.object([
                ("name", .string(claim)),
                ("persistentVolumeClaim", .object([("claimName", .string(Self.claimName(claim, set: setName, ordinal: ordinal)))])),
            ])
            if let index = volumes.firstIndex(where: { $0.string("name") == claim }) { volumes[index] = volume } else { volumes.append(volume) }
        }
        if !volumes.isEmpty { template = template.setting(["spec", "volumes"], to: .array(volumes)) }
        let pod = PodControl.pod(from: template, owner: set, generateName: "")
            .setting(["metadata", "generateName"], to: nil).setting(["metadata", "name"], to: .string(podName))
        do {
            let created = try store.create(KubeResourceRegistry.pods, namespace: set.string("metadata", "namespace"), object: pod)
            recorder.record(set, .normal, reason: "SuccessfulCreate", message: "create Pod \(podName) in StatefulSet \(setName) successful")
            return created
        } catch let error as KubeAPIError {
            recorder.record(set, .warning, reason: "FailedCreate", message: "create Pod \(podName) in StatefulSet \(setName) failed error: \(error.message)")
            throw error
        }
    }

    /// Creates the ordinal's missing claims from the claim templates, labelled with the set's
    /// selector; owned by the set when `whenDeleted: Delete` so they go with it.
    private func createClaims(for ordinal: Int, set: OrderedJSON, spec: Spec) throws {
        guard case .array(let templates)? = set.value(at: ["spec", "volumeClaimTemplates"]) else { return }
        let setName = set.string("metadata", "name") ?? ""
        let namespace = set.string("metadata", "namespace")
        for template in templates {
            guard let templateName = template.string("metadata", "name") else { continue }
            let claimName = Self.claimName(templateName, set: setName, ordinal: ordinal)
            if (try? store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: namespace, name: claimName)) != nil { continue }
            var labels = template.stringMap(at: ["metadata", "labels"]) ?? [:]
            labels.merge(spec.selector?.matchLabels ?? [:]) { $1 }
            var metadata: [(String, OrderedJSON)] = [("name", .string(claimName))]
            if !labels.isEmpty { metadata.append(("labels", .stringMap(labels))) }
            if let annotations = template.value(at: ["metadata", "annotations"]) { metadata.append(("annotations", annotations)) }
            if spec.persistentVolumeClaimRetentionPolicy?.whenDeleted == "Delete" {
                metadata.append(("ownerReferences", .array([OwnerRefs.controllerReference(to: set)])))
            }
            let claim = OrderedJSON.object([
                ("apiVersion", .string("v1")), ("kind", .string("PersistentVolumeClaim")),
                ("metadata", .object(metadata)), ("spec", template["spec"] ?? .object([])),
            ])
            do {
                _ = try store.create(KubeResourceRegistry.persistentVolumeClaims, namespace: namespace, object: claim)
                recorder.record(set, .normal, reason: "SuccessfulCreate",
                                message: "create Claim \(claimName) Pod \(setName)-\(ordinal) in StatefulSet \(setName) success")
            } catch let error as KubeAPIError where error.code == 409 {
                continue
            } catch let error as KubeAPIError {
                recorder.record(set, .warning, reason: "FailedCreate",
                                message: "create Claim \(claimName) for Pod \(setName)-\(ordinal) in StatefulSet \(setName) failed error: \(error.message)")
                throw error
            }
        }
    }

    /// With `whenScaled: Delete`, the claims of ordinals scaled away go once their pod is gone.
    private func deleteScaledClaims(set: OrderedJSON, spec: Spec, replicas: Int, live: Set<Int>) throws {
        let setName = set.string("metadata", "name") ?? ""
        let namespace = set.string("metadata", "namespace")
        let templates = (spec.volumeClaimTemplates ?? []).compactMap(\.metadata?.name)
        for claim in try store.list(KubeResourceRegistry.persistentVolumeClaims, namespace: namespace).items {
            let name = claim.string("metadata", "name") ?? ""
            for template in templates where name.hasPrefix("\(template)-") {
                guard let ordinal = Self.ordinal(of: String(name.dropFirst(template.count + 1)), set: setName),
                      ordinal >= replicas, !live.contains(ordinal) else { continue }
                do {
                    _ = try store.delete(KubeResourceRegistry.persistentVolumeClaims, namespace: namespace, name: name)
                } catch let error as KubeAPIError where error.code == 404 {}
            }
        }
    }

    private func deletePod(_ pod: OrderedJSON, set: OrderedJSON) throws {
        let podName = PodFacts.name(pod)
        let setName = set.string("metadata", "name") ?? ""
        do {
            _ = try store.delete(KubeResourceRegistry.pods, namespace: pod.string("metadata", "namespace"), name: podName,
                                 preconditionUID: pod.string("metadata", "uid"))
            recorder.record(set, .normal, reason: "SuccessfulDelete", message: "delete Pod \(podName) in StatefulSet \(setName) successful")
        } catch let error as KubeAPIError where error.code == 404 {
        } catch let error as KubeAPIError {
            recorder.record(set, .warning, reason: "FailedDelete", message: "delete Pod \(podName) in StatefulSet \(setName) failed error: \(error.message)")
            throw error
        }
    }
}

extension Int {
    var nilIfZero: Int? { self == 0 ? nil : self }
}
