import BerthKubeAPI

/// What the cluster DNS knows of the cluster: Services, their EndpointSlices and the pods'
/// addresses, as the store's watches last reported them.
public struct ClusterDNSIndex: Sendable {
    public struct PodEntry: Sendable, Equatable {
        public var namespace: String
        public var ip: String
    }

    /// By "namespace/name".
    public var services: [String: Service] = [:]
    /// By "namespace/name" of the slice.
    public var slices: [String: EndpointSlice] = [:]
    /// By "namespace/name" of the pod; only pods with an address.
    public var pods: [String: PodEntry] = [:]

    public init() {}

    /// The endpoints of `service`'s slices (in `namespace`), in a stable order, with each slice's ports.
    func endpoints(of service: String, in namespace: String) -> [(endpoint: Endpoint, ports: [EndpointPort])] {
        slices.values.filter {
            $0.metadata.namespace == namespace && $0.metadata.labels?[EndpointSlice.serviceNameLabel] == service
        }.sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }.flatMap { slice in
            (slice.endpoints ?? []).map { (endpoint: $0, ports: slice.ports ?? []) }
        }
    }

    func namespaceExists(_ namespace: String) -> Bool {
        services.values.contains { $0.metadata.namespace == namespace } || pods.values.contains { $0.namespace == namespace }
    }
}

/// Kubernetes' DNS-based service discovery (the cluster DNS specification, schema 1.1.0, as
/// CoreDNS's kubernetes plugin serves it) over a `ClusterDNSIndex`: answers for the cluster
/// domain and for the reverse zones of the service and pod CIDRs; nil for every other name,
/// which the server forwards.
public struct ClusterDNSRecords: Sendable {
    public let network: KubeClusterNetwork
    /// The TTL of every answer (CoreDNS's default).
    public static let ttl: UInt32 = 5

    public init(network: KubeClusterNetwork) { self.network = network }

    var zone: String { network.clusterDomain }

    /// The response to `query`, or nil when its name is outside the zones served here.
    public func answer(_ query: DNSMessage, index: ClusterDNSIndex) -> DNSMessage? {
        guard let question = query.questions.first, query.questions.count == 1, question.class == 1 else { return nil }
        let name = question.name.lowercased()
        var response = DNSMessage(id: query.id)
        response.isResponse = true
        response.authoritative = true
        response.recursionDesired = query.recursionDesired
        response.recursionAvailable = true
        response.questions = query.questions
        if let opt = query.opt {
            // EDNS0 in, EDNS0 out: our own OPT offers the room we accept, version 0, no options.
            response.additionals.append(DNSRecord(name: "", type: .opt, class: ClusterDNSServer.ednsPayloadSize, ttl: opt.ttl & 0x8000, data: .raw([])))
        }
        let result: Result
        if name == zone || name.hasSuffix("." + zone) {
            let relative = name == zone ? [] : Array(name.dropLast(zone.count + 1).split(separator: ".", omittingEmptySubsequences: false).map(String.init))
            result = clusterName(relative, type: question.type, owner: question.name, index: index)
        } else if name.hasSuffix(".in-addr.arpa") {
            guard let reverse = reverseName(name, type: question.type, owner: question.name, index: index) else { return nil }
            result = reverse
        } else {
            return nil
        }
        switch result {
        case .records(let answers, let additionals):
            response.answers = answers
            response.additionals.insert(contentsOf: additionals, at: 0)
            if answers.isEmpty { response.authorities = [soa] }
        case .noName:
            response.responseCode = .nameError
            response.authorities = [soa]
        }
        return response
    }

    enum Result {
        /// The name exists: these answers (none: NODATA) and additional records.
        case records([DNSRecord], additionals: [DNSRecord] = [])
        /// NXDOMAIN.
        case noName
    }

    /// The zone's SOA, which negative answers carry (RFC 2308).
    var soa: DNSRecord {
        DNSRecord(name: zone, type: .soa, ttl: Self.ttl,
                  data: .soa(mname: "ns.dns." + zone, rname: "hostmaster." + zone, serial: 1, refresh: 7200, retry: 1800,
                             expire: 86400, minimum: Self.ttl))
    }

