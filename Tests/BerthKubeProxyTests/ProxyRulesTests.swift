import BerthKubeAPI
@testable import BerthKubeProxy
import BerthTemplate
import Foundation
import Testing

private func service(_ json: String) throws -> Service {
    try JSONDecoder().decode(Service.self, from: Data(json.utf8))
}

private func slice(_ json: String) throws -> EndpointSlice {
    try JSONDecoder().decode(EndpointSlice.self, from: Data(json.utf8))
}

private let web = """
    {"metadata": {"namespace": "default", "name": "web"},
     "spec": {"type": "NodePort", "clusterIP": "10.96.3.20", "selector": {"app": "web"},
              "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080}]}}
    """

private let webSlice = """
    {"metadata": {"namespace": "default", "name": "web-abcde", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4",
     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
     "endpoints": [
       {"addresses": ["10.244.3.10"], "conditions": {"ready": true, "serving": true, "terminating": false}},
       {"addresses": ["10.244.3.9"], "conditions": {"ready": true}},
       {"addresses": ["10.244.3.11"], "conditions": {"ready": false, "serving": false, "terminating": false}},
       {"addresses": ["10.244.3.12"], "conditions": {"ready": false, "serving": true, "terminating": true}}]}
    """

@Suite struct ProxyPlanTests {
    @Test func readyEndpointsOnlyWithTheSlicesTargetPort() throws {
        let ports = ProxiedPort.plan(services: [try service(web)], slices: [try slice(webSlice)])
        #expect(ports == [ProxiedPort(
            name: "default/web:http", proto: "tcp", port: 80, clusterIP: "10.96.3.20", externalIPs: [], loadBalancerIPs: [],
            nodePort: 30080, affinityTimeout: nil,
            endpoints: [ProxiedEndpoint(ip: "10.244.3.9", port: 8080), ProxiedEndpoint(ip: "10.244.3.10", port: 8080)])])
    }

    @Test func servingTerminatingEndpointsOnlyWhenNoneIsReady() throws {
        let terminating = """
            {"metadata": {"namespace": "default", "name": "web-xyz", "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
             "endpoints": [{"addresses": ["10.244.3.12"], "conditions": {"ready": false, "serving": true, "terminating": true}},
                           {"addresses": ["10.244.3.13"], "conditions": {"ready": false, "serving": false, "terminating": true}}]}
            """
        let ports = ProxiedPort.plan(services: [try service(web)], slices: [try slice(terminating)])
        #expect(ports.map(\.endpoints) == [[ProxiedEndpoint(ip: "10.244.3.12", port: 8080)]])
    }

    @Test func portsMatchByNameAndProtocolAcrossSlicesOfTheService() throws {
        let dns = try service("""
            {"metadata": {"namespace": "kube-system", "name": "kube-dns"},
             "spec": {"clusterIP": "10.96.3.10", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                                          {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}}
            """)
        let slices = [
            try slice("""
                {"metadata": {"namespace": "kube-system", "name": "a", "labels": {"kubernetes.io/service-name": "kube-dns"}},
                 "addressType": "IPv4", "ports": [{"name": "dns", "port": 5353, "protocol": "UDP"}, {"name": "dns-tcp", "port": 5354}],
                 "endpoints": [{"addresses": ["10.244.3.2"]}]}
                """),
            // Another namespace's Service of that name, and a slice of another family: neither counts.
            try slice("""
                {"metadata": {"namespace": "default", "name": "b", "labels": {"kubernetes.io/service-name": "kube-dns"}},
                 "addressType": "IPv4", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}], "endpoints": [{"addresses": ["10.244.3.3"]}]}
                """),
            try slice("""
                {"metadata": {"namespace": "kube-system", "name": "c", "labels": {"kubernetes.io/service-name": "kube-dns"}},
                 "addressType": "IPv6", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}], "endpoints": [{"addresses": ["fd00::2"]}]}
                """),
        ]
        let ports = ProxiedPort.plan(services: [dns], slices: slices)
        #expect(ports.map(\.name) == ["kube-system/kube-dns:dns", "kube-system/kube-dns:dns-tcp"])
        #expect(ports.map(\.proto) == ["udp", "tcp"])
        #expect(ports.map(\.endpoints) == [[ProxiedEndpoint(ip: "10.244.3.2", port: 5353)], [ProxiedEndpoint(ip: "10.244.3.2", port: 5354)]])
        #expect(ports.allSatisfy { $0.nodePort == nil })
    }

    @Test func headlessExternalNameAndUnallocatedServicesGetNoRules() throws {
        let services = try [
            #"{"metadata": {"namespace": "default", "name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}"#,
            #"{"metadata": {"namespace": "default", "name": "e"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}"#,
            #"{"metadata": {"namespace": "default", "name": "u"}, "spec": {"ports": [{"port": 80}]}}"#,
        ].map(service)
        #expect(ProxiedPort.plan(services: services, slices: []).isEmpty)
    }

    @Test func loadBalancerIngressExternalIPsAndAffinity() throws {
        let lb = try service("""
            {"metadata": {"namespace": "shop", "name": "front"},
             "spec": {"type": "LoadBalancer", "clusterIP": "10.96.3.30", "externalIPs": ["192.0.2.50"],
                      "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                      "ports": [{"port": 443, "nodePort": 31443}]},
             "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.2", "ipMode": "VIP"}, {"ip": "198.51.100.1", "ipMode": "Proxy"}]}}}
            """)
        let port = try #require(ProxiedPort.plan(services: [lb], slices: []).first)
        #expect(port.name == "shop/front")
        #expect(port.addresses == ["10.96.3.30", "192.0.2.50", "192.0.2.2"])
        #expect(port.nodePort == 31443)
        #expect(port.affinityTimeout == 60)
        #expect(port.endpoints.isEmpty)
    }
}

