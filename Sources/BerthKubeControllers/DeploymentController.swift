import BerthKubeAPI
import BerthTemplate
import Foundation

/// Rolls Deployments out through ReplicaSets as upstream's deployment controller does: one
/// ReplicaSet per pod template (`<deployment>-<pod-template-hash>`), RollingUpdate within
/// maxSurge/maxUnavailable or Recreate, proportional scaling, pause, revisions (a template equal to
/// an old ReplicaSet's brings that one back as the newest revision: `kubectl rollout undo`), history
/// cleanup, and the status and conditions `kubectl rollout status` reads.
struct DeploymentController: KubeReconciler {
    let store: KubeObjectStore
    let deployments: KubeResource
    let replicaSets: KubeResource
    let pods: KubeResource
    let recorder: KubeEventRecorder
    let name = "deployment-controller"

    init(store: KubeObjectStore, host: String) {
        self.store = store
        deployments = KubeResourceRegistry.deployments
        replicaSets = KubeResourceRegistry.replicaSets
        pods = KubeResourceRegistry.pods
        recorder = KubeEventRecorder(store: store, component: name, host: host)
    }

    var triggers: [KubeTrigger] {
        [.own(deployments),
         KubeTrigger(resource: replicaSets) { [store, deployments] event in
             Self.interestedDeployments(in: event.object, store: store, deployments: deployments)
         },
         // Recreate waits for the old pods to be gone: their deletion or end wakes the Deployment.
         KubeTrigger(resource: pods) { [store, replicaSets] event in
             guard event.type == .deleted || !PodState.isActive(event.object),
                   let owner = try? event.object.value(at: ["metadata"])?.decode(ObjectMeta.self).controller, owner.kind == "ReplicaSet",
                   let replicaSet = try? store.get(replicaSets, namespace: event.object.string("metadata", "namespace"), name: owner.name),
                   let deployment = try? replicaSet.value(at: ["metadata"])?.decode(ObjectMeta.self).controller, deployment.kind == "Deployment"
             else { return [] }
             return [KubeObjectKey(namespace: replicaSet.string("metadata", "namespace") ?? "", name: deployment.name)]
         }]
    }

    /// The Deployment controlling `replicaSet`, or, for an orphan, every Deployment whose selector matches it.
    private static func interestedDeployments(in replicaSet: OrderedJSON, store: KubeObjectStore, deployments: KubeResource) -> [KubeObjectKey] {
        let namespace = replicaSet.string("metadata", "namespace") ?? ""
        guard let meta = try? replicaSet.value(at: ["metadata"])?.decode(ObjectMeta.self) else { return [] }
        if let controller = meta.controller {
            return controller.kind == "Deployment" ? [KubeObjectKey(namespace: namespace, name: controller.name)] : []
        }
        let labels = meta.labels ?? [:]
        return ((try? store.list(deployments, namespace: namespace).items) ?? []).filter {
            DeploymentSpec($0)?.selector.matches(labels) ?? false
        }.map(KubeObjectKey.init)
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let deployment: OrderedJSON
        do {
            deployment = try store.get(deployments, namespace: key.namespace, name: key.name)
        } catch let error as KubeAPIError where error.code == 404 {
            return nil
        }
        guard let spec = DeploymentSpec(deployment) else { return nil }
        let candidates = try store.list(replicaSets, namespace: key.namespace).items
        let owned = try OwnerRefs.claim(candidates, resource: replicaSets, owner: deployment, selector: spec.selector, store: store)
        var sync = DeploymentSync(controller: self, deployment: deployment, spec: spec, sets: owned)
        return try sync.run()
    }
}

/// One sync of one Deployment: its stored state, its ReplicaSets, and the steps upstream's
/// `syncDeployment` takes, each write reflected in the local copies.
struct DeploymentSync {
    let controller: DeploymentController
    var deployment: OrderedJSON
    let spec: DeploymentSpec
    var sets: [OrderedJSON]
    let now = Date.now

    init(controller: DeploymentController, deployment: OrderedJSON, spec: DeploymentSpec, sets: [OrderedJSON]) {
        self.controller = controller
        self.deployment = deployment
        self.spec = spec
        self.sets = sets
    }

    private var store: KubeObjectStore { controller.store }
    private var namespace: String? { deployment.string("metadata", "namespace") }
    private var status: OrderedJSON { deployment["status"] ?? .object([]) }

