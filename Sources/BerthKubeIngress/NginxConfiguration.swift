import Foundation

/// Renders an `IngressPlan` as an nginx configuration: one `server` per host (SNI picks its
/// certificate), `location = /p` for Exact paths, `location = /p` plus `location /p/` for Prefix
/// paths (so `/p` and `/p/…` match but `/pq` does not; nginx takes the longest prefix), and one
/// `upstream` per backend with the endpoints nginx balances over.
public struct NginxConfiguration: Sendable {
    /// Where nginx keeps its pid file, logs and temporary files.
    public var directory: String
    /// 0: no plain-HTTP listener.
    public var httpPort: Int
    /// 0: no HTTPS listener.
    public var httpsPort: Int

    public init(directory: String, httpPort: Int, httpsPort: Int) {
        self.directory = directory
        self.httpPort = httpPort
        self.httpsPort = httpsPort
    }

    public var configurationPath: String { "\(directory)/nginx.conf" }
    public var pidPath: String { "\(directory)/nginx.pid" }
    public var errorLogPath: String { "\(directory)/error.log" }
    public var certificateDirectory: String { "\(directory)/certs" }

    public func certificatePath(_ certificate: IngressPlan.Certificate) -> (certificate: String, key: String) {
        let base = "\(certificateDirectory)/\(certificate.namespace)_\(certificate.secret)"
        return ("\(base).crt", "\(base).key")
    }

    /// The configuration text; `endpoints` gives each backend's `ip:port` addresses (none: 503).
    public func render(_ plan: IngressPlan, endpoints: [IngressPlan.Backend: [String]]) -> String {
        let backends = plan.backends
        var upstreamNames: [IngressPlan.Backend: String] = [:]
        var lines = [
            "# Written by berth serve from the cluster's Ingresses; rewritten on every change.",
            "worker_processes 1;",
            "pid \(directory)/nginx.pid;",
            "error_log \(errorLogPath) warn;",
            "events { worker_connections 1024; }",
            "http {",
            "    access_log off;",
        ]
        lines += ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map { "    \($0)_temp_path \(directory)/tmp/\($0);" }
        lines += [
            "    server_names_hash_bucket_size 128;",
            // Streamed both ways: nothing is spooled to temporary files, and WebSockets pass.
            "    proxy_http_version 1.1;",
            "    proxy_buffering off;",
            "    proxy_request_buffering off;",
            "    map $http_upgrade $connection_upgrade { default upgrade; \"\" \"\"; }",
            "    proxy_set_header Upgrade $http_upgrade;",
            "    proxy_set_header Connection $connection_upgrade;",
            "    proxy_set_header Host $http_host;",
            "    proxy_set_header X-Real-IP $remote_addr;",
            "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "    proxy_set_header X-Forwarded-Proto $scheme;",
            "    proxy_set_header X-Forwarded-Host $host;",
            "    proxy_set_header X-Forwarded-Port $server_port;",
        ]
        for (index, backend) in backends.enumerated() {
            guard let addresses = endpoints[backend], !addresses.isEmpty else { continue }
            let name = "backend\(index)"
            upstreamNames[backend] = name
            lines.append("    # \(backend.description)")
            lines.append("    upstream \(name) {")
            lines += addresses.sorted().map { "        server \($0);" }
            lines.append("    }")
        }
        for server in plan.servers {
            lines += serverLines(server, upstreamNames: upstreamNames)
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    private func serverLines(_ server: IngressPlan.Server, upstreamNames: [IngressPlan.Backend: String]) -> [String] {
        var listens: [String] = []
        if server.host == nil {
            if httpPort != 0 { listens.append("listen \(httpPort) default_server;") }
            // Without a certificate for the name a client asks for, the handshake is refused.
            if httpsPort != 0 { listens += ["listen \(httpsPort) ssl default_server;", "ssl_reject_handshake on;"] }
        } else {
            if httpPort != 0 { listens.append("listen \(httpPort);") }
            if httpsPort != 0, let certificate = server.certificate {
                let paths = certificatePath(certificate)
                listens += ["listen \(httpsPort) ssl;", "ssl_certificate \(paths.certificate);", "ssl_certificate_key \(paths.key);"]
            }
        }
        guard !listens.isEmpty else { return [] }
        var lines = ["    server {"] + listens.map { "        \($0)" }
        lines.append("        server_name \(server.host.map(Self.serverName) ?? "_");")
        var coversRoot = false
        for route in server.routes {
            let action = Self.action(route.backend, upstreamNames)
            switch route.match {
            case .exact:
                lines.append("        location = \(Self.quoted(route.path)) { \(action) }")
            case .prefix where route.path == "/":
                coversRoot = true
                lines.append("        location / { \(action) }")
            case .prefix:
                // The exact location may already belong to an Exact route of the same path, which wins.
                if !server.routes.contains(where: { $0.match == .exact && $0.path == route.path }) {
                    lines.append("        location = \(Self.quoted(route.path)) { \(action) }")
                }
                lines.append("        location \(Self.quoted(route.path + "/")) { \(action) }")
            }
        }
        if !coversRoot {
            lines.append("        location / { \(server.fallback.map { Self.action($0, upstreamNames) } ?? "return 404;") }")
        }
        lines.append("    }")
        return lines
    }

    /// A backend with ready endpoints is proxied to; one without answers 503, as ingress-nginx does.
    private static func action(_ backend: IngressPlan.Backend, _ upstreamNames: [IngressPlan.Backend: String]) -> String {
        upstreamNames[backend].map { "proxy_pass http://\($0);" } ?? "return 503;"
    }

    /// nginx's `*.example` also matches `a.b.example`; an Ingress wildcard covers one label only.
    static func serverName(_ host: String) -> String {
        guard host.hasPrefix("*.") else { return host }
        return "~^[^.]+" + host.dropFirst().replacingOccurrences(of: ".", with: "\\.") + "$"
    }

    static func quoted(_ path: String) -> String {
        "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
