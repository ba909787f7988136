import BerthKubeAPI
import BerthTemplate

/// Mirrors the Endpoints a user writes for a Service without a selector into EndpointSlices, so
/// the proxy and the DNS read slices only: one slice per subset, `addresses` ready and
/// `notReadyAddresses` not. Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"`
/// and those of Services with a selector (the endpoints controller's) are not mirrored.
struct EndpointSliceMirroringController: KubeReconciler {
    let store: KubeObjectStore
    let name = "endpointslicemirroring-controller"

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.endpoints), .own(KubeResourceRegistry.services),
         KubeTrigger(resource: KubeResourceRegistry.endpointSlices) { event in
             let labels = event.object.stringMap(at: ["metadata", "labels"]) ?? [:]
             guard labels[EndpointSlice.managedByLabel] == ServiceEndpoints.mirroringControllerName,
                   let service = labels[EndpointSlice.serviceNameLabel] else { return [] }
             return [KubeObjectKey(namespace: event.object.string("metadata", "namespace") ?? "", name: service)]
         }]
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let writer = EndpointSliceWriter(store: store, managedBy: ServiceEndpoints.mirroringControllerName)
        let service = try? store.get(KubeResourceRegistry.services, namespace: key.namespace, name: key.name)
        let endpoints = try? store.get(KubeResourceRegistry.endpoints, namespace: key.namespace, name: key.name)
        guard let service, let endpoints, service.value(at: ["spec", "selector"]) == nil,
              service.value(at: ["metadata", "deletionTimestamp"]) == nil,
              endpoints.stringMap(at: ["metadata", "labels"])?[ServiceEndpoints.skipMirrorLabel] != "true" else {
            try writer.deleteAll(namespace: key.namespace, service: key.name)
            return nil
        }
        let typed = try endpoints.decode(Endpoints.self)
        let desired = (typed.subsets ?? []).map { subset in
            let ports = (subset.ports ?? []).map { EndpointPort(name: $0.name ?? "", port: $0.port, protocol: $0.protocol ?? "TCP", appProtocol: $0.appProtocol) }
            func endpoints(_ addresses: [EndpointAddress]?, ready: Bool) -> [Endpoint] {
                (addresses ?? []).map { address in
                    Endpoint(addresses: [address.ip], conditions: Endpoint.Conditions(ready: ready), hostname: address.hostname,
                             nodeName: address.nodeName, targetRef: address.targetRef)
                }
            }
            let endpoints = endpoints(subset.addresses, ready: true) + endpoints(subset.notReadyAddresses, ready: false)
            return (ports: ports, endpoints: endpoints)
        }
        try writer.sync(service: service, desired: desired)
        return nil
    }
}
