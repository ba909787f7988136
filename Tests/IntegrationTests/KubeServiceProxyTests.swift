import Foundation
import Glibc
import Testing

/// Services through Berth's proxy (iptables DNAT in the kernel), driven by the real kubectl 1.32
/// and reached with curl from the host and busybox wget from inside pods: ClusterIPs, NodePorts on
/// 127.0.0.1 and the host's address, targetPort by name, several ports, ClientIP affinity,
/// readiness, scaling to 0, LoadBalancer ingress IPs, a rolling update under load, and no rule
/// left behind. The backends are busybox httpd pods answering with their names. Serialized:
/// every cluster's pods share the host, and the load test wants the CPU.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and iptables"))
struct KubeServiceProxyTests {
    /// A Deployment of busybox httpd pods serving their own name on the container port `http`
    /// (8080), ready once httpd answers; `fields` adds container fields, `strategy` spec fields.
    private func deployment(_ name: String, replicas: Int, container fields: String = "", spec: String = "",
                            grace: Int = 1) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
        spec:
          replicas: \(replicas)
        \(spec)
          selector:
            matchLabels: {app: \(name)}
          template:
            metadata:
              labels: {app: \(name)}
            spec:
              terminationGracePeriodSeconds: \(grace)
              containers:
              - name: web
                image: busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
                ports:
                - {name: http, containerPort: 8080}
                readinessProbe:
                  httpGet: {path: /index.html, port: http}
                  periodSeconds: 1
        \(fields)

