import BerthTemplate
import Foundation

/// The defaults and checks of core/v1 Service and Endpoints and discovery.k8s.io/v1
/// EndpointSlice, with the 1.32 apiserver's wording. The ClusterIP and NodePorts are allocated
/// later, in the store's write transaction (`KubeServiceAllocator`), where every other Service is seen.
extension KubeKinds {
    static let serviceTypes = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    static let portProtocols = ["SCTP", "TCP", "UDP"]

    /// The kind's defaults and causes; nil for kinds that are not these. A Service replacing a stored
    /// one is only defaulted here: `admitServiceUpdate` checks it once the stored values are merged in.
    static func admitNetworking(_ object: OrderedJSON, _ resource: KubeResource, name: String, creating: Bool) -> (OrderedJSON, [Cause])? {
        switch (resource.group, resource.kind) {
        case ("", "Service"):
            // Service names become DNS labels, so they must start with a letter (RFC 1035).
            var causes: [Cause] = []
            if let problem = dns1035LabelProblem(name) { causes.append(invalid("metadata.name", quoted(name), problem)) }
            guard creating else { return (defaultService(object), causes) }
            let (object, problems) = admitService(object)
            return (object, causes + problems)
        case ("", "Endpoints"): return admitEndpoints(object)
        case ("discovery.k8s.io", "EndpointSlice"): return admitEndpointSlice(object)
        case ("networking.k8s.io", "Ingress"): return (object, ingressProblems(object, creating: creating))
        case ("networking.k8s.io", "IngressClass"): return (object, ingressClassProblems(object))
        default: return nil
        }
    }

    // MARK: Service

    static func admitService(_ object: OrderedJSON) -> (OrderedJSON, [Cause]) {
        let object = defaultService(object)
        return (object, serviceProblems(object))
    }

    static func defaultService(_ object: OrderedJSON) -> OrderedJSON {
        var object = object.defaulting(["spec", "type"], .string("ClusterIP")).defaulting(["spec", "sessionAffinity"], .string("None"))
        let type = object.string("spec", "type") ?? ""
        object = object.mappingArray(["spec", "ports"]) { port in
            var port = port.defaulting(["protocol"], .string("TCP"))
            // A zero targetPort (what protobuf clients send for "unset") means the port itself.
            if !port.has("targetPort") || port["targetPort"] == .int(0) || port["targetPort"] == .string("") {
                port = port.setting(["targetPort"], to: port["port"])
            }
            return port
        }
        if type != "ExternalName" {
            object = object.defaulting(["spec", "internalTrafficPolicy"], .string("Cluster"))
            // clusterIP and clusterIPs are two views of one value; whichever the client set fills the other.
            let clusterIP = object.string("spec", "clusterIP") ?? ""
            let clusterIPs = object.items("spec", "clusterIPs").compactMap { $0.string() }
            if !clusterIP.isEmpty, clusterIPs.isEmpty {
                object = object.setting(["spec", "clusterIPs"], to: .strings([clusterIP]))
            } else if clusterIP.isEmpty, let first = clusterIPs.first {
                object = object.setting(["spec", "clusterIP"], to: .string(first))
            }
        }
        if isExternallyAccessible(object) {
            object = object.defaulting(["spec", "externalTrafficPolicy"], .string("Cluster"))
        }
        if type == "LoadBalancer" {
            object = object.defaulting(["spec", "allocateLoadBalancerNodePorts"], .bool(true))
        }
        if object.string("spec", "sessionAffinity") == "ClientIP" {
            object = object.defaulting(["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"], .int(10800))
        }
        return object
    }

