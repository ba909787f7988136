import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization

/// Deletes objects whose owners are gone, as kube-controller-manager's garbage collector does over
/// `metadata.ownerReferences`: a dependent with no owner left is deleted (Background propagation);
/// an owner being deleted with the `foregroundDeletion` finalizer has its dependents deleted first
/// and loses the finalizer once none that blocks it (`blockOwnerDeletion`) is left; an owner with the
/// `orphan` finalizer has its reference removed from its dependents, then the finalizer.
///
/// Its keys are object uids (namespace empty): the uid of an object that changed, of its owners
/// (a foreground deletion waits on them), and of a deleted object (its dependents may be orphans now).
struct GarbageCollector: KubeReconciler {
    let store: KubeObjectStore
    let graph: OwnerGraph
    let name = "garbage-collector-controller"

    init(store: KubeObjectStore) {
        self.store = store
        graph = OwnerGraph()
    }

    /// Every resource that may own or depend on another (Events never do).
    private var watched: [KubeResource] {
        store.registry.resources.filter { !($0.group.isEmpty && $0.plural == "events") && $0.verbs.contains("watch") }
    }

    var triggers: [KubeTrigger] {
        watched.map { resource in
            KubeTrigger(resource: resource) { [graph] event in graph.apply(event, resource: resource) }
        }
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let uid = key.name
        guard let node = graph.node(uid) else {
            // Gone (or a periodic resync's namespace/name key, which names no uid): its dependents may be orphans now.
            for dependent in graph.dependents(of: uid) { try attemptToDelete(dependent) }
            return nil
        }
        let object: OrderedJSON
        do {
            object = try store.get(node.resource, namespace: node.namespace, name: node.name)
        } catch let error as KubeAPIError where error.code == 404 {
            return nil
        }
        guard object.string("metadata", "uid") == uid else { return nil }
        if object.value(at: ["metadata", "deletionTimestamp"]) != nil {
            let finalizers = object.finalizers
            if finalizers.contains("orphan") { try orphanDependents(of: uid, owner: object, resource: node.resource) }
            if finalizers.contains("foregroundDeletion") { return try deleteDependentsFirst(of: uid, owner: object, resource: node.resource) }
        }
        if !node.owners.isEmpty { try attemptToDelete(node) }
        return nil
    }

    // MARK: Dependents whose owners may be gone

    /// Deletes `node` when none of its owners is left (foreground when an owner waits for it and it
    /// has dependents of its own); when some are, strips the references to the missing ones.
    private func attemptToDelete(_ node: OwnerGraph.Node) throws {
        let object: OrderedJSON
        do {
            object = try store.get(node.resource, namespace: node.namespace, name: node.name)
        } catch let error as KubeAPIError where error.code == 404 {
            return
        }
        guard object.string("metadata", "uid") == node.uid, object.value(at: ["metadata", "deletionTimestamp"]) == nil,
              let owners = try? object.value(at: ["metadata"])?.decode(ObjectMeta.self).ownerReferences, !owners.isEmpty else { return }
        var dangling: [OwnerReference] = []
        var waiting: [OwnerReference] = []
        var solid = false
        for owner in owners {
            switch ownerState(owner, dependentNamespace: node.namespace) {
            case .absent: dangling.append(owner)
            case .waitingForDependents: waiting.append(owner)
            case .present: solid = true
            }
        }
        if solid {
            // Kept alive by a live owner: the references to gone or foreground-deleting owners go.
            guard !dangling.isEmpty || !waiting.isEmpty else { return }
            var updated = object
            for owner in dangling + waiting { updated = OwnerRefs.removingOwner(owner.uid, from: updated) }
            try replaceIgnoringMissing(node.resource, updated)
            return
        }
        // An owner waits for it and it has dependents of its own: it is deleted in the foreground in turn.
        let policy: KubeDeletionPropagation = !waiting.isEmpty && !graph.dependents(of: node.uid).isEmpty ? .foreground : .background
        do {
            _ = try store.delete(node.resource, namespace: node.namespace, name: node.name,
                                 options: KubeDeleteOptions(preconditionUID: node.uid, propagationPolicy: policy))
        } catch let error as KubeAPIError where error.code == 404 || error.code == 409 {}
    }

    private enum OwnerState {
        case present, absent, waitingForDependents
    }

    /// Reads the owner itself (the graph may lag behind the store): absent when no object of its
    /// kind, name and uid exists.
    private func ownerState(_ owner: OwnerReference, dependentNamespace: String?) -> OwnerState {
        guard let resource = resource(apiVersion: owner.apiVersion, kind: owner.kind) else { return .absent }
        guard let live = try? store.get(resource, namespace: resource.namespaced ? dependentNamespace : nil, name: owner.name),
              live.string("metadata", "uid") == owner.uid else { return .absent }
        if live.value(at: ["metadata", "deletionTimestamp"]) != nil, live.finalizers.contains("foregroundDeletion") {
            return .waitingForDependents
        }
        return .present
    }

