import BerthKubeAPI

/// What the proxy serves, computed from the Ingresses of Berth's class: one server per host (and
/// one for requests whose host matches no rule), each with its routes and its fallback.
public struct IngressPlan: Equatable, Sendable {
    /// A Service port in a namespace: what a route sends requests to.
    public struct Backend: Hashable, Comparable, Sendable {
        public var namespace: String
        public var service: String
        /// The Service port's number or name, as the Ingress names it.
        public var port: String

        public init(namespace: String, service: String, port: String) {
            self.namespace = namespace
            self.service = service
            self.port = port
        }

        public var description: String { "\(namespace)/\(service):\(port)" }

        public static func < (lhs: Backend, rhs: Backend) -> Bool { lhs.description < rhs.description }
    }

    public enum Match: String, Sendable {
        /// The request path equals the route's path.
        case exact
        /// The request path's elements start with the route's (`/foo` matches `/foo` and `/foo/bar`, not `/foobar`).
        case prefix
    }

    public struct Route: Equatable, Sendable {
        /// An absolute path; a prefix has no trailing slash unless it is `/`.
        public var path: String
        public var match: Match
        public var backend: Backend
    }

    /// A kubernetes.io/tls Secret in an Ingress's namespace.
    public struct Certificate: Hashable, Comparable, Sendable {
        public var namespace: String
        public var secret: String

        public init(namespace: String, secret: String) {
            self.namespace = namespace
            self.secret = secret
        }

        public static func < (lhs: Certificate, rhs: Certificate) -> Bool { (lhs.namespace, lhs.secret) < (rhs.namespace, rhs.secret) }
    }

    public struct Server: Equatable, Sendable {
        /// The host (`a.example` or `*.example`); nil for the server of every other host.
        public var host: String?
        /// The certificate HTTPS uses for this host (by SNI); nil: HTTP only.
        public var certificate: Certificate?
        /// Longest path first; for one path, Exact before Prefix (the order the Ingress spec gives precedence in).
        public var routes: [Route]
        /// Where requests no route matches go (a default backend); nil: 404.
        public var fallback: Backend?
    }

    /// A TLS host whose Secret does not exist (or is no TLS Secret): served without TLS.
    public struct MissingCertificate: Equatable, Sendable {
        public var ingress: KubeObjectKey
        public var host: String
        public var certificate: Certificate
    }

    /// The catch-all server first, then the hosts in name order.
    public var servers: [Server]
    public var missingCertificates: [MissingCertificate]

    /// Every backend a route or fallback names, each once, in a stable order.
    public var backends: [Backend] {
        Set(servers.flatMap { $0.routes.map(\.backend) + ($0.fallback.map { [$0] } ?? []) }).sorted()
    }

    /// Every certificate a server uses, each once.
    public var certificates: [Certificate] { Set(servers.compactMap(\.certificate)).sorted() }

    /// The plan for `ingresses` (all of them served by Berth). On a conflict (two Ingresses
    /// routing the same host and path) the oldest Ingress wins, as ingress-nginx decides.
    /// `certificateExists` says whether a TLS Secret exists and holds a certificate and a key.
    public init(ingresses: [Ingress], certificateExists: (Certificate) -> Bool) {
        let ordered = ingresses.sorted {
            ($0.metadata.creationTimestamp ?? "", $0.metadata.namespace ?? "", $0.metadata.name ?? "")
                < ($1.metadata.creationTimestamp ?? "", $1.metadata.namespace ?? "", $1.metadata.name ?? "")
        }
        var hostRoutes: [String: [Route]] = [:]
        var hostFallback: [String: Backend] = [:]
        var anyHostRoutes: [Route] = []
        var defaultBackend: Backend?
        var certificates: [String: Certificate] = [:]
        var missing: [MissingCertificate] = []
        for ingress in ordered {
            let namespace = ingress.metadata.namespace ?? "default"
            guard let spec = ingress.spec else { continue }
            let ingressDefault = spec.defaultBackend.flatMap { Self.backend($0, namespace: namespace) }
            if defaultBackend == nil { defaultBackend = ingressDefault }
            for rule in spec.rules ?? [] {
                let routes = (rule.http?.paths ?? []).compactMap { Self.route($0, namespace: namespace) }
                guard let host = rule.host, !host.isEmpty else {
                    anyHostRoutes += routes
                    continue
                }
                hostRoutes[host, default: []] += routes
                if let ingressDefault, hostFallback[host] == nil { hostFallback[host] = ingressDefault }
            }
            for tls in spec.tls ?? [] {
                guard let secret = tls.secretName, !secret.isEmpty else { continue }
                let certificate = Certificate(namespace: namespace, secret: secret)
                for host in tls.hosts ?? [] where certificates[host] == nil {
                    if certificateExists(certificate) {
                        certificates[host] = certificate
                    } else {
                        missing.append(MissingCertificate(ingress: KubeObjectKey(namespace: namespace, name: ingress.metadata.name ?? ""),
                                                          host: host, certificate: certificate))
                    }
                }
            }
        }
        var servers = [Server(host: nil, certificate: nil, routes: Self.ordered(anyHostRoutes), fallback: defaultBackend)]
        for host in hostRoutes.keys.sorted() {
            let certificate = certificates[host] ?? Self.wildcardCertificate(for: host, in: certificates)
            servers.append(Server(host: host, certificate: certificate, routes: Self.ordered(hostRoutes[host, default: []] + anyHostRoutes),
                                  fallback: hostFallback[host] ?? defaultBackend))
        }
        self.servers = servers
        self.missingCertificates = missing
    }

    /// A host's route to a Service backend; nil for a resource backend (Berth serves Services only).
    static func route(_ path: IngressPath, namespace: String) -> Route? {
        guard let backend = backend(path.backend, namespace: namespace) else { return nil }
        var text = path.path ?? ""
        if text.isEmpty { text = "/" }
        if path.pathType == "Exact" { return Route(path: text, match: .exact, backend: backend) }
        // Prefix and ImplementationSpecific: a trailing slash changes nothing (`/foo/` is `/foo`).
        while text.count > 1, text.hasSuffix("/") { text.removeLast() }
        return Route(path: text, match: .prefix, backend: backend)
    }

    static func backend(_ backend: IngressBackend, namespace: String) -> Backend? {
        guard let service = backend.service else { return nil }
        let port = service.port?.number.map(String.init) ?? service.port?.name ?? ""
        return Backend(namespace: namespace, service: service.name, port: port)
    }

    /// Routes in precedence order without duplicates: the first route for a (path, match) wins.
    static func ordered(_ routes: [Route]) -> [Route] {
        var seen: Set<String> = []
        let unique = routes.filter { seen.insert("\($0.match.rawValue) \($0.path)").inserted }
        return unique.enumerated().sorted { a, b in
            if a.element.path.count != b.element.path.count { return a.element.path.count > b.element.path.count }
            if a.element.path != b.element.path { return a.element.path < b.element.path }
            if a.element.match != b.element.match { return a.element.match == .exact }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// The certificate of a `*.` TLS host that covers `host` (one label deep), if any.
    static func wildcardCertificate(for host: String, in certificates: [String: Certificate]) -> Certificate? {
        guard !host.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return nil }
        return certificates["*" + host[dot...]]
    }
}
