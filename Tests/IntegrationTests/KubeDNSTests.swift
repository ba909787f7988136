import Foundation
import Testing

/// The cluster DNS of `berth serve`, asked by the real `dig` (bind9-dnsutils) from the host and
/// from inside a pod's network namespace: Service, headless, StatefulSet, SRV, pod and PTR
/// records, negative answers, forwarding to the host's resolvers, and the pods' resolv.conf and
/// /etc/hosts as the kubelet writes them. Serialized: every cluster's pods use the pod network.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeDNSTests {
    /// Where `kube-dns` leads: its ClusterIP, and the address and port its Endpoints name.
    struct DNSAddresses {
        var clusterIP: String
        var server: String
        var port: String
        /// "10.96.N." of the cluster's plan.
        var servicePrefix: String { String(clusterIP.dropLast("10".count)) }
    }

    private func addresses(_ cluster: KubeCluster) throws -> DNSAddresses {
        try eventually("kube-dns and its Endpoints") {
            let ip = try cluster.kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}").out
            let server = try cluster.kubectl("get", "endpoints", "kube-dns", "-n", "kube-system",
                                             "-o", "jsonpath={.subsets[0].addresses[0].ip} {.subsets[0].ports[0].port}").out
            let parts = server.split(separator: " ").map(String.init)
            guard !ip.isEmpty, parts.count == 2 else { return nil }
            return DNSAddresses(clusterIP: ip, server: parts[0], port: parts[1])
        }
    }

    /// `dig` against the cluster DNS; `netns` runs it inside that network namespace. A query that
    /// got no answer at all (dig's status 9) is asked again, up to three times: on a loaded machine
    /// the daemon may be slow to answer one.
    private func dig(_ dns: DNSAddresses, _ arguments: [String], netns: String? = nil) throws -> String {
        let command = ["dig", "@\(dns.server)", "-p", dns.port, "+time=2", "+tries=2"] + arguments
        var result: CommandResult
        var attempt = 1
        repeat {
            result = try netns.map { try Command.run("nsenter", ["--net=\($0)"] + command) } ?? Command.run(command[0], Array(command.dropFirst()))
            attempt += 1
        } while result.status == 9 && attempt <= 3
        #expect(result.succeeded, "\(result)")
        return result.out
    }

    private func short(_ dns: DNSAddresses, _ arguments: String..., netns: String? = nil) throws -> [String] {
        try dig(dns, ["+short"] + arguments, netns: netns).split(separator: "\n").map(String.init).sorted()
    }

    /// The status of an answer (NOERROR, NXDOMAIN…) and the records of a section, TTLs left out.
    private func status(_ output: String) -> String? {
        output.range(of: #"status: [A-Z]+"#, options: .regularExpression).map { String(output[$0].dropFirst("status: ".count)) }
    }

    private func field(_ cluster: KubeCluster, _ pod: String, _ path: String) throws -> String {
        try cluster.kubectl("get", "pod", pod, "-o", "jsonpath={\(path)}").out
    }

    /// The runtime ID of a pod's container (`POD` for its sandbox).
    private func containerID(_ cluster: KubeCluster, pod: String, container: String) throws -> String {
        try cluster.sandbox.run("ps", "-q", "--no-trunc", "--filter", "label=io.kubernetes.pod.name=\(pod)",
                                "--filter", "label=io.kubernetes.container.name=\(container)").out
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The EndpointSlice of the selector-less headless Service `web`: both pods, web-1 `ready` as given.
    private func webSlice(_ ips: [String], webOneReady: Bool) -> String {
        """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-manual
          labels:
            kubernetes.io/service-name: web
        addressType: IPv4
        ports:
        - name: http
          port: 8080
          protocol: TCP
        endpoints:
        - addresses: ["\(ips[0])"]
          hostname: web-0
          conditions: {ready: true}
        - addresses: ["\(ips[1])"]
          hostname: web-1
          conditions: {ready: \(webOneReady)}

        """
    }

    @Test func clusterNamesResolveFromTheHostAndFromPodsAndFollowTheStore() throws {
        let cluster = try KubeCluster.withBusybox()
        let dns = try addresses(cluster)
        #expect(dns.clusterIP.hasPrefix("10.96.") && dns.clusterIP.hasSuffix(".10"))
        let apiIP = dns.servicePrefix + "20"
        // `web` is headless and selector-less: its EndpointSlice is the test's, so what DNS
        // publishes follows only what the slice says.
        try cluster.apply("""
            apiVersion: v1
            kind: Service
            metadata:
              name: api
            spec:
              clusterIP: \(apiIP)
              selector: {app: web}
              ports:
              - {name: http, port: 80, protocol: TCP, targetPort: 8080}
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              clusterIP: None
              ports:
              - {name: http, port: 8080, protocol: TCP}
            ---
            apiVersion: apps/v1
            kind: StatefulSet
            metadata:
              name: web
            spec:
              serviceName: web
              replicas: 2
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: main
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sleep", "3600"]
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: custom
            spec:
              terminationGracePeriodSeconds: 1
              dnsPolicy: None
              dnsConfig:
                nameservers: ["192.0.2.53"]
                searches: ["example.test"]
                options:
                - {name: ndots, value: "2"}
                - {name: edns0}
              hostAliases:
              - {ip: "192.0.2.7", hostnames: ["alias-one", "alias-two"]}
              containers:
              - name: main
                image: busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sleep", "3600"]

            """)
        let ips = try ["web-0", "web-1"].map { pod in
            try eventually("\(pod) running with an address") {
                let ip = try field(cluster, pod, ".status.podIP")
                return try field(cluster, pod, ".status.phase") == "Running" && !ip.isEmpty ? ip : nil
            }
        }
        try cluster.apply(webSlice(ips, webOneReady: true))

        // From the host, over UDP and TCP.
        _ = try eventually("the headless Service's records") { try short(dns, "web.default.svc.cluster.local") == ips.sorted() ? true : nil }
        #expect(try short(dns, "api.default.svc.cluster.local") == [apiIP])
        #expect(try short(dns, "+tcp", "api.default.svc.cluster.local") == [apiIP])
        #expect(try short(dns, "web-0.web.default.svc.cluster.local") == [ips[0]])
        #expect(try short(dns, "web-1.web.default.svc.cluster.local") == [ips[1]])
        #expect(try short(dns, "SRV", "_http._tcp.api.default.svc.cluster.local") == ["0 100 80 api.default.svc.cluster.local."])
        #expect(try short(dns, "SRV", "_http._tcp.web.default.svc.cluster.local")
                == ["0 50 8080 web-0.web.default.svc.cluster.local.", "0 50 8080 web-1.web.default.svc.cluster.local."])
        let dashed = ips[0].replacingOccurrences(of: ".", with: "-")
        #expect(try short(dns, "\(dashed).default.pod.cluster.local") == [ips[0]])
        #expect(try short(dns, "-x", apiIP) == ["api.default.svc.cluster.local."])
        #expect(try short(dns, "-x", ips[0]) == ["web-0.web.default.svc.cluster.local."])
        let customIP = try eventually("custom's address") { () -> String? in
            let ip = try field(cluster, "custom", ".status.podIP")
            return ip.isEmpty ? nil : ip
        }
        #expect(try short(dns, "-x", customIP) == ["\(customIP.replacingOccurrences(of: ".", with: "-")).default.pod.cluster.local."])
        let missing = try dig(dns, ["+noall", "+comments", "+authority", "nope.default.svc.cluster.local"])
        #expect(status(missing) == "NXDOMAIN")
        #expect(missing.contains("cluster.local.\t\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local."), "\(missing)")
        let nodata = try dig(dns, ["+noall", "+comments", "+answer", "AAAA", "api.default.svc.cluster.local"])
        #expect(status(nodata) == "NOERROR")
        #expect(!nodata.contains("IN\tAAAA"))
        #expect(try short(dns, "TXT", "dns-version.cluster.local") == ["\"1.1.0\""])

        // From inside a pod's network namespace.
        let sandboxID = try containerID(cluster, pod: "web-1", container: "POD")
        let pid = try cluster.sandbox.run("inspect", "-f", "{{.State.Pid}}", sandboxID).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let netns = "/proc/\(pid)/ns/net"
        #expect(try short(dns, "web-0.web.default.svc.cluster.local", netns: netns) == [ips[0]])
        #expect(try short(dns, "SRV", "_http._tcp.api.default.svc.cluster.local", netns: netns) == ["0 100 80 api.default.svc.cluster.local."])
        #expect(try short(dns, "-x", apiIP, netns: netns) == ["api.default.svc.cluster.local."])

        // Through the ClusterIP (the proxy sends it to kube-dns's Endpoints), from the host and from a pod.
        let viaClusterIP = DNSAddresses(clusterIP: dns.clusterIP, server: dns.clusterIP, port: "53")
        #expect(try short(viaClusterIP, "api.default.svc.cluster.local") == [apiIP])
        #expect(try short(viaClusterIP, "+tcp", "web-0.web.default.svc.cluster.local", netns: netns) == [ips[0]])
        // A pod's own resolver: its resolv.conf, search path and ndots (busybox's ping prints the
        // address it resolved before it gives up on the unanswering ClusterIP).
        let web1 = try containerID(cluster, pod: "web-1", container: "main")
        for (name, address) in [("api", apiIP), ("web-0.web", ips[0]), ("api.default", apiIP)] {
            let ping = try cluster.sandbox.run("exec", web1, "ping", "-c", "1", "-W", "1", name)
            #expect(ping.out.hasPrefix("PING \(name) (\(address))"), "\(ping)")
        }
        let lookup = try cluster.sandbox.run("exec", web1, "nslookup", "web-0.web.default.svc.cluster.local")
        #expect(lookup.succeeded && lookup.out.contains("Address: \(ips[0])"), "\(lookup)")

        // Other names go to the host's resolvers and their answer comes back as it is.
        let upstream = try #require(try String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("nameserver") }?.split(separator: " ").last.map(String.init))
        for name in ["example.com", "localhost", "pypi.org"] {
            let direct = try Command.run("dig", ["@\(upstream)", "+time=2", "+tries=2", "+noall", "+comments", "+answer", "+authority", "+nottlid", name])
            try #require(direct.succeeded, "the host's resolver does not answer: \(direct)")
            let relayed = try dig(dns, ["+noall", "+comments", "+answer", "+authority", "+nottlid", name], netns: netns)
            #expect(status(relayed) == status(direct.out), "\(name)")
            let records = { (text: String) in text.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty }.sorted() }
            #expect(records(relayed) == records(direct.out), "\(name)")
        }

        // The kubelet's resolv.conf and /etc/hosts, read through the runtime.
        let hostSearches = try String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8).split(separator: "\n")
            .last { $0.hasPrefix("search ") }.map { " " + $0.dropFirst("search ".count) } ?? ""
        let web0 = try containerID(cluster, pod: "web-0", container: "main")
        #expect(try cluster.sandbox.run("exec", web0, "cat", "/etc/resolv.conf").out == """
            search default.svc.cluster.local svc.cluster.local cluster.local\(hostSearches)
            nameserver \(dns.clusterIP)
            options ndots:5

            """)
        let hosts = try cluster.sandbox.run("exec", web0, "cat", "/etc/hosts").out
        #expect(hosts.hasPrefix("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"))
        #expect(hosts.hasSuffix("\(ips[0])\tweb-0.web.default.svc.cluster.local\tweb-0\n"), "\(hosts)")
        let custom = try containerID(cluster, pod: "custom", container: "main")
        #expect(try cluster.sandbox.run("exec", custom, "cat", "/etc/resolv.conf").out
                == "search example.test\nnameserver 192.0.2.53\noptions ndots:2 edns0\n")
        #expect(try cluster.sandbox.run("exec", custom, "cat", "/etc/hosts").out
            .hasSuffix("\(customIP)\tcustom\n\n# Entries added by HostAliases.\n192.0.2.7\talias-one\talias-two\n"))

        // A pod that turns not ready leaves the headless answer; a deleted Service leaves DNS.
        try cluster.apply(webSlice(ips, webOneReady: false))
        _ = try eventually("web-1 gone from web's answer") { try short(dns, "web.default.svc.cluster.local") == [ips[0]] ? true : nil }
        #expect(status(try dig(dns, ["+noall", "+comments", "web-1.web.default.svc.cluster.local"])) == "NXDOMAIN")
        try cluster.ok("delete", "service", "api")
        _ = try eventually("api gone") {
            status(try dig(dns, ["+noall", "+comments", "api.default.svc.cluster.local"])) == "NXDOMAIN" ? true : nil
        }
        #expect(try !short(dns, "-x", apiIP).contains("api.default.svc.cluster.local."))
        #expect(try short(dns, "SRV", "_http._tcp.api.default.svc.cluster.local").isEmpty)

        // kube-dns is put back when deleted.
        try cluster.ok("delete", "service", "kube-dns", "-n", "kube-system")
        _ = try eventually("kube-dns back") {
            try cluster.kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}").out == dns.clusterIP ? true : nil
        }
    }
}
