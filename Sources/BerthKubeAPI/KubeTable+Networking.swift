import BerthTemplate
import Foundation

/// The cells of Services, Endpoints and EndpointSlices, computed as the apiserver's printers do.
extension KubeTable {
    static func networkingColumns(_ resource: KubeResource, name: Column, age: Column) -> [Column]? {
        switch (resource.group, resource.kind) {
        case ("", "Service"):
            return [name, Column(name: "Type", description: "The type of the service."),
                    Column(name: "Cluster-IP", description: "The cluster address of the service."),
                    Column(name: "External-IP", description: "The external addresses of the service."),
                    Column(name: "Port(s)", description: "The ports the service serves (with their node ports)."), age,
                    Column(name: "Selector", description: "The labels of the pods the service selects.", priority: 1)]
        case ("", "Endpoints"):
            return [name, Column(name: "Endpoints", description: "The ready addresses and ports behind the service."), age]
        case ("discovery.k8s.io", "EndpointSlice"):
            return [name, Column(name: "AddressType", description: "The type of the addresses in the slice."),
                    Column(name: "Ports", description: "The ports of the slice's endpoints."),
                    Column(name: "Endpoints", description: "The addresses of the slice's endpoints."), age]
        default:
            return nil
        }
    }

    static func networkingCells(_ resource: KubeResource, _ object: OrderedJSON, now: Date) -> [OrderedJSON]? {
        let name = OrderedJSON.string(object.string("metadata", "name") ?? "")
        let age = OrderedJSON.string(self.age(since: object.string("metadata", "creationTimestamp"), now: now))
        switch (resource.group, resource.kind) {
        case ("", "Service"):
            let type = object.string("spec", "type") ?? ""
            let clusterIP = object.string("spec", "clusterIP") ?? ""
            let ports = object.items("spec", "ports").map { port in
                let number = port["port"]?.int ?? 0
                let proto = port.string("protocol") ?? "TCP"
                if let nodePort = port["nodePort"]?.int, nodePort > 0 { return "\(number):\(nodePort)/\(proto)" }
                return "\(number)/\(proto)"
            }
            let selector = (object.stringMap(at: ["spec", "selector"]) ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return [name, .string(type), .string(clusterIP.isEmpty ? "<none>" : clusterIP), .string(serviceExternalIP(object, type: type)),
                    .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), age,
                    .string(selector.isEmpty ? "<none>" : selector.joined(separator: ","))]
        case ("", "Endpoints"):
            return [name, .string(endpointsText(object)), age]
        case ("discovery.k8s.io", "EndpointSlice"):
            let ports = object.items("ports").map { port in
                port["port"]?.int.map(String.init) ?? port.string("name").flatMap { $0.isEmpty ? nil : $0 } ?? "*"
            }
            let addresses = object.items("endpoints").flatMap { $0.items("addresses").compactMap { $0.string() } }
            return [name, .string(object.string("addressType") ?? ""), .string(firstThree(ports)), .string(firstThree(addresses)), age]
        default:
            return nil
        }
    }

    /// The External-IP cell: the external IPs, for a LoadBalancer also its ingress addresses
    /// (`<pending>` until it has one), for an ExternalName the name.
    private static func serviceExternalIP(_ object: OrderedJSON, type: String) -> String {
        let externalIPs = object.items("spec", "externalIPs").compactMap { $0.string() }
        switch type {
        case "ClusterIP", "NodePort":
            return externalIPs.isEmpty ? "<none>" : externalIPs.joined(separator: ",")
        case "LoadBalancer":
            let ingress = object.items("status", "loadBalancer", "ingress").compactMap { entry -> String? in
                if let ip = entry.string("ip"), !ip.isEmpty { return ip }
                if let host = entry.string("hostname"), !host.isEmpty { return host }
                return nil
            }
            let all = ingress + externalIPs
            return all.isEmpty ? "<pending>" : all.joined(separator: ",")
        case "ExternalName":
            return object.string("spec", "externalName") ?? ""
        default:
            return "<unknown>"
        }
    }

    /// The ready `ip:port` pairs of every subset, at most three and a count of the rest.
    private static func endpointsText(_ object: OrderedJSON) -> String {
        let subsets = object.items("subsets")
        guard !subsets.isEmpty else { return "<none>" }
        var list: [String] = []
        var count = 0
        for subset in subsets {
            let addresses = subset.items("addresses").compactMap { $0.string("ip") }
            let ports = subset.items("ports")
            if ports.isEmpty {
                count += addresses.count
                list += addresses
                continue
            }
            for port in ports {
                count += addresses.count
                let number = port["port"]?.int ?? 0
                list += addresses.map { $0.contains(":") ? "[\($0)]:\(number)" : "\($0):\(number)" }
            }
        }
        if count > 3 { return list.prefix(3).joined(separator: ",") + " + \(count - 3) more..." }
        return list.joined(separator: ",")
    }

    private static func firstThree(_ list: [String]) -> String {
        if list.count > 3 { return list.prefix(3).joined(separator: ",") + " + \(list.count - 3) more..." }
        return list.isEmpty ? "<unset>" : list.joined(separator: ",")
    }
}
