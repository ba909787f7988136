import BerthKubeAPI
import BerthTemplate

/// Keeps the EndpointSlices of every Service with a selector: an endpoint per selected pod with an
/// address, with its conditions (a terminating pod is at once not ready, so the proxy stops sending
/// it new connections before the kubelet signals it), grouped into one slice per resolved port set.
/// A pod's readiness change wakes the Services selecting it in the same pass.
struct EndpointSliceController: KubeReconciler {
    let store: KubeObjectStore
    let name = "endpointslice-controller"

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.services),
         ServiceEndpoints.podTrigger(store: store),
         KubeTrigger(resource: KubeResourceRegistry.endpointSlices) { event in
             let labels = event.object.stringMap(at: ["metadata", "labels"]) ?? [:]
             guard labels[EndpointSlice.managedByLabel] == ServiceEndpoints.sliceControllerName,
                   let service = labels[EndpointSlice.serviceNameLabel] else { return [] }
             return [KubeObjectKey(namespace: event.object.string("metadata", "namespace") ?? "", name: service)]
         }]
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let writer = EndpointSliceWriter(store: store, managedBy: ServiceEndpoints.sliceControllerName)
        let object: OrderedJSON
        do {
            object = try store.get(KubeResourceRegistry.services, namespace: key.namespace, name: key.name)
        } catch let error as KubeAPIError where error.code == 404 {
            try writer.deleteAll(namespace: key.namespace, service: key.name)
            return nil
        }
        let service = try object.decode(Service.self)
        guard service.spec.selector != nil, service.spec.type != "ExternalName", service.metadata.deletionTimestamp == nil else {
            try writer.deleteAll(namespace: key.namespace, service: key.name)
            return nil
        }
        let pods = try store.list(KubeResourceRegistry.pods, namespace: key.namespace).items
        let backends = ServiceEndpoints.backends(of: service, pods: pods, includeTerminating: true)
        let desired = ServiceEndpoints.grouped(backends).map { group in
            (ports: group.ports, endpoints: group.backends.map { backend in
                Endpoint(addresses: [backend.ip],
                         conditions: Endpoint.Conditions(ready: backend.ready, serving: backend.serving, terminating: backend.terminating),
                         hostname: backend.hostname, nodeName: backend.pod.spec.nodeName, targetRef: backend.targetRef)
            })
        }
        try writer.sync(service: object, desired: desired)
        return nil
    }
}
