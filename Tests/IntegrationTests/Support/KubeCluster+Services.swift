import Foundation
import Testing

/// What the Service proxy tests need of a cluster: its address plan, requests counted by the pod
/// that answered them (from the host and from inside a pod), and the plan's iptables rules.
extension KubeCluster {
    /// The cluster's address plan N, as `berth serve` recorded it: its ClusterIPs are 10.96.N.x, its
    /// pods 10.244.N.x, and its proxy's chains carry N.
    func addressPlan() throws -> Int {
        let data = try Data(contentsOf: URL(fileURLWithPath: sandbox.root + "/kube/network.json"))
        let record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(record["index"] as? Int)
    }

    /// `count` requests to `url` from the host, each on its own connection: how many each body
    /// (an httpd pod's name) answered; a failed request counts under "FAILED".
    static func tally(_ url: String, count: Int) throws -> [String: Int] {
        let script = "for i in $(seq \(count)); do curl -s -m 5 \(url) || echo FAILED; done"
        return Self.count(try Command.shell(script, timeout: Double(count) * 6).out)
    }

    /// The same from inside `pod`'s container `container` (busybox wget, run with `berth exec`).
    func tally(fromPod pod: String, container: String = "web", _ url: String, count: Int) throws -> [String: Int] {
        let names = try sandbox.run(["ps", "--format", "{{.Names}}"], timeout: 60)
        let name = try #require(names.lines.first { $0.hasPrefix("k8s_\(container)_\(pod)_") }, "\(names)")
        let script = "for i in $(seq \(count)); do wget -q -O /dev/stdout \(url) || echo FAILED; done"
        let result = try sandbox.run(["exec", name, "sh", "-c", script], timeout: Double(count) * 6)
        return Self.count(result.out)
    }

    private static func count(_ output: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in output.split(separator: "\n") { counts[String(line), default: 0] += 1 }
        return counts
    }

    /// The names of the pods labelled `app=<app>` that are Ready.
    func readyPods(app: String) throws -> Set<String> {
        let listed = try ok("get", "pods", "-l", "app=\(app)", "-o",
                            #"jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#)
        return Set(listed.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            return words.count == 2 && words[1] == "True" ? String(words[0]) : nil
        })
    }

    /// The addresses of the ready endpoints of Service `service`'s EndpointSlices.
    func readyEndpoints(_ service: String) throws -> [String] {
        let listed = try ok("get", "endpointslices", "-l", "kubernetes.io/service-name=\(service)", "-o",
                            #"jsonpath={range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready}{"\n"}{end}"#)
        return listed.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            return words.count == 2 && words[1] == "true" ? String(words[0]) : nil
        }.sorted()
    }

    /// The host's address on its default route (what a NodePort and a LoadBalancer answer on).
    static func hostAddress() throws -> String {
        let route = try Command.run("ip", ["-4", "-o", "route", "get", "192.0.2.123"], timeout: 10).out.split(separator: " ")
        let source = try #require(route.firstIndex(of: "src"))
        return String(route[source + 1])
    }

    /// The lines of `iptables-save` that belong to plan `plan`'s proxy: its chains, their rules and
    /// the jumps to them.
    static func proxyRules(plan: Int) throws -> [String] {
        let saved = try Command.run("iptables-save", [], timeout: 30)
        try #require(saved.succeeded, "\(saved)")
        let names = ["BERTH-SERVICES-\(plan)", "BERTH-NODEPORTS-\(plan)", "BERTH-POSTROUTING-\(plan)"]
        return saved.lines.filter { line in
            line.split(separator: " ").contains { word in
                let chain = word.hasPrefix(":") ? String(word.dropFirst()) : String(word)
                return names.contains(chain) || chain.hasPrefix("BERTH-SVC-\(plan)-") || chain.hasPrefix("BERTH-SEP-\(plan)-")
            }
        }
    }
}
