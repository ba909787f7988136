import BerthKubeAPI
import BerthTemplate
import Foundation

/// Runs one pod of each DaemonSet on the node when the node suits the pod (nodeSelector, required
/// node affinity, taints against tolerations), as upstream's daemonset controller does for each
/// node of a cluster. Pods are pinned with a required node affinity on `metadata.name`, as 1.32
/// does, and the scheduler binds them. RollingUpdate replaces a pod of an old template; OnDelete
/// waits for it to be deleted.
struct DaemonSetController: KubeReconciler {
    let store: KubeObjectStore
    let recorder: KubeEventRecorder
    let pods: PodControl
    let node: String
    let now: @Sendable () -> Date
    let name = "daemonset-controller"

    static let revisionLabel = "controller-revision-hash"
    static let generationLabel = "pod-template-generation"

    init(store: KubeObjectStore, host: String, now: @escaping @Sendable () -> Date = { Date.now }) {
        self.store = store
        self.recorder = KubeEventRecorder(store: store, component: "daemonset-controller", host: host)
        self.pods = PodControl(store: store, recorder: recorder)
        self.node = host
        self.now = now
    }

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.daemonSets), .controlled(KubeResourceRegistry.pods, byKind: "DaemonSet"),
         KubeTrigger(resource: KubeResourceRegistry.nodes) { [store] _ in
             ((try? store.list(KubeResourceRegistry.daemonSets, namespace: nil).items) ?? []).map(KubeObjectKey.init)
         }]
    }

    struct Status: Codable, Equatable {
        var currentNumberScheduled: Int
        var numberMisscheduled: Int
        var desiredNumberScheduled: Int
        var numberReady: Int
        var observedGeneration: Int?
        var updatedNumberScheduled: Int?
        var numberAvailable: Int?
        var numberUnavailable: Int?
        var collisionCount: Int?
        var conditions: [WorkloadCondition]?
    }

    /// The tolerations every daemon pod gets, so node conditions do not evict or keep it off.
    static let addedTolerations: [(key: String, effect: String)] = [
        ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        guard let set = try? store.get(KubeResourceRegistry.daemonSets, namespace: key.namespace, name: key.name),
              set.value(at: ["metadata", "deletionTimestamp"]) == nil else { return nil }
        let previous = set["status"]
        let uid = set.string("metadata", "uid")
        let selector = (try set.value(at: ["spec", "selector"])?.decode(LabelSelectorSpec.self))?.selector ?? LabelSelector(requirements: [.in("", [])])
        let candidates = try store.list(KubeResourceRegistry.pods, namespace: key.namespace).items.filter {
            selector.matches($0.stringMap(at: ["metadata", "labels"]) ?? [:]) || OwnerRefs.controllerUID(of: $0) == uid
        }
        var owned = try OwnerRefs.claim(candidates, resource: KubeResourceRegistry.pods, owner: set, selector: selector, store: store)

        let history = RevisionHistory(store: store, owner: set)
        let update = try history.sync(collisionCount: previous?["collisionCount"]?.int ?? 0,
                                      limit: set.value(at: ["spec", "revisionHistoryLimit"])?.int ?? 10,
                                      inUse: Set(owned.compactMap { PodFacts.label($0, Self.revisionLabel) }.map { "\(key.name)-\($0)" }),
                                      keep: nil, extraLabels: { [Self.revisionLabel: $0] })
        let hash = update.stringMap(at: ["metadata", "labels"])?[RevisionHistory.hashLabel] ?? ""
        let template = set.value(at: ["spec", "template"]) ?? .object([])
        let nodeObject = try? store.get(KubeResourceRegistry.nodes, namespace: nil, name: node)
        let eligible = nodeObject.map { Self.suits(template, node: $0) } ?? false

        // Daemon pods that failed, or that sit on a node they no longer suit, go; extras beyond one go.
        for pod in owned where !PodFacts.isDeleting(pod) && (PodFacts.phase(pod) == "Failed" || (!eligible && nodeObject != nil)) {
            try pods.deletePod(pod, owner: set)
        }
        owned = try store.controlled(KubeResourceRegistry.pods, by: set)
        var live = owned.filter(PodState.isActive).sorted { ($0.string("metadata", "creationTimestamp") ?? "") < ($1.string("metadata", "creationTimestamp") ?? "") }
        for pod in live.dropFirst() { try pods.deletePod(pod, owner: set) }
        live = Array(live.prefix(1))
        let deleting = owned.contains { PodFacts.isDeleting($0) && !PodFacts.isTerminal($0) }
        if eligible, live.isEmpty, !deleting {
            live = [try createPod(for: set, template: template, hash: hash)]
        } else if eligible, let pod = live.first, PodFacts.label(pod, Self.revisionLabel) != hash,
                  (set.string("spec", "updateStrategy", "type") ?? "RollingUpdate") == "RollingUpdate" {
            try pods.deletePod(pod, owner: set)
            live = []
        }

        let now = now()
        let minReady = set.value(at: ["spec", "minReadySeconds"])?.int ?? 0
        let onNode = live.filter { PodFacts.isDeleting($0) == false }
        let desired = eligible ? 1 : 0
        let ready = onNode.filter(PodState.isReady)
        let available = ready.filter { PodState.isAvailable($0, minReadySeconds: minReady, now: now) }.count
        var conditions: [WorkloadCondition]?
        if let existing = previous?["conditions"] { conditions = try existing.decode([WorkloadCondition].self) }
        let status = Status(currentNumberScheduled: eligible ? min(1, onNode.count) : 0, numberMisscheduled: eligible ? 0 : onNode.count,
                            desiredNumberScheduled: desired, numberReady: ready.count,
                            observedGeneration: set.value(at: ["metadata", "generation"])?.int,
                            updatedNumberScheduled: onNode.filter { PodFacts.label($0, Self.revisionLabel) == hash }.count.nilIfZero,
                            numberAvailable: available.nilIfZero, numberUnavailable: max(0, desired - available).nilIfZero,
                            collisionCount: previous?["collisionCount"]?.int, conditions: conditions)
        try store.updateStatus(KubeResourceRegistry.daemonSets, set, to: try OrderedJSON(encoding: status))
        return PodState.nextAvailability(of: ready, minReadySeconds: minReady, now: now)
    }

    private func createPod(for set: OrderedJSON, template: OrderedJSON, hash: String) throws -> OrderedJSON {
        var template = template
        var labels = template.stringMap(at: ["metadata", "labels"]) ?? [:]
        labels[Self.revisionLabel] = hash
        labels[Self.generationLabel] = String(set.value(at: ["metadata", "generation"])?.int ?? 1)
        template = template.setting(["metadata", "labels"], to: .stringMap(labels))
        let term = OrderedJSON.object([("matchFields", .array([.object([
            ("key", .string("metadata.name")), ("operator", .string("In")), ("values", .array([.string(node)])),
        ])]))])
        template = template.setting(["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"],
                                    to: .array([term]))
        var tolerations: [OrderedJSON] = []
        if case .array(let existing)? = template.value(at: ["spec", "tolerations"]) { tolerations = existing }
        for added in Self.addedTolerations where !tolerations.contains(where: { $0.string("key") == added.key && $0.string("effect") == added.effect }) {
            tolerations.append(.object([("key", .string(added.key)), ("operator", .string("Exists")), ("effect", .string(added.effect))]))
        }
        template = template.setting(["spec", "tolerations"], to: .array(tolerations))
        return try pods.createPod(from: template, owner: set, generateName: "\(set.string("metadata", "name") ?? "")-")
    }

    /// Whether a pod of `template` may run on `node`: its nodeName (if any), nodeSelector and
    /// required node affinity match the node, and it tolerates the node's NoSchedule and NoExecute
    /// taints (with the tolerations every daemon pod gets).
    static func suits(_ template: OrderedJSON, node: OrderedJSON) -> Bool {
        let nodeName = node.string("metadata", "name") ?? ""
        let labels = node.stringMap(at: ["metadata", "labels"]) ?? [:]
        if let pinned = template.string("spec", "nodeName"), !pinned.isEmpty, pinned != nodeName { return false }
        for (key, value) in template.stringMap(at: ["spec", "nodeSelector"]) ?? [:] where labels[key] != value { return false }
        if case .array(let terms)? = template.value(at: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]),
           !terms.contains(where: { termMatches($0, labels: labels, name: nodeName) }) {
            return false
        }
        var tolerations: [OrderedJSON] = []
        if case .array(let existing)? = template.value(at: ["spec", "tolerations"]) { tolerations = existing }
        tolerations += addedTolerations.map { .object([("key", .string($0.key)), ("operator", .string("Exists")), ("effect", .string($0.effect))]) }
        guard case .array(let taints)? = node.value(at: ["spec", "taints"]) else { return true }
        return taints.allSatisfy { taint in
            guard let effect = taint.string("effect"), effect == "NoSchedule" || effect == "NoExecute" else { return true }
            return tolerations.contains { tolerates($0, taint) }
        }
    }

    static func tolerates(_ toleration: OrderedJSON, _ taint: OrderedJSON) -> Bool {
        if let effect = toleration.string("effect"), !effect.isEmpty, effect != taint.string("effect") { return false }
        let key = toleration.string("key") ?? ""
        if toleration.string("operator") == "Exists" { return key.isEmpty || key == taint.string("key") }
        return key == taint.string("key") && (toleration.string("value") ?? "") == (taint.string("value") ?? "")
    }

    private static func termMatches(_ term: OrderedJSON, labels: [String: String], name: String) -> Bool {
        var requirements: [(OrderedJSON, String?)] = []
        if case .array(let expressions)? = term["matchExpressions"] { requirements += expressions.map { ($0, labels[$0.string("key") ?? ""]) } }
        if case .array(let fields)? = term["matchFields"] {
            requirements += fields.map { ($0, $0.string("key") == "metadata.name" ? name : nil) }
        }
        guard !requirements.isEmpty else { return false }
        return requirements.allSatisfy { requirement, value in
            var values: [String] = []
            if case .array(let items)? = requirement["values"] { values = items.compactMap { if case .string(let text) = $0 { text } else { nil } } }
            switch requirement.string("operator") {
            case "In": return value.map(values.contains) ?? false
            case "NotIn": return !(value.map(values.contains) ?? false)
            case "Exists": return value != nil
            case "DoesNotExist": return value == nil
            case "Gt": return value.flatMap(Int.init).flatMap { number in values.first.flatMap(Int.init).map { number > $0 } } ?? false
            case "Lt": return value.flatMap(Int.init).flatMap { number in values.first.flatMap(Int.init).map { number < $0 } } ?? false
            default: return false
            }
        }
    }
}
