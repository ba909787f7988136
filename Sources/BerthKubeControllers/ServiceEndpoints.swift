import BerthKubeAPI
import BerthTemplate
import Foundation

/// One pod behind a Service: its address, the Service's ports resolved against the pod's
/// container ports, and its readiness as the endpoint controllers report it.
struct ServiceBackend {
    var pod: Pod
    var ip: String
    var ports: [EndpointPort]
    /// Ready for new connections: the pod is Ready and not terminating (or the Service publishes
    /// not-ready addresses).
    var ready: Bool
    /// Ready, terminating or not (the proxy may fall back to serving, terminating endpoints).
    var serving: Bool
    var terminating: Bool
    /// The pod's hostname when the Service is its subdomain (StatefulSet pods: `web-0`).
    var hostname: String?

    var targetRef: ObjectReference {
        ObjectReference(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid)
    }
}

/// What the endpoint controllers share (upstream's endpoint utilities): which pods a Service
/// selects, their ports and conditions, and which Services a pod's change concerns.
enum ServiceEndpoints {
    static let sliceControllerName = "endpointslice-controller.k8s.io"
    static let mirroringControllerName = "endpointslicemirroring-controller.k8s.io"
    /// Endpoints carrying this label are not mirrored into slices (the `kubernetes` Service's).
    static let skipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror"

    /// The pods of `namespace` that `service` selects and that belong in its endpoints: they have
    /// an address and have not finished; terminating pods only when `includeTerminating`.
    static func backends(of service: Service, pods: [OrderedJSON], includeTerminating: Bool) -> [ServiceBackend] {
        guard let selector = service.spec.selector else { return [] }
        let publishNotReady = service.spec.publishNotReadyAddresses == true
        var backends: [ServiceBackend] = []
        for object in pods {
            guard let pod = try? object.decode(Pod.self),
                  LabelSelector(requirements: selector.map { .equals($0.key, $0.value) }).matches(pod.metadata.labels ?? [:]),
                  let ip = pod.status?.podIP, !ip.isEmpty,
                  pod.status?.phase != "Succeeded", pod.status?.phase != "Failed" else { continue }
            let terminating = pod.metadata.deletionTimestamp != nil
            if terminating && !includeTerminating { continue }
            let podReady = PodState.isReady(object)
            var hostname: String?
            if let name = pod.spec.hostname, !name.isEmpty, pod.spec.subdomain == service.metadata.name { hostname = name }
            backends.append(ServiceBackend(pod: pod, ip: ip, ports: ports(of: service, for: pod),
                                           ready: publishNotReady || (podReady && !terminating), serving: publishNotReady || podReady,
                                           terminating: terminating, hostname: hostname))
        }
        return backends.sorted { ($0.pod.metadata.name ?? "") < ($1.pod.metadata.name ?? "") }
    }

    /// The Service's ports as they reach `pod`: a numbered targetPort as is, a named one looked up
    /// among the pod's container ports (a port the pod does not name is left out for that pod).
    static func ports(of service: Service, for pod: Pod) -> [EndpointPort] {
        (service.spec.ports ?? []).compactMap { port in
            let proto = port.protocol ?? "TCP"
            let number: Int?
            switch port.targetPort ?? .int(port.port) {
            case .int(let value): number = value == 0 ? port.port : value
            case .string(let name):
                number = pod.spec.containers.lazy.flatMap { $0.ports ?? [] }
                    .first { $0.name == name && ($0.protocol ?? "TCP") == proto }?.containerPort
            }
            guard let number else { return nil }
            return EndpointPort(name: port.name ?? "", port: number, protocol: proto, appProtocol: port.appProtocol)
        }
    }

    /// A stable text for a set of ports, to group pods with the same resolved ports.
    static func key(_ ports: [EndpointPort]) -> String {
        ports.map { "\($0.name ?? "")/\($0.protocol ?? "TCP")/\($0.port ?? 0)" }.sorted().joined(separator: ",")
    }

    /// The backends grouped by their ports, groups in a stable order.
    static func grouped(_ backends: [ServiceBackend]) -> [(ports: [EndpointPort], backends: [ServiceBackend])] {
        var order: [String] = []
        var groups: [String: (ports: [EndpointPort], backends: [ServiceBackend])] = [:]
        for backend in backends {
            let key = key(backend.ports)
            if groups[key] == nil {
                order.append(key)
                groups[key] = (backend.ports, [])
            }
            groups[key]?.backends.append(backend)
        }
        return order.sorted().compactMap { groups[$0] }
    }

