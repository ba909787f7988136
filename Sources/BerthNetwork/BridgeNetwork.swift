import BerthFiles
import BerthOCI
import Foundation

/// A bridge network: each container gets a veth pair with one end on a Linux bridge (`BridgeLink`)
/// and an address leased from the subnet (`AddressLeases`), and Berth's iptables rules masquerade
/// its outbound traffic and DNAT its published ports (`Iptables`).
public struct BridgeNetwork: Codable, Hashable, Sendable {
    /// The name users give (`--network bridge`, `NetworkSettings.Networks`).
    public var name: String
    /// The CNI network name (kept from when the CNI plugins attached containers): it names the
    /// lease directory and appears in the iptables comments
    /// (`berth net=berth id=<container ID>`).
    public var cniName: String
    /// The Linux bridge interface, created on first use and kept (like `docker0`).
    public var bridge: String
    /// The IPv4 subnet containers get addresses from, e.g. `10.77.0.0/16`.
    public var subnet: String
    /// The bridge's own address, the containers' default gateway.
    public var gateway: String
    /// Whether containers find each other by name: a DNS server on the gateway answers with the
    /// attached containers' addresses. Docker gives this to user-defined networks only. Added
    /// after the first records were written: false when a record lacks it.
    @Defaulted public var embeddedDNS: Bool
    /// `network create --internal`: no masquerade and no forwarding between the bridge and
    /// anything else, so containers reach only each other (and the gateway).
    @Defaulted public var `internal`: Bool
    /// `--ip-range`: the part of the subnet addresses are leased from (nil: the whole subnet).
    public var ipRange: String?

    public init(name: String, cniName: String, bridge: String, subnet: String, gateway: String,
                embeddedDNS: Bool = false) {
        self.name = name
        self.cniName = cniName
        self.bridge = bridge
        self.subnet = subnet
        self.gateway = gateway
        self.embeddedDNS = embeddedDNS
    }

    /// Whether `address` is a host address in the subnet: a container may ask for any of them,
    /// the ip range only bounds what is handed out unasked.
    public func contains(address: String) -> Bool {
        guard let subnet = IPv4Network(subnet), let host = IPv4Network(address), host.prefixLength == 32 else { return false }
        return subnet.contains(host.address)
    }

    /// Docker's default network, `bridge`, on `berth0` with 10.77.0.0/16 (clear of Docker's
    /// 172.17.0.0/16, Podman's 10.88.0.0/16 and 10.89.x user networks).
    public static let `default` = BridgeNetwork(name: "bridge", cniName: "berth", bridge: "berth0",
                                                subnet: "10.77.0.0/16", gateway: "10.77.0.1")

    /// The loopback plugin's configuration, for the DEL of attachments made by older versions.
    var loopbackConfiguration: JSONValue {
        .object(["cniVersion": .string(CNI.version), "name": .string("\(cniName)-lo"), "type": .string("loopback")])
    }
}

/// IPv4 address arithmetic for subnet checks.
struct IPv4Network: Equatable, CustomStringConvertible {
    var address: UInt32
    var prefixLength: Int

    /// `10.77.0.0/16` or a bare address (a /32).
    init?(_ cidr: String) {
        let parts = cidr.split(separator: "/", maxSplits: 1)
        guard let first = parts.first else { return nil }
        var raw = in_addr()
        guard inet_pton(AF_INET, String(first), &raw) == 1 else { return nil }
        address = UInt32(bigEndian: raw.s_addr)
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...32).contains(length) else { return nil }
            prefixLength = length
        } else {
            prefixLength = 32
        }
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    func overlaps(_ other: IPv4Network) -> Bool {
        let mask = Self.mask(min(prefixLength, other.prefixLength))
        return address & mask == other.address & mask
    }

    func contains(_ other: UInt32) -> Bool {
        address & Self.mask(prefixLength) == other & Self.mask(prefixLength)
    }

    /// `10.80.0.0/16`.
    var description: String { "\(Self.format(address))/\(prefixLength)" }

    /// Dotted-quad notation.
    static func format(_ address: UInt32) -> String {
        [24, 16, 8, 0].map { String((address >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }
}
