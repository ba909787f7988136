import BerthKubeAPI
import BerthTemplate
import Foundation

/// Keeps the core/v1 Endpoints of every Service with a selector (what `kubectl get endpoints`
/// shows): ready pods under `addresses`, the others under `notReadyAddresses`, one subset per
/// resolved port set. Terminating pods leave at once unless the Service publishes not-ready
/// addresses. Endpoints of a Service without a selector are the user's and left alone; those of a
/// deleted Service are deleted.
struct EndpointsController: KubeReconciler {
    let store: KubeObjectStore
    let name = "endpoint-controller"

    var triggers: [KubeTrigger] {
        [.own(KubeResourceRegistry.services), ServiceEndpoints.podTrigger(store: store),
         // Endpoints deleted by hand come back at once.
         KubeTrigger(resource: KubeResourceRegistry.endpoints) { $0.type == .deleted ? [KubeObjectKey($0.object)] : [] }]
    }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let endpoints = KubeResourceRegistry.endpoints
        let object: OrderedJSON
        do {
            object = try store.get(KubeResourceRegistry.services, namespace: key.namespace, name: key.name)
        } catch let error as KubeAPIError where error.code == 404 {
            do {
                try store.delete(endpoints, namespace: key.namespace, name: key.name)
            } catch let error as KubeAPIError where error.code == 404 {}
            return nil
        }
        let service = try object.decode(Service.self)
        guard service.spec.selector != nil, service.spec.type != "ExternalName" else { return nil }
        let pods = try store.list(KubeResourceRegistry.pods, namespace: key.namespace).items
        // A pod that has none of the Service's (named) ports is no address of it here, unlike in slices.
        let backends = ServiceEndpoints.backends(of: service, pods: pods, includeTerminating: service.spec.publishNotReadyAddresses == true)
            .filter { !$0.ports.isEmpty || (service.spec.ports ?? []).isEmpty }
        let subsets = ServiceEndpoints.grouped(backends).map { group in
            let addresses = group.backends.sorted { $0.ip.compare($1.ip, options: .numeric) == .orderedAscending }.map { backend in
                (backend.ready, EndpointAddress(ip: backend.ip, hostname: backend.hostname, nodeName: backend.pod.spec.nodeName,
                                                targetRef: backend.targetRef))
            }
            let ready = addresses.filter(\.0).map(\.1), notReady = addresses.filter { !$0.0 }.map(\.1)
            return EndpointSubset(addresses: ready.isEmpty ? nil : ready, notReadyAddresses: notReady.isEmpty ? nil : notReady,
                                  ports: group.ports.isEmpty ? nil : group.ports.map { EndpointPort(name: $0.name.flatMap { $0.isEmpty ? nil : $0 }, port: $0.port, protocol: $0.protocol, appProtocol: $0.appProtocol) })
        }
        let labels = ServiceEndpoints.inheritedLabels(service)
        let subsetsTree = subsets.isEmpty ? nil : try OrderedJSON(encoding: subsets)
        do {
            let live = try store.get(endpoints, namespace: key.namespace, name: key.name)
            let updated = live.setting(["metadata", "labels"], to: labels.isEmpty ? nil : .stringMap(labels)).setting(["subsets"], to: subsetsTree)
            _ = try store.replace(endpoints, namespace: key.namespace, name: key.name, object: updated)
        } catch let error as KubeAPIError where error.code == 404 {
            var metadata: [(String, OrderedJSON)] = [("name", .string(key.name)), ("namespace", .string(key.namespace))]
            if !labels.isEmpty { metadata.append(("labels", .stringMap(labels))) }
            var members: [(String, OrderedJSON)] = [("apiVersion", .string("v1")), ("kind", .string("Endpoints")), ("metadata", .object(metadata))]
            if let subsetsTree { members.append(("subsets", subsetsTree)) }
            do {
                _ = try store.create(endpoints, namespace: key.namespace, object: .object(members))
            } catch let error as KubeAPIError where error.code == 409 {
                // Written meanwhile (by a user racing the controller): the next pass converges it.
                return .milliseconds(100)
            }
        }
        return nil
    }
}
