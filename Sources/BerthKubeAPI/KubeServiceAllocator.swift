import BerthTemplate
import Foundation
import GRDB

/// ClusterIPs and NodePorts of Services. What is taken is derived from the stored Services inside
/// the write's transaction, so two concurrent creates never get the same address, a deleted
/// Service (or one whose type no longer needs them) frees its values with the same write, and a
/// restart loses nothing.
enum KubeServiceAllocator {
    /// `service` (admitted, about to be stored under `key`) with its ClusterIP and NodePorts filled
    /// in; a requested value outside the ranges or held by another Service is refused with the
    /// apiserver's 422.
    static func allocate(_ db: Database, service: OrderedJSON, key: String, network: KubeClusterNetwork) throws -> OrderedJSON {
        let name = service.string("metadata", "name") ?? ""
        let type = service.string("spec", "type") ?? "ClusterIP"
        var usedIPs: Set<String> = []
        var usedPorts: Set<Int> = []
        let rows = try Row.fetchAll(db, sql: "SELECT key, json FROM kube_object WHERE resource = ?",
                                    arguments: [KubeResourceRegistry.services.qualifiedName])
        for row in rows where (row["key"] as String) != key {
            let other = try OrderedJSON.parse(row["json"] as String)
            for address in other.items("spec", "clusterIPs").compactMap({ $0.string() }) { usedIPs.insert(address) }
            if let address = other.string("spec", "clusterIP") { usedIPs.insert(address) }
            for port in other.items("spec", "ports") {
                if let nodePort = port["nodePort"]?.int, nodePort != 0 { usedPorts.insert(nodePort) }
            }
            if let healthCheck = other.value(at: ["spec", "healthCheckNodePort"])?.int, healthCheck != 0 { usedPorts.insert(healthCheck) }
        }
        var service = service
        if type != "ExternalName" {
            let requested = service.string("spec", "clusterIP") ?? ""
            var address = requested
            if requested.isEmpty {
                guard let free = network.allocatableClusterIPs.filter({ !usedIPs.contains($0) }).randomElement() else {
                    throw KubeAPIError.internal("failed to allocate a serviceIP: range is full")
                }
                address = free
            } else if requested != "None" {
                var problem: String?
                if !network.isClusterIP(requested) || requested.hasSuffix(".0") || requested.hasSuffix(".255") {
                    problem = "the provided IP (\(requested)) is not in the valid range. The range of valid IPs is \(network.serviceCIDR)"
                } else if usedIPs.contains(requested) {
                    problem = "provided IP is already allocated"
                }
                if let problem {
                    let shown = KubeKinds.goStrings(service.items("spec", "clusterIPs").compactMap { $0.string() })
                    throw KubeAPIError.invalid(KubeResourceRegistry.services, name, [
                        KubeKinds.invalid("spec.clusterIPs", shown, "failed to allocate IP \(requested): \(problem)"),
                    ])
                }
            }
            service = service.setting(["spec", "clusterIP"], to: .string(address)).setting(["spec", "clusterIPs"], to: .strings([address]))
                .defaulting(["spec", "ipFamilies"], .strings(["IPv4"])).defaulting(["spec", "ipFamilyPolicy"], .string("SingleStack"))
        }
        let wantsNodePorts = type == "NodePort" || (type == "LoadBalancer" && service["spec"]?["allocateLoadBalancerNodePorts"] != .bool(false))
        guard wantsNodePorts else { return service }
        var causes: [KubeAPIError.Cause] = []
        var ports = service.items("spec", "ports")
        let range = network.nodePortRange
        for (index, port) in ports.enumerated() {
            let requested = port["nodePort"]?.int ?? 0
            if requested == 0 {
                guard let free = range.filter({ !usedPorts.contains($0) }).randomElement() else {
                    throw KubeAPIError.internal("failed to allocate a nodePort: range is full")
                }
                usedPorts.insert(free)
                ports[index] = port.setting(["nodePort"], to: .int(free))
            } else if !range.contains(requested) {
                causes.append(KubeKinds.invalid("spec.ports[\(index)].nodePort", String(requested),
                                                "provided port is not in the valid range. The range of valid ports is \(range.lowerBound)-\(range.upperBound)"))
            } else if usedPorts.contains(requested) {
                causes.append(KubeKinds.invalid("spec.ports[\(index)].nodePort", String(requested), "provided port is already allocated"))
            }
        }
        guard causes.isEmpty else { throw KubeAPIError.invalid(KubeResourceRegistry.services, name, causes) }
        service = service.setting(["spec", "ports"], to: .array(ports))
        // A LoadBalancer that keeps traffic on nodes with local endpoints gets a port for the
        // balancer's health checks too.
        if type == "LoadBalancer", service.string("spec", "externalTrafficPolicy") == "Local" {
            let requested = service.value(at: ["spec", "healthCheckNodePort"])?.int ?? 0
            if requested == 0 {
                guard let free = range.filter({ !usedPorts.contains($0) }).randomElement() else {
                    throw KubeAPIError.internal("failed to allocate a nodePort: range is full")
                }
                service = service.setting(["spec", "healthCheckNodePort"], to: .int(free))
            } else if !range.contains(requested) {
                throw KubeAPIError.internal("failed to allocate requested HealthCheck NodePort \(requested): provided port is not in the valid range. The range of valid ports is \(range.lowerBound)-\(range.upperBound)")
            } else if usedPorts.contains(requested) {
                throw KubeAPIError.internal("failed to allocate requested HealthCheck NodePort \(requested): provided port is already allocated")
            }
        }
        return service
    }
}
