import Foundation
import Testing

/// Jobs, CronJobs, StatefulSets and DaemonSets of `berth serve` driven by the real kubectl 1.32,
/// their pods run by the node on runc. Expected texts are what kubectl prints against a 1.32
/// cluster. Serialized: every cluster's pods share the pod network.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeBatchTests {

    /// The revision numbers `kubectl rollout history` lists (the rows under REVISION  CHANGE-CAUSE).
    private func revisions(_ history: String) -> [Int] {
        #expect(history.contains("REVISION  CHANGE-CAUSE"), "\(history)")
        return history.split(separator: "\n").compactMap { line in line.split(separator: " ").first.flatMap { Int($0) } }
    }

    private func get(_ cluster: KubeCluster, _ object: String, _ path: String) throws -> String {
        try cluster.kubectl("get", object, "-o", "jsonpath={\(path)}").out
    }

    @Test func aJobRunsItsCompletionsAndKubectlWaitsForIt() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: count
            spec:
              completions: 3
              parallelism: 2
              template:
                spec:
                  restartPolicy: Never
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: count
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "echo counted $(hostname)"]

            """)
        let waited = try cluster.kubectl(["wait", "--for=condition=complete", "job/count", "--timeout=180s"], timeout: 200)
        #expect(waited.succeeded, "\(waited)")
        #expect(waited.out == "job.batch/count condition met\n")
        #expect(try get(cluster, "job/count", ".status.succeeded") == "3")
        #expect(try get(cluster, "job/count", ".status.conditions[?(@.type==\"Complete\")].reason") == "CompletionsReached")
        let pods = try cluster.ok("get", "pods", "-l", "batch.kubernetes.io/job-name=count", "-o", "jsonpath={.items[*].status.phase}")
        #expect(pods.split(separator: " ") == ["Succeeded", "Succeeded", "Succeeded"])
        let logs = try cluster.ok("logs", "job/count")
        #expect(logs.hasPrefix("counted count-"))
        let description = try cluster.ok("describe", "job", "count")
        #expect(description.contains("SuccessfulCreate") && description.contains("Completed"))
        #expect(description.contains("0 Active (0 Ready) / 3 Succeeded / 0 Failed"))
    }

    @Test func aFailingJobStopsAtItsBackoffLimit() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: broken
            spec:
              backoffLimit: 0
              template:
                spec:
                  restartPolicy: Never
                  containers:
                  - name: broken
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "exit 3"]

            """)
        let waited = try cluster.kubectl(["wait", "--for=condition=failed", "job/broken", "--timeout=180s"], timeout: 200)
        #expect(waited.succeeded, "\(waited)")
        #expect(try get(cluster, "job/broken", ".status.conditions[?(@.type==\"Failed\")].reason") == "BackoffLimitExceeded")
        #expect(try get(cluster, "job/broken", ".status.failed") == "1")
    }

    @Test func aStatefulSetPodKeepsItsVolumeAcrossDeletion() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
            apiVersion: apps/v1
            kind: StatefulSet
            metadata:
              name: web
            spec:
              replicas: 2
              serviceName: web
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
                    command: ["sh", "-c", "echo started $(hostname) >> /data/log; cat /data/log; sleep 3600"]
                    volumeMounts:
                    - name: data
                      mountPath: /data
              volumeClaimTemplates:
              - metadata:
                  name: data
                spec:
                  accessModes: ["ReadWriteOnce"]
                  resources:
                    requests:
                      storage: 10Mi

            """)
        let status = try cluster.kubectl(["rollout", "status", "statefulset/web", "--timeout=180s"], timeout: 200)
        #expect(status.succeeded, "\(status)")
        #expect(status.out.contains("partitioned roll out complete: 2 new pods have been updated...")
            || status.out.contains("statefulset rolling update complete 2 pods at revision web-"))
        #expect(try cluster.ok("get", "pvc", "-o", "jsonpath={.items[*].metadata.name}") == "data-web-0 data-web-1")
        #expect(try get(cluster, "pod/web-1", ".spec.hostname") == "web-1")
        let claim = try get(cluster, "pvc/data-web-0", ".metadata.uid")
        let first = try get(cluster, "pod/web-0", ".metadata.uid")
        try cluster.ok("delete", "pod", "web-0")
        _ = try eventually("web-0 back and running") { () -> Bool? in
            let uid = try get(cluster, "pod/web-0", ".metadata.uid")
            let phase = try get(cluster, "pod/web-0", ".status.phase")
            return !uid.isEmpty && uid != first && phase == "Running" ? true : nil
        }
        let logs = try eventually("the replacement's log") { () -> String? in
            let out = try cluster.ok("logs", "web-0")
            return out.isEmpty ? nil : out
        }
        #expect(logs == "started web-0\nstarted web-0\n")
        #expect(try get(cluster, "pvc/data-web-0", ".metadata.uid") == claim)
    }

    @Test func statefulSetRolloutHistoryAndUndoReadItsRevisions() throws {
        let cluster = try KubeCluster.withBusybox()
        let manifest = { (message: String) in
            """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata:
              name: db
            spec:
              replicas: 1
              serviceName: db
              selector:
                matchLabels:
                  app: db
              template:
                metadata:
                  labels:
                    app: db
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: db
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "echo \(message); sleep 3600"]

            """
        }
        try cluster.apply(manifest("one"))
        #expect(try cluster.kubectl(["rollout", "status", "sts/db", "--timeout=180s"], timeout: 200).succeeded)
        try cluster.apply(manifest("two"))
        let status = try cluster.kubectl(["rollout", "status", "sts/db", "--timeout=180s"], timeout: 200)
        #expect(status.succeeded, "\(status)")
        #expect(try revisions(cluster.ok("rollout", "history", "sts/db")) == [1, 2])
        let undo = try cluster.ok("rollout", "undo", "sts/db")
        #expect(undo == "statefulset.apps/db rolled back\n")
        _ = try eventually("db back on its first template") { () -> Bool? in
            let logs = try cluster.kubectl("logs", "db-0")
            return logs.succeeded && logs.out == "one\n" ? true : nil
        }
        #expect(try cluster.kubectl(["rollout", "status", "sts/db", "--timeout=180s"], timeout: 200).succeeded)
        #expect(try revisions(cluster.ok("rollout", "history", "sts/db")) == [2, 3])
    }

    @Test func aDaemonSetRunsOnePodOnTheNode() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
            apiVersion: apps/v1
            kind: DaemonSet
            metadata:
              name: agent
            spec:
              selector:
                matchLabels:
                  app: agent
              template:
                metadata:
                  labels:
                    app: agent
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: agent
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "echo watching; sleep 3600"]

            """)
        let status = try cluster.kubectl(["rollout", "status", "ds/agent", "--timeout=180s"], timeout: 200)
        #expect(status.succeeded, "\(status)")
        #expect(status.out.hasSuffix("daemon set \"agent\" successfully rolled out\n"))
        let node = try cluster.ok("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")
        #expect(try cluster.ok("get", "pods", "-l", "app=agent", "-o", "jsonpath={.items[*].spec.nodeName}") == node)
        #expect(try get(cluster, "ds/agent", ".status.desiredNumberScheduled") == "1")
        #expect(try get(cluster, "ds/agent", ".status.numberReady") == "1")
        try cluster.ok("patch", "ds/agent", "-p", #"{"spec":{"template":{"metadata":{"labels":{"tier":"edge"}}}}}"#)
        #expect(try cluster.kubectl(["rollout", "status", "ds/agent", "--timeout=180s"], timeout: 200).succeeded)
        #expect(try cluster.ok("get", "pods", "-l", "app=agent,tier=edge", "-o", "name").split(separator: "\n").count == 1)
        #expect(try revisions(cluster.ok("rollout", "history", "ds/agent")) == [1, 2])
    }

    @Test func aCronJobStartsAJobEachMinuteAndKubectlCanStartOneByHand() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
            apiVersion: batch/v1
            kind: CronJob
            metadata:
              name: tick
            spec:
              schedule: "*/1 * * * *"
              jobTemplate:
                spec:
                  template:
                    spec:
                      restartPolicy: Never
                      containers:
                      - name: tick
                        image: busybox:latest
                        imagePullPolicy: IfNotPresent
                        command: ["sh", "-c", "echo tick"]

            """)
        let manual = try cluster.ok("create", "job", "by-hand", "--from=cronjob/tick")
        #expect(manual == "job.batch/by-hand created\n")
        #expect(try get(cluster, "job/by-hand", ".metadata.annotations.cronjob\\.kubernetes\\.io/instantiate") == "manual")
        let scheduled = try eventually("a scheduled job", timeout: 150) { () -> String? in
            let names = try cluster.ok("get", "jobs", "-o", "jsonpath={.items[*].metadata.name}").split(separator: " ")
            return names.first { $0.hasPrefix("tick-") }.map(String.init)
        }
        let minutes = try #require(Int(scheduled.dropFirst("tick-".count)))
        let stamp = try get(cluster, "job/\(scheduled)", ".metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp")
        #expect(try Date(stamp, strategy: .iso8601) == Date(timeIntervalSince1970: TimeInterval(minutes * 60)))
        #expect(try get(cluster, "job/\(scheduled)", ".metadata.ownerReferences[0].kind") == "CronJob")
        let waited = try cluster.kubectl(["wait", "--for=condition=complete", "job/\(scheduled)", "--timeout=180s"], timeout: 200)
        #expect(waited.succeeded, "\(waited)")
        _ = try eventually("the cronjob's last success") { () -> Bool? in
            try get(cluster, "cronjob/tick", ".status.lastSuccessfulTime").isEmpty ? nil : true
        }
        // The last schedule is this Job's, or a later minute's if that one has come meanwhile.
        let lastSchedule = try get(cluster, "cronjob/tick", ".status.lastScheduleTime")
        let stamps = try cluster.ok("get", "jobs", "-o",
                                    "jsonpath={.items[*].metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp}").split(separator: " ")
        #expect(stamps.contains(Substring(lastSchedule)) && lastSchedule >= stamp, "\(lastSchedule) among \(stamps), at or after \(stamp)")
    }
}