        """
    }

    private func jsonpath(_ cluster: KubeCluster, _ arguments: String..., path: String) throws -> String {
        let result = try cluster.kubectl(arguments + ["-o", "jsonpath=\(path)"])
        #expect(result.succeeded, "\(result)")
        return result.out
    }

    private func waitReady(_ cluster: KubeCluster, _ deployment: String, count: Int) throws -> Set<String> {
        let status = try cluster.kubectl(["rollout", "status", "deployment/\(deployment)", "--timeout=180s"], timeout: 200)
        try #require(status.succeeded, "\(status)")
        return try eventually("\(count) ready endpoints of \(deployment)") { () -> Set<String>? in
            let pods = try cluster.readyPods(app: deployment)
            return try pods.count == count && cluster.readyEndpoints(deployment).count == count ? pods : nil
        }
    }

    /// Waits until the proxy sends `url` to exactly `pods` (it follows the slices within moments),
    /// then counts 60 fresh connections: all answered, and by every one of them.
    private func expectSpread(_ url: String, over pods: Set<String>, sourceLocation: SourceLocation = #_sourceLocation) throws {
        // 30 requests miss one of three pods about once in 50,000 tries; the poll tries again.
        _ = try eventually("\(url) answered by \(pods.sorted())") { () -> Bool? in
            Set(try KubeCluster.tally(url, count: 30).keys) == pods ? true : nil
        }
        let counts = try KubeCluster.tally(url, count: 60)
        #expect(Set(counts.keys) == pods, "\(url): \(counts)", sourceLocation: sourceLocation)
    }

    @Test func clusterIPAndNodePortSpreadOverEveryReplicaUntilScaledToZeroAndLeaveNoRule() throws {
        let cluster = try KubeCluster.withBusybox()
        let plan = try cluster.addressPlan()
        // What the proxy programs before: the `kubernetes` Service's rules.
        let baseline = try eventually("the kubernetes Service's rules") { () -> [String]? in
            let rules = try KubeCluster.proxyRules(plan: plan)
            return rules.contains { $0.contains("default/kubernetes") } ? rules : nil
        }
        try cluster.apply(deployment("web", replicas: 3) + """
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: web
            spec:
              type: NodePort
              selector: {app: web}
              ports:
              - {name: http, port: 80, targetPort: http}
              - {name: alt, port: 8081, targetPort: 8080}
            """)
        let pods = try waitReady(cluster, "web", count: 3)
        let clusterIP = try jsonpath(cluster, "get", "svc", "web", path: "{.spec.clusterIP}")
        #expect(clusterIP.hasPrefix("10.96.\(plan)."))
        let nodePort = try jsonpath(cluster, "get", "svc", "web", path: "{.spec.ports[0].nodePort}")
        let host = try KubeCluster.hostAddress()

        // targetPort by name and by number, a second port, NodePort on loopback and on the host's address.
        try expectSpread("http://\(clusterIP)/", over: pods)
        try expectSpread("http://\(clusterIP):8081/", over: pods)
        try expectSpread("http://127.0.0.1:\(nodePort)/", over: pods)
        try expectSpread("http://\(host):\(nodePort)/", over: pods)
        // From inside a pod: its neighbours, and itself through the Service (hairpin).
        let client = try #require(pods.sorted().first)
        let fromPod = try cluster.tally(fromPod: client, "http://\(clusterIP)/", count: 60)
        #expect(Set(fromPod.keys) == pods, "\(fromPod)")
        let nodePortFromPod = try cluster.tally(fromPod: client, "http://\(host):\(nodePort)/", count: 30)
        #expect(Set(nodePortFromPod.keys).isSubset(of: pods) && nodePortFromPod.values.reduce(0, +) == 30, "\(nodePortFromPod)")

        // ClientIP affinity: every request of this client goes to one pod.
        try cluster.ok("patch", "svc", "web", "-p", #"{"spec":{"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":300}}}}"#)
        let sticky = try eventually("the host's requests sticking to one pod") { () -> [String: Int]? in
            let counts = try KubeCluster.tally("http://\(clusterIP)/", count: 20)
            return counts.count == 1 ? counts : nil
        }
        #expect(try KubeCluster.tally("http://\(clusterIP)/", count: 30) == sticky.mapValues { _ in 30 })
        try cluster.ok("patch", "svc", "web", "-p", #"{"spec":{"sessionAffinity":"None","sessionAffinityConfig":null}}"#)
        try expectSpread("http://\(clusterIP)/", over: pods)

        // No endpoint: refused at once (curl's 7), never left to time out (28).
        try cluster.ok("scale", "deployment/web", "--replicas=0")
        _ = try eventually("the pods gone") {
            try cluster.ok("get", "pods", "-l", "app=web", "-o", "name").isEmpty && cluster.readyEndpoints("web").isEmpty ? true : nil
        }
        for url in ["http://\(clusterIP)/", "http://127.0.0.1:\(nodePort)/", "http://\(host):\(nodePort)/"] {
            let refused = try Command.run("curl", ["-s", "-m", "10", url], timeout: 30)
            #expect(refused.status == 7, "\(refused)")
        }

        try cluster.ok("delete", "service", "web")
        try cluster.ok("delete", "deployment", "web")
        // Nothing of the Service is left: the proxy's rules are what they were before it.
        _ = try eventually("the Service's rules gone") { () -> Bool? in
            Set(try KubeCluster.proxyRules(plan: plan)) == Set(baseline) ? true : nil
        }
        // Its tracked connections go right after its rules (TIME_WAIT would keep them for 2 minutes).
        _ = try eventually("the Service's tracked connections gone", timeout: 10) { () -> Bool? in
            try Command.run("conntrack", ["-L", "-d", clusterIP], timeout: 30).lines.isEmpty ? true : nil
        }
        #expect(try Command.run("ip", ["route", "show", "table", "all"], timeout: 10).out.contains(clusterIP) == false)
        // No pod's veth is left on the pods' bridge, and the cluster DNS no longer knows the name.
        let network = try cluster.sandbox.run("network", "inspect", "berth-pods", "-f", "{{.Id}}").out
        let bridge = "br-" + network.prefix(12)
        _ = try eventually("the pods' veths gone") { () -> Bool? in
            try Command.run("ip", ["-o", "link", "show", "master", bridge], timeout: 10).out.isEmpty ? true : nil
        }
        _ = try eventually("the Service's DNS record gone") { () -> Bool? in
            let answer = try Command.run("dig", ["@10.96.\(plan).10", "web.default.svc.cluster.local", "+noall", "+comments", "+time=2"], timeout: 20)
            return answer.out.contains("status: NXDOMAIN") ? true : nil
        }
        // A graceful stop takes the rest.
        cluster.daemon.stop()
        #expect(try KubeCluster.proxyRules(plan: plan) == [])
    }

    @Test func aPodThatIsNotReadyReceivesNoTraffic() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(deployment("ready", replicas: 2) + """
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: never-ready
              labels: {app: ready}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
                ports:
                - {name: http, containerPort: 8080}
                readinessProbe:
                  exec: {command: ["false"]}
                  periodSeconds: 1
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: ready
            spec:
              selector: {app: ready}
              ports:
              - {port: 80, targetPort: http}
            """)
        let pods = try waitReady(cluster, "ready", count: 2)
        _ = try eventually("never-ready running") {
            try jsonpath(cluster, "get", "pod", "never-ready", path: "{.status.phase}") == "Running" ? true : nil
        }
        let clusterIP = try jsonpath(cluster, "get", "svc", "ready", path: "{.spec.clusterIP}")
        try expectSpread("http://\(clusterIP)/", over: pods)
        // It serves all the same when asked directly.
        let address = try jsonpath(cluster, "get", "pod", "never-ready", path: "{.status.podIP}")
        #expect(try KubeCluster.tally("http://\(address):8080/", count: 1) == ["never-ready": 1])
    }

    @Test func aLoadBalancerServiceAnswersOnItsIngressIP() throws {
        let cluster = try KubeCluster.withBusybox()
        let plan = try cluster.addressPlan()
        // A port of the plan's own, so parallel clusters' load balancers on the host's address never meet.
        let port = 18000 + plan
        try cluster.apply(deployment("lb", replicas: 2) + """
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: lb
            spec:
              type: LoadBalancer
              selector: {app: lb}
              ports:
              - {port: \(port), targetPort: http}
            """)
        let pods = try waitReady(cluster, "lb", count: 2)
        let ingress = try eventually("the load balancer's ingress IP") { () -> String? in
            let ip = try jsonpath(cluster, "get", "svc", "lb", path: "{.status.loadBalancer.ingress[0].ip}")
            return ip.isEmpty ? nil : ip
        }
        try expectSpread("http://\(ingress):\(port)/", over: pods)
    }

    /// Pods leave the Service before they are stopped (the kubelet waits for the proxy to drop a
    /// terminating pod's rules before preStop and SIGTERM) and join it once ready, so a client
    /// going through the ClusterIP all along sees no failure.
    @Test func aRollingRestartUnderLoadFailsNoRequest() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(deployment("roll", replicas: 3, container: """
                        lifecycle:
                          preStop:
                            exec: {command: ["sleep", "1"]}
                """, spec: """
              strategy:
                type: RollingUpdate
                rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
            """, grace: 10) + """
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: roll
            spec:
              selector: {app: roll}
              ports:
              - {port: 80, targetPort: http}
            """)
        let before = try waitReady(cluster, "roll", count: 3)
        let clusterIP = try jsonpath(cluster, "get", "svc", "roll", path: "{.spec.clusterIP}")
        try expectSpread("http://\(clusterIP)/", over: before)
        // Four clients, each a curl making one request after another on fresh connections (busybox
        // httpd closes each), printing the answering pod's name and the status (000: no answer),
        // until the stop file appears.
        let results = cluster.sandbox.scratch + "/load"
        let stop = cluster.sandbox.scratch + "/load.stop"
        let load = try Command.start("/bin/bash", ["-c", """
            for client in 1 2 3 4; do
              (while [ ! -e \(stop) ]; do curl -s -m 5 -w '\\n%{http_code}\\n' "http://\(clusterIP)/?[1-100]"; done > \(results).$client) &
            done
            wait
            """])
        let started = Date.now
        try cluster.ok("rollout", "restart", "deployment/roll")
        let after = try eventually("three new pods ready and the old ones gone", timeout: 240) { () -> Set<String>? in
            let ready = try cluster.readyPods(app: "roll")
            let all = try cluster.ok("get", "pods", "-l", "app=roll", "-o", "name").split(separator: "\n")
            return ready.count == 3 && all.count == 3 && ready.isDisjoint(with: before) ? ready : nil
        }
        _ = try eventually("the Service's endpoints being the new pods") { try cluster.readyEndpoints("roll").count == 3 ? true : nil }
        _ = FileManager.default.createFile(atPath: stop, contents: nil)
        let elapsed = Date.now.timeIntervalSince(started)
        #expect(load.wait(timeout: 60).succeeded)
        var answers: [String: Int] = [:]
        var statuses: [String: Int] = [:]
        for client in 1...4 {
            let text = try String(contentsOfFile: "\(results).\(client)", encoding: .utf8)
            for line in text.split(separator: "\n") {
                if line.count == 3, line.allSatisfy(\.isNumber) {
                    statuses[String(line), default: 0] += 1
                } else {
                    answers[String(line), default: 0] += 1
                }
            }
        }
        let total = statuses.values.reduce(0, +)
        #expect(statuses.keys.sorted() == ["200"], "\(statuses)")
        #expect(Set(answers.keys) == before.union(after), "old and new pods answered: \(answers)")
        // The load the issue asks for: at least 50 requests a second through the rollout.
        #expect(Double(total) / elapsed >= 50, "\(total) requests in \(elapsed) s")
    }

    @Test func aRestartedDaemonAdoptsItsRulesAndAGracefulStopRemovesThem() throws {
        let cluster = try KubeCluster()
        let plan = try cluster.addressPlan()
        // A Service without a selector and a slice of the user's: the rules need no pod behind them.
        try cluster.apply("""
            apiVersion: v1
            kind: Service
            metadata:
              name: manual
            spec:
              ports:
              - {name: web, port: 80}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: manual-1
              labels: {kubernetes.io/service-name: manual}
            addressType: IPv4
            ports:
            - {name: web, port: 8080, protocol: TCP}
            endpoints:
            - addresses: [10.244.\(plan).200]
              conditions: {ready: true}
            """)
        let clusterIP = try jsonpath(cluster, "get", "svc", "manual", path: "{.spec.clusterIP}")
        let jumps = [
            "-A PREROUTING -j BERTH-SERVICES-\(plan)", "-A OUTPUT -j BERTH-SERVICES-\(plan)",
            "-A POSTROUTING -j BERTH-POSTROUTING-\(plan)",
            "-A INPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-\(plan)",
            "-A FORWARD -m conntrack --ctstate NEW -j BERTH-SERVICES-\(plan)",
            "-A OUTPUT -m conntrack --ctstate NEW -j BERTH-SERVICES-\(plan)",
        ]
        let routed = { (rules: [String]) in rules.contains { $0.contains("DNAT --to-destination 10.244.\(plan).200:8080") } }
        let installed = try eventually("the Service's rules") { () -> [String]? in
            let rules = try KubeCluster.proxyRules(plan: plan)
            return routed(rules) && rules.contains { $0.contains("-d \(clusterIP)/32") } ? rules : nil
        }
        #expect(installed.filter { $0.hasPrefix("-A PREROUTING ") || $0.hasPrefix("-A INPUT ") || $0.hasPrefix("-A FORWARD ")
            || $0.hasPrefix("-A OUTPUT ") || $0.hasPrefix("-A POSTROUTING ") }.sorted() == jumps.sorted())

        try cluster.daemon.killAndRestart()
        // The new daemon takes the same rules over: one jump each, the Service still routed.
        let adopted = try eventually("the rules adopted") { () -> [String]? in
            let rules = try KubeCluster.proxyRules(plan: plan)
            return try cluster.kubectl("get", "svc", "manual").succeeded && routed(rules) ? rules : nil
        }
        #expect(Set(adopted) == Set(installed), "\(adopted)")
        #expect(adopted.count == installed.count)

        try cluster.ok("delete", "endpointslice", "manual-1")
        let rejected = try eventually("a Service without endpoints rejected") { () -> [String]? in
            let rules = try KubeCluster.proxyRules(plan: plan)
            return routed(rules) ? nil : rules
        }
        #expect(rejected.contains { $0.contains("-d \(clusterIP)/32") && $0.contains("-j REJECT --reject-with tcp-reset") }, "\(rejected)")
        let refused = try Command.run("curl", ["-s", "-m", "10", "http://\(clusterIP)/"], timeout: 30)
        #expect(refused.status == 7, "\(refused)")

        cluster.daemon.stop()
        #expect(try KubeCluster.proxyRules(plan: plan) == [])
    }

    /// UDP has no end: a flow keeps its DNAT until the proxy deletes its conntrack entry, so a
    /// client talking to a Service over UDP (DNS) reaches the new endpoint when the old one goes.
    @Test func aGoneUDPEndpointLosesItsTrackedFlows() throws {
        let cluster = try KubeCluster()
        let plan = try cluster.addressPlan()
        let old = try KubeCluster.hostAddress()
        let new = "10.244.\(plan).1"
        let manifest = { (address: String) in
            """
            apiVersion: v1
            kind: Service
            metadata:
              name: udp
            spec:
              ports:
              - {name: dns, port: 53, protocol: UDP}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: udp-1
              labels: {kubernetes.io/service-name: udp}
            addressType: IPv4
            ports:
            - {name: dns, port: 5353, protocol: UDP}
            endpoints:
            - addresses: [\(address)]
              conditions: {ready: true}
            """
        }
        try cluster.apply(manifest(old))
        let clusterIP = try jsonpath(cluster, "get", "svc", "udp", path: "{.spec.clusterIP}")
        _ = try eventually("the Service's rules") { () -> Bool? in
            try KubeCluster.proxyRules(plan: plan).contains { $0.contains("--to-destination \(old):5353") } ? true : nil
        }
        let flows = { try Command.run("conntrack", ["-L", "-p", "udp", "--orig-dst", clusterIP], timeout: 30).out }
        // A datagram from the host leaves a flow DNATed to the endpoint (nothing needs to answer it).
        // Sent again until it shows: the sync that brought the endpoint also clears the flows that
        // were refused before it, and may do so just after the rules appear.
        _ = try eventually("a tracked flow to \(old)") { () -> Bool? in
            try Command.shell("echo query > /dev/udp/\(clusterIP)/53", timeout: 30)
            return try flows().contains("src=\(old) ") ? true : nil
        }

        try cluster.apply(manifest(new))
        _ = try eventually("the rules of the new endpoint") { () -> Bool? in
            try KubeCluster.proxyRules(plan: plan).contains { $0.contains("--to-destination \(new):5353") } ? true : nil
        }
        // Deleted right after the rules change; untouched, the flow would stay for UDP's 30 s.
        _ = try eventually("the flow to \(old) deleted", timeout: 10) { () -> Bool? in
            try flows().contains("src=\(old) ") ? nil : true
        }
        try Command.shell("echo query > /dev/udp/\(clusterIP)/53", timeout: 30)
        let moved = try flows()
        #expect(moved.contains("src=\(new) "), "\(moved)")
    }
}
