import BerthKubeAPI
import BerthTemplate
import Foundation

/// Empties a namespace being deleted (Terminating): deletes every object in it through the normal
/// deletion path (pods get their grace period, owners their propagation), reports progress in the
/// namespace's conditions as upstream's namespace controller does, and once nothing is left
/// finalizes it (removes the `kubernetes` finalizer from `spec.finalizers`), which lets it go.
struct NamespaceController: KubeReconciler {
    let store: KubeObjectStore
    let name = "namespace-controller"

    /// The namespaced resources a namespace can hold.
    private var contents: [KubeResource] {
        store.registry.resources.filter { $0.namespaced && $0.verbs.contains("delete") }
    }

    var triggers: [KubeTrigger] {
        // Each object that goes from a namespace may be the last one holding up its deletion.
        [.own(KubeResourceRegistry.namespaces)] + contents.map { resource in
            KubeTrigger(resource: resource) { event in
                guard event.type == .deleted, let namespace = event.object.string("metadata", "namespace") else { return [] }
                return [KubeObjectKey(namespace: "", name: namespace)]
            }
        }
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let namespace: OrderedJSON
        do {
            namespace = try store.get(KubeResourceRegistry.namespaces, namespace: nil, name: key.name)
        } catch let error as KubeAPIError where error.code == 404 {
            return nil
        }
        guard namespace.value(at: ["metadata", "deletionTimestamp"]) != nil,
              case .array(let finalizers)? = namespace.value(at: ["spec", "finalizers"]), finalizers.contains(.string("kubernetes"))
        else { return nil }

        var failures: [String] = []
        var remaining: [String: Int] = [:]
        var heldBy: [String: Int] = [:]
        for resource in contents {
            for object in try store.list(resource, namespace: key.name).items {
                if object.value(at: ["metadata", "deletionTimestamp"]) == nil {
                    do {
                        _ = try store.delete(resource, namespace: key.name, name: object.string("metadata", "name") ?? "",
                                             preconditionUID: object.string("metadata", "uid"))
                    } catch let error as KubeAPIError where error.code == 404 || error.code == 409 {
                        continue
                    } catch let error as KubeAPIError {
                        failures.append(error.message)
                    }
                }
            }
            for object in try store.list(resource, namespace: key.name).items {
                remaining[resource.qualifiedName, default: 0] += 1
                if case .array(let held)? = object.value(at: ["metadata", "finalizers"]) {
                    for case .string(let finalizer) in held { heldBy[finalizer, default: 0] += 1 }
                }
            }
        }

        let now = Date.now
        var conditions = [
            Self.condition("NamespaceDeletionDiscoveryFailure", false, "ResourcesDiscovered", "All resources successfully discovered", now),
            Self.condition("NamespaceDeletionGroupVersionParsingFailure", false, "ParsedGroupVersions", "All legacy kube types successfully parsed", now),
        ]
        conditions.append(failures.isEmpty
            ? Self.condition("NamespaceDeletionContentFailure", false, "ContentDeleted", "All content successfully deleted, may be waiting on finalization", now)
            : Self.condition("NamespaceDeletionContentFailure", true, "ContentDeletionFailed",
                             "Failed to delete all resource types, \(failures.count) remaining: \(failures.joined(separator: ", "))", now))
        conditions.append(remaining.isEmpty
            ? Self.condition("NamespaceContentRemaining", false, "ContentRemoved", "All content successfully removed", now)
            : Self.condition("NamespaceContentRemaining", true, "SomeResourcesRemain",
                             "Some resources are remaining: " + remaining.sorted { $0.key < $1.key }.map { "\($0.key) has \($0.value) resource instances" }.joined(separator: ", "), now))
        conditions.append(heldBy.isEmpty
            ? Self.condition("NamespaceFinalizersRemaining", false, "ContentHasNoFinalizers", "All content-preserving finalizers finished", now)
            : Self.condition("NamespaceFinalizersRemaining", true, "SomeFinalizersRemain",
                             "Some content in the namespace has finalizers remaining: " + heldBy.sorted { $0.key < $1.key }.map { "\($0.key) in \($0.value) resource instances" }.joined(separator: ", "), now))
        try store.updateStatus(KubeResourceRegistry.namespaces, namespace,
                               to: Self.keepingTransitionTimes(namespace["status"] ?? .object([]), conditions: conditions))

        guard remaining.isEmpty, failures.isEmpty else { return .seconds(1) }
        try store.finalizeNamespace(key.name)
        return nil
    }

    private static func condition(_ type: String, _ status: Bool, _ reason: String, _ message: String, _ now: Date) -> OrderedJSON {
        .object([("type", .string(type)), ("status", .string(status ? "True" : "False")),
                 ("lastTransitionTime", .string(now.formatted(.iso8601))), ("reason", .string(reason)), ("message", .string(message))])
    }

    /// `status` with `conditions`, each keeping its stored transition time while its status holds.
    private static func keepingTransitionTimes(_ status: OrderedJSON, conditions: [OrderedJSON]) -> OrderedJSON {
        var previous: [String: OrderedJSON] = [:]
        if case .array(let stored)? = status["conditions"] {
            for condition in stored { previous[condition.string("type") ?? ""] = condition }
        }
        let merged = conditions.map { condition -> OrderedJSON in
            guard let old = previous[condition.string("type") ?? ""], old.string("status") == condition.string("status") else { return condition }
            return condition.setting(["lastTransitionTime"], to: old["lastTransitionTime"])
        }
        return status.setting(["conditions"], to: .array(merged))
    }
}
