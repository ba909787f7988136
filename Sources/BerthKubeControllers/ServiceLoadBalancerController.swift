import BerthKubeAPI
import BerthTemplate

/// Gives each LoadBalancer Service the host's address as its ingress IP, as k3s's ServiceLB does
/// on one node (the proxy answers on it); a Service that is no longer a LoadBalancer loses it.
/// Services with a `loadBalancerClass` belong to another implementation and are left alone.
struct ServiceLoadBalancerController: KubeReconciler {
    let store: KubeObjectStore
    let hostAddress: @Sendable () -> String
    let name = "service-lb-controller"

    var triggers: [KubeTrigger] { [.own(KubeResourceRegistry.services)] }

    func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        let object: OrderedJSON
        do {
            object = try store.get(KubeResourceRegistry.services, namespace: key.namespace, name: key.name)
        } catch let error as KubeAPIError where error.code == 404 {
            return nil
        }
        let service = try object.decode(Service.self)
        if object.string("spec", "loadBalancerClass") != nil { return nil }
        var status = object["status"] ?? .object([])
        if service.spec.type == "LoadBalancer", service.metadata.deletionTimestamp == nil {
            let ingress = ServiceStatus.LoadBalancer(ingress: [LoadBalancerIngress(ip: hostAddress(), ipMode: "VIP")])
            status = status.setting(["loadBalancer"], to: try OrderedJSON(encoding: ingress))
        } else if service.status?.loadBalancer?.ingress?.isEmpty == false {
            status = status.setting(["loadBalancer"], to: .object([]))
        } else {
            return nil
        }
        do {
            try store.updateStatus(KubeResourceRegistry.services, object, to: status)
        } catch let error as KubeAPIError where error.code == 404 {}
        return nil
    }
}