    /// A name under the cluster domain, given by its labels left of the domain.
    func clusterName(_ labels: [String], type: DNSType, owner: String, index: ClusterDNSIndex) -> Result {
        func addresses(_ list: [String]) -> [DNSRecord] {
            var seen = Set<String>()
            // An address two slices both list (during a controller's hand-over) is answered once.
            return list.filter { seen.insert($0).inserted }.compactMap { DNSRecord.address(name: owner, ttl: Self.ttl, $0) }.filter { type == .any || $0.type == type }
        }
        switch labels.count {
        case 0:
            switch type {
            case .soa: return .records([soa])
            case .ns:
                return .records([DNSRecord(name: owner, type: .ns, ttl: Self.ttl, data: .ns("ns.dns." + zone))],
                                additionals: [DNSRecord.address(name: "ns.dns." + zone, ttl: Self.ttl, network.dnsClusterIP)].compactMap { $0 })
            default: return .records([])
            }
        case 1 where labels[0] == "dns-version":
            // The specification's schema version record.
            return .records(type == .txt || type == .any ? [DNSRecord(name: owner, type: .txt, ttl: Self.ttl, data: .txt(["1.1.0"]))] : [])
        case 1 where labels[0] == "svc" || labels[0] == "pod" || labels[0] == "dns":
            return .records([])
        case 2 where labels == ["ns", "dns"]:
            return .records(addresses([network.dnsClusterIP]))
        default: break
        }
        switch labels.last {
        case "svc": return serviceName(Array(labels.dropLast()), type: type, owner: owner, index: index, addresses: addresses)
        case "pod":
            guard labels.count >= 2 else { return .noName }
            let namespace = labels[labels.count - 2]
            if labels.count == 2 { return index.namespaceExists(namespace) ? .records([]) : .noName }
            guard labels.count == 3 else { return .noName }
            let ip = labels[0].replacingOccurrences(of: "-", with: ".")
            // Only addresses of pods that exist in that namespace ("pods verified").
            guard IPAddressText.ipv4(ip) != nil, index.pods.values.contains(where: { $0.namespace == namespace && $0.ip == ip }) else { return .noName }
            return .records(addresses([ip]))
        default: return .noName
        }
    }

    /// `[endpoint.]service.namespace` or `_port._proto.service.namespace` (the labels before `svc`).
    private func serviceName(_ labels: [String], type: DNSType, owner: String, index: ClusterDNSIndex,
                             addresses: ([String]) -> [DNSRecord]) -> Result {
        guard let namespace = labels.last else { return .noName }
        if labels.count == 1 { return index.namespaceExists(namespace) ? .records([]) : .noName }
        let serviceName = labels[labels.count - 2]
        guard let service = index.services["\(namespace)/\(serviceName)"] else { return .noName }
        let serviceFQDN = "\(serviceName).\(namespace).svc.\(zone)"
        let endpoints = published(service, index: index)
        switch labels.count {
        case 2:
            if service.spec.type == "ExternalName", let target = service.spec.externalName, !target.isEmpty {
                return .records([DNSRecord(name: owner, type: .cname, ttl: Self.ttl, data: .cname(target))])
            }
            if service.spec.isHeadless { return .records(addresses(endpoints.map { $0.endpoint.addresses[0] })) }
            return .records(addresses((service.spec.clusterIPs ?? [service.spec.clusterIP].compactMap { $0 }).filter { $0 != "None" && !$0.isEmpty }))
        case 3:
            // An endpoint of a headless Service, by hostname (a StatefulSet's pods) or dashed address.
            guard service.spec.isHeadless else { return .noName }
            let matching = endpoints.filter { Self.endpointLabel($0.endpoint) == labels[0] }
            return matching.isEmpty ? .noName : .records(addresses(matching.map { $0.endpoint.addresses[0] }))
        case 4 where labels[0].hasPrefix("_") && labels[1].hasPrefix("_"):
            let portName = String(labels[0].dropFirst()), proto = String(labels[1].dropFirst())
            guard let port = service.spec.ports?.first(where: { ($0.name ?? "").lowercased() == portName && ($0.protocol ?? "TCP").lowercased() == proto })
            else { return .noName }
            guard type == .srv || type == .any else { return .records([]) }
            if !service.spec.isHeadless {
                guard let clusterIP = service.spec.clusterIP, !clusterIP.isEmpty else { return .records([]) }
                return .records([DNSRecord(name: owner, type: .srv, ttl: Self.ttl,
                                           data: .srv(priority: 0, weight: 100, port: UInt16(clamping: port.port), target: serviceFQDN))],
                                additionals: [DNSRecord.address(name: serviceFQDN, ttl: Self.ttl, clusterIP)].compactMap { $0 })
            }
            let targets = endpoints.compactMap { entry -> (target: String, port: Int, address: String)? in
                guard let match = entry.ports.first(where: { ($0.name ?? "") == port.name && ($0.protocol ?? "TCP") == (port.protocol ?? "TCP") }),
                      let number = match.port else { return nil }
                return ("\(Self.endpointLabel(entry.endpoint)).\(serviceFQDN)", number, entry.endpoint.addresses[0])
            }
            let weight = targets.isEmpty ? 0 : UInt16(100 / targets.count)
            return .records(targets.map {
                DNSRecord(name: owner, type: .srv, ttl: Self.ttl, data: .srv(priority: 0, weight: weight, port: UInt16(clamping: $0.port), target: $0.target))
            }, additionals: targets.compactMap { DNSRecord.address(name: $0.target, ttl: Self.ttl, $0.address) })
        default: return .noName
        }
    }

