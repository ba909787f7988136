import Foundation
import Testing

/// Ingresses on `berth serve`, driven by the real kubectl and checked with curl: routing by host
/// (exact and wildcard) and by path (Prefix by path element, Exact), the default backend, 404s,
/// HTTPS with a Secret's certificate chosen by SNI, re-routing on update, an nginx that survives a
/// daemon killed with SIGKILL, and nothing left once the Ingress is gone.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl, openssl and nginx"))
struct KubeIngressTests {
    /// A Deployment of busybox httpd pods whose every page says `name`: index.html, and the
    /// 404 page for any other path. /cgi-bin/headers prints the forwarding headers the proxy adds.
    private func backend(_ name: String) -> String {
        let script = [
            "mkdir -p /www/cgi-bin",
            "echo \(name) > /www/index.html",
            "echo \(name) > /www/name.html",
            "echo E404:/www/name.html > /etc/httpd.conf",
            "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho \(name) for=$HTTP_X_FORWARDED_FOR proto=$HTTP_X_FORWARDED_PROTO host=$HTTP_X_FORWARDED_HOST\\n' > /www/cgi-bin/headers",
            "chmod +x /www/cgi-bin/headers",
            "exec httpd -f -p 8080 -h /www -c /etc/httpd.conf",
        ].joined(separator: " && ")
        let quoted = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: \(name)
            spec:
              replicas: 1
              selector:
                matchLabels:
                  app: \(name)
              template:
                metadata:
                  labels:
                    app: \(name)
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: httpd
                    image: busybox:latest
                    imagePullPolicy: IfNotPresent
                    command: ["sh", "-c", "\(quoted)"]
                    ports:
                    - name: http
                      containerPort: 8080
                    readinessProbe:
                      httpGet:
                        port: 8080
                      periodSeconds: 1
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: \(name)
            spec:
              selector:
                app: \(name)
              ports:
              - name: web
                port: 80
                targetPort: http

            """
    }

    /// `rules` and the rest of the spec of the Ingress `web`.
    private func ingress(_ spec: String) -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
        spec:
        \(spec)

        """
    }

    private func rule(_ host: String, _ paths: [(String, String, String)]) -> String {
        "  - host: \"\(host)\"\n    http:\n      paths:\n" + paths.map { path, type, service in
            "      - path: \(path)\n        pathType: \(type)\n        backend:\n          service:\n            name: \(service)\n            port:\n              name: web\n"
        }.joined()
    }

    /// curl's body (first line) and status for `url` on `host`, or the curl exit status when the
    /// request failed (7: refused, 35: TLS handshake refused).
    private func get(_ host: String, _ port: Int, _ path: String, https: Bool = false, caFile: String? = nil) throws -> String {
        var arguments = ["-s", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "--resolve", "\(host):\(port):127.0.0.1"]
        if let caFile { arguments += ["--cacert", caFile] }
        arguments.append("\(https ? "https" : "http")://\(host):\(port)\(path)")
        let result = try Command.run("/usr/bin/curl", arguments, timeout: 30)
        guard result.succeeded else { return "curl \(result.status)" }
        let lines = result.lines
        let status = lines.last ?? ""
        // nginx's own pages name nginx; a backend's pages are its name.
        let body = lines.dropLast().joined(separator: "\n")
        return body.contains("nginx") ? "nginx \(status)" : "\(lines.first ?? "") \(status)"
    }