    private func resource(apiVersion: String, kind: String) -> KubeResource? {
        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        return store.registry.resources.first { $0.apiVersion == apiVersion && $0.kind == kind }
            ?? store.registry.resources.first { $0.group == group && $0.kind == kind }
    }

    // MARK: Owners being deleted

    /// Foreground deletion: deletes every dependent, and removes the finalizer once none with
    /// `blockOwnerDeletion` is left. Answers when to look again while some are still going.
    private func deleteDependentsFirst(of uid: String, owner: OrderedJSON, resource: KubeResource) throws -> Duration? {
        var blocking = 0
        for dependent in graph.dependents(of: uid) {
            guard let live = try? store.get(dependent.resource, namespace: dependent.namespace, name: dependent.name),
                  live.string("metadata", "uid") == dependent.uid else { continue }
            let reference = (try? live.value(at: ["metadata"])?.decode(ObjectMeta.self).ownerReferences)??.first { $0.uid == uid }
            guard let reference else { continue }
            if reference.blockOwnerDeletion == true { blocking += 1 }
            if live.value(at: ["metadata", "deletionTimestamp"]) == nil { try attemptToDelete(dependent) }
        }
        guard blocking == 0 else { return .seconds(1) }
        try removeFinalizer("foregroundDeletion", from: owner, resource: resource)
        return nil
    }

    /// Orphan deletion: removes the owner's reference from each dependent, then the `orphan` finalizer.
    private func orphanDependents(of uid: String, owner: OrderedJSON, resource: KubeResource) throws {
        for dependent in graph.dependents(of: uid) {
            guard let live = try? store.get(dependent.resource, namespace: dependent.namespace, name: dependent.name),
                  live.string("metadata", "uid") == dependent.uid, OwnerRefs.isOwned(live, by: uid) else { continue }
            try replaceIgnoringMissing(dependent.resource, OwnerRefs.removingOwner(uid, from: live))
        }
        try removeFinalizer("orphan", from: owner, resource: resource)
    }

    private func removeFinalizer(_ finalizer: String, from owner: OrderedJSON, resource: KubeResource) throws {
        try replaceIgnoringMissing(resource, owner.removingFinalizer(finalizer))
    }

    private func replaceIgnoringMissing(_ resource: KubeResource, _ object: OrderedJSON) throws {
        do {
            _ = try store.replace(resource, namespace: object.string("metadata", "namespace"), name: object.string("metadata", "name") ?? "", object: object)
        } catch let error as KubeAPIError where error.code == 404 {}
    }
}

/// The objects the garbage collector knows, by uid, and who depends on whom: built from the watches'
/// initial replay of every object, then kept up to date by their events.
final class OwnerGraph: Sendable {
    struct Node: Sendable {
        var uid: String
        var resource: KubeResource
        var namespace: String?
        var name: String
        var owners: [String]
    }

    private struct State {
        var nodes: [String: Node] = [:]
        var dependents: [String: Set<String>] = [:]
    }

    private let state = Mutex(State())

    func node(_ uid: String) -> Node? { state.withLock { $0.nodes[uid] } }

    /// The objects naming `uid` among their owners.
    func dependents(of uid: String) -> [Node] {
        state.withLock { state in (state.dependents[uid] ?? []).compactMap { state.nodes[$0] } }
    }

    /// Records `event` and answers the keys to look at: the object's uid and its owners' uids.
    func apply(_ event: KubeWatchEvent, resource: KubeResource) -> [KubeObjectKey] {
        let object = event.object
        guard let uid = object.string("metadata", "uid") else { return [] }
        let owners = ((try? object.value(at: ["metadata"])?.decode(ObjectMeta.self).ownerReferences) ?? nil)?.map(\.uid) ?? []
        let node = Node(uid: uid, resource: resource, namespace: object.string("metadata", "namespace"),
                        name: object.string("metadata", "name") ?? "", owners: owners)
        let previousOwners: [String] = state.withLock { state in
            let previous = state.nodes[uid]?.owners ?? []
            for owner in previous { state.dependents[owner]?.remove(uid) }
            if event.type == .deleted {
                state.nodes[uid] = nil
            } else {
                state.nodes[uid] = node
                for owner in owners { state.dependents[owner, default: []].insert(uid) }
            }
            return previous
        }
        return ([uid] + Set(owners + previousOwners).sorted()).map { KubeObjectKey(namespace: "", name: $0) }
    }
}