    /// The Services a pod's change concerns: those selecting it now, and those whose slices still
    /// list it (a pod whose labels stop matching must leave them).
    static func services(concerning pod: OrderedJSON, store: KubeObjectStore) -> [KubeObjectKey] {
        let namespace = pod.string("metadata", "namespace") ?? ""
        let name = pod.string("metadata", "name") ?? ""
        let labels = pod.stringMap(at: ["metadata", "labels"]) ?? [:]
        var keys: Set<KubeObjectKey> = []
        for object in (try? store.list(KubeResourceRegistry.services, namespace: namespace).items) ?? [] {
            guard let selector = object.stringMap(at: ["spec", "selector"]) else { continue }
            if LabelSelector(requirements: selector.map { .equals($0.key, $0.value) }).matches(labels) { keys.insert(KubeObjectKey(object)) }
        }
        let managed = KubeListOptions(labelSelector: LabelSelector(requirements: [.equals(EndpointSlice.managedByLabel, sliceControllerName)]))
        for slice in (try? store.list(KubeResourceRegistry.endpointSlices, namespace: namespace, options: managed).items) ?? [] {
            guard let service = slice.stringMap(at: ["metadata", "labels"])?[EndpointSlice.serviceNameLabel],
                  (try? slice.decode(EndpointSlice.self))?.endpoints?.contains(where: { $0.targetRef?.name == name }) == true else { continue }
            keys.insert(KubeObjectKey(namespace: namespace, name: service))
        }
        return Array(keys)
    }

    /// A trigger on pods waking the Services they concern.
    static func podTrigger(store: KubeObjectStore) -> KubeTrigger {
        KubeTrigger(resource: KubeResourceRegistry.pods) { event in services(concerning: event.object, store: store) }
    }

    /// The Service's labels that its Endpoints and slices carry too.
    static func inheritedLabels(_ service: Service) -> [String: String] {
        (service.metadata.labels ?? [:]).filter { $0.key != EndpointSlice.serviceNameLabel && $0.key != EndpointSlice.managedByLabel }
    }
}

/// Converges the EndpointSlices one controller manages for one Service: one slice per set of
/// ports (a placeholder without endpoints when there is none), created with the Service's name
/// as generateName, owned by the Service, labelled with its name and the manager.
struct EndpointSliceWriter {
    let store: KubeObjectStore
    let managedBy: String

    func slices(namespace: String, service: String) throws -> [OrderedJSON] {
        let options = KubeListOptions(labelSelector: LabelSelector(requirements: [
            .equals(EndpointSlice.serviceNameLabel, service), .equals(EndpointSlice.managedByLabel, managedBy),
        ]))
        return try store.list(KubeResourceRegistry.endpointSlices, namespace: namespace, options: options).items
    }

    /// Deletes every slice of `service` this manager wrote.
    func deleteAll(namespace: String, service: String) throws {
        for slice in try slices(namespace: namespace, service: service) {
            do {
                try store.delete(KubeResourceRegistry.endpointSlices, namespace: namespace, name: slice.string("metadata", "name") ?? "")
            } catch let error as KubeAPIError where error.code == 404 {}
        }
    }

    func sync(service: OrderedJSON, desired: [(ports: [EndpointPort], endpoints: [Endpoint])]) throws {
        let typed = try service.decode(Service.self)
        let namespace = typed.metadata.namespace ?? ""
        let name = typed.metadata.name ?? ""
        var labels = ServiceEndpoints.inheritedLabels(typed)
        labels[EndpointSlice.serviceNameLabel] = name
        labels[EndpointSlice.managedByLabel] = managedBy
        var wanted = desired.isEmpty ? [(ports: [EndpointPort](), endpoints: [Endpoint]())] : desired
        var unused: [OrderedJSON] = []
        for slice in try slices(namespace: namespace, service: name) {
            let ports = (try? slice.decode(EndpointSlice.self).ports) ?? nil
            guard let index = wanted.firstIndex(where: { ServiceEndpoints.key($0.ports) == ServiceEndpoints.key(ports ?? []) }) else {
                unused.append(slice)
                continue
            }
            let (wantedPorts, endpoints) = wanted.remove(at: index)
            let updated = try filled(slice, labels: labels, ports: wantedPorts, endpoints: endpoints)
                .setting(["metadata", "ownerReferences"], to: .array([OwnerRefs.controllerReference(to: service)]))
            _ = try store.replace(KubeResourceRegistry.endpointSlices, namespace: namespace, name: slice.string("metadata", "name") ?? "", object: updated)
        }
        for (ports, endpoints) in wanted {
            let slice = OrderedJSON.object([
                ("apiVersion", .string("discovery.k8s.io/v1")), ("kind", .string("EndpointSlice")),
                ("metadata", .object([("generateName", .string(name + "-")), ("namespace", .string(namespace)),
                                      ("ownerReferences", .array([OwnerRefs.controllerReference(to: service)]))])),
                ("addressType", .string("IPv4")),
            ])
            _ = try store.create(KubeResourceRegistry.endpointSlices, namespace: namespace,
                                 object: try filled(slice, labels: labels, ports: ports, endpoints: endpoints))
        }
        for slice in unused {
            do {
                try store.delete(KubeResourceRegistry.endpointSlices, namespace: namespace, name: slice.string("metadata", "name") ?? "")
            } catch let error as KubeAPIError where error.code == 404 {}
        }
    }

    private func filled(_ slice: OrderedJSON, labels: [String: String], ports: [EndpointPort], endpoints: [Endpoint]) throws -> OrderedJSON {
        slice.setting(["metadata", "labels"], to: .stringMap(labels))
            .setting(["endpoints"], to: try OrderedJSON(encoding: endpoints))
            .setting(["ports"], to: ports.isEmpty ? nil : try OrderedJSON(encoding: ports))
    }
}
