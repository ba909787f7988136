import BerthTemplate
import Foundation
import GRDB

/// How dependents of a deleted owner are treated (`DeleteOptions.propagationPolicy`).
public enum KubeDeletionPropagation: String, Sendable {
    /// The owner goes now; the garbage collector deletes its dependents afterwards.
    case background = "Background"
    /// The owner stays (finalizer `foregroundDeletion`) until the collector has deleted the
    /// dependents that block it.
    case foreground = "Foreground"
    /// The owner stays (finalizer `orphan`) until the collector has removed it from its
    /// dependents' `ownerReferences`.
    case orphan = "Orphan"

    /// The finalizer that makes the garbage collector act on an owner being deleted.
    public var finalizer: String? {
        switch self {
        case .background: nil
        case .foreground: "foregroundDeletion"
        case .orphan: "orphan"
        }
    }
}

/// What a DELETE asks besides the object: `DeleteOptions` and their query forms.
public struct KubeDeleteOptions: Sendable {
    public var preconditionResourceVersion: String?
    public var preconditionUID: String?
    /// nil: the kind's default (Orphan for batch/v1 Jobs, Background otherwise).
    public var propagationPolicy: KubeDeletionPropagation?
    /// Pods: how long the node gets to stop the containers; 0 removes the pod at once.
    public var gracePeriodSeconds: Int64?
    public var dryRun = false

    public init(preconditionResourceVersion: String? = nil, preconditionUID: String? = nil,
                propagationPolicy: KubeDeletionPropagation? = nil, gracePeriodSeconds: Int64? = nil, dryRun: Bool = false) {
        self.preconditionResourceVersion = preconditionResourceVersion
        self.preconditionUID = preconditionUID
        self.propagationPolicy = propagationPolicy
        self.gracePeriodSeconds = gracePeriodSeconds
        self.dryRun = dryRun
    }
}

/// The outcome of deleting one object: its last state, and whether it is gone or only marked
/// (`deletionTimestamp` set, held by finalizers or a pod's grace period).
public struct KubeDeletion: Sendable {
    public var object: OrderedJSON
    public var removed: Bool
}

/// Deletion as the apiserver does it: an object with finalizers (or a propagation policy that
/// adds one) only gets `deletionTimestamp` and stays until an update empties its finalizers; a
/// pod on a node gets a grace period and stays for the node to stop it (the node deletes it with
/// grace 0 when its containers are gone); a namespace goes `Terminating` and stays until the
/// namespace controller has emptied it and finalized it (`finalizeNamespace`).
extension KubeObjectStore {
    /// Deletes the object and answers its last state (still stored when deletion only began).
    /// `resourceVersion`/`uid` are the DeleteOptions preconditions.
    @discardableResult
    public func delete(_ resource: KubeResource, namespace: String?, name: String,
                       preconditionResourceVersion: String? = nil, preconditionUID: String? = nil, dryRun: Bool = false) throws -> OrderedJSON {
        try delete(resource, namespace: namespace, name: name,
                   options: KubeDeleteOptions(preconditionResourceVersion: preconditionResourceVersion, preconditionUID: preconditionUID,
                                              dryRun: dryRun)).object
    }

    /// Deletes (or begins deleting) the object as `options` ask.
    public func delete(_ resource: KubeResource, namespace: String?, name: String, options: KubeDeleteOptions) throws -> KubeDeletion {
        if Self.isNamespace(resource), Self.undeletableNamespaces.contains(name) {
            throw KubeAPIError.forbidden(resource, name, "this namespace may not be deleted")
        }
        return try write(dryRun: options.dryRun) { db, changes in
            let key = Self.key(resource, namespace, name)
            guard let text = try String.fetchOne(db, sql: "SELECT json FROM kube_object WHERE key = ?", arguments: [key]) else {
                throw KubeAPIError.notFound(resource, name)
            }
            let live = try OrderedJSON.parse(text)
            if let expected = options.preconditionUID, let uid = live.string("metadata", "uid"), expected != uid {
                throw KubeAPIError(code: 409, reason: "Conflict",
                                   message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": Precondition failed: UID in precondition: \(expected), UID in object meta: \(uid)",
                                   name: name, group: resource.group, kind: resource.plural)
            }
            if let expected = options.preconditionResourceVersion, let version = live.string("metadata", "resourceVersion"), expected != version {
                throw KubeAPIError(code: 409, reason: "Conflict",
                                   message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": the ResourceVersion in the precondition (\(expected)) does not match the ResourceVersion in record (\(version)). The object might have been modified",
                                   name: name, group: resource.group, kind: resource.plural)
            }
            return try Self.deleteOne(db, key: key, resource: resource, namespace: namespace, live: live, options: options, changes: &changes)
        }
    }

