import Foundation
import Testing

/// End-to-end scenarios on `berth serve` with its node, driven by the real kubectl 1.32: a deleted
/// namespace taking its workloads, claims and containers with it; a rolling update that keeps the
/// Deployment available; host ports and the host's network; startup probes and lifecycle hooks; and
/// what `kubectl get pods` shows (wide columns, JSON, a watch). Expected texts are kubectl's against
/// a real cluster. Serialized: every cluster's pods use the same pod network.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeScenarioTests {

    private func field(_ cluster: KubeCluster, _ pod: String, _ path: String, namespace: String = "default") throws -> String {
        try cluster.kubectl("get", "pod", pod, "-n", namespace, "-o", "jsonpath={\(path)}").out
    }

    private func waitRunning(_ cluster: KubeCluster, _ pod: String, namespace: String = "default") throws {
        _ = try eventually("\(pod) running") { try field(cluster, pod, ".status.phase", namespace: namespace) == "Running" ? true : nil }
    }

    private func rolloutStatus(_ cluster: KubeCluster, _ deployment: String, namespace: String = "default",
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let status = try cluster.kubectl(["rollout", "status", "deployment/\(deployment)", "-n", namespace, "--timeout=180s"], timeout: 200,
                                         sourceLocation: sourceLocation)
        try #require(status.succeeded, "\(status)", sourceLocation: sourceLocation)
    }

    /// A busybox container's YAML (at a pod spec's `containers:` indentation) running `script`.
    private func container(_ name: String, _ script: String, _ fields: String = "") -> String {
        let quoted = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return """
          - name: \(name)
            image: busybox:latest
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "\(quoted)"]
        \(fields)
        """
    }

    /// A one-container pod; `spec` adds pod spec fields (at the spec's indentation).
    private func pod(_ name: String, _ script: String, container fields: String = "", spec: String = "", grace: Int = 2) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
          labels:
            app: \(name)
        spec:
          terminationGracePeriodSeconds: \(grace)
        \(spec)
          containers:
        \(container("main", script, fields))

        """
    }

    @Test func deletingANamespaceRemovesEverythingInItDownToContainersAndVolumes() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.ok("create", "namespace", "cascade")
        try cluster.apply("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              namespace: cascade
            spec:
              replicas: 2
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  terminationGracePeriodSeconds: 2
                  containers:
                  - name: web
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sleep", "3600"]
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: data
              namespace: cascade
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: 10Mi
            """)
        try cluster.ok("create", "configmap", "settings", "-n", "cascade", "--from-literal=mode=fast")
        try cluster.ok("create", "secret", "generic", "creds", "-n", "cascade", "--from-literal=password=s3cr3t")
        try cluster.apply(pod("user", "echo kept > /data/file; sleep 3600", container: """
                volumeMounts:
                - {name: data, mountPath: /data}
            """, spec: """
              volumes:
              - name: data
                persistentVolumeClaim: {claimName: data}
            """).replacingOccurrences(of: "  name: user\n", with: "  name: user\n  namespace: cascade\n"))
        try rolloutStatus(cluster, "web", namespace: "cascade")
        try waitRunning(cluster, "user", namespace: "cascade")
        let volume = try cluster.ok("get", "pvc", "data", "-n", "cascade", "-o", "jsonpath={.spec.volumeName}")
        let directory = try cluster.ok("get", "pv", volume, "-o", "jsonpath={.spec.hostPath.path}")
        _ = try eventually("the claim's data written") { FileManager.default.fileExists(atPath: directory + "/file") ? true : nil }
        let namespaced = { try cluster.sandbox.run("ps", "-a", "--format", "{{.Names}}").lines.filter { $0.contains("_cascade_") } }
        #expect(try namespaced().count == 6, "two replicas and the claim's user, each a sandbox and a container")

        #expect(try cluster.ok("delete", "namespace", "cascade", "--wait=false") == "namespace \"cascade\" deleted\n")
        #expect(try cluster.ok("get", "namespace", "cascade", "-o", "jsonpath={.status.phase}") == "Terminating")
        let waited = try cluster.kubectl(["wait", "--for=delete", "namespace/cascade", "--timeout=120s"], timeout: 150)
        #expect(waited.succeeded, "\(waited)")
        #expect(try cluster.kubectl("get", "namespace", "cascade").err == "Error from server (NotFound): namespaces \"cascade\" not found\n")
        for kind in ["deployments", "replicasets", "pods", "configmaps", "secrets", "persistentvolumeclaims"] {
            #expect(try cluster.kubectl("get", kind, "-n", "cascade", "-o", "name").out == "", "\(kind)")
        }
        // The node removed the pods' containers before the pods went, and the claim's volume
        // (reclaim policy Delete) goes with the claim.
        #expect(try namespaced() == [])
        _ = try eventually("the volume deleted") { try cluster.kubectl("get", "pv", volume).succeeded ? nil : true }
        _ = try eventually("the volume's directory removed") { FileManager.default.fileExists(atPath: directory) ? nil : true }
    }

    @Test func aRollingUpdateKeepsTwoPodsReadyAndNeverRunsMoreThanFour() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.sandbox.ok("tag", "busybox:latest", "busybox:v2")
        try cluster.apply("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: roll
            spec:
              replicas: 3
              strategy:
                type: RollingUpdate
                rollingUpdate: {maxUnavailable: 1, maxSurge: 1}
              selector:
                matchLabels: {app: roll}
              template:
                metadata:
                  labels: {app: roll}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: c
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "sleep 2; touch /tmp/ready; sleep 3600"]
                    readinessProbe:
                      exec:
                        command: ["test", "-f", "/tmp/ready"]
                      periodSeconds: 1
                      timeoutSeconds: 5
            """)
        try rolloutStatus(cluster, "roll")
        let watch = try cluster.startKubectl("get", "pods", "-l", "app=roll", "-w", "--output-watch-events", "-o",
                                             #"jsonpath={.type}|{.object.metadata.name}|{.object.metadata.deletionTimestamp}|{.object.status.conditions[?(@.type=="Ready")].status}{"\n"}"#)
        let sets = try cluster.startKubectl("get", "rs", "-l", "app=roll", "-w", "--output-watch-events", "-o",
                                            #"jsonpath={.type}|{.object.metadata.name}|{.object.spec.replicas}{"\n"}"#)
        _ = try eventually("the watch listing the pods") { watch.peekOutput().split(separator: "\n").count >= 3 ? true : nil }
        _ = try eventually("the watch listing the replica set") { sets.peekOutput().split(separator: "\n").count >= 1 ? true : nil }
        #expect(try cluster.ok("set", "image", "deployment/roll", "c=busybox:v2") == "deployment.apps/roll image updated\n")
        try rolloutStatus(cluster, "roll")
        _ = try eventually("the old pods gone") { () -> Bool? in
            try cluster.ok("get", "pods", "-l", "app=roll", "-o", "name").split(separator: "\n").count == 3 ? true : nil
        }
        watch.kill(SIGTERM)
        sets.kill(SIGTERM)
        let events = watch.wait(timeout: 30).out.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        let scalings = sets.wait(timeout: 30).out.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        // Replays the pods' watch: the ready pods not being deleted never drop below 3 - maxUnavailable.
        var pods: [String: (terminating: Bool, ready: Bool)] = [:]
        var names = Set<String>()
        var fewestReady = Int.max
        for (index, event) in events.enumerated() where event.count == 4 {
            names.insert(event[1])
            if event[0] == "DELETED" { pods[event[1]] = nil } else { pods[event[1]] = (!event[2].isEmpty, event[3] == "True") }
            // The watch starts by listing the three pods one event at a time.
            guard index >= 2 else { continue }
            fewestReady = min(fewestReady, pods.values.filter { !$0.terminating && $0.ready }.count)
        }
        #expect(names.count == 6, "three old pods replaced by three new ones: \(events)")
        #expect(fewestReady >= 2, "\(events)")
        // Replays the replica sets' watch: their replicas never add up to more than 3 + maxSurge.
        // (The Deployment counts replica sets' replicas, not pods: an old pod the ReplicaSet has yet
        // to mark for deletion may briefly run next to a fifth one, on a real cluster too.)
        var replicas: [String: Int] = [:]
        var most = 0
        for event in scalings where event.count == 3 {
            replicas[event[1]] = event[0] == "DELETED" ? nil : Int(event[2]) ?? 0
            most = max(most, replicas.values.reduce(0, +))
        }
        #expect(most == 4, "one surge pod at a time: \(scalings)")
        #expect(try cluster.ok("get", "pods", "-l", "app=roll", "-o", "jsonpath={.items[*].spec.containers[0].image}")
            == "busybox:v2 busybox:v2 busybox:v2")

        #expect(try cluster.ok("rollout", "undo", "deployment/roll") == "deployment.apps/roll rolled back\n")
        try rolloutStatus(cluster, "roll")
        #expect(try cluster.ok("get", "deployment", "roll", "-o", "jsonpath={.spec.template.spec.containers[0].image}") == "busybox:latest")
        _ = try eventually("the pods back on the first template") { () -> Bool? in
            try cluster.ok("get", "pods", "-l", "app=roll", "-o", "jsonpath={.items[*].spec.containers[0].image}")
                == "busybox:latest busybox:latest busybox:latest" ? true : nil
        }
    }

    @Test func aHostPortIsPublishedOnTheHostAndUnpublishedWithThePod() throws {
        let cluster = try KubeCluster.withBusybox()
        let port = try KubeCluster.freePort()
        try cluster.apply(pod("published", "echo published > /tmp/index.html; httpd -f -p 8080 -h /tmp", container: """
                ports:
                - {containerPort: 8080, hostPort: \(port)}
            """))
        try waitRunning(cluster, "published")
        let page = try eventually("the page on the host port") { () -> String? in
            let fetched = try Command.run("curl", ["-sf", "--max-time", "5", "http://127.0.0.1:\(port)/index.html"], timeout: 30)
            return fetched.succeeded ? fetched.out : nil
        }
        #expect(page == "published\n")
        let rules = { try Command.shell("iptables-save -t nat | grep BERTH | grep -e '--dport \(port)' || true", timeout: 30).out }
        #expect(try !rules().isEmpty)
        try cluster.ok("delete", "pod", "published", "--grace-period=1")
        #expect(try rules() == "")
    }

    @Test func aHostNetworkPodHasTheNodesNameAndPorts() throws {
        let cluster = try KubeCluster.withBusybox()
        let port = try KubeCluster.freePort()
        try cluster.apply(pod("hosted", "hostname > /tmp/index.html; httpd -f -p 127.0.0.1:\(port) -h /tmp", spec: "  hostNetwork: true"))
        try waitRunning(cluster, "hosted")
        let page = try eventually("the page on the host's loopback") { () -> String? in
            let fetched = try Command.run("curl", ["-sf", "--max-time", "5", "http://127.0.0.1:\(port)/index.html"], timeout: 30)
            return fetched.succeeded ? fetched.out : nil
        }
        let node = try cluster.ok("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")
        #expect(page == node + "\n")
        #expect(try field(cluster, "hosted", ".spec.nodeName") == node)
        #expect(try field(cluster, "hosted", ".status.podIP") == field(cluster, "hosted", ".status.hostIP"))
        try cluster.ok("delete", "pod", "hosted", "--grace-period=1")
    }

    @Test func livenessWaitsForTheStartupProbeAndAFailingStartupProbeRestarts() throws {
        let cluster = try KubeCluster.withBusybox()
        // Liveness fails until the file exists: had it run before the startup probe succeeded, it
        // would have restarted the container.
        try cluster.apply(pod("slow", "sleep 3; touch /tmp/started; sleep 3600", container: """
                startupProbe:
                  exec:
                    command: ["test", "-f", "/tmp/started"]
                  periodSeconds: 1
                  failureThreshold: 30
                livenessProbe:
                  exec:
                    command: ["test", "-f", "/tmp/started"]
                  periodSeconds: 1
                  failureThreshold: 1
                  # Only a missing file may fail it, not a slow exec on a loaded machine.
                  timeoutSeconds: 10
            """))
        _ = try eventually("slow started") { try field(cluster, "slow", ".status.containerStatuses[0].started") == "true" ? true : nil }
        #expect(try field(cluster, "slow", ".status.containerStatuses[0].restartCount") == "0")
        _ = try eventually("slow ready") { try field(cluster, "slow", ".status.containerStatuses[0].ready") == "true" ? true : nil }
        #expect(try field(cluster, "slow", ".status.containerStatuses[0].restartCount") == "0")

        try cluster.apply(pod("stuck", "sleep 3600", container: """
                startupProbe:
                  exec:
                    command: ["test", "-f", "/tmp/never"]
                  periodSeconds: 1
                  failureThreshold: 2
            """))
        _ = try eventually("stuck restarted") {
            (Int(try field(cluster, "stuck", ".status.containerStatuses[0].restartCount")) ?? 0) >= 1 ? true : nil
        }
        #expect(try field(cluster, "stuck", ".status.containerStatuses[0].started") == "false")
        let unhealthy = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=stuck,reason=Unhealthy", "-o", "jsonpath={.items[*].message}")
        #expect(unhealthy.contains("Startup probe failed"), "\(unhealthy)")
        let killing = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=stuck,reason=Killing", "-o", "jsonpath={.items[*].message}")
        #expect(killing.contains("Container main failed startup probe, will be restarted"), "\(killing)")
        try cluster.ok("delete", "pod", "slow", "stuck", "--grace-period=1")
    }

    @Test func postStartRunsBeforeTheAppReadsItsFileAndPreStopCallsTheContainer() throws {
        let cluster = try KubeCluster.withBusybox()
        let hooks = cluster.sandbox.scratch + "/hooks"
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        // The app waits for the postStart hook's file; busybox httpd serves the preStop call with a
        // CGI script that leaves a mark in a host directory, which outlives the pod. The hook has a
        // grace period of 10 s to run in, and the shell ends on SIGTERM, which follows the hook.
        let script = """
            mkdir -p /www/cgi-bin; printf '#!/bin/sh\\necho stopped > /hooks/prestop\\necho Content-Type: text/plain\\necho\\necho ok\\n' \
            > /www/cgi-bin/stop; chmod +x /www/cgi-bin/stop; until [ -f /tmp/hooked ]; do sleep 0.1; done; cat /tmp/hooked; \
            trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait
            """
        try cluster.apply(pod("hooked", script, container: """
                volumeMounts:
                - {name: hooks, mountPath: /hooks}
                lifecycle:
                  postStart:
                    exec:
                      command: ["sh", "-c", "echo from postStart > /tmp/hooked"]
                  preStop:
                    httpGet:
                      path: /cgi-bin/stop
                      port: 8080
            """, spec: """
              volumes:
              - name: hooks
                hostPath: {path: \(hooks), type: Directory}
            """, grace: 10))
        try waitRunning(cluster, "hooked")
        let logs = try eventually("the app's output") { () -> String? in
            let out = try cluster.kubectl("logs", "hooked").out
            return out.isEmpty ? nil : out
        }
        #expect(logs == "from postStart\n")
        _ = try eventually("httpd serving") { () -> Bool? in
            let ip = try field(cluster, "hooked", ".status.podIP")
            return try Command.run("curl", ["-sf", "--max-time", "5", "http://\(ip):8080/cgi-bin/stop"], timeout: 30).succeeded ? true : nil
        }
        try FileManager.default.removeItem(atPath: hooks + "/prestop")
        try cluster.ok("delete", "pod", "hooked")
        #expect(try String(contentsOfFile: hooks + "/prestop", encoding: .utf8) == "stopped\n")
    }

    @Test func getPodsWideJSONAndWatch() throws {
        let cluster = try KubeCluster.withBusybox()
        let watch = try cluster.startKubectl("get", "pods", "-w")
        try cluster.apply(pod("seen", "sleep 3600"))
        try waitRunning(cluster, "seen")
        _ = try eventually("the watch showing seen running") { watch.peekOutput().contains("1/1     Running") ? true : nil }
        watch.kill(SIGTERM)
        let watched = watch.wait(timeout: 30).out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(watched.first == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], "\(watched)")
        let statuses = watched.dropFirst().filter { $0.first == "seen" }.map { $0[1] + " " + $0[2] }
        #expect(statuses.first == "0/1 Pending", "\(watched)")
        #expect(statuses.last == "1/1 Running", "\(watched)")
        #expect(statuses.contains("0/1 ContainerCreating"), "\(watched)")

        let ip = try field(cluster, "seen", ".status.podIP")
        let node = try cluster.ok("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")
        let wide = try cluster.ok("get", "pods", "-o", "wide").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(wide.first == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"], "\(wide)")
        #expect(wide.count == 2 && wide[1].count == 9, "\(wide)")
        if wide.count == 2, wide[1].count == 9 {
            #expect(Array(wide[1][0...3]) == ["seen", "1/1", "Running", "0"])
            #expect(Array(wide[1][5...]) == [ip, node, "<none>", "<none>"])
        }

        let listed = try JSONSerialization.jsonObject(with: Data(try cluster.ok("get", "pods", "-o", "json").utf8)) as? [String: Any]
        #expect(listed?["kind"] as? String == "List")
        let item = try #require((listed?["items"] as? [[String: Any]])?.first)
        #expect(item["apiVersion"] as? String == "v1")
        #expect(item["kind"] as? String == "Pod")
        let spec = try #require(item["spec"] as? [String: Any])
        #expect(spec["nodeName"] as? String == node)
        #expect(spec["restartPolicy"] as? String == "Always")
        #expect(spec["dnsPolicy"] as? String == "ClusterFirst")
        let status = try #require(item["status"] as? [String: Any])
        #expect(status["phase"] as? String == "Running")
        #expect(status["podIP"] as? String == ip)
        #expect(status["hostIP"] as? String != nil)
        #expect(status["startTime"] as? String != nil)
        let container = try #require((status["containerStatuses"] as? [[String: Any]])?.first)
        #expect(container["name"] as? String == "main")
        #expect(container["ready"] as? Bool == true)
        #expect(container["started"] as? Bool == true)
        #expect(container["restartCount"] as? Int == 0)
        #expect((container["imageID"] as? String)?.isEmpty == false)
        #expect((container["state"] as? [String: Any])?["running"] != nil)
        try cluster.ok("delete", "pod", "seen", "--grace-period=1")
    }
}