    mutating func run() throws -> Duration? {
        if deployment.value(at: ["metadata", "deletionTimestamp"]) != nil {
            try persist(calculateStatus(newSet: currentSets().new))
            return nil
        }
        try checkPausedConditions()
        let scalingEvent = spec.paused ? false : try isScalingEvent()
        if spec.paused || scalingEvent {
            let newSet = try syncRevision(create: false)
            try scale(newSet: newSet)
            if spec.paused { try cleanup(old: currentSets().old) }
            try persist(calculateStatus(newSet: currentSets().new))
            return nil
        }
        return spec.recreate ? try rolloutRecreate() : try rolloutRolling()
    }

    // MARK: ReplicaSets and revisions

    /// The new ReplicaSet (the oldest whose template is the Deployment's, ignoring the hash label) and the old ones.
    private func currentSets() -> (new: OrderedJSON?, old: [OrderedJSON]) {
        let ordered = ReplicaSetOrder.byCreation(sets)
        let new = ordered.first { PodTemplateHash.equalIgnoringHash($0["spec"]?["template"] ?? .object([]), spec.template) }
        let newUID = new?.string("metadata", "uid")
        return (new, ordered.filter { $0.string("metadata", "uid") != newUID })
    }

    private mutating func remember(_ replicaSet: OrderedJSON) {
        let uid = replicaSet.string("metadata", "uid")
        if let index = sets.firstIndex(where: { $0.string("metadata", "uid") == uid }) {
            sets[index] = replicaSet
        } else {
            sets.append(replicaSet)
        }
    }

    /// Upstream's getAllReplicaSetsAndSyncRevision: brings the new ReplicaSet's annotations and
    /// revision up to date (creating it when `create`), and the Deployment's revision with it.
    private mutating func syncRevision(create: Bool) throws -> OrderedJSON? {
        let (existing, old) = currentSets()
        let newRevision = (old.map(\.revision).max() ?? 0) + 1
        if var replicaSet = existing {
            var annotations = replicaSet.metadataAnnotations
            let annotationsChanged = copyAnnotations(into: &annotations, revision: newRevision)
            let minReadyChanged = (replicaSet.value(at: ["spec", "minReadySeconds"])?.int ?? 0) != spec.minReadySeconds
            if annotationsChanged || minReadyChanged {
                replicaSet = replicaSet.setting(["metadata", "annotations"], to: .stringMap(annotations))
                if minReadyChanged { replicaSet = replicaSet.setting(["spec", "minReadySeconds"], to: .int(spec.minReadySeconds)) }
                replicaSet = try store.replace(controller.replicaSets, namespace: namespace, name: replicaSet.objectName, object: replicaSet)
                remember(replicaSet)
            }
            try setRevision(replicaSet.metadataAnnotations[DeploymentAnnotations.revision] ?? "")
            if spec.progressDeadlineSeconds != nil, DeploymentConditions.condition(status, "Progressing") == nil {
                try persist(DeploymentConditions.setting(
                    DeploymentConditions.make("Progressing", "True", reason: "FoundNewReplicaSet",
                                              message: "Found new replica set \(quoted(replicaSet.objectName))", now: now), in: status))
            }
            return replicaSet
        }
        guard create else { return nil }

        let hash = PodTemplateHash.compute(spec.template, collisionCount: status["collisionCount"]?.int)
        var labels = spec.template.stringMap(at: ["metadata", "labels"]) ?? [:]
        labels[DeploymentAnnotations.podTemplateHash] = hash
        let template = spec.template.setting(["metadata", "labels"], to: .stringMap(labels))
        var selector = deployment.value(at: ["spec", "selector"]) ?? .object([])
        var matchLabels = selector.stringMap(at: ["matchLabels"]) ?? [:]
        matchLabels[DeploymentAnnotations.podTemplateHash] = hash
        selector = selector.setting(["matchLabels"], to: .stringMap(matchLabels))
        var annotations: [String: String] = [:]
        _ = copyAnnotations(into: &annotations, revision: newRevision)
        annotations[DeploymentAnnotations.desiredReplicas] = String(spec.replicas)
        annotations[DeploymentAnnotations.maxReplicas] = String(spec.replicas + spec.surge)
        let replicas = newSetReplicas(current: 0)
        let name = "\(deployment.objectName)-\(hash)"
        var specMembers: [(String, OrderedJSON)] = [("replicas", .int(replicas))]
        if spec.minReadySeconds > 0 { specMembers.append(("minReadySeconds", .int(spec.minReadySeconds))) }
        specMembers += [("selector", selector), ("template", template)]
        let object = OrderedJSON.object([
            ("apiVersion", .string(controller.replicaSets.apiVersion)), ("kind", .string("ReplicaSet")),
            ("metadata", .object([
                ("name", .string(name)), ("namespace", namespace.map(OrderedJSON.string) ?? .null),
                ("labels", .stringMap(labels)), ("annotations", .stringMap(annotations)),
                ("ownerReferences", .array([OwnerRefs.controllerReference(to: deployment)])),
            ])),
            ("spec", .object(specMembers)),
        ])
        let created: OrderedJSON
        do {
            created = try store.create(controller.replicaSets, namespace: namespace, object: object)
        } catch let error as KubeAPIError where error.code == 409 {
            // A ReplicaSet of that name with another template or owner: hash again with the next collision count.
            let clash = try store.get(controller.replicaSets, namespace: namespace, name: name)
            if OwnerRefs.controllerUID(of: clash) == deployment.string("metadata", "uid"),
               PodTemplateHash.equalIgnoringHash(clash["spec"]?["template"] ?? .object([]), spec.template) {
                remember(clash)
                return clash
            }
            try persist(status.setting(["collisionCount"], to: .int((status["collisionCount"]?.int ?? 0) + 1)))
            throw error
        }
        remember(created)
        if replicas > 0 {
            controller.recorder.record(deployment, .normal, reason: "ScalingReplicaSet",
                                       message: "Scaled up replica set \(name) to \(replicas) from 0")
        }
        try setRevision(String(newRevision))
        if spec.progressDeadlineSeconds != nil {
            try persist(DeploymentConditions.setting(
                DeploymentConditions.make("Progressing", "True", reason: "NewReplicaSetCreated",
                                          message: "Created new replica set \(quoted(name))", now: now), in: status))
        }
        return created
    }

