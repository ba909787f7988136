import Foundation
import Testing

/// `kubectl top` against `berth serve`: the Metrics API (`metrics.k8s.io/v1beta1`) measured by
/// the node from the pods' cgroups and the host's /proc, with the columns, selectors and errors
/// kubectl shows against a cluster running metrics-server.
@Suite(.enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeMetricsTests {
    private static let pods = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: burner
      labels: {app: burner}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: spin
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "while :; do :; done"]
      - name: rest
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sleep", "100000"]
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: idle
      labels: {app: idle}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sleep", "100000"]
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: done
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["true"]

    """

    /// The rows of a `kubectl top` table (header first), split into columns.
    private func rows(_ output: String) -> [[String]] {
        output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    /// `998m` → 998.
    private func millicores(_ text: String) -> Int? {
        text.hasSuffix("m") ? Int(text.dropLast()) : Int(text).map { $0 * 1000 }
    }

    @Test func topShowsPodsContainersAndTheNode() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(Self.pods)
        for (pod, phase) in [("burner", "Running"), ("idle", "Running"), ("done", "Succeeded")] {
            _ = try eventually("\(pod) \(phase)") {
                try cluster.kubectl("get", "pod", pod, "-o", "jsonpath={.status.phase}").out == phase ? true : nil
            }
        }

        // The burner's first window may begin before its loop got going: wait for a full one.
        let table = try eventually("the burner's CPU above 200m") { () -> [[String]]? in
            let result = try cluster.kubectl("top", "pod")
            guard result.succeeded else { return nil }
            let table = rows(result.out)
            guard let burner = table.first(where: { $0.first == "burner" }), burner.count == 3,
                  let cpu = millicores(burner[1]), cpu >= 200 else { return nil }
            return table
        }
        #expect(table.first == ["NAME", "CPU(cores)", "MEMORY(bytes)"])
        // A pod without a running container has no metrics: it is left out.
        #expect(table.count == 3, "\(table)")
        let burner = try #require(table.first { $0.first == "burner" })
        let idle = try #require(table.first { $0.first == "idle" })
        let burnerCPU = try #require(millicores(burner[1]))
        let idleCPU = try #require(millicores(idle[1]))
        #expect(burnerCPU > idleCPU, "\(table)")
        #expect(idleCPU < 200, "\(table)")
        #expect(idle[2].hasSuffix("Mi"), "\(table)")

        let sorted = rows(try cluster.ok("top", "pod", "--sort-by=cpu"))
        #expect(sorted.dropFirst().first?.first == "burner", "\(sorted)")

        let containers = rows(try cluster.ok("top", "pod", "--containers"))
        #expect(containers.first == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"])
        #expect(Set(containers.dropFirst().map { "\($0[0])/\($0[1])" }) == ["burner/spin", "burner/rest", "idle/main"], "\(containers)")

        let selected = rows(try cluster.ok("top", "pod", "-l", "app=idle"))
        #expect(selected.dropFirst().map { $0[0] } == ["idle"], "\(selected)")

        let everywhere = rows(try cluster.ok("top", "pod", "-A"))
        #expect(everywhere.first == ["NAMESPACE", "NAME", "CPU(cores)", "MEMORY(bytes)"])
        #expect(everywhere.contains { $0.first == "default" && $0.dropFirst().first == "burner" }, "\(everywhere)")

        // The node: its busy CPU and working set, as shares of what it offers pods.
        let node = try cluster.ok("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")
        let nodes = rows(try cluster.ok("top", "node"))
        #expect(nodes.first == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"])
        let row = try #require(nodes.dropFirst().first, "\(nodes)")
        #expect(row.count == 5 && row[0] == node, "\(nodes)")
        #expect(row.count == 5 && (millicores(row[1]) ?? 0) >= 200, "the burner runs on the node: \(nodes)")
        #expect(row.count == 5 && row[2].hasSuffix("%") && row[4].hasSuffix("%"), "\(nodes)")

        // The documents themselves.
        let raw = try cluster.ok("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any], "\(raw)")
        #expect(document["kind"] as? String == "PodMetrics", "\(raw)")
        #expect(document["apiVersion"] as? String == "metrics.k8s.io/v1beta1", "\(raw)")
        let metadata = document["metadata"] as? [String: Any] ?? [:]
        #expect(metadata["name"] as? String == "burner")
        #expect(metadata["namespace"] as? String == "default")
        #expect((metadata["labels"] as? [String: String]) == ["app": "burner"])
        #expect((document["window"] as? String)?.hasSuffix("s") == true, "\(raw)")
        #expect((document["timestamp"] as? String).flatMap { try? Date($0, strategy: .iso8601) } != nil, "\(raw)")
        let entries = document["containers"] as? [[String: Any]] ?? []
        #expect(entries.compactMap { $0["name"] as? String } == ["spin", "rest"], "\(raw)")
        for entry in entries {
            let usage = entry["usage"] as? [String: String] ?? [:]
            let cpu = usage["cpu"] ?? ""
            let memory = usage["memory"] ?? ""
            #expect(Int(cpu) != nil || ["n", "u", "m"].contains { cpu.hasSuffix($0) }, "\(raw)")
            #expect(memory.hasSuffix("Ki") || memory.hasSuffix("Mi"), "\(raw)")
        }
        let nodeRaw = try cluster.ok("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/\(node)")
        #expect(nodeRaw.contains(#""kind":"NodeMetrics""#) && nodeRaw.contains(#""usage":{"cpu":"#), "\(nodeRaw)")

        // Metrics are read-only, and a pod that is not there has none.
        let deleted = try cluster.kubectl("delete", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner")
        #expect(!deleted.succeeded && deleted.err.contains("the server does not allow this method on the requested resource"), "\(deleted)")
        let body = cluster.sandbox.scratch + "/empty.json"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: body))
        for path in ["/apis", "/apis/metrics.k8s.io", "/apis/metrics.k8s.io/v1beta1/nodes"] {
            let posted = try cluster.kubectl("create", "--raw", path, "-f", body)
            #expect(!posted.succeeded && posted.err.hasPrefix("Error from server"), "\(path): \(posted)")
        }
        #expect(try cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io").succeeded, "the server still answers")
        // A pod that is not there is the core kind's 404; one without a running container has no
        // metrics (metrics-server's words: the resource, then namespace/name).
        let gone = try cluster.kubectl("top", "pod", "nosuch")
        #expect(gone.status == 1 && gone.err == "Error from server (NotFound): pods \"nosuch\" not found\n", "\(gone)")
        let stopped = try cluster.kubectl("top", "pod", "done")
        #expect(stopped.status == 1 && stopped.err == "Error from server (NotFound): podmetrics.metrics.k8s.io \"default/done\" not found\n",
                "\(stopped)")
        let missingNode = try cluster.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/nosuch")
        #expect(!missingNode.succeeded && missingNode.err.contains(#"nodes "nosuch" not found"#), "\(missingNode)")

        // `kubectl get` prints metrics-server's Table: summed usage and the window.
        let listed = rows(try cluster.ok("get", "podmetrics"))
        #expect(listed.first == ["NAME", "CPU", "MEMORY", "WINDOW"], "\(listed)")
        #expect(listed.dropFirst().map { $0[0] } == ["burner", "idle"], "\(listed)")

        // Discovery lists the group after the built-in ones: plain `pods` and `nodes` stay the core kinds.
        let resources = try cluster.ok("api-resources", "--api-group=metrics.k8s.io")
        #expect(resources.contains("PodMetrics") && resources.contains("NodeMetrics"), "\(resources)")
        #expect(try cluster.ok("api-resources").contains("metrics.k8s.io/v1beta1"))
        let pods = try cluster.ok("get", "pods", "-o", "jsonpath={.items[*].kind}")
        #expect(!pods.contains("PodMetrics"), "\(pods)")
        #expect(try cluster.ok("get", "pod", "idle", "-o", "jsonpath={.kind}") == "Pod")
    }
}
