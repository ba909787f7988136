import Foundation
import Testing

/// Deployments on `berth serve` driven by the real kubectl 1.32, with the node running the pods:
/// rollout status, scaling, set image with history and undo, pause and resume, a deleted pod
/// replaced. Expected texts are kubectl's against a real cluster. Serialized: every cluster's pods
/// use the same pod network.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeWorkloadsTests {
    private let manifest = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 3
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sleep", "3600"]

        """

    private func rolloutStatus(_ cluster: KubeCluster, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let status = try cluster.kubectl(["rollout", "status", "deployment/web", "--timeout=180s"], timeout: 200, sourceLocation: sourceLocation)
        try #require(status.succeeded, "\(status)", sourceLocation: sourceLocation)
        #expect(status.out.hasSuffix("deployment \"web\" successfully rolled out\n"), "\(status)", sourceLocation: sourceLocation)
    }

    /// The names of the Deployment's pods that are not being deleted.
    private func pods(_ cluster: KubeCluster) throws -> [String] {
        let listed = try cluster.kubectl("get", "pods", "-l", "app=web", "-o",
                                         #"jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}"#)
        return listed.out.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count == 1 }.map { String($0[0]) }
    }

    private func image(_ cluster: KubeCluster) throws -> String {
        try cluster.ok("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    }

    @Test func aDeploymentRollsOutScalesUpdatesRollsBackPausesAndReplacesPods() throws {
        let cluster = try KubeCluster()
        _ = try cluster.sandbox.importBusybox()
        try cluster.sandbox.ok("tag", "busybox:latest", "busybox:v2")
        defer {
            _ = try? cluster.kubectl("delete", "deployment", "web", "--wait=true")
            _ = try? eventually("the pods gone", timeout: 60) { try pods(cluster).isEmpty ? true : nil }
        }

        let applied = try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data(manifest.utf8)))
        #expect(applied.out == "deployment.apps/web created\n", "\(applied)")
        try rolloutStatus(cluster)
        #expect(try pods(cluster).count == 3)
        let replicaSets = try cluster.ok("get", "rs", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}")
        #expect(replicaSets.hasPrefix("web-") && !replicaSets.contains(" "))

        #expect(try cluster.ok("scale", "deployment", "web", "--replicas=5") == "deployment.apps/web scaled\n")
        try rolloutStatus(cluster)
        #expect(try cluster.ok("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}") == "5")
        #expect(try cluster.ok("scale", "deployment", "web", "--replicas=1") == "deployment.apps/web scaled\n")
        try rolloutStatus(cluster)
        _ = try eventually("one pod left") { try pods(cluster).count == 1 ? true : nil }

        #expect(try cluster.ok("set", "image", "deployment/web", "web=busybox:v2") == "deployment.apps/web image updated\n")
        try rolloutStatus(cluster)
        let history = try cluster.ok("rollout", "history", "deployment/web")
        #expect(history.contains("REVISION  CHANGE-CAUSE"), "\(history)")
        #expect(history.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ").first.map(String.init) } == ["1", "2"], "\(history)")

        #expect(try cluster.ok("rollout", "undo", "deployment/web") == "deployment.apps/web rolled back\n")
        try rolloutStatus(cluster)
        #expect(try image(cluster) == "busybox:latest")
        let undone = try cluster.ok("rollout", "history", "deployment/web")
        #expect(undone.split(separator: "\n").dropFirst(2).map { $0.split(separator: " ").first.map(String.init) } == ["2", "3"], "\(undone)")
        #expect(try cluster.ok("get", "deployment", "web", "-o", #"jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}"#) == "3")

        #expect(try cluster.ok("rollout", "pause", "deployment/web") == "deployment.apps/web paused\n")
        try cluster.ok("set", "image", "deployment/web", "web=busybox:v2")
        _ = try eventually("the paused deployment observed") { () -> Bool? in
            let seen = try cluster.ok("get", "deployment", "web", "-o",
                                      #"jsonpath={.metadata.generation} {.status.observedGeneration} {.status.conditions[?(@.type=="Progressing")].reason}"#)
            let parts = seen.split(separator: " ")
            return parts.count == 3 && parts[0] == parts[1] && parts[2] == "DeploymentPaused" ? true : nil
        }
        let podsWhilePaused = try pods(cluster)
        #expect(try cluster.ok("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.containers[0].image}") == "busybox:latest")
        #expect(try cluster.ok("rollout", "resume", "deployment/web") == "deployment.apps/web resumed\n")
        try rolloutStatus(cluster)
        _ = try eventually("the new pod only") { () -> Bool? in
            let current = try pods(cluster)
            return current.count == 1 && current != podsWhilePaused ? true : nil
        }

        let victim = try #require(try pods(cluster).first)
        #expect(try cluster.ok("delete", "pod", victim) == "pod \"\(victim)\" deleted\n")
        let replacement = try eventually("a replacement pod") { () -> String? in
            let current = try pods(cluster)
            return current.count == 1 && current[0] != victim ? current[0] : nil
        }
        _ = try eventually("the replacement running") { () -> Bool? in
            try cluster.ok("get", "pod", replacement, "-o", "jsonpath={.status.phase}") == "Running" ? true : nil
        }
        try rolloutStatus(cluster)

        let described = try cluster.ok("describe", "deployment", "web")
        #expect(described.contains("ScalingReplicaSet"), "\(described)")
        #expect(described.contains("deployment-controller"), "\(described)")
        #expect(described.contains("Scaled up replica set web-"), "\(described)")
    }
}