    /// Copies the Deployment's annotations (all but the controller's own and kubectl's
    /// last-applied) into a ReplicaSet's, and raises its revision to `revision` (keeping the
    /// number it had in revision-history). Answers whether anything changed.
    private func copyAnnotations(into annotations: inout [String: String], revision: Int) -> Bool {
        var changed = false
        for (key, value) in deployment.metadataAnnotations where !DeploymentAnnotations.notCopied.contains(key) && annotations[key] != value {
            annotations[key] = value
            changed = true
        }
        let oldRevision = annotations[DeploymentAnnotations.revision]
        if (oldRevision.flatMap { Int($0) } ?? 0) < revision {
            annotations[DeploymentAnnotations.revision] = String(revision)
            if let oldRevision, !oldRevision.isEmpty {
                let history = annotations[DeploymentAnnotations.revisionHistory] ?? ""
                annotations[DeploymentAnnotations.revisionHistory] = history.isEmpty ? oldRevision : history + "," + oldRevision
            }
            changed = true
        }
        return changed
    }

    /// Sets the Deployment's revision annotation (what `kubectl rollout status --revision` and `history` read).
    private mutating func setRevision(_ revision: String) throws {
        guard !revision.isEmpty, deployment.metadataAnnotations[DeploymentAnnotations.revision] != revision else { return }
        var annotations = deployment.metadataAnnotations
        annotations[DeploymentAnnotations.revision] = revision
        deployment = try store.replace(controller.deployments, namespace: namespace, name: deployment.objectName,
                                       object: deployment.setting(["metadata", "annotations"], to: .stringMap(annotations)))
    }

    // MARK: Scaling