    /// The pids of nginx processes (master and workers) running the cluster's configuration.
    private func nginxProcesses(_ cluster: KubeCluster) -> [Int32] {
        let configuration = cluster.sandbox.root + "/kube/ingress/nginx.conf"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            return String(decoding: data, as: UTF8.self).contains(configuration) ? pid : nil
        }
    }

    @Test func ingressRoutesByHostAndPathOverHTTPAndHTTPSAndLeavesNothingBehind() throws {
        let http = try KubeCluster.freePort()
        let https = try KubeCluster.freePort()
        let cluster = try KubeCluster(serveArguments: ["--ingress-http-port", String(http), "--ingress-https-port", String(https)])
        _ = try cluster.sandbox.importBusybox()
        try cluster.apply(backend("alpha") + "---\n" + backend("beta"))
        for name in ["alpha", "beta"] {
            let status = try cluster.kubectl(["rollout", "status", "deployment/\(name)", "--timeout=180s"], timeout: 200)
            try #require(status.succeeded, "\(status)")
        }

        // The class every Ingress without one gets.
        let classes = try cluster.ok("get", "ingressclass").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(classes.first == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"])
        #expect(classes.dropFirst().map { Array($0.prefix(3)) } == [["berth", "berth.dev/ingress", "<none>"]])
        #expect(try cluster.ok("get", "ingressclass", "berth", "-o", "jsonpath={.metadata.annotations.ingressclass\\.kubernetes\\.io/is-default-class}") == "true")

        // A self-signed certificate for a.example, as a kubernetes.io/tls Secret.
        let certificate = cluster.sandbox.scratch + "/a.crt"
        let key = cluster.sandbox.scratch + "/a.key"
        let openssl = try Command.run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=a.example",
                                                  "-addext", "subjectAltName=DNS:a.example", "-keyout", key, "-out", certificate], timeout: 60)
        try #require(openssl.succeeded, "\(openssl)")
        try cluster.ok("create", "secret", "tls", "a-tls", "--cert", certificate, "--key", key)

        try cluster.apply(ingress("""
              defaultBackend:
                service:
                  name: beta
                  port:
                    name: web
              tls:
              - hosts: ["a.example"]
                secretName: a-tls
              - hosts: ["c.example"]
                secretName: no-such-secret
              rules:
            \(rule("a.example", [("/", "Prefix", "alpha")]))\(rule("b.example", [("/api", "Prefix", "alpha"), ("/exact", "Exact", "alpha")]))\(rule("*.wild.example", [("/", "Prefix", "alpha")]))\(rule("c.example", [("/", "Prefix", "alpha")]))
            """))

        // Hosts, and Prefix by path element: /api and /api/… but not /apix; Exact only the path
        // itself. A wildcard covers one label; other hosts get the default backend. Both backends'
        // endpoints may reach nginx in separate reloads: every route is waited for.
        let expected: [(host: String, path: String, answer: String)] = [
            ("a.example", "/", "alpha 200"), ("b.example", "/api", "alpha 404"), ("b.example", "/api/v1/items", "alpha 404"),
            ("b.example", "/apix", "beta 404"), ("b.example", "/exact", "alpha 404"), ("b.example", "/exact/more", "beta 404"),
            ("x.wild.example", "/", "alpha 200"), ("y.x.wild.example", "/", "beta 200"), ("unknown.example", "/", "beta 200"),
        ]
        var answers: [String] = []
        _ = try? eventually("every route served") {
            answers = try expected.map { try get($0.host, http, $0.path) }
            return answers == expected.map(\.answer) ? true : nil
        }
        #expect(answers == expected.map(\.answer))

        // HTTPS: SNI picks a.example's certificate, which curl verifies; the proxy says so to the backend.
        let headers = try Command.run("/usr/bin/curl", ["-s", "-m", "10", "--cacert", certificate, "--resolve", "a.example:\(https):127.0.0.1",
                                                        "https://a.example:\(https)/cgi-bin/headers"], timeout: 30)
        #expect(headers.out == "alpha for=127.0.0.1 proto=https host=a.example\n", "\(headers)")
        #expect(try get("a.example", https, "/", https: true, caFile: certificate) == "alpha 200")
        // c.example's Secret is missing: a Warning, and HTTP only.
        #expect(try get("c.example", https, "/", https: true, caFile: certificate) == "curl 35")
        #expect(try get("c.example", http, "/") == "alpha 200")
        let warning = try eventually("a MissingSecret event") {
            let out = try cluster.ok("get", "events", "--field-selector", "involvedObject.name=web,type=Warning", "-o", "jsonpath={.items[*].message}")
            return out.isEmpty ? nil : out
        }
        #expect(warning == "secret \"default/no-such-secret\" is missing or not a TLS secret: host \"c.example\" is served without TLS")
        #expect(try cluster.ok("get", "events", "--field-selector", "involvedObject.name=web,reason=Sync", "-o", "jsonpath={.items[0].message}")
                == "Scheduled for sync")

        // The certificate and key nginx reads are root's only.
        let keyFile = cluster.sandbox.root + "/kube/ingress/certs/default_a-tls.key"
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // kubectl get ingress: the class, hosts, the node's address and the ports.
        let nodeIP = try cluster.ok("get", "nodes", "-o", "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}")
        let row = try eventually("the Ingress's address") {
            let line = try cluster.ok("get", "ing", "web", "--no-headers")
            return line.contains(nodeIP) ? line : nil
        }
        let columns = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(Array(columns.prefix(6)) == ["web", "berth", "a.example,b.example,*.wild.example", "+", "1", "more..."])
        #expect(Array(columns.dropFirst(6).prefix(3)) == [nodeIP, "80,", "443"])
        let header = try cluster.ok("get", "ing").split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"])

        // nginx outlives a daemon killed with SIGKILL; the new daemon takes it over and reloads it.
        let pidFile = cluster.sandbox.root + "/kube/ingress/nginx.pid"
        let master = try String(contentsOfFile: pidFile, encoding: .utf8)
        try #require(!nginxProcesses(cluster).isEmpty)
        try cluster.daemon.killAndRestart()
        // The new daemon may reload nginx as it syncs, so the answer is waited for.
        _ = try eventually("a.example served after the restart") { try get("a.example", http, "/") == "alpha 200" ? true : nil }
        try cluster.apply(ingress("""
              rules:
            \(rule("b.example", [("/api", "Prefix", "beta"), ("/exact", "Exact", "alpha")]))
            """))
        // A reload lets nginx's old workers finish, and until they close their sockets a new
        // connection may still meet the old routes: wait until every route shows the new ones.
        // No default backend any more: what matches nothing is nginx's 404.
        let rerouted = ["beta 404", "alpha 404", "nginx 404", "nginx 404"]
        var routes: [String] = []
        _ = try? eventually("every route re-routed") {
            routes = try [get("b.example", http, "/api"), get("b.example", http, "/exact"), get("b.example", http, "/apix"), get("a.example", http, "/")]
            return routes == rerouted ? true : nil
        }
        #expect(routes == rerouted)
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == master, "the nginx master was adopted, not replaced")

        // Deleting the Ingress stops nginx and removes its files.
        try cluster.ok("delete", "ingress", "web")
        _ = try eventually("nginx and its files gone") {
            nginxProcesses(cluster).isEmpty && !FileManager.default.fileExists(atPath: cluster.sandbox.root + "/kube/ingress") ? true : nil
        }
        #expect(try get("b.example", http, "/api") == "curl 7")

        // A graceful stop of the daemon stops nginx too.
        try cluster.apply(ingress("  rules:\n" + rule("a.example", [("/", "Prefix", "alpha")])))
        _ = try eventually("served again") { try get("a.example", http, "/") == "alpha 200" ? true : nil }
        cluster.daemon.stop()
        #expect(nginxProcesses(cluster).isEmpty)
    }
}
