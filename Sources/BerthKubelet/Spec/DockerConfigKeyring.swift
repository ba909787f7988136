import BerthOCI
import BerthRegistryClient
import Foundation

/// Registry credentials from a pod's `imagePullSecrets`, looked up as the kubelet's keyring does:
/// a `kubernetes.io/dockerconfigjson` Secret holds a Docker config (`.dockerconfigjson`, its
/// `auths` keyed by registry), a `kubernetes.io/dockercfg` Secret the older form (`.dockercfg`, the
/// registries at the top level). A key is `host[:port][/path]`, perhaps a URL, its host perhaps with
/// `*` labels; it matches an image of that registry whose repository path begins with the key's path.
public struct DockerConfigKeyring: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// The key as written (`https://index.docker.io/v1/`, `registry.example:5000/team`).
        public var key: String
        public var credentials: Credentials
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Adds the credentials of one Secret (its `type` and decoded `data`); other types add nothing.
    /// Throws when the config does not parse.
    public mutating func add(secretType: String, data: [String: Data]) throws {
        let registries: [String: Any]
        if secretType == "kubernetes.io/dockerconfigjson", let json = data[".dockerconfigjson"] {
            registries = (try JSONSerialization.jsonObject(with: json) as? [String: Any])?["auths"] as? [String: Any] ?? [:]
        } else if secretType == "kubernetes.io/dockercfg", let json = data[".dockercfg"] {
            registries = try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
        } else {
            return
        }
        for (key, value) in registries.sorted(by: { $0.key < $1.key }) {
            guard let fields = value as? [String: Any] else { continue }
            if let auth = fields["auth"] as? String, !auth.isEmpty,
               let decoded = Data(base64Encoded: auth).flatMap({ String(data: $0, encoding: .utf8) }),
               let colon = decoded.firstIndex(of: ":") {
                entries.append(Entry(key: key, credentials: Credentials(username: String(decoded[..<colon]),
                                                                        password: String(decoded[decoded.index(after: colon)...]))))
            } else if let username = fields["username"] as? String, let password = fields["password"] as? String {
                entries.append(Entry(key: key, credentials: Credentials(username: username, password: password)))
            }
        }
    }

    /// The credentials that match `image`, the most specific key first (each is tried in turn).
    public func credentials(for image: String) -> [Credentials] {
        guard let reference = try? Reference(parsing: image) else { return [] }
        let host = Self.canonicalHost(reference.domain)
        let matching = entries.compactMap { entry -> (Int, Credentials)? in
            let (keyHost, keyPath) = Self.split(entry.key)
            guard Self.hostMatches(pattern: keyHost, host: host) else { return nil }
            guard keyPath.isEmpty || reference.path == keyPath || reference.path.hasPrefix(keyPath + "/") else { return nil }
            return (keyHost.count + keyPath.count, entry.credentials)
        }
        var seen: [Credentials] = []
        for (_, credentials) in matching.sorted(by: { $0.0 > $1.0 }) where !seen.contains(credentials) { seen.append(credentials) }
        return seen
    }

    /// `https://host:port/path/` → (`host:port`, `path`); Docker Hub's keys name docker.io with no path.
    static func split(_ key: String) -> (host: String, path: String) {
        var rest = Substring(key)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = canonicalHost(String(parts[0]))
        var path = parts.count > 1 ? String(parts[1]) : ""
        while path.hasSuffix("/") { path.removeLast() }
        if host == Reference.defaultDomain, path == "v1" || path == "v2" { path = "" }
        return (host, path)
    }

    static func canonicalHost(_ host: String) -> String {
        ["index.docker.io", "registry-1.docker.io", "docker.io"].contains(host.lowercased()) ? Reference.defaultDomain : host.lowercased()
    }

    /// Label by label, `*` matching any one label; ports must be equal.
    static func hostMatches(pattern: String, host: String) -> Bool {
        let (patternName, patternPort) = splitPort(pattern)
        let (hostName, hostPort) = splitPort(host)
        guard patternPort == hostPort else { return false }
        let patternLabels = patternName.split(separator: ".", omittingEmptySubsequences: false)
        let hostLabels = hostName.split(separator: ".", omittingEmptySubsequences: false)
        guard patternLabels.count == hostLabels.count else { return false }
        return zip(patternLabels, hostLabels).allSatisfy { pattern, label in globMatches(Array(pattern), Array(label)) }
    }

    private static func splitPort(_ host: String) -> (String, String) {
        guard let colon = host.lastIndex(of: ":") else { return (host, "") }
        return (String(host[..<colon]), String(host[host.index(after: colon)...]))
    }

    private static func globMatches(_ pattern: [Character], _ text: [Character]) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        if first == "*" {
            return (0...text.count).contains { globMatches(Array(pattern.dropFirst()), Array(text.dropFirst($0))) }
        }
        guard let head = text.first, head == first else { return false }
        return globMatches(Array(pattern.dropFirst()), Array(text.dropFirst()))
    }
}