@Suite struct ProxyRulesTests {
    let chains = ProxyChains(plan: 3)

    @Test func chainNamesAreStableShortAndPerPlan() throws {
        let port = try #require(ProxiedPort.plan(services: [try service(web)], slices: [try slice(webSlice)]).first)
        #expect(chains.service(port) == chains.service(port))
        #expect(chains.service(port).hasPrefix("BERTH-SVC-3-"))
        #expect(ProxyChains(plan: 255).endpoint(port, port.endpoints[0]).count <= 28)
        #expect(chains.endpoint(port, port.endpoints[0]) != chains.endpoint(port, port.endpoints[1]))
        #expect(chains.owns(chains.service(port)) && chains.owns("BERTH-SERVICES-3") && chains.owns("BERTH-POSTROUTING-3"))
        let other = ProxyChains(plan: 31)
        #expect(!other.owns(chains.service(port)) && !other.owns("BERTH-SERVICES-3") && !chains.owns(other.service(port)))
        #expect(!chains.owns("BERTH-HOSTPORTS") && !chains.owns("BERTH-FORWARD"))
    }

    @Test func clusterIPAndNodePortSpreadOverReadyEndpoints() throws {
        let ports = ProxiedPort.plan(services: [try service(web)], slices: [try slice(webSlice)])
        let port = try #require(ports.first)
        let svc = chains.service(port)
        let sep = port.endpoints.map { chains.endpoint(port, $0) }
        let text = ProxyRules(ports, chains: chains, podCIDR: "10.244.3.0/24").transaction(from: ProxyInstalledRules())
        #expect(text == """
            *filter
            :BERTH-SERVICES-3 - [0:0]
            -A INPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -I FORWARD 1 -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -A OUTPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            COMMIT
            *nat
            :BERTH-SERVICES-3 - [0:0]
            :BERTH-NODEPORTS-3 - [0:0]
            :BERTH-POSTROUTING-3 - [0:0]
            :\(svc) - [0:0]
            :\(sep[0]) - [0:0]
            :\(sep[1]) - [0:0]
            -A PREROUTING -j BERTH-SERVICES-3
            -A OUTPUT -j BERTH-SERVICES-3
            -A POSTROUTING -j BERTH-POSTROUTING-3
            -A BERTH-SERVICES-3 -d 10.96.3.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j \(svc)
            -A BERTH-SERVICES-3 -m addrtype --dst-type LOCAL -j BERTH-NODEPORTS-3
            -A BERTH-NODEPORTS-3 -p tcp -m comment --comment default/web:http -m tcp --dport 30080 -j \(svc)
            -A BERTH-POSTROUTING-3 -s 10.244.3.0/24 -d 10.244.3.0/24 -m conntrack --ctstate DNAT -j MASQUERADE
            -A BERTH-POSTROUTING-3 -s 127.0.0.0/8 ! -d 127.0.0.0/8 -m conntrack --ctstate DNAT -j MASQUERADE
            -A \(svc) -m statistic --mode random --probability 0.5000000000 -j \(sep[0])
            -A \(svc) -j \(sep[1])
            -A \(sep[0]) -p tcp -j DNAT --to-destination 10.244.3.9:8080
            -A \(sep[1]) -p tcp -j DNAT --to-destination 10.244.3.10:8080
            COMMIT

            """)
    }

    @Test func clientIPAffinityRemembersTheEndpointPerClient() throws {
        var port = try #require(ProxiedPort.plan(services: [try service(web)], slices: [try slice(webSlice)]).first)
        port.affinityTimeout = 600
        port.endpoints.append(ProxiedEndpoint(ip: "10.244.3.40", port: 8080))
        let svc = chains.service(port)
        let sep = port.endpoints.map { chains.endpoint(port, $0) }
        let rules = ProxyRules([port], chains: chains, podCIDR: "10.244.3.0/24").rules[.nat] ?? []
        #expect(rules.filter { $0.hasPrefix("-A BERTH-SVC-") || $0.hasPrefix("-A BERTH-SEP-") } == [
            "-A \(svc) -m recent --name \(sep[0]) --mask 255.255.255.255 --rcheck --seconds 600 --reap -j \(sep[0])",
            "-A \(svc) -m recent --name \(sep[1]) --mask 255.255.255.255 --rcheck --seconds 600 --reap -j \(sep[1])",
            "-A \(svc) -m recent --name \(sep[2]) --mask 255.255.255.255 --rcheck --seconds 600 --reap -j \(sep[2])",
            "-A \(svc) -m statistic --mode random --probability 0.3333333333 -j \(sep[0])",
            "-A \(svc) -m statistic --mode random --probability 0.5000000000 -j \(sep[1])",
            "-A \(svc) -j \(sep[2])",
            "-A \(sep[0]) -p tcp -m recent --name \(sep[0]) --mask 255.255.255.255 --set -j DNAT --to-destination 10.244.3.9:8080",
            "-A \(sep[1]) -p tcp -m recent --name \(sep[1]) --mask 255.255.255.255 --set -j DNAT --to-destination 10.244.3.10:8080",
            "-A \(sep[2]) -p tcp -m recent --name \(sep[2]) --mask 255.255.255.255 --set -j DNAT --to-destination 10.244.3.40:8080",
        ])
    }

    @Test func aPortWithoutEndpointsIsRejectedOnEveryAddress() throws {
        let lb = try service("""
            {"metadata": {"namespace": "shop", "name": "front"},
             "spec": {"type": "LoadBalancer", "clusterIP": "10.96.3.30", "externalIPs": ["192.0.2.50"],
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 31053}, {"name": "web", "port": 80, "nodePort": 31080}]},
             "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}]}}}
            """)
        let rules = ProxyRules(ProxiedPort.plan(services: [lb], slices: []), chains: chains, podCIDR: "10.244.3.0/24")
        #expect(rules.rules[.filter] == [
            #"-A BERTH-SERVICES-3 -d 10.96.3.30/32 -p udp -m comment --comment "shop/front:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable"#,
            #"-A BERTH-SERVICES-3 -d 192.0.2.50/32 -p udp -m comment --comment "shop/front:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable"#,
            #"-A BERTH-SERVICES-3 -d 192.0.2.2/32 -p udp -m comment --comment "shop/front:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable"#,
            #"-A BERTH-SERVICES-3 -m addrtype --dst-type LOCAL -p udp -m comment --comment "shop/front:dns has no endpoints" -m udp --dport 31053 -j REJECT --reject-with icmp-port-unreachable"#,
            #"-A BERTH-SERVICES-3 -d 10.96.3.30/32 -p tcp -m comment --comment "shop/front:web has no endpoints" -m tcp --dport 80 -j REJECT --reject-with tcp-reset"#,
            #"-A BERTH-SERVICES-3 -d 192.0.2.50/32 -p tcp -m comment --comment "shop/front:web has no endpoints" -m tcp --dport 80 -j REJECT --reject-with tcp-reset"#,
            #"-A BERTH-SERVICES-3 -d 192.0.2.2/32 -p tcp -m comment --comment "shop/front:web has no endpoints" -m tcp --dport 80 -j REJECT --reject-with tcp-reset"#,
            #"-A BERTH-SERVICES-3 -m addrtype --dst-type LOCAL -p tcp -m comment --comment "shop/front:web has no endpoints" -m tcp --dport 31080 -j REJECT --reject-with tcp-reset"#,
        ])
        // No endpoint: no chain of its own, and nothing in nat but the fixed rules.
        #expect(rules.chains[.nat] == ["BERTH-SERVICES-3", "BERTH-NODEPORTS-3", "BERTH-POSTROUTING-3"])
        #expect(rules.rules[.nat]?.count == 3)
    }

    /// What a daemon killed with -9 left: its chains are adopted (declared, so emptied and refilled),
    /// the ones no longer needed deleted, its jumps kept, and another plan's rules never touched.
    @Test func aRestartAdoptsTheLeftoverChainsOfItsPlanOnly() throws {
        let save = """
            # Generated by iptables-save v1.8.9 (nf_tables)
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD DROP [0:0]
            :BERTH-FORWARD - [0:0]
            :BERTH-SERVICES-3 - [0:0]
            :BERTH-SERVICES-31 - [0:0]
            -A INPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-31
            -A INPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -A FORWARD -j BERTH-FORWARD
            -A FORWARD -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -A OUTPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -A BERTH-SERVICES-3 -d 10.96.3.5/32 -p tcp -m comment --comment "default/old has no endpoints" -m tcp --dport 80 -j REJECT --reject-with tcp-reset
            COMMIT
            *nat
            :PREROUTING ACCEPT [0:0]
            :BERTH-SERVICES-3 - [0:0]
            :BERTH-NODEPORTS-3 - [0:0]
            :BERTH-POSTROUTING-3 - [0:0]
            :BERTH-SVC-3-AAAAAAAAAAAA - [0:0]
            :BERTH-SEP-3-BBBBBBBBBBBB - [0:0]
            :BERTH-SVC-31-CCCCCCCCCCCC - [0:0]
            -A PREROUTING -j BERTH-SERVICES-3
            -A PREROUTING -j BERTH-SERVICES-31
            -A OUTPUT -j BERTH-SERVICES-3
            -A POSTROUTING -j BERTH-POSTROUTING-3
            -A BERTH-SVC-3-AAAAAAAAAAAA -j BERTH-SEP-3-BBBBBBBBBBBB
            COMMIT
            """
        let installed = ProxyInstalledRules(iptablesSave: save, chains: chains)
        #expect(installed.chains[.filter] == ["BERTH-SERVICES-3"])
        #expect(installed.chains[.nat] == ["BERTH-SERVICES-3", "BERTH-NODEPORTS-3", "BERTH-POSTROUTING-3",
                                           "BERTH-SVC-3-AAAAAAAAAAAA", "BERTH-SEP-3-BBBBBBBBBBBB"])
        #expect(installed.jumps[.nat] == ["-A PREROUTING -j BERTH-SERVICES-3", "-A OUTPUT -j BERTH-SERVICES-3",
                                          "-A POSTROUTING -j BERTH-POSTROUTING-3"])
        let text = ProxyRules([], chains: chains, podCIDR: "10.244.3.0/24").transaction(from: installed)
        #expect(text == """
            *filter
            :BERTH-SERVICES-3 - [0:0]
            -D FORWARD -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -I FORWARD 1 -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            COMMIT
            *nat
            :BERTH-SERVICES-3 - [0:0]
            :BERTH-NODEPORTS-3 - [0:0]
            :BERTH-POSTROUTING-3 - [0:0]
            :BERTH-SEP-3-BBBBBBBBBBBB - [0:0]
            :BERTH-SVC-3-AAAAAAAAAAAA - [0:0]
            -A BERTH-SERVICES-3 -m addrtype --dst-type LOCAL -j BERTH-NODEPORTS-3
            -A BERTH-POSTROUTING-3 -s 10.244.3.0/24 -d 10.244.3.0/24 -m conntrack --ctstate DNAT -j MASQUERADE
            -A BERTH-POSTROUTING-3 -s 127.0.0.0/8 ! -d 127.0.0.0/8 -m conntrack --ctstate DNAT -j MASQUERADE
            -X BERTH-SEP-3-BBBBBBBBBBBB
            -X BERTH-SVC-3-AAAAAAAAAAAA
            COMMIT

