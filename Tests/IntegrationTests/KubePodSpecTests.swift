import Foundation
import Testing

/// What a pod's spec gives its containers on the node of `berth serve`, driven by the real kubectl
/// 1.32: environment from ConfigMaps and Secrets, mounted ConfigMaps that follow their object,
/// claims whose data outlives the pod, the security context and memory limit the process sees, and
/// images pulled with the pod's pull secrets. The pods use the host's network: what is tested here
/// does not depend on the pod network, so these tests need not wait for other clusters' pods.
@Suite(.enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubePodSpecTests {

    private func field(_ cluster: KubeCluster, _ pod: String, _ path: String) throws -> String {
        try cluster.kubectl("get", "pod", pod, "-o", "jsonpath={\(path)}").out
    }

    /// The logs of a pod once it has finished (Succeeded).
    private func finishedLogs(_ cluster: KubeCluster, _ pod: String) throws -> String {
        _ = try eventually("\(pod) succeeded") { () -> Bool? in
            let phase = try field(cluster, pod, ".status.phase")
            if phase == "Failed" {
                let description = try cluster.kubectl("describe", "pod", pod).out
                Issue.record("\(pod) failed: \(description)")
                throw CommandError.notFound("\(pod) succeeded")
            }
            return phase == "Succeeded" ? true : nil
        }
        return try cluster.ok("logs", pod)
    }

    /// A one-container busybox pod on the host's network running `script` once.
    private func pod(_ name: String, _ script: String, container: String = "", spec: String = "") -> String {
        let quoted = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          hostNetwork: true
        \(spec)
          containers:
          - name: main
            image: busybox:latest
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "\(quoted)"]
        \(container)
        """
    }

    @Test func environmentFromASecretAndAConfigMap() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.ok("create", "configmap", "settings", "--from-literal=MODE=production", "--from-literal=level=3")
        try cluster.ok("create", "secret", "generic", "creds", "--from-literal=password=s3cr3t")
        try cluster.apply(pod("env", #"echo "MODE=$MODE PASSWORD=$PASSWORD CFG_level=$CFG_level GREETING=$GREETING POD=$POD""#, container: """
                envFrom:
                - prefix: CFG_
                  configMapRef: {name: settings}
                env:
                - name: MODE
                  valueFrom: {configMapKeyRef: {name: settings, key: MODE}}
                - name: PASSWORD
                  valueFrom: {secretKeyRef: {name: creds, key: password}}
                - name: POD
                  valueFrom: {fieldRef: {fieldPath: metadata.name}}
                - name: GREETING
                  value: "hello $(POD) in $(MODE), $$(MODE)"
            """))
        #expect(try finishedLogs(cluster, "env")
                == "MODE=production PASSWORD=s3cr3t CFG_level=3 GREETING=hello env in production, $(MODE) POD=env\n")

        // A missing key keeps the container waiting, as the kubelet reports it.
        try cluster.apply(pod("missing", "true", container: """
                env:
                - name: X
                  valueFrom: {configMapKeyRef: {name: settings, key: nope}}
            """))
        let waiting = try eventually("a CreateContainerConfigError") { () -> String? in
            let reason = try field(cluster, "missing", ".status.containerStatuses[0].state.waiting.reason")
            return reason == "CreateContainerConfigError" ? reason : nil
        }
        #expect(waiting == "CreateContainerConfigError")
        #expect(try field(cluster, "missing", ".status.containerStatuses[0].state.waiting.message")
                == "couldn't find key nope in ConfigMap default/settings")
    }

    @Test func anUpdatedConfigMapReachesTheMountedFile() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.ok("create", "configmap", "page", "--from-literal=index.html=first")
        var manifest = pod("reader", "while true; do cat /config/index.html; echo; sleep 0.5; done", container: """
                volumeMounts:
                - {name: config, mountPath: /config}
            """, spec: """
              volumes:
              - name: config
                configMap: {name: page}
            """)
        manifest = manifest.replacingOccurrences(of: "restartPolicy: Never", with: "restartPolicy: Always")
        try cluster.apply(manifest)
        _ = try eventually("the first content") { try cluster.kubectl("logs", "reader").out.contains("first") ? true : nil }
        let replaced = try cluster.kubectl(["create", "configmap", "page", "--from-literal=index.html=second", "--dry-run=client", "-o", "yaml"])
        try cluster.apply(replaced.out)
        let logs = try eventually("the second content") { () -> String? in
            let logs = try cluster.kubectl("logs", "reader").out
            return logs.contains("second") ? logs : nil
        }
        // Readers see one version or the other, never a mixture or nothing.
        #expect(logs.split(separator: "\n").allSatisfy { $0 == "first" || $0 == "second" }, "\(logs)")
        try cluster.ok("delete", "pod", "reader", "--wait=false")
    }

    @Test func claimDataSurvivesThePod() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: data
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: 100Mi
            """)
        _ = try eventually("a bound claim") {
            try cluster.kubectl("get", "pvc", "data", "-o", "jsonpath={.status.phase}").out == "Bound" ? true : nil
        }
        let volumes = """
              volumes:
              - name: data
                persistentVolumeClaim: {claimName: data}
            """
        let mount = """
                volumeMounts:
                - {name: data, mountPath: /data}
            """
        try cluster.apply(pod("writer", "echo kept > /data/file", container: mount, spec: volumes))
        _ = try finishedLogs(cluster, "writer")
        try cluster.ok("delete", "pod", "writer")
        try cluster.apply(pod("reader", "cat /data/file", container: mount, spec: volumes))
        #expect(try finishedLogs(cluster, "reader") == "kept\n")
        let volume = try cluster.ok("get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}")
        #expect(try cluster.ok("get", "pv", volume, "-o", "jsonpath={.status.phase} {.spec.claimRef.name}") == "Bound data")

        // The claim goes once no pod uses it, and its volume with it.
        try cluster.ok("delete", "pod", "reader")
        try cluster.ok("delete", "pvc", "data")
        _ = try eventually("the volume deleted") {
            try cluster.kubectl("get", "pv", volume).succeeded ? nil : true
        }
    }

    @Test func securityContextAndMemoryLimitAsTheProcessSeesThem() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(pod("secure", """
            id; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
            touch /rootfs-file 2>/dev/null && echo writable || echo read-only; stat -c '%g %A' /scratch
            """, container: """
                securityContext:
                  runAsUser: 1000
                  runAsGroup: 3000
                  readOnlyRootFilesystem: true
                resources:
                  limits: {memory: 64Mi, cpu: 500m}
                volumeMounts:
                - {name: scratch, mountPath: /scratch}
            """, spec: """
              securityContext:
                fsGroup: 2000
              volumes:
              - name: scratch
                emptyDir: {}
            """))
        let lines = try finishedLogs(cluster, "secure").split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("uid=1000 gid=3000 groups=") == true, "\(lines)")
        #expect(lines.first?.contains("2000") == true, "\(lines)")
        #expect(lines.dropFirst().first == "67108864", "\(lines)")
        #expect(lines.dropFirst(2).first == "read-only", "\(lines)")
        #expect(lines.dropFirst(3).first == "2000 drwxrwsrwx", "\(lines)")
        // Limits alone are requests too: both resources limited makes the pod Guaranteed.
        #expect(try field(cluster, "secure", ".status.qosClass") == "Guaranteed")
        #expect(try field(cluster, "secure", ".spec.containers[0].resources.requests.memory") == "64Mi")

        try cluster.apply(pod("nonroot", "true", spec: """
              securityContext:
                runAsNonRoot: true
            """))
        let message = try eventually("a runAsNonRoot refusal") { () -> String? in
            let message = try field(cluster, "nonroot", ".status.containerStatuses[0].state.waiting.message")
            return message.isEmpty ? nil : message
        }
        #expect(message.hasPrefix("container has runAsNonRoot and image will run as root"), "\(message)")
    }

    @Test func imagePullSecretsPullFromARegistryWithAuth() throws {
        let cluster = try KubeCluster.withBusybox()
        let sandbox = cluster.sandbox
        let storage = sandbox.scratch + "/registry"
        let port = try RegistryServerTests.Server.freePort()
        let image = "127.0.0.1:\(port)/private/busybox:1"
        // Pushed while the registry is open, then served with a password.
        let open = try RegistryServerTests.Server(sandbox: sandbox, port: port, storage: storage)
        try sandbox.ok("tag", "busybox:latest", image)
        try sandbox.ok("push", image)
        open.stop()
        try sandbox.ok("rmi", image)
        let htpasswd = sandbox.scratch + "/htpasswd"
        try #require(try Command.shell("htpasswd -nbB alice alice-pw >\(htpasswd)").succeeded)
        let secured = try RegistryServerTests.Server(sandbox: sandbox, port: port, arguments: ["--htpasswd", htpasswd], storage: storage)
        defer { secured.stop() }

        let manifest = { (name: String, secrets: String) in
            self.pod(name, "echo pulled", spec: secrets).replacingOccurrences(of: "image: busybox:latest", with: "image: \(image)")
                .replacingOccurrences(of: "imagePullPolicy: IfNotPresent", with: "imagePullPolicy: Always")
        }
        try cluster.apply(manifest("anonymous", ""))
        let reasons = try eventually("an image pull back-off") { () -> String? in
            let reason = try field(cluster, "anonymous", ".status.containerStatuses[0].state.waiting.reason")
            return reason == "ImagePullBackOff" ? reason : nil
        }
        #expect(reasons == "ImagePullBackOff")

        try cluster.ok("create", "secret", "docker-registry", "regcred", "--docker-server=127.0.0.1:\(port)",
                       "--docker-username=alice", "--docker-password=alice-pw")
        try cluster.apply(manifest("authorized", """
              imagePullSecrets:
              - name: regcred
            """))
        #expect(try finishedLogs(cluster, "authorized") == "pulled\n")
        let events = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=authorized", "-o", "jsonpath={.items[*].reason}")
        #expect(events.contains("Pulling") && events.contains("Pulled"), "\(events)")
    }

    @Test func volumeAndImageFailuresAsTheKubeletReportsThem() throws {
        let cluster = try KubeCluster.withBusybox()
        let missing = cluster.sandbox.scratch + "/absent"
        try cluster.apply(pod("nodir", "true", container: """
                volumeMounts:
                - {name: host, mountPath: /host}
            """, spec: """
              volumes:
              - name: host
                hostPath: {path: \(missing), type: Directory}
            """))
        let failure = try eventually("a FailedMount event") { () -> String? in
            let messages = try cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=nodir,reason=FailedMount",
                                               "-o", "jsonpath={.items[*].message}").out
            return messages.isEmpty ? nil : messages
        }
        #expect(failure == "MountVolume.SetUp failed for volume \"host\" : hostPath type check failed: \(missing) is not a directory")

        try cluster.apply(pod("never", "true").replacingOccurrences(of: "image: busybox:latest", with: "image: busybox:absent")
            .replacingOccurrences(of: "imagePullPolicy: IfNotPresent", with: "imagePullPolicy: Never"))
        let waiting = try eventually("ErrImageNeverPull") { () -> String? in
            let state = try field(cluster, "never", ".status.containerStatuses[0].state.waiting.reason")
            return state == "ErrImageNeverPull" ? state : nil
        }
        #expect(waiting == "ErrImageNeverPull")
        #expect(try field(cluster, "never", ".status.containerStatuses[0].state.waiting.message")
                == #"Container image "busybox:absent" is not present with pull policy of Never"#)
    }
}