    /// Sets a ReplicaSet's size and its desired/max-replicas annotations, recording
    /// ScalingReplicaSet when the size changes. `whenResized`: leave it alone if the size is already right.
    @discardableResult
    private mutating func scale(_ replicaSet: OrderedJSON, to size: Int, whenResized: Bool = true) throws -> Bool {
        let current = replicaSet.specReplicas
        if whenResized, current == size { return false }
        var annotations = replicaSet.metadataAnnotations
        let desired = String(spec.replicas), maximum = String(spec.replicas + spec.surge)
        let annotationsChanged = annotations[DeploymentAnnotations.desiredReplicas] != desired || annotations[DeploymentAnnotations.maxReplicas] != maximum
        guard current != size || annotationsChanged else { return false }
        annotations[DeploymentAnnotations.desiredReplicas] = desired
        annotations[DeploymentAnnotations.maxReplicas] = maximum
        let updated = try store.replace(controller.replicaSets, namespace: namespace, name: replicaSet.objectName,
                                        object: replicaSet.setting(["spec", "replicas"], to: .int(size))
                                            .setting(["metadata", "annotations"], to: .stringMap(annotations)))
        remember(updated)
        guard current != size else { return false }
        controller.recorder.record(deployment, .normal, reason: "ScalingReplicaSet",
                                   message: "Scaled \(size > current ? "up" : "down") replica set \(replicaSet.objectName) to \(size) from \(current)")
        return true
    }

    /// The size the new ReplicaSet may grow to now: up to `replicas + maxSurge` pods in all for a
    /// rolling update, `replicas` at once for Recreate.
    private func newSetReplicas(current: Int) -> Int {
        guard !spec.recreate else { return spec.replicas }
        let total = sets.map(\.specReplicas).reduce(0, +)
        let maxTotal = spec.replicas + spec.surge
        guard total < maxTotal else { return current }
        return current + min(maxTotal - total, spec.replicas - current)
    }

    /// Whether `replicas` changed since the active ReplicaSets were sized (their desired-replicas annotation).
    private mutating func isScalingEvent() throws -> Bool {
        _ = try syncRevision(create: false)
        return sets.contains { replicaSet in
            guard replicaSet.specReplicas > 0,
                  let desired = replicaSet.metadataAnnotations[DeploymentAnnotations.desiredReplicas].flatMap({ Int($0) }) else { return false }
            return desired != spec.replicas
        }
    }

    /// Upstream's `scale`: resizes the only active ReplicaSet, or finishes a saturated rollout, or
    /// spreads a change of `replicas` over the active ReplicaSets in proportion to their sizes.
    private mutating func scale(newSet: OrderedJSON?) throws {
        let newUID = newSet?.string("metadata", "uid")
        let old = sets.filter { $0.string("metadata", "uid") != newUID }
        let active = sets.filter { $0.specReplicas > 0 }
        if active.count <= 1, let target = active.first ?? newSet ?? ReplicaSetOrder.byCreation(old).last {
            try scale(target, to: spec.replicas)
            return
        }
        if let newSet, newSet.specReplicas == spec.replicas, newSet.availableReplicas == spec.replicas,
           newSet.metadataAnnotations[DeploymentAnnotations.desiredReplicas] == String(spec.replicas) {
            for replicaSet in old where replicaSet.specReplicas > 0 { try scale(replicaSet, to: 0) }
            return
        }
        guard !spec.recreate else { return }
        let allowed = spec.replicas > 0 ? spec.replicas + spec.surge : 0
        let toAdd = allowed - active.map(\.specReplicas).reduce(0, +)
        let ordered = toAdd == 0 ? active : ReplicaSetOrder.bySize(active, newer: toAdd > 0)
        var added = 0
        var sizes: [Int] = []
        for replicaSet in ordered {
            let share = toAdd == 0 ? 0 : proportion(of: replicaSet, toAdd: toAdd, added: added)
            sizes.append(replicaSet.specReplicas + share)
            added += share
        }
        if toAdd != 0, !sizes.isEmpty { sizes[0] = max(0, sizes[0] + toAdd - added) }
        for (replicaSet, size) in zip(ordered, sizes) { try scale(replicaSet, to: size, whenResized: false) }
    }

    /// A ReplicaSet's share of `toAdd` pods: its size scaled by the Deployment's new maximum over
    /// the maximum it was sized for (max-replicas), within what is left to add or remove.
    private func proportion(of replicaSet: OrderedJSON, toAdd: Int, added: Int) -> Int {
        guard replicaSet.specReplicas > 0, toAdd != added else { return 0 }
        let fraction: Int
        if spec.replicas == 0 {
            fraction = -replicaSet.specReplicas
        } else {
            let annotated = replicaSet.metadataAnnotations[DeploymentAnnotations.maxReplicas].flatMap { Int($0) } ?? (status["replicas"]?.int ?? 0)
            guard annotated > 0 else { return 0 }
            let scaled = (Double(replicaSet.specReplicas * (spec.replicas + spec.surge)) / Double(annotated)).rounded()
            fraction = Int(scaled) - replicaSet.specReplicas
        }
        let allowed = toAdd - added
        return toAdd > 0 ? min(fraction, allowed) : max(fraction, allowed)
    }

