import BerthKubeAPI

/// One port of one Service as the proxy programs it: the addresses and ports it answers on and the
/// endpoints its new connections go to.
public struct ProxiedPort: Sendable, Equatable {
    /// `namespace/name:port` (`namespace/name` for an unnamed port), as comments and chain names use it.
    public var name: String
    /// tcp, udp or sctp, as iptables spells it.
    public var proto: String
    public var port: Int
    public var clusterIP: String
    /// The Service's externalIPs and its load balancer's ingress IPs: routed as the ClusterIP is.
    public var externalIPs: [String]
    public var loadBalancerIPs: [String]
    public var nodePort: Int?
    /// ClientIP affinity's timeout in seconds; nil without affinity.
    public var affinityTimeout: Int?
    /// Where new connections go, in a stable order.
    public var endpoints: [ProxiedEndpoint]

    public init(name: String, proto: String, port: Int, clusterIP: String, externalIPs: [String], loadBalancerIPs: [String],
                nodePort: Int?, affinityTimeout: Int?, endpoints: [ProxiedEndpoint]) {
        self.name = name
        self.proto = proto
        self.port = port
        self.clusterIP = clusterIP
        self.externalIPs = externalIPs
        self.loadBalancerIPs = loadBalancerIPs
        self.nodePort = nodePort
        self.affinityTimeout = affinityTimeout
        self.endpoints = endpoints
    }

    /// Every address the port answers on but NodePorts.
    public var addresses: [String] { [clusterIP] + externalIPs + loadBalancerIPs }
}

public struct ProxiedEndpoint: Sendable, Hashable, Comparable {
    public var ip: String
    public var port: Int

    public init(ip: String, port: Int) {
        self.ip = ip
        self.port = port
    }

    public var description: String { "\(ip):\(port)" }

    public static func < (a: ProxiedEndpoint, b: ProxiedEndpoint) -> Bool {
        (IPv4Order(a.ip), a.port) < (IPv4Order(b.ip), b.port)
    }
}

/// Orders dotted quads numerically (10.0.0.9 before 10.0.0.10); other text after them.
private struct IPv4Order: Comparable {
    let value: UInt64

    init(_ address: String) {
        let parts = address.split(separator: ".").compactMap { UInt64($0) }
        value = parts.count == 4 && parts.allSatisfy({ $0 < 256 }) ? parts.reduce(0) { $0 << 8 | $1 } : UInt64.max
    }

    static func < (a: IPv4Order, b: IPv4Order) -> Bool { a.value < b.value }
}

extension ProxiedPort {
    /// The ports to program for `services`, with endpoints from `slices`: every port of every
    /// Service with a ClusterIP (headless and ExternalName Services get none), in a stable order.
    /// The endpoints are the ready ones; when none is ready, those that still serve while
    /// terminating, so a Service whose every pod is being replaced keeps answering.
    public static func plan(services: [Service], slices: [EndpointSlice]) -> [ProxiedPort] {
        var slicesByService: [String: [EndpointSlice]] = [:]
        for slice in slices where slice.addressType == "IPv4" {
            guard let service = slice.metadata.labels?[EndpointSlice.serviceNameLabel] else { continue }
            slicesByService["\(slice.metadata.namespace ?? "")/\(service)", default: []].append(slice)
        }
        var ports: [ProxiedPort] = []
        for service in services {
            let spec = service.spec
            guard spec.type != "ExternalName", let clusterIP = spec.clusterIP, !clusterIP.isEmpty, !spec.isHeadless else { continue }
            let key = "\(service.metadata.namespace ?? "")/\(service.metadata.name ?? "")"
            let timeout = spec.sessionAffinity == "ClientIP" ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 : nil
            let type = spec.type ?? "ClusterIP"
            let loadBalancerIPs = type == "LoadBalancer"
                ? (service.status?.loadBalancer?.ingress ?? []).filter { $0.ipMode != "Proxy" }.compactMap(\.ip) : []
            for servicePort in spec.ports ?? [] {
                let portName = servicePort.name ?? ""
                let proto = servicePort.protocol ?? "TCP"
                var ready: Set<ProxiedEndpoint> = []
                var terminating: Set<ProxiedEndpoint> = []
                for slice in slicesByService[key] ?? [] {
                    guard let slicePort = (slice.ports ?? []).first(where: { ($0.name ?? "") == portName && ($0.protocol ?? "TCP") == proto }),
                          let number = slicePort.port else { continue }
                    for endpoint in slice.endpoints ?? [] {
                        guard let ip = endpoint.addresses.first else { continue }
                        // Unset conditions mean ready, as the API documents for consumers.
                        let isReady = endpoint.conditions?.ready ?? true
                        let serving = endpoint.conditions?.serving ?? isReady
                        if isReady {
                            ready.insert(ProxiedEndpoint(ip: ip, port: number))
                        } else if serving, endpoint.conditions?.terminating == true {
                            terminating.insert(ProxiedEndpoint(ip: ip, port: number))
                        }
                    }
                }
                ports.append(ProxiedPort(
                    name: portName.isEmpty ? key : "\(key):\(portName)", proto: proto.lowercased(), port: servicePort.port,
                    clusterIP: clusterIP, externalIPs: spec.externalIPs ?? [], loadBalancerIPs: loadBalancerIPs,
                    nodePort: type == "NodePort" || type == "LoadBalancer" ? servicePort.nodePort : nil,
                    affinityTimeout: timeout, endpoints: (ready.isEmpty ? terminating : ready).sorted()))
            }
        }
        return ports.sorted { ($0.name, $0.proto) < ($1.name, $1.proto) }
    }
}
