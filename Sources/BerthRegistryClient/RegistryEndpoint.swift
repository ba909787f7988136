/// Where a registry host's API answers: `https://host` normally, `http://host` for loopback
/// registries (as Docker treats them) and as the fallback when TLS verification is off.
public struct RegistryEndpoint: Equatable, Sendable {
    /// The registry as references name it (`localhost:5000`, `docker.io`).
    public let registry: String
    /// The host actually contacted (`registry-1.docker.io` for Docker Hub).
    public let host: String
    /// Whether HTTPS is tried first.
    public let prefersTLS: Bool
    /// Whether certificates are verified and plain HTTP refused (`--tls-verify`).
    public let verifiesTLS: Bool

    public init(registry: String, tlsVerify: Bool = true) {
        self.registry = registry
        switch registry {
        case "docker.io", "index.docker.io": host = "registry-1.docker.io"
        default: host = registry
        }
        verifiesTLS = tlsVerify
        prefersTLS = !Self.isLoopback(host)
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
