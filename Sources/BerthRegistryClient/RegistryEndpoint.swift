/// Where a registry host's API answers: `https://host`, or for an insecure registry `http://host`
/// when it does not speak TLS. Loopback registries are insecure, as Docker's default
/// `insecure-registries` (127.0.0.0/8) makes them, and so is any with `--tls-verify=false`.
public struct RegistryEndpoint: Equatable, Sendable {
    /// The registry as references name it (`localhost:5000`, `docker.io`).
    public let registry: String
    /// The host actually contacted (`registry-1.docker.io` for Docker Hub).
    public let host: String
    /// Whether certificates are verified and plain HTTP refused.
    public let verifiesTLS: Bool

    public init(registry: String, tlsVerify: Bool = true) {
        self.registry = registry
        switch registry {
        case "docker.io", "index.docker.io": host = "registry-1.docker.io"
        default: host = registry
        }
        verifiesTLS = tlsVerify && !Self.isLoopback(host)
    }

    /// `http(s)://host` for the given scheme choice.
    func baseURL(tls: Bool) -> String { (tls ? "https://" : "http://") + host }

    /// localhost, 127.0.0.0/8 and ::1, with or without a port.
    public static func isLoopback(_ hostAndPort: String) -> Bool {
        var host = Substring(hostAndPort)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            host = host[host.index(after: host.startIndex)..<close]
            return host == "::1"
        }
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host == "localhost" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}
