/// The names of one cluster's chains. Every name carries the cluster's address plan N
/// (`KubeClusterNetwork.index`), so daemons on one host, each with its own plan, never touch each
/// other's chains:
/// - `BERTH-SERVICES-N` in nat (jumped from PREROUTING and OUTPUT) and in filter (jumped from
///   INPUT, FORWARD and OUTPUT for new connections),
/// - `BERTH-NODEPORTS-N` and `BERTH-POSTROUTING-N` (jumped from POSTROUTING) in nat,
/// - `BERTH-SVC-N-<hash>` per Service port and `BERTH-SEP-N-<hash>` per endpoint of it, in nat.
public struct ProxyChains: Sendable, Equatable {
    public let plan: Int

    public init(plan: Int) { self.plan = plan }

    public var services: String { "BERTH-SERVICES-\(plan)" }
    public var nodePorts: String { "BERTH-NODEPORTS-\(plan)" }
    public var postrouting: String { "BERTH-POSTROUTING-\(plan)" }

    /// At most 27 characters (iptables allows 28): a plan has at most 3 digits, the hash 12.
    public func service(_ port: ProxiedPort) -> String {
        "BERTH-SVC-\(plan)-" + Self.hash("\(port.name)/\(port.proto)")
    }

    public func endpoint(_ port: ProxiedPort, _ endpoint: ProxiedEndpoint) -> String {
        "BERTH-SEP-\(plan)-" + Self.hash("\(port.name)/\(port.proto)/\(endpoint.description)")
    }

    /// Whether `chain` is one of this plan's (plan 1's prefixes do not match plan 12's chains).
    public func owns(_ chain: String) -> Bool {
        [services, nodePorts, postrouting].contains(chain)
            || chain.hasPrefix("BERTH-SVC-\(plan)-") || chain.hasPrefix("BERTH-SEP-\(plan)-")
    }

    /// 60 bits of FNV-1a in base32: stable across processes (Swift's `Hasher` is seeded per process),
    /// so a restarted daemon recognizes its chains.
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return String((0..<12).map { alphabet[Int((value >> (UInt64($0) * 5)) & 31)] })
    }
}