    /// Deletes every object of `resource` in `namespace` that matches the options' selectors, in
    /// one transaction, and answers their last states (as `delete` does for each).
    public func deleteCollection(_ resource: KubeResource, namespace: String?, options: KubeListOptions = KubeListOptions(),
                                 deleteOptions: KubeDeleteOptions = KubeDeleteOptions(), dryRun: Bool = false) throws -> [OrderedJSON] {
        let filter = KubeWatchFilter(resource: resource, namespace: namespace, labels: options.labelSelector, fields: options.fieldSelector)
        let prefix = Self.keyPrefix(resource, namespace)
        var deleteOptions = deleteOptions
        deleteOptions.dryRun = deleteOptions.dryRun || dryRun
        return try write(dryRun: deleteOptions.dryRun) { db, changes in
            let rows = try Row.fetchAll(db, sql: "SELECT key, namespace, json FROM kube_object WHERE resource = ? AND key LIKE ? ESCAPE '\\' ORDER BY key",
                                        arguments: [resource.qualifiedName, Self.likePattern(prefix)])
            var deleted: [OrderedJSON] = []
            for row in rows {
                let object = try OrderedJSON.parse(row["json"] as String)
                guard filter.matches(object) else { continue }
                if Self.isNamespace(resource), let name = object.string("metadata", "name"), Self.undeletableNamespaces.contains(name) { continue }
                let objectNamespace: String = row["namespace"]
                deleted.append(try Self.deleteOne(db, key: row["key"], resource: resource, namespace: objectNamespace.isEmpty ? nil : objectNamespace,
                                                  live: object, options: deleteOptions, changes: &changes).object)
            }
            return deleted
        }
    }

    /// The namespace's `finalize` step: empties `spec.finalizers` (what `PUT
    /// /api/v1/namespaces/<name>/finalize` with no finalizers does). A namespace being deleted
    /// whose metadata finalizers are gone too is then removed. The namespace controller calls
    /// this once it has deleted everything in the namespace.
    public func finalizeNamespace(_ name: String) throws {
        _ = try finalizeNamespace(name, finalizers: [])
    }

    /// Sets the namespace's `spec.finalizers` (the `finalize` subresource) and answers the
    /// namespace's new state (its last state when this removed it).
    public func finalizeNamespace(_ name: String, finalizers: [String], resourceVersion: String? = nil, dryRun: Bool = false) throws -> OrderedJSON {
        let namespaces = KubeResourceRegistry.namespaces
        var live = try get(namespaces, namespace: nil, name: name)
        live = live.setting(["spec", "finalizers"], to: .array(finalizers.map(OrderedJSON.string)))
        if let resourceVersion, !resourceVersion.isEmpty {
            live = live.setting(["metadata", "resourceVersion"], to: .string(resourceVersion))
        }
        return try replace(namespaces, namespace: nil, name: name, object: live, dryRun: dryRun, finalizing: true)
    }

    // MARK: Helpers

    static func isNamespace(_ resource: KubeResource) -> Bool {
        resource.group.isEmpty && resource.kind == "Namespace"
    }

    /// Whether an object being deleted may go now: no finalizers left, no grace period running
    /// and, for a namespace, no `spec.finalizers` left.
    static func isFinalized(_ resource: KubeResource, _ object: OrderedJSON) -> Bool {
        let finalizers = object.value(at: ["metadata", "finalizers"])?.items ?? []
        guard finalizers.isEmpty else { return false }
        if isNamespace(resource) { return (object.value(at: ["spec", "finalizers"])?.items ?? []).isEmpty }
        return (object.value(at: ["metadata", "deletionGracePeriodSeconds"])?.int ?? 0) == 0
    }

    /// An update of an object being deleted may remove finalizers, not add them.
    static func refuseNewFinalizers(_ resource: KubeResource, _ name: String, live: OrderedJSON, updated: OrderedJSON) throws(KubeAPIError) {
        let before = Set((live.value(at: ["metadata", "finalizers"])?.items ?? []).compactMap(\.stringValue))
        let added = (updated.value(at: ["metadata", "finalizers"])?.items ?? []).compactMap(\.stringValue).filter { !before.contains($0) }
        guard !added.isEmpty else { return }
        let list = "[]string{" + added.map { OrderedJSON.string($0).compact }.joined(separator: ", ") + "}"
        throw .invalid(resource, name, [.init(reason: "FieldValueForbidden",
                                              message: "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers \(list)",
                                              field: "metadata.finalizers")])
    }