            """)
        // A graceful stop: every chain and jump of the plan goes.
        #expect(ProxyRules().transaction(from: installed) == """
            *filter
            :BERTH-SERVICES-3 - [0:0]
            -D INPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -D FORWARD -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -D OUTPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-3
            -X BERTH-SERVICES-3
            COMMIT
            *nat
            :BERTH-NODEPORTS-3 - [0:0]
            :BERTH-POSTROUTING-3 - [0:0]
            :BERTH-SEP-3-BBBBBBBBBBBB - [0:0]
            :BERTH-SERVICES-3 - [0:0]
            :BERTH-SVC-3-AAAAAAAAAAAA - [0:0]
            -D PREROUTING -j BERTH-SERVICES-3
            -D OUTPUT -j BERTH-SERVICES-3
            -D POSTROUTING -j BERTH-POSTROUTING-3
            -X BERTH-NODEPORTS-3
            -X BERTH-POSTROUTING-3
            -X BERTH-SEP-3-BBBBBBBBBBBB
            -X BERTH-SERVICES-3
            -X BERTH-SVC-3-AAAAAAAAAAAA
            COMMIT

            """)
    }
}

@Suite struct ProxyConntrackTests {
    private func port(_ name: String, _ proto: String, nodePort: Int? = nil, _ endpoints: [String]) -> ProxiedPort {
        ProxiedPort(name: name, proto: proto, port: 53, clusterIP: "10.96.3.10", externalIPs: [], loadBalancerIPs: [], nodePort: nodePort,
                    affinityTimeout: nil, endpoints: endpoints.map { ProxiedEndpoint(ip: $0, port: 5353) })
    }

    @Test func aGoneUDPEndpointLosesItsFlows() {
        let old = [port("kube-system/dns:dns", "udp", nodePort: 30053, ["10.244.3.2", "10.244.3.3"])]
        let new = [port("kube-system/dns:dns", "udp", nodePort: 30053, ["10.244.3.3", "10.244.3.4"])]
        #expect(KubeProxy.staleConnections(old: old, new: new) == [
            ["-p", "udp", "--orig-dst", "10.96.3.10", "--dst-nat", "10.244.3.2"],
            ["-p", "udp", "--orig-port-dst", "30053", "--dst-nat", "10.244.3.2"],
        ])
    }

    @Test func tcpEndpointsKeepTheirConnections() {
        let old = [port("default/web", "tcp", ["10.244.3.2"])]
        #expect(KubeProxy.staleConnections(old: old, new: [port("default/web", "tcp", ["10.244.3.5"])]).isEmpty)
    }

    @Test func refusedUDPFlowsGoWhenTheFirstEndpointComes() {
        let old = [port("kube-system/dns:dns", "udp", [])]
        #expect(KubeProxy.staleConnections(old: old, new: [port("kube-system/dns:dns", "udp", ["10.244.3.2"])]) == [
            ["-p", "udp", "--orig-dst", "10.96.3.10", "--orig-port-dst", "53"],
        ])
    }

    @Test func aDeletedServiceLosesEveryFlow() {
        let old = [port("default/web", "tcp", nodePort: 30080, ["10.244.3.2"])]
        #expect(KubeProxy.staleConnections(old: old, new: []) == [
            ["-p", "tcp", "--orig-dst", "10.96.3.10", "--orig-port-dst", "53"],
            ["-p", "tcp", "--orig-port-dst", "30080", "--dst-nat", "10.244.3.2"],
        ])
    }
}