    static func serviceProblems(_ object: OrderedJSON) -> [Cause] {
        var causes: [Cause] = []
        let spec = object["spec"] ?? .object([])
        let type = spec.string("type") ?? ""
        let clusterIP = spec.string("clusterIP") ?? ""
        let headless = clusterIP == "None"
        let ports = spec.items("ports")
        if ports.isEmpty && !headless && type != "ExternalName" {
            causes.append(required("spec.ports"))
        }
        switch type {
        case "NodePort", "LoadBalancer":
            if headless { causes.append(invalid("spec.clusterIPs[0]", quoted(clusterIP), "may not be set to 'None' for \(type) services")) }
        case "ExternalName":
            if !clusterIP.isEmpty || !spec.items("clusterIPs").isEmpty {
                causes.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
            }
            // A fully qualified name's final dot is allowed.
            let name = spec.string("externalName").map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 } ?? ""
            if name.isEmpty {
                causes.append(required("spec.externalName"))
            } else if let problem = dns1123SubdomainProblem(name) {
                causes.append(invalid("spec.externalName", quoted(name), problem))
            }
        case "ClusterIP":
            break
        default:
            causes.append(unsupported("spec.type", type, serviceTypes))
        }
        var names: Set<String> = []
        for (index, port) in ports.enumerated() {
            let at = "spec.ports[\(index)]"
            let name = port.string("name") ?? ""
            if ports.count > 1 && name.isEmpty {
                causes.append(required("\(at).name"))
            } else if !name.isEmpty {
                if let problem = dns1123LabelProblem(name) {
                    causes.append(invalid("\(at).name", quoted(name), problem))
                } else if !names.insert(name).inserted {
                    causes.append(duplicate("\(at).name", name))
                }
            }
            if !(1...65535).contains(port["port"]?.int ?? 0) {
                causes.append(invalid("\(at).port", numberText(port["port"]), "must be between 1 and 65535, inclusive"))
            }
            if let proto = port.string("protocol"), !portProtocols.contains(proto) {
                causes.append(unsupported("\(at).protocol", proto, portProtocols))
            }
            causes += portNumberOrNameProblems(port["targetPort"], at: "\(at).targetPort")
            if type == "ClusterIP" || type == "ExternalName", let nodePort = port["nodePort"]?.int, nodePort != 0 {
                causes.append(forbidden("\(at).nodePort", "may not be used when `type` is '\(type)'"))
            }
        }
        var nodePorts: Set<String> = []
        var portKeys: Set<String> = []
        for (index, port) in ports.enumerated() {
            let proto = port.string("protocol") ?? ""
            if let nodePort = port["nodePort"]?.int, nodePort != 0, !nodePorts.insert("\(proto)/\(nodePort)").inserted {
                causes.append(Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \(nodePort)", field: "spec.ports[\(index)].nodePort"))
            }
            let number = port["port"]?.int ?? 0
            if !portKeys.insert("\(proto)/\(number)").inserted {
                // The apiserver prints the (protocol, port) key it compared, a ServicePort with only those set.
                let value = "core.ServicePort{Name:\"\", Protocol:\(quoted(proto)), AppProtocol:(*string)(nil), Port:\(number), TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"
                causes.append(Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \(value)", field: "spec.ports[\(index)]"))
            }
        }
        for (key, value) in spec.value(at: ["selector"])?.members ?? [] {
            if !LabelSelector.isValidKey(key) {
                causes.append(invalid("spec.selector", quoted(key), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"))
            }
            if case .string(let text) = value, !LabelSelector.isValidValue(text) {
                causes.append(invalid("spec.selector", quoted(text), "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
            }
        }
        switch spec.string("sessionAffinity") ?? "" {
        case "None":
            if spec.has("sessionAffinityConfig") {
                causes.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
            }
        case "ClientIP":
            let timeout = spec.value(at: ["sessionAffinityConfig", "clientIP", "timeoutSeconds"])?.int ?? 0
            if !(1...86400).contains(timeout) {
                causes.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", String(timeout), "must be greater than 0 and less than 86400"))
            }
        case let affinity:
            causes.append(unsupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
        }
        if type != "ExternalName" {
            let clusterIPs = spec.items("clusterIPs").compactMap { $0.string() }
            for (index, address) in clusterIPs.enumerated() where !(index == 0 && address == "None") && !isIPv4(address) {
                causes.append(invalid("spec.clusterIPs[\(index)]", quoted(address), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            }
            if let first = clusterIPs.first, !clusterIP.isEmpty, first != clusterIP {
                causes.append(invalid("spec.clusterIPs", goStrings(clusterIPs), "first value must match `clusterIP`"))
            }
            if clusterIPs.first == "None", clusterIPs.count > 1 {
                causes.append(invalid("spec.clusterIPs", goStrings(clusterIPs), "'None' must be the first and only value"))
            } else if clusterIPs.count > 2 {
                causes.append(invalid("spec.clusterIPs", goStrings(clusterIPs), "may only hold up to 2 values"))
            } else if clusterIPs.count == 2 {
                // Berth's clusters are IPv4 only, so a second address is always of the same family.
                causes.append(invalid("spec.clusterIPs", goStrings(clusterIPs), "may specify no more than one IP for each IP family"))
            }
        }
        for (index, address) in spec.items("externalIPs").compactMap({ $0.string() }).enumerated() where !isIPv4(address) {
            causes.append(invalid("spec.externalIPs[\(index)]", quoted(address), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        }
        if let policy = spec.string("externalTrafficPolicy") {
            if !isExternallyAccessible(object) {
                causes.append(invalid("spec.externalTrafficPolicy", quoted(policy), "may only be set for externally-accessible services"))
            } else if !["Cluster", "Local"].contains(policy) {
                causes.append(unsupported("spec.externalTrafficPolicy", policy, ["Cluster", "Local"]))
            }
        }
        if type != "ExternalName", let policy = spec.string("internalTrafficPolicy"), !["Cluster", "Local"].contains(policy) {
            causes.append(unsupported("spec.internalTrafficPolicy", policy, ["Cluster", "Local"]))
        }
        return causes
    }

    /// Whether traffic from outside reaches the Service (so `externalTrafficPolicy` applies): node
    /// ports, a load balancer, or external IPs.
    static func isExternallyAccessible(_ object: OrderedJSON) -> Bool {
        let type = object.string("spec", "type") ?? ""
        return type == "NodePort" || type == "LoadBalancer" || (type == "ClusterIP" && !object.items("spec", "externalIPs").isEmpty)
    }

    /// An update of a Service: what the server keeps from the stored object (allocated values a
    /// client's body leaves out, nodePorts a type change drops) and the ClusterIP's immutability.
    static func admitServiceUpdate(_ object: OrderedJSON, old: OrderedJSON) -> (OrderedJSON, [Cause]) {
        var object = object
        let type = object.string("spec", "type") ?? "ClusterIP"
        let oldType = old.string("spec", "type") ?? "ClusterIP"
        let needsIP = type != "ExternalName", oldNeedsIP = oldType != "ExternalName"
        if needsIP && oldNeedsIP {
            if (object.string("spec", "clusterIP") ?? "").isEmpty, object.items("spec", "clusterIPs").isEmpty {
                object = object.setting(["spec", "clusterIP"], to: old.value(at: ["spec", "clusterIP"]))
                    .setting(["spec", "clusterIPs"], to: old.value(at: ["spec", "clusterIPs"]))
            } else if object.string("spec", "clusterIP") != old.string("spec", "clusterIP"),
                      KubeObjectStore.sameContent(object.value(at: ["spec", "clusterIPs"]), old.value(at: ["spec", "clusterIPs"])) {
                // Only clusterIP changed: clusterIPs follows it (and the change is then refused below).
                object = object.setting(["spec", "clusterIPs"], to: object.value(at: ["spec", "clusterIP"]).map { .array([$0]) })
            }
            for field in ["ipFamilies", "ipFamilyPolicy"] where !object.has("spec", field) {
                object = object.setting(["spec", field], to: old.value(at: ["spec", field]))
            }
        } else if type == "ExternalName" && oldNeedsIP {
            // Becoming ExternalName releases the ClusterIP unless the client changed it.
            if object.string("spec", "clusterIP") == old.string("spec", "clusterIP") {
                object = object.setting(["spec", "clusterIP"], to: nil).setting(["spec", "clusterIPs"], to: nil)
            }
            object = object.setting(["spec", "ipFamilies"], to: nil).setting(["spec", "ipFamilyPolicy"], to: nil)
                .setting(["spec", "internalTrafficPolicy"], to: nil)
        }
        let needsNodePorts = type == "NodePort" || type == "LoadBalancer"
        let oldNodePorts = old.items("spec", "ports").compactMap { port -> (String, Int)? in
            guard let nodePort = port["nodePort"]?.int, nodePort != 0 else { return nil }
            return ("\(port.string("protocol") ?? "TCP")/\(port["port"]?.int ?? 0)", nodePort)
        }
        let kept = Dictionary(oldNodePorts, uniquingKeysWith: { first, _ in first })
        let oldValues = Set(oldNodePorts.map(\.1))
        object = object.mappingArray(["spec", "ports"]) { port in
            let key = "\(port.string("protocol") ?? "TCP")/\(port["port"]?.int ?? 0)"
            let nodePort = port["nodePort"]?.int ?? 0
            if needsNodePorts, nodePort == 0, let previous = kept[key] { return port.setting(["nodePort"], to: .int(previous)) }
            // A type without NodePorts drops the ones the server gave, as the apiserver does.
            if !needsNodePorts, oldValues.contains(nodePort) { return port.setting(["nodePort"], to: nil) }
            return port
        }
        if !isExternallyAccessible(object), object.string("spec", "externalTrafficPolicy") == old.string("spec", "externalTrafficPolicy") {
            object = object.setting(["spec", "externalTrafficPolicy"], to: nil)
        }
        let needsHealthCheck = type == "LoadBalancer" && object.string("spec", "externalTrafficPolicy") == "Local"
        let oldHealthCheck = old.value(at: ["spec", "healthCheckNodePort"])
        if needsHealthCheck, !object.has("spec", "healthCheckNodePort") {
            object = object.setting(["spec", "healthCheckNodePort"], to: oldHealthCheck)
        } else if !needsHealthCheck, object.value(at: ["spec", "healthCheckNodePort"]) == oldHealthCheck {
            object = object.setting(["spec", "healthCheckNodePort"], to: nil)
        }
        if type != "LoadBalancer" {
            object = object.setting(["spec", "allocateLoadBalancerNodePorts"], to: nil).setting(["status", "loadBalancer"], to: .object([]))
        }
        object = defaultService(object)
        var causes: [Cause] = []
        let oldIPs = old.items("spec", "clusterIPs").compactMap { $0.string() }
        let newIPs = object.items("spec", "clusterIPs").compactMap { $0.string() }
        let headless = oldIPs.first == "None" && newIPs.first == "None"
        if needsIP && oldNeedsIP && !headless {
            if newIPs.isEmpty, !oldIPs.isEmpty {
                causes.append(invalid("spec.clusterIPs[0]", goStrings(newIPs), "primary clusterIP can not be unset"))
            }
            for (index, address) in oldIPs.enumerated() where index < newIPs.count && newIPs[index] != address {
                causes.append(invalid("spec.clusterIPs[\(index)]", goStrings(newIPs), "may not change once set"))
            }
        }
        return (object, causes + serviceProblems(object))
    }

    // MARK: Endpoints and EndpointSlice

    static func admitEndpoints(_ object: OrderedJSON) -> (OrderedJSON, [Cause]) {
        let object = object.mappingArray(["subsets"]) { subset in
            subset.mappingArray(["ports"]) { $0.defaulting(["protocol"], .string("TCP")) }
        }
        var causes: [Cause] = []
        for (index, subset) in object.items("subsets").enumerated() {
            let at = "subsets[\(index)]"
            for field in ["addresses", "notReadyAddresses"] {
                for (addressIndex, address) in subset.items(field).enumerated() {
                    let ip = address.string("ip") ?? ""
                    causes += endpointIPProblems(ip, at: "\(at).\(field)[\(addressIndex)].ip")
                    if let hostname = address.string("hostname"), !hostname.isEmpty, let problem = dns1123LabelProblem(hostname) {
                        causes.append(invalid("\(at).\(field)[\(addressIndex)].hostname", quoted(hostname), problem))
                    }
                }
            }
            let ports = subset.items("ports")
            var names: Set<String> = []
            for (portIndex, port) in ports.enumerated() {
                let portAt = "\(at).ports[\(portIndex)]"
                let name = port.string("name") ?? ""
                if ports.count > 1 && name.isEmpty {
                    causes.append(required("\(portAt).name"))
                } else if !name.isEmpty {
                    if let problem = dns1123LabelProblem(name) {
                        causes.append(invalid("\(portAt).name", quoted(name), problem))
                    } else if !names.insert(name).inserted {
                        causes.append(duplicate("\(portAt).name", name))
                    }
                }
                causes += endpointPortProblems(port, at: portAt)
            }
        }
        return (object, causes)
    }

    static func admitEndpointSlice(_ object: OrderedJSON) -> (OrderedJSON, [Cause]) {
        let object = object.mappingArray(["ports"]) { $0.defaulting(["protocol"], .string("TCP")).defaulting(["name"], .string("")) }
        var causes: [Cause] = []
        let addressType = object.string("addressType") ?? ""
        if addressType.isEmpty {
            causes.append(required("addressType"))
        } else if !["FQDN", "IPv4", "IPv6"].contains(addressType) {
            causes.append(unsupported("addressType", addressType, ["FQDN", "IPv4", "IPv6"]))
        }
        for (index, endpoint) in object.items("endpoints").enumerated() {
            let at = "endpoints[\(index)].addresses"
            let addresses = endpoint.items("addresses").compactMap { $0.string() }
            if addresses.isEmpty {
                causes.append(required(at, "must contain at least 1 address"))
            } else if addresses.count > 100 {
                causes.append(Cause(reason: "FieldValueTooMany", message: "Too many: \(addresses.count): must have at most 100 items", field: at))
            }
            for (addressIndex, address) in addresses.enumerated() {
                switch addressType {
                case "IPv4" where !isIPv4(address):
                    causes.append(invalid("\(at)[\(addressIndex)]", quoted(address), "must be a valid IPv4 address"))
                case "IPv6" where !isIPv6(address):
                    causes.append(invalid("\(at)[\(addressIndex)]", quoted(address), "must be a valid IPv6 address"))
                case "FQDN":
                    if let problem = dns1123SubdomainProblem(address) { causes.append(invalid("\(at)[\(addressIndex)]", quoted(address), problem)) }
                default: break
                }
            }
            if let hostname = endpoint.string("hostname"), let problem = dns1123LabelProblem(hostname) {
                causes.append(invalid("endpoints[\(index)].hostname", quoted(hostname), problem))
            }
        }
        var names: Set<String> = []
        for (index, port) in object.items("ports").enumerated() {
            let name = port.string("name") ?? ""
            if !name.isEmpty, let problem = dns1123LabelProblem(name) {
                causes.append(invalid("ports[\(index)].name", quoted(name), problem))
            }
            if !names.insert(name).inserted { causes.append(duplicate("ports[\(index)].name", name)) }
            causes += endpointPortProblems(port, at: "ports[\(index)]", portOptional: true)
        }
        return (object, causes)
    }

    private static func endpointPortProblems(_ port: OrderedJSON, at: String, portOptional: Bool = false) -> [Cause] {
        var causes: [Cause] = []
        if !(portOptional && !port.has("port")), !(1...65535).contains(port["port"]?.int ?? 0) {
            causes.append(invalid("\(at).port", numberText(port["port"]), "must be between 1 and 65535, inclusive"))
        }
        if let proto = port.string("protocol"), !portProtocols.contains(proto) {
            causes.append(unsupported("\(at).protocol", proto, portProtocols))
        }
        return causes
    }

    /// An endpoint's address: an IP, and not one the proxy must never forward to.
    private static func endpointIPProblems(_ ip: String, at field: String) -> [Cause] {
        guard isIPv4(ip) || isIPv6(ip) else {
            return [invalid(field, quoted(ip), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
        }
        if ip == "0.0.0.0" || ip == "::" { return [invalid(field, quoted(ip), "may not be unspecified (0.0.0.0)")] }
        if ip.hasPrefix("127.") || ip == "::1" { return [invalid(field, quoted(ip), "may not be in the loopback range (127.0.0.0/8, ::1/128)")] }
        if ip.hasPrefix("169.254.") { return [invalid(field, quoted(ip), "may not be in the link-local range (169.254.0.0/16, fe80::/10)")] }
        if ip.hasPrefix("224.") { return [invalid(field, quoted(ip), "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")] }
        return []
    }

    private static func portNumberOrNameProblems(_ value: OrderedJSON?, at field: String) -> [Cause] {
        switch value {
        case .string(let name)?:
            if let number = Int(name) { return (1...65535).contains(number) ? [] : [invalid(field, String(number), "must be between 1 and 65535, inclusive")] }
            return portNameProblems(name).map { invalid(field, quoted(name), $0) }
        case let value?:
            let number = value.int ?? 0
            return (1...65535).contains(number) ? [] : [invalid(field, numberText(value), "must be between 1 and 65535, inclusive")]
        case nil:
            return []
        }
    }

    /// Why `name` is no IANA service name (a named port), as the apiserver words it.
    static func portNameProblems(_ name: String) -> [String] {
        var problems: [String] = []
        if name.count > 15 { problems.append("must be no more than 15 characters") }
        let allowed = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        if !allowed { problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)") }
        if name.contains("--") { problems.append("must not contain consecutive hyphens") }
        if !name.unicodeScalars.contains(where: { ("a"..."z").contains($0) }) { problems.append("must contain at least one letter (a-z)") }
        if name.hasPrefix("-") || name.hasSuffix("-") { problems.append("must not begin or end with a hyphen") }
        return problems
    }

    static func dns1035LabelProblem(_ name: String) -> String? {
        if name.count > 63 { return "must be no more than 63 characters" }
        guard isDNSLabel(name), name.first.map({ ("a"..."z").contains($0) }) == true else {
            return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// Go's `%#v` of a `[]string`, as the ClusterIP messages print `clusterIPs`.
    static func goStrings(_ values: [String]) -> String {
        values.isEmpty ? "[]string(nil)" : "[]string{" + values.map(quoted).joined(separator: ", ") + "}"
    }

    static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
