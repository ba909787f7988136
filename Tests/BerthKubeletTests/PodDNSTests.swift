import BerthKubeAPI
@testable import BerthKubelet
import BerthTemplate
import Foundation
import Testing

/// A pod's resolv.conf and /etc/hosts from its dnsPolicy, dnsConfig, subdomain and hostAliases.
@Suite struct PodDNSTests {
    let network = KubeClusterNetwork(index: 2)
    let host = PodDNS(parsing: "# the node's\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example lab.example\noptions edns0 trust-ad\n")

    func pod(_ spec: String) throws -> Pod {
        try OrderedJSON.parse(Array(#"{"metadata":{"name":"p","namespace":"shop"},"spec":{"containers":[{"name":"c"}]\#(spec)}}"#.utf8)).decode(Pod.self)
    }

    @Test func clusterFirstUsesTheClusterDNSAndItsSearchPath() throws {
        let dns = PodDNS.forPod(try pod(""), network: network, host: host)
        #expect(dns.resolvConf == """
            search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example
            nameserver 10.96.2.10
            options ndots:5

            """)
        // On the host network ClusterFirst means the node's settings, unless asked WithHostNet.
        #expect(PodDNS.forPod(try pod(#","hostNetwork":true"#), network: network, host: host) == host)
        let withHostNet = PodDNS.forPod(try pod(#","hostNetwork":true,"dnsPolicy":"ClusterFirstWithHostNet""#), network: network, host: host)
        #expect(withHostNet.nameservers == ["10.96.2.10"])
    }

    @Test func defaultIsTheNodesSettingsWithoutLoopbackServers() throws {
        let dns = PodDNS.forPod(try pod(#","dnsPolicy":"Default""#), network: network, host: host)
        #expect(dns.resolvConf == "search corp.example lab.example\nnameserver 192.0.2.1\noptions edns0 trust-ad\n")
    }

    @Test func dnsConfigIsMergedAndNoneTakesOnlyIt() throws {
        let config = #","dnsConfig":{"nameservers":["10.96.2.10","192.0.2.9"],"searches":["extra.example"],"options":[{"name":"ndots","value":"2"},{"name":"rotate"}]}"#
        let merged = PodDNS.forPod(try pod(config), network: network, host: host)
        #expect(merged.nameservers == ["10.96.2.10", "192.0.2.9"])
        #expect(merged.searches.last == "extra.example")
        #expect(merged.options == ["ndots:2", "rotate"])
        let none = PodDNS.forPod(try pod(#","dnsPolicy":"None""# + config), network: network, host: host)
        #expect(none.resolvConf == "search extra.example\nnameserver 10.96.2.10\nnameserver 192.0.2.9\noptions ndots:2 rotate\n")
        let bare = PodDNS.forPod(try pod(#","dnsPolicy":"None","dnsConfig":{"nameservers":["1.1.1.1","1.0.0.1","8.8.8.8","8.8.4.4"]}"#),
                                 network: network, host: host)
        #expect(bare.resolvConf == "nameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 8.8.8.8\n")
    }

    @Test func hostsFileNamesThePodAndItsAliases() throws {
        let plain = PodDNS.hostsFile(pod: try pod(""), podIP: "10.244.2.5", hostname: "p", network: network)
        #expect(plain == """
            # Kubernetes-managed hosts file.
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            fe00::0\tip6-localnet
            fe00::0\tip6-mcastprefix
            fe00::1\tip6-allnodes
            fe00::2\tip6-allrouters
            10.244.2.5\tp

            """)
        let member = try pod(#","hostname":"web-0","subdomain":"web","hostAliases":[{"ip":"192.0.2.7","hostnames":["a","b"]}]"#)
        #expect(PodDNS.hostsFile(pod: member, podIP: "10.244.2.6", hostname: "web-0", network: network).hasSuffix("""
            10.244.2.6\tweb-0.web.shop.svc.cluster.local\tweb-0

            # Entries added by HostAliases.
            192.0.2.7\ta\tb

            """))
    }
}