    /// The endpoints DNS publishes for `service`: the ready ones, or all with `publishNotReadyAddresses`.
    private func published(_ service: Service, index: ClusterDNSIndex) -> [(endpoint: Endpoint, ports: [EndpointPort])] {
        let all = index.endpoints(of: service.metadata.name ?? "", in: service.metadata.namespace ?? "")
        return all.filter { !$0.endpoint.addresses.isEmpty && (service.spec.publishNotReadyAddresses == true || $0.endpoint.conditions?.ready != false) }
    }

    /// An endpoint's name under its Service: its hostname, else its address with dashes.
    static func endpointLabel(_ endpoint: Endpoint) -> String {
        (endpoint.hostname ?? endpoint.addresses[0].replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: ":", with: "-")).lowercased()
    }

    /// PTR records for addresses of the service and pod CIDRs; nil (forward) for other addresses
    /// and for addresses nothing in the cluster has.
    func reverseName(_ name: String, type: DNSType, owner: String, index: ClusterDNSIndex) -> Result? {
        let octets = name.dropLast(".in-addr.arpa".count).split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        let ip = octets.reversed().joined(separator: ".")
        guard IPAddressText.ipv4(ip) != nil, network.isClusterIP(ip) || ip.hasPrefix("10.244.\(network.index).") else { return nil }
        var targets: [String] = []
        for service in index.services.values.sorted(by: { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }) {
            let serviceName = service.metadata.name ?? "", namespace = service.metadata.namespace ?? ""
            let fqdn = "\(serviceName).\(namespace).svc.\(zone)"
            if (service.spec.clusterIPs ?? [service.spec.clusterIP].compactMap { $0 }).contains(ip) { targets.append(fqdn) }
            for entry in published(service, index: index) where entry.endpoint.addresses.contains(ip) {
                targets.append("\(Self.endpointLabel(entry.endpoint)).\(fqdn)")
            }
        }
        if targets.isEmpty, let pod = index.pods.values.first(where: { $0.ip == ip }) {
            targets.append("\(ip.replacingOccurrences(of: ".", with: "-")).\(pod.namespace).pod.\(zone)")
        }
        guard !targets.isEmpty else { return nil }
        guard type == .ptr || type == .any else { return .records([]) }
        return .records(targets.map { DNSRecord(name: owner, type: .ptr, ttl: Self.ttl, data: .ptr($0)) })
    }
}