    // MARK: Rollouts

    private mutating func rolloutRolling() throws -> Duration? {
        let newSet = try syncRevision(create: true)
        if let newSet {
            let scaledUp: Bool
            if newSet.specReplicas > spec.replicas {
                scaledUp = try scale(newSet, to: spec.replicas)
            } else {
                scaledUp = try scale(newSet, to: newSetReplicas(current: newSet.specReplicas))
            }
            if scaledUp { return try syncRolloutStatus() }
        }
        if try scaleDownOld(newSet: currentSets().new) { return try syncRolloutStatus() }
        if isComplete(status) { try cleanup(old: currentSets().old) }
        return try syncRolloutStatus()
    }

    /// Scales old ReplicaSets down as far as availability allows: first their unavailable pods
    /// (oldest ReplicaSet first), then available ones down to `replicas - maxUnavailable`.
    private mutating func scaleDownOld(newSet: OrderedJSON?) throws -> Bool {
        let newUID = newSet?.string("metadata", "uid")
        let oldTotal = sets.filter { $0.string("metadata", "uid") != newUID }.map(\.specReplicas).reduce(0, +)
        guard oldTotal > 0 else { return false }
        let minAvailable = spec.replicas - spec.unavailable
        let newUnavailable = (newSet?.specReplicas ?? 0) - (newSet?.availableReplicas ?? 0)
        let maxScaledDown = sets.map(\.specReplicas).reduce(0, +) - minAvailable - newUnavailable
        guard maxScaledDown > 0 else { return false }

        var scaledDown = 0
        for replicaSet in ReplicaSetOrder.byCreation(sets.filter { $0.string("metadata", "uid") != newUID }) {
            guard scaledDown < maxScaledDown else { break }
            let unhealthy = replicaSet.specReplicas - replicaSet.availableReplicas
            guard replicaSet.specReplicas > 0, unhealthy > 0 else { continue }
            let count = min(maxScaledDown - scaledDown, unhealthy)
            try scale(replicaSet, to: replicaSet.specReplicas - count)
            scaledDown += count
        }

        let available = sets.map(\.availableReplicas).reduce(0, +)
        if available > minAvailable {
            let total = available - minAvailable
            var done = 0
            for replicaSet in ReplicaSetOrder.byCreation(sets.filter { $0.string("metadata", "uid") != newUID }) {
                guard done < total else { break }
                guard replicaSet.specReplicas > 0 else { continue }
                let count = min(replicaSet.specReplicas, total - done)
                try scale(replicaSet, to: replicaSet.specReplicas - count)
                done += count
            }
            scaledDown += done
        }
        return scaledDown > 0
    }

    private mutating func rolloutRecreate() throws -> Duration? {
        var newSet = try syncRevision(create: false)
        let newUID = newSet?.string("metadata", "uid")
        var scaledDown = false
        for replicaSet in sets where replicaSet.string("metadata", "uid") != newUID && replicaSet.specReplicas > 0 {
            if try scale(replicaSet, to: 0) { scaledDown = true }
        }
        if scaledDown { return try syncRolloutStatus() }
        if try oldPodsRunning(newUID: newUID) { return try syncRolloutStatus() }
        if newSet == nil { newSet = try syncRevision(create: true) }
        if let newSet { try scale(newSet, to: spec.replicas) }
        if isComplete(status) { try cleanup(old: currentSets().old) }
        return try syncRolloutStatus()
    }

    /// Whether any pod of an old ReplicaSet is still there and not finished (Recreate waits for them).
    private func oldPodsRunning(newUID: String?) throws -> Bool {
        let old = sets.filter { $0.string("metadata", "uid") != newUID }
        if old.map(\.statusReplicas).reduce(0, +) > 0 { return true }
        let oldUIDs = Set(old.compactMap { $0.string("metadata", "uid") })
        let podList = try store.list(controller.pods, namespace: namespace).items
        return podList.contains { pod in
            guard let owner = OwnerRefs.controllerUID(of: pod), oldUIDs.contains(owner) else { return false }
            let phase = pod.string("status", "phase")
            return phase != "Failed" && phase != "Succeeded"
        }
    }

