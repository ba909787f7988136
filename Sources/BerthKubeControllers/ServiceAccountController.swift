import BerthKubeAPI
import BerthTemplate

/// Gives every namespace its `default` ServiceAccount, and gives it back when it is deleted.
struct ServiceAccountController: KubeReconciler {
    let store: KubeObjectStore
    let name = "serviceaccount-controller"

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.namespaces),
         KubeTrigger(resource: KubeResourceRegistry.serviceAccounts) { event in
             guard event.type == .deleted, event.object.string("metadata", "name") == "default" else { return [] }
             return [KubeObjectKey(namespace: "", name: event.object.string("metadata", "namespace") ?? "")]
         }]
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        guard let namespace = try? store.get(KubeResourceRegistry.namespaces, namespace: nil, name: key.name),
              namespace.value(at: ["metadata", "deletionTimestamp"]) == nil else { return nil }
        do {
            _ = try store.create(KubeResourceRegistry.serviceAccounts, namespace: key.name, object: .object([
                ("apiVersion", .string("v1")), ("kind", .string("ServiceAccount")),
                ("metadata", .object([("name", .string("default")), ("namespace", .string(key.name))])),
            ]))
        } catch let error as KubeAPIError where error.code == 409 {
            return nil
        }
        return nil
    }
}
