import Foundation
import Testing

/// `kubectl port-forward` (kubectl 1.32) against `berth serve`: SPDY/3.1 tunnelled in WebSocket
/// (kubectl's default) and plain SPDY (`KUBECTL_PORT_FORWARD_WEBSOCKETS=false`), connections made
/// inside the pod's network namespace. Serialized: every cluster's pods use the same pod network.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubePortForwardTests {
    /// A pod serving a generated 100 MB file and its sha256 (`httpd` on 8080, all addresses), a page
    /// on 127.0.0.1:9090 only, and a one-shot `nc` on 7000 that stores the sha256 of what it receives.
    private func startServerPod(_ cluster: KubeCluster, name: String) throws {
        let script = "mkdir -p /www /local; echo $HOSTNAME > /www/index.html; echo local-only > /local/index.html;"
            + " dd if=/dev/urandom of=/www/big bs=1048576 count=100 2>/dev/null;"
            + " sha256sum /www/big | cut -d' ' -f1 > /www/big.tmp; mv /www/big.tmp /www/big.sha256;"
            + " httpd -p 127.0.0.1:9090 -h /local;"
            // nc ends at its stdin's end too: a sleep holds that open.
            + " sleep 100000 | (nc -l -p 7000 | sha256sum | cut -d' ' -f1 > /www/upload.tmp; mv /www/upload.tmp /www/upload.sha256) &"
            + " exec httpd -f -p 8080 -h /www"
        try cluster.apply("""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: \(name)
            spec:
              replicas: 1
              selector:
                matchLabels: {app: \(name)}
              template:
                metadata:
                  labels: {app: \(name)}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: web
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "\(script)"]
                    readinessProbe:
                      exec:
                        command: ["test", "-f", "/www/big.sha256"]
                      periodSeconds: 1
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: \(name)
            spec:
              selector: {app: \(name)}
              ports:
              - port: 80
                targetPort: 8080

            """)
        _ = try eventually("\(name) ready", timeout: 180) {
            try cluster.kubectl("get", "pods", "-l", "app=\(name)", "-o", "jsonpath={.items[0].status.containerStatuses[0].ready}").out == "true"
                ? true : nil
        }
    }

    /// Starts `kubectl port-forward` and waits for its "Forwarding from" lines.
    private func portForward(_ cluster: KubeCluster, _ arguments: [String], webSockets: Bool) throws -> Command.Running {
        let forward = try Command.start("kubectl", ["--kubeconfig", cluster.kubeconfig, "--cache-dir", cluster.cacheDirectory, "port-forward"]
                                        + arguments,
                                        environment: webSockets ? [:] : ["KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"])
        let ports = arguments.filter { $0.contains(":") }.count
        _ = try eventually("kubectl port-forward listening", timeout: 60) {
            guard forward.isRunning else { throw CommandError.notFound("a running port-forward: \(forward.wait(timeout: 5))") }
            return forward.peekOutput().components(separatedBy: "Forwarding from 127.0.0.1").count > ports ? true : nil
        }
        return forward
    }

    private func curl(_ port: Int, _ path: String) throws -> CommandResult {
        try Command.run("curl", ["-sS", "--max-time", "120", "http://127.0.0.1:\(port)\(path)"], timeout: 150)
    }

    private func sha256(ofDownload port: Int, _ path: String) throws -> String {
        let result = try Command.run("sh", ["-c", "curl -sSf --max-time 300 http://127.0.0.1:\(port)\(path) | sha256sum | cut -d' ' -f1"],
                                     timeout: 320)
        return result.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sends 100 MB of random bytes to `port`, half-closes, waits for the far end to close;
    /// prints their sha256.
    private func upload(_ port: Int) throws -> CommandResult {
        let script = """
            import hashlib, os, socket, sys
            data = os.urandom(100 * 1024 * 1024)
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
            print(hashlib.sha256(data).hexdigest())
            """
        return try Command.run("python3", ["-c", script, String(port)], timeout: 300)
    }

    private func checkForwarding(_ cluster: KubeCluster, name: String, webSockets: Bool) throws {
        let (web, local, sink, closed) = (try KubeCluster.freePort(), try KubeCluster.freePort(), try KubeCluster.freePort(),
                                          try KubeCluster.freePort())
        let forward = try portForward(cluster, ["deploy/\(name)", "\(web):8080", "\(local):9090", "\(sink):7000", "\(closed):81"],
                                      webSockets: webSockets)
        defer { forward.kill(SIGTERM); _ = forward.wait(timeout: 10) }

        // 100 MB from the pod, intact.
        let expected = try curl(web, "/big.sha256").out.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(expected.count == 64, "kubectl: \(forward.peekOutput())")
        #expect(try sha256(ofDownload: web, "/big") == expected)

        // 100 MB to the pod, intact (the pod's nc stores the sha256 of what it got).
        let sent = try upload(sink)
        try #require(sent.succeeded, "\(sent)")
        let received = try eventually("the upload's sha256 in the pod", timeout: 60) { () -> String? in
            let answer = try curl(web, "/upload.sha256")
            return answer.succeeded && answer.out.count == 65 ? answer.out : nil
        }
        #expect(received.trimmingCharacters(in: .whitespacesAndNewlines) == sent.out.trimmingCharacters(in: .whitespacesAndNewlines))

        // Several connections at once, each its own pair of streams.
        let pod = try cluster.kubectl("get", "pods", "-l", "app=\(name)", "-o", "jsonpath={.items[0].metadata.name}").out
        let clients = try (1...6).map { _ in try Command.start("curl", ["-sSf", "--max-time", "60", "http://127.0.0.1:\(web)/"]) }
        let answers = clients.map { $0.wait(timeout: 90) }
        #expect(answers.map { $0.out } == Array(repeating: pod + "\n", count: 6), "\(answers)")

        // A server bound to the pod's 127.0.0.1 only.
        #expect(try curl(local, "/").out == "local-only\n")

        // A port nothing listens on: the connection closes, kubectl prints the node's error and, as
        // kubectl does since 1.30 on any error a forwarded connection reports, ends the session.
        let refused = try curl(closed, "/")
        #expect(!refused.succeeded)
        let ended = forward.wait(timeout: 30)
        #expect(ended.err.contains("an error occurred forwarding \(closed) -> 81: error forwarding port 81 to pod "), "\(ended)")
        #expect(ended.err.contains("failed to connect to localhost:81 inside namespace"), "\(ended)")
        #expect(ended.err.contains("connect: connection refused"), "\(ended)")
        #expect(ended.err.contains("error: lost connection to pod"), "\(ended)")
    }

    @Test func plainSPDYCarries100MBBothWaysAndReachesLocalhostOnlyServers() throws {
        let cluster = try KubeCluster.withBusybox()
        try startServerPod(cluster, name: "pfspdy")
        try checkForwarding(cluster, name: "pfspdy", webSockets: false)
    }

    @Test func webSocketTunnelCarries100MBBothWaysAndReachesLocalhostOnlyServers() throws {
        let cluster = try KubeCluster.withBusybox()
        try startServerPod(cluster, name: "pfws")
        try checkForwarding(cluster, name: "pfws", webSockets: true)
    }

    @Test func forwardsToAServiceAndAPodByName() throws {
        let cluster = try KubeCluster.withBusybox()
        try startServerPod(cluster, name: "pfsvc")
        let pod = try cluster.kubectl("get", "pods", "-l", "app=pfsvc", "-o", "jsonpath={.items[0].metadata.name}").out
        for target in ["svc/pfsvc", "pod/\(pod)"] {
            let port = try KubeCluster.freePort()
            // svc/NAME:80 resolves client-side to the pod and the Service's targetPort 8080.
            let forward = try portForward(cluster, [target, "\(port):\(target.hasPrefix("svc") ? 80 : 8080)"], webSockets: true)
            #expect(try curl(port, "/").out == pod + "\n", "\(target)")
            forward.kill(SIGTERM)
            _ = forward.wait(timeout: 10)
        }
    }

    /// The Python client's `portforward` (WebSocket, v4.channel.k8s.io, `?ports=`): one
    /// connection per port made inside the pod, a port nothing listens on reported on its error
    /// channel.
    @Test func pythonClientForwardsPorts() throws {
        let cluster = try KubeCluster.withBusybox()
        try startServerPod(cluster, name: "pfpy")
        let pod = try cluster.kubectl("get", "pods", "-l", "app=pfpy", "-o", "jsonpath={.items[0].metadata.name}").out
        let script = """
            import hashlib, sys
            from kubernetes import client, config
            from kubernetes.stream import portforward
            config.load_kube_config(config_file=sys.argv[1])
            api = client.CoreV1Api()
            def get(port, path, forward=None):
                s = (forward or portforward(api.connect_get_namespaced_pod_portforward, sys.argv[2], "default", ports=str(port))).socket(port)
                s.settimeout(120)
                s.sendall(b"GET " + path.encode() + b" HTTP/1.0\\r\\n\\r\\n")
                data = bytearray()
                while b"\\r\\n\\r\\n" not in data:
                    data += s.recv(65536)
                head, body = data.split(b"\\r\\n\\r\\n", 1)
                length = int([l.split(b":")[1] for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length")][0])
                body = bytearray(body)
                while len(body) < length:
                    body += s.recv(1 << 20)
                return body
            print(get(8080, "/big.sha256").decode().strip())
            forward = portforward(api.connect_get_namespaced_pod_portforward, sys.argv[2], "default", ports="8080,9090,81")
            big = get(8080, "/big", forward)
            print(hashlib.sha256(big).hexdigest(), len(big))
            print(get(9090, "/", forward).decode().strip())
            s = forward.socket(81)
            s.settimeout(60)
            print("81:", s.recv(10), forward.error(81))
            """
        let result = try Command.run("python3", ["-c", script, cluster.kubeconfig, pod], timeout: 300)
        try #require(result.succeeded, "\(result)")
        let lines = result.out.split(separator: "\n").map(String.init)
        try #require(lines.count == 4, "\(result)")
        #expect(lines[0].count == 64, "\(result)")
        #expect(lines[1] == "\(lines[0]) \(100 << 20)", "\(result)")
        #expect(lines[2] == "local-only", "\(result)")
        #expect(lines.last?.hasPrefix("81: b'' error forwarding port 81 to pod ") == true, "\(result)")
        #expect(lines.last?.contains("connect: connection refused") == true, "\(result)")
    }

    /// kubectl's SPDY fallback for exec (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`): output on
    /// both streams, stdin to its end, and the command's exit code as kubectl's.
    @Test func execOverSPDYReturnsExitCodesAndCarriesStdin() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: spdyexec
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: main
                image: busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sleep", "3600"]

            """)
        _ = try eventually("spdyexec running") {
            try cluster.kubectl("get", "pod", "spdyexec", "-o", "jsonpath={.status.phase}").out == "Running" ? true : nil
        }
        let spdy = ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"]
        let failed = try cluster.kubectl(["exec", "spdyexec", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], environment: spdy)
        #expect(failed.status == 3, "\(failed)")
        #expect(failed.out == "out\n")
        #expect(failed.err == "err\ncommand terminated with exit code 3\n", "\(failed)")

        let input = Data((0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        let copied = try cluster.kubectl(["exec", "-i", "spdyexec", "--", "sh", "-c", "wc -c; exit 0"], stdin: .bytes(input), environment: spdy)
        #expect(copied.succeeded, "\(copied)")
        #expect(copied.out.trimmingCharacters(in: .whitespacesAndNewlines) == String(input.count))

        let missing = try cluster.kubectl(["exec", "spdyexec", "-c", "nope", "--", "true"], environment: spdy)
        #expect(!missing.succeeded)
        #expect(missing.err.contains("container nope is not valid for pod spdyexec"), "\(missing)")
    }

    @Test func forwardingToAPodThatIsNotRunningFails() throws {
        let cluster = try KubeCluster.withBusybox()
        let result = try cluster.kubectl("port-forward", "pod/absent", "8080:80")
        #expect(!result.succeeded)
        #expect(result.err.contains("pods \"absent\" not found"), "\(result)")
    }
}