    private static func deleteOne(_ db: Database, key: String, resource: KubeResource, namespace: String?, live: OrderedJSON,
                                  options: KubeDeleteOptions, changes: inout [KubeChange]) throws -> KubeDeletion {
        let now = Date.now
        var marked = live
        var finalizers = (live.value(at: ["metadata", "finalizers"])?.items ?? []).compactMap(\.stringValue)
        let alreadyDeleting = live.value(at: ["metadata", "deletionTimestamp"]) != nil
        let policy = options.propagationPolicy ?? defaultPropagation(resource)
        if !alreadyDeleting, let finalizer = policy.finalizer, !finalizers.contains(finalizer) {
            finalizers.append(finalizer)
        }
        if !alreadyDeleting {
            // Another policy's finalizer is replaced: the latest DELETE decides how dependents go.
            let other: [String] = [KubeDeletionPropagation.foreground, .orphan].compactMap(\.finalizer).filter { $0 != policy.finalizer }
            finalizers.removeAll { other.contains($0) }
        }
        var grace: Int64 = 0
        if resource.group.isEmpty, resource.kind == "Pod", podNeedsGrace(live) {
            grace = options.gracePeriodSeconds ?? live.value(at: ["spec", "terminationGracePeriodSeconds"])?.int64 ?? 30
            grace = max(grace, 0)
            if alreadyDeleting, let current = live.value(at: ["metadata", "deletionGracePeriodSeconds"])?.int64 {
                // A second DELETE may shorten the grace period, never lengthen it.
                grace = min(grace, current)
            }
        }
        if isNamespace(resource) {
            let specFinalizers = live.value(at: ["spec", "finalizers"])?.items ?? []
            if !specFinalizers.isEmpty || !finalizers.isEmpty {
                if alreadyDeleting { return KubeDeletion(object: live, removed: false) }
                marked = live
                    .setting(["metadata", "deletionTimestamp"], to: .string(kubeTimestamp(now)))
                    .setting(["metadata", "deletionGracePeriodSeconds"], to: .int(0))
                    .setting(["metadata", "finalizers"], to: finalizers.isEmpty ? nil : .array(finalizers.map(OrderedJSON.string)))
                    .setting(["status", "phase"], to: .string("Terminating"))
                return KubeDeletion(object: try update(db, key: key, resource: resource, namespace: namespace, live: live, to: marked, changes: &changes),
                                    removed: false)
            }
        }
        if finalizers.isEmpty, grace == 0 {
            let last = try remove(db, key: key, resource: resource, namespace: namespace, live: live, changes: &changes)
            return KubeDeletion(object: last, removed: true)
        }
        if !alreadyDeleting || grace < (live.value(at: ["metadata", "deletionGracePeriodSeconds"])?.int64 ?? 0) {
            marked = marked
                .setting(["metadata", "deletionTimestamp"], to: .string(kubeTimestamp(now.addingTimeInterval(TimeInterval(grace)))))
                .setting(["metadata", "deletionGracePeriodSeconds"], to: .int(grace))
        }
        marked = marked.setting(["metadata", "finalizers"], to: finalizers.isEmpty ? nil : .array(finalizers.map(OrderedJSON.string)))
        if sameContent(marked, live) { return KubeDeletion(object: live, removed: false) }
        return KubeDeletion(object: try update(db, key: key, resource: resource, namespace: namespace, live: live, to: marked, changes: &changes),
                            removed: false)
    }

    /// Jobs keep their pods when deleted through the API without a policy (batch/v1's default);
    /// every other kind deletes dependents in the background.
    static func defaultPropagation(_ resource: KubeResource) -> KubeDeletionPropagation {
        resource.group == "batch" && resource.kind == "Job" ? .orphan : .background
    }

    /// A pod gets a grace period when a node runs it: bound (`spec.nodeName`) and not finished.
    private static func podNeedsGrace(_ pod: OrderedJSON) -> Bool {
        guard let node = pod.string("spec", "nodeName"), !node.isEmpty else { return false }
        let phase = pod.string("status", "phase") ?? ""
        return phase != "Succeeded" && phase != "Failed"
    }

    private static func update(_ db: Database, key: String, resource: KubeResource, namespace: String?, live: OrderedJSON,
                               to object: OrderedJSON, changes: inout [KubeChange]) throws -> OrderedJSON {
        let rv = try revision(db) + 1
        let stored = object.setting(["metadata", "resourceVersion"], to: .string(String(rv)))
        try record(db, rv: rv, key: key, resource: resource, namespace: namespace, type: .modified, object: stored, previous: live)
        changes.append(KubeChange(resource: resource, namespace: namespace ?? "", type: .modified, object: stored, previous: live))
        return stored
    }

    static func kubeTimestamp(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }
}

extension KubeAPIError {
    /// A create in a namespace that is being deleted.
    public static func namespaceTerminating(_ resource: KubeResource, _ name: String, _ namespace: String) -> KubeAPIError {
        KubeAPIError(code: 403, reason: "Forbidden",
                     message: "\(resource.qualifiedName) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                     name: name, group: resource.group, kind: resource.plural,
                     causes: [.init(reason: "NamespaceTerminating", message: "namespace \(namespace) is being terminated", field: "metadata.namespace")])
    }
}

extension OrderedJSON {
    /// The elements of an array; empty for anything else.
    var items: [OrderedJSON] {
        guard case .array(let items) = self else { return [] }
        return items
    }

    /// A string's text; nil for anything else.
    var stringValue: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }

    /// An integral number's value as Int64; nil for anything else.
    var int64: Int64? {
        guard case .number(let text) = self else { return nil }
        return Int64(text)
    }
}
