import BerthKubeAPI
import BerthTemplate

/// Keeps the `kubernetes` Service in `default` as the apiserver maintains it: ClusterIP the
/// plan's first address, port 443 named https to the API's port, and its Endpoints and
/// EndpointSlice (both named `kubernetes`) pointing at the host's address. The Endpoints are
/// marked not to be mirrored, since the slice is written here.
struct KubernetesServiceController: KubeReconciler {
    let store: KubeObjectStore
    let apiPort: Int
    let hostAddress: @Sendable () -> String
    let name = "kubernetes-service-controller"

    static let key = KubeObjectKey(namespace: "default", name: "kubernetes")

    var triggers: [KubeTrigger] {
        let own: @Sendable (KubeWatchEvent) -> [KubeObjectKey] = { KubeObjectKey($0.object) == Self.key ? [Self.key] : [] }
        return [KubeTrigger(resource: KubeResourceRegistry.services, keys: own),
                KubeTrigger(resource: KubeResourceRegistry.namespaces) { $0.object.string("metadata", "name") == "default" ? [Self.key] : [] },
                KubeTrigger(resource: KubeResourceRegistry.endpoints, keys: own),
                KubeTrigger(resource: KubeResourceRegistry.endpointSlices, keys: own)]
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        guard key == Self.key else { return nil }
        let namespace = try? store.get(KubeResourceRegistry.namespaces, namespace: nil, name: key.namespace)
        guard let namespace, namespace.value(at: ["metadata", "deletionTimestamp"]) == nil else { return nil }
        let address = hostAddress()
        try ensureService()
        let port = OrderedJSON.object([("name", .string("https")), ("port", .int(apiPort)), ("protocol", .string("TCP"))])
        // The endpoints admission refuses loopback addresses, which a host without a default route has.
        if !address.hasPrefix("127.") {
            try ensure(KubeResourceRegistry.endpoints, .object([
                ("apiVersion", .string("v1")), ("kind", .string("Endpoints")),
                ("metadata", .object([("name", .string(key.name)), ("namespace", .string(key.namespace)),
                                      ("labels", .stringMap([ServiceEndpoints.skipMirrorLabel: "true"]))])),
                ("subsets", .array([.object([("addresses", .array([.object([("ip", .string(address))])])), ("ports", .array([port]))])])),
            ]), fields: ["subsets"])
        }
        try ensure(KubeResourceRegistry.endpointSlices, .object([
            ("apiVersion", .string("discovery.k8s.io/v1")), ("kind", .string("EndpointSlice")),
            ("metadata", .object([("name", .string(key.name)), ("namespace", .string(key.namespace)),
                                  ("labels", .stringMap([EndpointSlice.serviceNameLabel: key.name]))])),
            ("addressType", .string("IPv4")),
            ("endpoints", .array([.object([("addresses", .strings([address])), ("conditions", .object([("ready", .bool(true))]))])])),
            ("ports", .array([port])),
        ]), fields: ["addressType", "endpoints", "ports"])
        return nil
    }

    private func ensureService() throws {
        let ports = OrderedJSON.array([.object([("name", .string("https")), ("port", .int(443)), ("protocol", .string("TCP")),
                                                ("targetPort", .int(apiPort))])])
        do {
            let live = try store.get(KubeResourceRegistry.services, namespace: Self.key.namespace, name: Self.key.name)
            let current = (try? live.decode(Service.self).spec.ports) ?? nil
            guard current?.count != 1 || current?.first?.port != 443 || current?.first?.targetPort != .int(apiPort) else { return }
            _ = try store.replace(KubeResourceRegistry.services, namespace: Self.key.namespace, name: Self.key.name,
                                  object: live.setting(["spec", "ports"], to: ports))
        } catch let error as KubeAPIError where error.code == 404 {
            _ = try store.create(KubeResourceRegistry.services, namespace: Self.key.namespace, object: .object([
                ("apiVersion", .string("v1")), ("kind", .string("Service")),
                ("metadata", .object([("name", .string(Self.key.name)), ("namespace", .string(Self.key.namespace)),
                                      ("labels", .stringMap(["component": "apiserver", "provider": "kubernetes"]))])),
                ("spec", .object([("clusterIP", .string(store.clusterNetwork.apiServerClusterIP)), ("ports", ports),
                                  ("sessionAffinity", .string("None")), ("type", .string("ClusterIP"))])),
            ]))
        }
    }

    /// Creates `object`, or sets `fields` of the stored one to its values.
    private func ensure(_ resource: KubeResource, _ object: OrderedJSON, fields: [String]) throws {
        do {
            var live = try store.get(resource, namespace: Self.key.namespace, name: Self.key.name)
            for field in fields { live = live.setting([field], to: object[field]) }
            live = live.setting(["metadata", "labels"], to: object.value(at: ["metadata", "labels"]))
            _ = try store.replace(resource, namespace: Self.key.namespace, name: Self.key.name, object: live)
        } catch let error as KubeAPIError where error.code == 404 {
            _ = try store.create(resource, namespace: Self.key.namespace, object: object)
        }
    }
}