    /// Deletes the oldest empty old ReplicaSets beyond revisionHistoryLimit.
    private mutating func cleanup(old: [OrderedJSON]) throws {
        let cleanable = old.filter { $0.value(at: ["metadata", "deletionTimestamp"]) == nil }
        let surplus = cleanable.count - spec.revisionHistoryLimit
        guard surplus > 0 else { return }
        for replicaSet in ReplicaSetOrder.byRevision(cleanable).prefix(surplus) {
            let generation = replicaSet.value(at: ["metadata", "generation"])?.int ?? 0
            let observed = replicaSet.value(at: ["status", "observedGeneration"])?.int ?? 0
            guard replicaSet.statusReplicas == 0, replicaSet.specReplicas == 0, generation <= observed else { continue }
            do {
                _ = try store.delete(controller.replicaSets, namespace: namespace, name: replicaSet.objectName,
                                     preconditionUID: replicaSet.string("metadata", "uid"))
            } catch let error as KubeAPIError where error.code == 404 {}
            let uid = replicaSet.string("metadata", "uid")
            sets.removeAll { $0.string("metadata", "uid") == uid }
        }
    }

    // MARK: Status

    /// The counts summed over the ReplicaSets, the Available condition, the rest kept.
    private func calculateStatus(newSet: OrderedJSON?) -> OrderedJSON {
        let available = sets.map(\.availableReplicas).reduce(0, +)
        let unavailable = max(0, sets.map(\.specReplicas).reduce(0, +) - available)
        var members: [(String, OrderedJSON)] = []
        func add(_ name: String, _ value: Int) { if value != 0 { members.append((name, .int(value))) } }
        add("observedGeneration", deployment.value(at: ["metadata", "generation"])?.int ?? 0)
        add("replicas", sets.map(\.statusReplicas).reduce(0, +))
        add("updatedReplicas", newSet?.statusReplicas ?? 0)
        add("readyReplicas", sets.map(\.readyReplicas).reduce(0, +))
        add("availableReplicas", available)
        add("unavailableReplicas", unavailable)
        if let conditions = status["conditions"] { members.append(("conditions", conditions)) }
        if let collisions = status["collisionCount"] { members.append(("collisionCount", collisions)) }
        let condition = available >= spec.replicas - spec.unavailable
            ? DeploymentConditions.make("Available", "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability.", now: now)
            : DeploymentConditions.make("Available", "False", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability.", now: now)
        return DeploymentConditions.setting(condition, in: .object(members))
    }

    /// Whether the rollout `status` describes is done: every replica updated and available, the spec observed.
    private func isComplete(_ status: OrderedJSON) -> Bool {
        let replicas = spec.replicas
        return (status["updatedReplicas"]?.int ?? 0) == replicas && (status["replicas"]?.int ?? 0) == replicas
            && (status["availableReplicas"]?.int ?? 0) == replicas
            && (status["observedGeneration"]?.int ?? 0) >= (deployment.value(at: ["metadata", "generation"])?.int ?? 0)
    }

    /// Writes the status with the Progressing condition brought up to date (progress refreshes it,
    /// no progress for progressDeadlineSeconds turns it False); answers when to look again for the deadline.
    private mutating func syncRolloutStatus() throws -> Duration? {
        let newSet = currentSets().new
        var next = calculateStatus(newSet: newSet)
        if spec.progressDeadlineSeconds == nil { next = DeploymentConditions.removing("Progressing", from: next) }
        let current = DeploymentConditions.condition(next, "Progressing")
        let subject = newSet.map { "ReplicaSet \(quoted($0.objectName))" } ?? "Deployment \(quoted(deployment.objectName))"
        let settled = next["replicas"]?.int == next["updatedReplicas"]?.int && current?.string("reason") == "NewReplicaSetAvailable"
        if spec.progressDeadlineSeconds != nil, !settled {
            if isComplete(next) {
                next = DeploymentConditions.setting(DeploymentConditions.make(
                    "Progressing", "True", reason: "NewReplicaSetAvailable", message: "\(subject) has successfully progressed.", now: now), in: next)
            } else if isProgressing(next) {
                var condition = DeploymentConditions.make("Progressing", "True", reason: "ReplicaSetUpdated", message: "\(subject) is progressing.", now: now)
                if let current, current.string("status") == "True" {
                    condition = condition.setting(["lastTransitionTime"], to: current["lastTransitionTime"])
                }
                next = DeploymentConditions.removing("Progressing", from: next)
                next = next.setting(["conditions"], to: .array(DeploymentConditions.conditions(of: next) + [condition]))
            } else if hasTimedOut(next) {
                next = DeploymentConditions.setting(DeploymentConditions.make(
                    "Progressing", "False", reason: "ProgressDeadlineExceeded", message: "\(subject) has timed out progressing.", now: now), in: next)
            }
        }
        let failure = sets.lazy.compactMap { DeploymentConditions.condition($0["status"] ?? .object([]), "ReplicaFailure") }.first
        if let failure {
            next = DeploymentConditions.setting(DeploymentConditions.make(
                "ReplicaFailure", failure.string("status") ?? "True", reason: failure.string("reason") ?? "",
                message: failure.string("message") ?? "", now: now), in: next)
        } else {
            next = DeploymentConditions.removing("ReplicaFailure", from: next)
        }
        if next == status { return stuckRequeue(next) }
        try persist(next)
        return nil
    }

    /// Whether `next` shows more progress than the stored status: more updated, ready or available
    /// replicas, or fewer old ones.
    private func isProgressing(_ next: OrderedJSON) -> Bool {
        func count(_ status: OrderedJSON, _ name: String) -> Int { status[name]?.int ?? 0 }
        let oldOld = count(status, "replicas") - count(status, "updatedReplicas")
        let newOld = count(next, "replicas") - count(next, "updatedReplicas")
        return count(next, "updatedReplicas") > count(status, "updatedReplicas") || newOld < oldOld
            || count(next, "readyReplicas") > count(status, "readyReplicas")
            || count(next, "availableReplicas") > count(status, "availableReplicas")
    }

    private func hasTimedOut(_ next: OrderedJSON) -> Bool {
        guard let deadline = spec.progressDeadlineSeconds, let condition = DeploymentConditions.condition(next, "Progressing") else { return false }
        switch condition.string("reason") {
        case "NewReplicaSetAvailable": return false
        case "ProgressDeadlineExceeded": return true
        default:
            guard let updated = condition.string("lastUpdateTime").flatMap({ try? Date($0, strategy: .iso8601) }) else { return false }
            return updated.addingTimeInterval(TimeInterval(deadline)) < now
        }
    }

    /// When an unfinished rollout that made no progress must be looked at again to notice its deadline.
    private func stuckRequeue(_ next: OrderedJSON) -> Duration? {
        guard let deadline = spec.progressDeadlineSeconds, let condition = DeploymentConditions.condition(next, "Progressing"),
              !isComplete(next), condition.string("reason") != "ProgressDeadlineExceeded",
              let updated = condition.string("lastUpdateTime").flatMap({ try? Date($0, strategy: .iso8601) }) else { return nil }
        let remaining = updated.addingTimeInterval(TimeInterval(deadline)).timeIntervalSince(now)
        return remaining < 1 ? .milliseconds(100) : .seconds(Int64(remaining.rounded(.up)) + 1)
    }

    /// Sets the Progressing condition to DeploymentPaused / DeploymentResumed when `paused` changes.
    private mutating func checkPausedConditions() throws {
        guard spec.progressDeadlineSeconds != nil else { return }
        let reason = DeploymentConditions.condition(status, "Progressing")?.string("reason")
        guard reason != "ProgressDeadlineExceeded" else { return }
        if spec.paused, reason != "DeploymentPaused" {
            try persist(DeploymentConditions.setting(DeploymentConditions.make(
                "Progressing", "Unknown", reason: "DeploymentPaused", message: "Deployment is paused", now: now), in: status))
        } else if !spec.paused, reason == "DeploymentPaused" {
            try persist(DeploymentConditions.setting(DeploymentConditions.make(
                "Progressing", "Unknown", reason: "DeploymentResumed", message: "Deployment is resumed", now: now), in: status))
        }
    }

    private mutating func persist(_ next: OrderedJSON) throws {
        deployment = try store.updateStatus(controller.deployments, deployment, to: next)
    }

    private func quoted(_ text: String) -> String { "\"\(text)\"" }
}
