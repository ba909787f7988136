/// A container's connection to a network, as `inspect` reports it under `NetworkSettings`.
public struct NetworkAttachment: Codable, Hashable, Sendable {
    /// The network's name (`bridge`).
    public var network: String
    /// The container's IPv4 address.
    public var ipAddress: String
    /// The prefix length of the network's subnet (Docker's `IPPrefixLen`).
    public var prefixLength: Int
    /// The container's default gateway: the bridge's address.
    public var gateway: String
    /// The MAC address of the container's `eth0`.
    public var macAddress: String
    /// The published ports, with the host ports actually assigned.
    public var ports: [PortMapping]

    public init(network: String, ipAddress: String, prefixLength: Int, gateway: String, macAddress: String,
                ports: [PortMapping]) {
        self.network = network
        self.ipAddress = ipAddress
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.macAddress = macAddress
        self.ports = ports
    }
}
