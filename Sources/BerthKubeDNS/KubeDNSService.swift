import BerthKubeAPI
import BerthTemplate
import Foundation

/// Keeps the `kube-dns` Service of `kube-system` at the cluster DNS's fixed ClusterIP, without a
/// selector, and its Endpoints and EndpointSlice pointing at where the server listens, so the
/// proxy sends `dnsClusterIP:53` there. Put back when deleted or changed.
public struct KubeDNSService: KubeReconciler {
    public static let namespace = "kube-system"
    public static let serviceName = "kube-dns"
    /// Who manages the EndpointSlice (the Endpoints carry skip-mirror, so no controller mirrors them too).
    static let managedBy = "berth-kube-dns"

    let store: KubeObjectStore
    /// The server's address and port.
    let listenHost: String
    let listenPort: Int
    public let name = "kube-dns"

    /// The port the server listens on at the pods' gateway (whose port 53 is the embedded DNS of
    /// the `berth-pods` network's dnsmasq); the Service maps port 53 to it.
    public static let listenPort = 10053

    /// Serves the cluster DNS at the pods' gateway and keeps `kube-dns` pointing at it, until cancelled.
    public static func run(store: KubeObjectStore) async {
        let service = KubeDNSService(store: store, listenHost: store.clusterNetwork.podGateway, listenPort: listenPort)
        await withDiscardingTaskGroup { group in
            group.addTask {
                do {
                    try await ClusterDNSServer(store: store).run(host: service.listenHost, port: listenPort)
                } catch {
                    FileHandle.standardError.write(Data("berth serve: cluster DNS: cannot serve on \(service.listenHost):\(listenPort): \(error)\n".utf8))
                }
            }
            group.addTask {
                do {
                    try service.ensure()
                } catch {
                    FileHandle.standardError.write(Data("berth serve: kube-dns: \(error)\n".utf8))
                }
                await KubeReconcileLoop(store: store).run(service, workers: 1)
            }
        }
    }

    public init(store: KubeObjectStore, listenHost: String, listenPort: Int) {
        self.store = store
        self.listenHost = listenHost
        self.listenPort = listenPort
    }

    public var triggers: [KubeTrigger] {
        [KubeResourceRegistry.services, KubeResourceRegistry.endpoints, KubeResourceRegistry.endpointSlices].map { resource in
            KubeTrigger(resource: resource) { event in
                guard event.object.string("metadata", "namespace") == Self.namespace,
                      event.object.string("metadata", "name") == Self.serviceName else { return [] }
                return [KubeObjectKey(namespace: Self.namespace, name: Self.serviceName)]
            }
        }
    }

    public func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        try ensure()
        return nil
    }

    /// Creates or restores the three objects.
    public func ensure() throws {
        let labels = #""k8s-app":"kube-dns","kubernetes.io/cluster-service":"true","kubernetes.io/name":"KubeDNS""#
        let ip = store.clusterNetwork.dnsClusterIP
        let service = """
        {"apiVersion":"v1","kind":"Service","metadata":{"name":"\(Self.serviceName)","namespace":"\(Self.namespace)","labels":{\(labels)}},
         "spec":{"type":"ClusterIP","clusterIP":"\(ip)","clusterIPs":["\(ip)"],"ports":[
          {"name":"dns","port":53,"protocol":"UDP","targetPort":\(listenPort)},
          {"name":"dns-tcp","port":53,"protocol":"TCP","targetPort":\(listenPort)}]}}
        """
        let endpoints = """
        {"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"\(Self.serviceName)","namespace":"\(Self.namespace)",
          "labels":{\(labels),"endpointslice.kubernetes.io/skip-mirror":"true"}},
         "subsets":[{"addresses":[{"ip":"\(listenHost)"}],
          "ports":[{"name":"dns","port":\(listenPort),"protocol":"UDP"},{"name":"dns-tcp","port":\(listenPort),"protocol":"TCP"}]}]}
        """
        let slice = """
        {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"\(Self.serviceName)","namespace":"\(Self.namespace)",
          "labels":{\(labels),"\(EndpointSlice.serviceNameLabel)":"\(Self.serviceName)","\(EndpointSlice.managedByLabel)":"\(Self.managedBy)"}},
         "addressType":"IPv4","endpoints":[{"addresses":["\(listenHost)"],"conditions":{"ready":true,"serving":true,"terminating":false}}],
         "ports":[{"name":"dns","port":\(listenPort),"protocol":"UDP"},{"name":"dns-tcp","port":\(listenPort),"protocol":"TCP"}]}
        """
        try put(KubeResourceRegistry.services, service) { current, wanted in
            let (have, want) = (try current.decode(Service.self), try wanted.decode(Service.self))
            return have.spec.clusterIP == want.spec.clusterIP && have.spec.ports?.map(\.targetPort) == want.spec.ports?.map(\.targetPort)
                && have.spec.selector?.isEmpty != false
        }
        try put(KubeResourceRegistry.endpoints, endpoints) { current, wanted in
            try current.decode(Endpoints.self).subsets == wanted.decode(Endpoints.self).subsets
        }
        try put(KubeResourceRegistry.endpointSlices, slice) { current, wanted in
            let (have, want) = (try current.decode(EndpointSlice.self), try wanted.decode(EndpointSlice.self))
            return have.endpoints?.map(\.addresses) == want.endpoints?.map(\.addresses) && have.ports == want.ports
        }
    }

    /// Creates the object, or replaces it when `matches` says the stored one has drifted.
    private func put(_ resource: KubeResource, _ json: String, matches: (OrderedJSON, OrderedJSON) throws -> Bool) throws {
        let wanted = try OrderedJSON.parse(Array(json.utf8))
        guard let current = try? store.get(resource, namespace: Self.namespace, name: Self.serviceName) else {
            do {
                _ = try store.create(resource, namespace: Self.namespace, object: wanted)
            } catch let error as KubeAPIError where error.code == 409 {}
            return
        }
        guard (try? matches(current, wanted)) != true else { return }
        var replacement = wanted.setting(["metadata", "resourceVersion"], to: current.value(at: ["metadata", "resourceVersion"]))
        if resource == KubeResourceRegistry.services {
            // The spec's clusterIP is immutable once set: a Service that lost the fixed IP goes and comes back.
            if (try? current.decode(Service.self).spec.clusterIP) != store.clusterNetwork.dnsClusterIP {
                _ = try store.delete(resource, namespace: Self.namespace, name: Self.serviceName)
                _ = try store.create(resource, namespace: Self.namespace, object: wanted)
                return
            }
            replacement = replacement.setting(["metadata", "uid"], to: current.value(at: ["metadata", "uid"]))
        }
        _ = try store.replace(resource, namespace: Self.namespace, name: Self.serviceName, object: replacement)
    }
}
