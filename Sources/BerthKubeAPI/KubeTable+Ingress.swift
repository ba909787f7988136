import BerthTemplate

/// The cells of Ingresses and IngressClasses, as the apiserver's printers compute them.
extension KubeTable {
    static func ingressColumns(_ resource: KubeResource, name: Column, age: Column) -> [Column] {
        if resource.kind == "IngressClass" {
            return [name, Column(name: "Controller", description: "The controller that implements the class."),
                    Column(name: "Parameters", description: "The resource holding the class's configuration."), age]
        }
        return [name, Column(name: "Class", description: "The IngressClass the Ingress belongs to."),
                Column(name: "Hosts", description: "The hosts the Ingress's rules match."),
                Column(name: "Address", description: "The addresses the Ingress is reachable at."),
                Column(name: "Ports", description: "The ports the Ingress is served on."), age]
    }

    static func ingressCells(_ resource: KubeResource, _ object: OrderedJSON, name: OrderedJSON, age: OrderedJSON) -> [OrderedJSON] {
        if resource.kind == "IngressClass" {
            var parameters = "<none>"
            if let reference = object.value(at: ["spec", "parameters"]), reference != .null {
                let group = reference.string("apiGroup").map { ".\($0)" } ?? ""
                parameters = "\(reference.string("kind") ?? "")\(group)/\(reference.string("name") ?? "")"
            }
            return [name, .string(object.string("spec", "controller") ?? ""), .string(parameters), age]
        }
        // Up to three hosts; once three are listed, the rest are counted (host-less rules included).
        let rules = object.items("spec", "rules")
        var hosts: [String] = []
        var more = false
        for rule in rules {
            if hosts.count == 3 { more = true }
            if !more, let host = rule.string("host"), !host.isEmpty { hosts.append(host) }
        }
        var hostText = hosts.isEmpty ? "*" : hosts.joined(separator: ",")
        if more { hostText += " + \(rules.count - 3) more..." }
        let addresses = object.items("status", "loadBalancer", "ingress").compactMap { $0.string("ip") ?? $0.string("hostname") }
        let ports = object.items("spec", "tls").isEmpty ? "80" : "80, 443"
        return [name, .string(object.string("spec", "ingressClassName") ?? "<none>"), .string(hostText),
                .string(addresses.joined(separator: ",")), .string(ports), age]
    }
}
