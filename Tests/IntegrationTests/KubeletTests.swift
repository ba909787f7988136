import Foundation
import Testing

/// The node of `berth serve` driven by the real kubectl 1.32: pods run on runc in a sandbox that
/// shares one network namespace, restart per their policy with the kubelet's back-off, are probed,
/// publish their status and events, serve their logs, and survive a killed daemon. Expected texts
/// are what kubectl shows for a real cluster's node (kubelet 1.32).
@Suite( .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeletTests {

    private func field(_ cluster: KubeCluster, _ pod: String, _ path: String) throws -> String {
        try cluster.kubectl("get", "pod", pod, "-o", "jsonpath={\(path)}").out
    }

    /// One busybox container per entry: name, shell script, extra container fields (YAML at the container's indentation).
    private func pod(_ name: String, restartPolicy: String = "Always", initContainers: [(String, String)] = [],
                     containers: [(String, String, String)], extra: String = "") -> String {
        func container(_ name: String, _ script: String, _ fields: String) -> String {
            let quoted = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return """
              - name: \(name)
                image: busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", "\(quoted)"]
            \(fields)
            """
        }
        var text = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
          labels:
            app: \(name)
        spec:
          restartPolicy: \(restartPolicy)
          terminationGracePeriodSeconds: 5
        \(extra)
        """
        if !initContainers.isEmpty {
            text += "\n  initContainers:\n" + initContainers.map { container($0.0, $0.1, "") }.joined(separator: "\n")
        }
        text += "\n  containers:\n" + containers.map { container($0.0, $0.1, $0.2) }.joined(separator: "\n")
        return text + "\n"
    }

    @Test func podRunsWithAnAddressAndItsContainersShareLocalhost() throws {
        let cluster = try KubeCluster.withBusybox()
        let node = try eventually("a Ready node") { () -> String? in
            let nodes = try cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[0].status.conditions[?(@.type==\"Ready\")].status}")
            return nodes.out == "True" ? nodes.out : nil
        }
        #expect(node == "True")
        try cluster.apply(pod("web", containers: [
            ("server", "echo served > /tmp/index.html; httpd -f -p 8080 -h /tmp", ""),
            ("client", "until wget -qO- http://localhost:8080/index.html; do sleep 0.2; done; sleep 3600", ""),
        ]))
        _ = try eventually("web running") { try field(cluster, "web", ".status.phase") == "Running" ? true : nil }
        let ip = try field(cluster, "web", ".status.podIP")
        // The pods' network is the /24 of the cluster's address plan (parallel tests' daemons hold others).
        let subnet = try cluster.sandbox.run("network", "inspect", "berth-pods", "-f", "{{(index .IPAM.Config 0).Subnet}}").out
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let plan = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cluster.sandbox.root + "/kube/network.json")))
        let index = try #require((plan as? [String: Any])?["index"] as? Int)
        #expect(subnet == "10.244.\(index).0/24")
        #expect(ip.hasPrefix(subnet.replacingOccurrences(of: "0/24", with: "")))
        #expect(try field(cluster, "web", ".status.podIPs[0].ip") == ip)
        #expect(try field(cluster, "web", ".spec.nodeName") == ProcessInfo.processInfo.hostName)
        let logs = try eventually("the client's page") { () -> String? in
            let out = try cluster.kubectl("logs", "web", "-c", "client").out
            return out.isEmpty ? nil : out
        }
        #expect(logs == "served\n")
        _ = try eventually("web ready") { try field(cluster, "web", ".status.conditions[?(@.type==\"Ready\")].status") == "True" ? true : nil }
        let conditions = try field(cluster, "web", ".status.conditions[*].type")
        #expect(conditions == "PodReadyToStartContainers Initialized Ready ContainersReady PodScheduled")
        #expect(try field(cluster, "web", ".status.containerStatuses[0].containerID").hasPrefix("berth://"))
        #expect(try field(cluster, "web", ".status.qosClass") == "BestEffort")
        let events = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=web", "-o", "jsonpath={.items[*].reason}")
        for reason in ["Scheduled", "Created", "Started"] { #expect(events.contains(reason), "\(events)") }
        // The pod's containers run in the runtime under dockershim's names, with the sandbox.
        let names = try cluster.sandbox.run("ps", "--format", "{{.Names}}").lines.sorted()
        let uid = try field(cluster, "web", ".metadata.uid")
        #expect(names == ["k8s_POD_web_default_\(uid)_0", "k8s_client_web_default_\(uid)_0", "k8s_server_web_default_\(uid)_0"])
    }

    @Test func logsVariants() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("talk", restartPolicy: "Never", containers: [
            ("one", "for i in 1 2 3 4 5; do echo line $i; done; sleep 2", ""),
            ("two", "echo from two; sleep 3600", ""),
        ]))
        _ = try eventually("talk's first container done") {
            try field(cluster, "talk", ".status.containerStatuses[?(@.name==\"one\")].state.terminated.reason") == "Completed" ? true : nil
        }
        #expect(try cluster.ok("logs", "talk", "-c", "one") == "line 1\nline 2\nline 3\nline 4\nline 5\n")
        #expect(try cluster.ok("logs", "talk", "-c", "one", "--tail", "2") == "line 4\nline 5\n")
        #expect(try cluster.ok("logs", "talk", "-c", "one", "--limit-bytes", "9") == "line 1\nli")
        #expect(try cluster.ok("logs", "talk", "-c", "one", "--since", "1h") == "line 1\nline 2\nline 3\nline 4\nline 5\n")
        let stamped = try cluster.ok("logs", "talk", "-c", "one", "--timestamps").split(separator: "\n")
        #expect(stamped.count == 5)
        #expect(stamped.allSatisfy { $0.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line \d$"#, options: .regularExpression) != nil })
        // Following a terminated container's log ends with it.
        #expect(try cluster.ok("logs", "-f", "talk", "-c", "one") == "line 1\nline 2\nline 3\nline 4\nline 5\n")
        #expect(try cluster.ok("logs", "-l", "app=talk", "-c", "two") == "from two\n")
        // Without -c kubectl picks the first container and says so.
        let defaulted = try cluster.kubectl("logs", "talk")
        #expect(defaulted.out == "line 1\nline 2\nline 3\nline 4\nline 5\n")
        #expect(defaulted.err == "Defaulted container \"one\" out of: one, two\n")
        let previous = try cluster.kubectl("logs", "talk", "-c", "two", "--previous")
        #expect(previous.err == "Error from server (BadRequest): previous terminated container \"two\" in pod \"talk\" not found\n")
        let unknown = try cluster.kubectl("logs", "talk", "-c", "three")
        #expect(unknown.err == "error: container three is not valid for pod talk\n")
    }

    @Test func aKilledContainerRestartsWithItsLastState() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("victim", containers: [("main", "echo attempt; sleep 3600", "")]))
        _ = try eventually("victim running") { try field(cluster, "victim", ".status.phase") == "Running" ? true : nil }
        let first = try field(cluster, "victim", ".status.containerStatuses[0].containerID").replacingOccurrences(of: "berth://", with: "")
        let pid = try cluster.sandbox.run("inspect", "-f", "{{.State.Pid}}", first).out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(kill(pid_t(pid) ?? 0, SIGKILL) == 0)
        _ = try eventually("victim restarted") {
            try field(cluster, "victim", ".status.containerStatuses[0].restartCount") == "1"
                && field(cluster, "victim", ".status.containerStatuses[0].state.running.startedAt") != "" ? true : nil
        }
        #expect(try field(cluster, "victim", ".status.containerStatuses[0].lastState.terminated.exitCode") == "137")
        #expect(try field(cluster, "victim", ".status.containerStatuses[0].lastState.terminated.reason") == "Error")
        #expect(try field(cluster, "victim", ".status.containerStatuses[0].lastState.terminated.containerID") == "berth://" + first)
        #expect(try cluster.ok("logs", "victim", "--previous") == "attempt\n")
    }

    @Test func aCrashingContainerBacksOffDoublingFromTenSeconds() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("crash", containers: [("c", "echo crashing; exit 3", "")]))
        let uid = try eventually("crash's uid") { () -> String? in
            let uid = try field(cluster, "crash", ".metadata.uid")
            return uid.isEmpty ? nil : uid
        }
        // The waiting messages in the order the status shows them.
        var seen: [String] = []
        _ = try eventually("three back-off windows", timeout: 150) { () -> Bool? in
            let message = try field(cluster, "crash", ".status.containerStatuses[0].state.waiting.message")
            if !message.isEmpty, seen.last != message { seen.append(message) }
            return seen.count >= 3 ? true : nil
        }
        #expect(seen == [10, 20, 40].map { "back-off \($0)s restarting failed container=c pod=crash_default(\(uid))" })
        #expect(try field(cluster, "crash", ".status.containerStatuses[0].state.waiting.reason") == "CrashLoopBackOff")
        #expect(try field(cluster, "crash", ".status.containerStatuses[0].lastState.terminated.exitCode") == "3")
        #expect(try field(cluster, "crash", ".status.phase") == "Running")
        let backOff = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=crash,reason=BackOff",
                                     "-o", "jsonpath={.items[0].message} {.items[0].type}")
        #expect(backOff == "Back-off restarting failed container c in pod crash_default(\(uid)) Warning")
    }

    @Test func livenessFailureRestartsAndReadinessFailureMakesUnready() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("probed", containers: [
            ("live", "touch /tmp/alive; sleep 3; rm /tmp/alive; sleep 3600", """
                livenessProbe:
                  exec:
                    command: ["test", "-f", "/tmp/alive"]
                  periodSeconds: 1
                  failureThreshold: 2
            """),
            ("unready", "sleep 3600", """
                readinessProbe:
                  exec:
                    command: ["test", "-f", "/tmp/never"]
                  periodSeconds: 1
            """),
        ]))
        _ = try eventually("the liveness restart") {
            try field(cluster, "probed", ".status.containerStatuses[?(@.name==\"live\")].restartCount") == "1" ? true : nil
        }
        let killing = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=probed,reason=Killing",
                                     "-o", "jsonpath={.items[*].message}")
        #expect(killing.contains("Container live failed liveness probe, will be restarted"))
        let unhealthy = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=probed,reason=Unhealthy",
                                       "-o", "jsonpath={.items[*].message}")
        #expect(unhealthy.contains("Liveness probe failed"))
        #expect(unhealthy.contains("Readiness probe failed"))
        #expect(try field(cluster, "probed", ".status.containerStatuses[?(@.name==\"unready\")].ready") == "false")
        #expect(try field(cluster, "probed", ".status.conditions[?(@.type==\"Ready\")].status") == "False")
        #expect(try field(cluster, "probed", ".status.conditions[?(@.type==\"ContainersReady\")].message") == "containers with unready status: [unready]")
    }

    @Test func initContainersRunInOrderBeforeTheApp() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("ordered", initContainers: [("first", "sleep 1; echo first"), ("second", "sleep 1; echo second")],
                               containers: [("app", "sleep 3600", "")]))
        _ = try eventually("ordered running") { try field(cluster, "ordered", ".status.phase") == "Running" ? true : nil }
        let times = { (path: String) in try field(cluster, "ordered", path) }
        let firstDone = try times(".status.initContainerStatuses[0].state.terminated.finishedAt")
        let secondStart = try times(".status.initContainerStatuses[1].state.terminated.startedAt")
        let secondDone = try times(".status.initContainerStatuses[1].state.terminated.finishedAt")
        let appStart = try times(".status.containerStatuses[0].state.running.startedAt")
        #expect(!firstDone.isEmpty && firstDone <= secondStart && secondDone <= appStart)
        #expect(try times(".status.initContainerStatuses[*].state.terminated.reason") == "Completed Completed")
        #expect(try cluster.ok("logs", "ordered", "-c", "second") == "second\n")

        // A failing init container fails a pod that never restarts; the app never starts.
        try cluster.apply(pod("doomed", restartPolicy: "Never", initContainers: [("setup", "exit 2")], containers: [("app", "sleep 3600", "")]))
        _ = try eventually("doomed failed") { try field(cluster, "doomed", ".status.phase") == "Failed" ? true : nil }
        #expect(try field(cluster, "doomed", ".status.initContainerStatuses[0].state.terminated.exitCode") == "2")
        #expect(try field(cluster, "doomed", ".status.containerStatuses[0].state.waiting.reason") == "PodInitializing")
    }

    @Test func restartPolicies() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("never", restartPolicy: "Never", containers: [("c", "exit 1", "")]))
        try cluster.apply(pod("done", restartPolicy: "OnFailure", containers: [("c", "exit 0", "")]))
        try cluster.apply(pod("retry", restartPolicy: "OnFailure", containers: [("c", "exit 1", "")]))
        _ = try eventually("never failed") { try field(cluster, "never", ".status.phase") == "Failed" ? true : nil }
        #expect(try field(cluster, "never", ".status.containerStatuses[0].restartCount") == "0")
        _ = try eventually("done succeeded") { try field(cluster, "done", ".status.phase") == "Succeeded" ? true : nil }
        #expect(try field(cluster, "done", ".status.containerStatuses[0].state.terminated.reason") == "Completed")
        _ = try eventually("retry restarted") {
            (Int(try field(cluster, "retry", ".status.containerStatuses[0].restartCount")) ?? 0) >= 1 ? true : nil
        }
        #expect(try field(cluster, "retry", ".status.phase") == "Running")
    }

    @Test func aPodThatDoesNotFitStaysPending() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("huge", containers: [("c", "sleep 3600", """
                resources:
                  requests:
                    cpu: "1000"
            """)]))
        let message = try eventually("FailedScheduling") { () -> String? in
            let out = try cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=huge,reason=FailedScheduling",
                                          "-o", "jsonpath={.items[0].message}").out
            return out.isEmpty ? nil : out
        }
        #expect(message.hasPrefix("0/1 nodes are available: 1 Insufficient cpu."))
        #expect(try field(cluster, "huge", ".status.phase") == "Pending")
        #expect(try field(cluster, "huge", ".status.conditions[?(@.type==\"PodScheduled\")].reason") == "Unschedulable")
        #expect(try field(cluster, "huge", ".spec.nodeName") == "")
    }

    @Test func deletionStopsTheContainersWithinTheGracePeriod() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("leaving", containers: [("c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done", """
                lifecycle:
                  preStop:
                    exec:
                      command: ["sh", "-c", "echo stopping > /proc/1/fd/1"]
            """)]))
        _ = try eventually("leaving running") { try field(cluster, "leaving", ".status.phase") == "Running" ? true : nil }
        #expect(try cluster.ok("delete", "pod", "leaving") == "pod \"leaving\" deleted\n")
        #expect(try cluster.kubectl("get", "pod", "leaving").err == "Error from server (NotFound): pods \"leaving\" not found\n")
        // Once the node has stopped it (hook, TERM) and removed its containers, the pod is gone.
        #expect(try cluster.sandbox.run("ps", "-aq").out == "")
        let events = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=leaving,reason=Killing", "-o", "jsonpath={.items[*].message}")
        #expect(events == "Stopping container c")
    }

    /// Adopted without a restart, and without a moment of not being ready: the new daemon's
    /// first readiness probe comes 2 s after it starts, and the pod stays Ready all along.
    @Test func aKilledDaemonAdoptsItsPodsWithoutRestartingThem() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("steady", containers: [("c", "sleep 3600", """
                readinessProbe:
                  exec: {command: ["true"]}
                  initialDelaySeconds: 2
                  periodSeconds: 1
            """)]))
        let readySince = ".status.conditions[?(@.type==\"Ready\")].lastTransitionTime"
        let ready = ".status.conditions[?(@.type==\"Ready\")].status"
        _ = try eventually("steady ready") { try field(cluster, "steady", ready) == "True" ? true : nil }
        let before = try field(cluster, "steady", ".status.containerStatuses[0].containerID")
        let ip = try field(cluster, "steady", ".status.podIP")
        let since = try field(cluster, "steady", readySince)
        try cluster.daemon.killAndRestart()
        _ = try eventually("the node back") { try cluster.kubectl("get", "pod", "steady").succeeded ? true : nil }
        usleep(3_000_000)
        #expect(try field(cluster, "steady", ready) == "True")
        #expect(try field(cluster, "steady", readySince) == since, "the pod was not ready for a moment")
        #expect(try field(cluster, "steady", ".status.containerStatuses[0].containerID") == before)
        #expect(try field(cluster, "steady", ".status.containerStatuses[0].restartCount") == "0")
        #expect(try field(cluster, "steady", ".status.podIP") == ip)
        let running = try cluster.sandbox.run("ps", "-q", "--no-trunc").lines
        #expect(running.contains(before.replacingOccurrences(of: "berth://", with: "")))
        #expect(running.count == 2)
    }
}
