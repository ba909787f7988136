/// Why attaching or detaching a container's network failed; each renders as one actionable line.
public enum NetworkError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Docker's wording for a host port that another process or container holds.
    case portAllocated(hostIP: String, port: UInt16, proto: String)
    /// The requested host address is not one of this host's addresses.
    case hostAddressUnavailable(hostIP: String, port: UInt16, proto: String, reason: String)
    /// No free host port in the requested range (or in the ephemeral range for random ports).
    case noFreePort(hostIP: String, range: String, proto: String)
    /// IPv6 host addresses need an IPv6 container network, which `bridge` is not.
    case ipv6NotSupported(String)
    case unknownNetwork(String)
    case ambiguousNetwork(String)
    case invalidNetworkName(String)
    case networkExists(String)
    case invalidSubnet(String)
    case invalidGateway(gateway: String, subnet: String)
    case poolExhausted
    /// Containers are still attached; Docker names them.
    case networkInUse(network: String, containers: [String])
    case predefinedNetwork(String)
    case notConnected(containerID: String, network: String)
    /// The network's DNS server (dnsmasq) could not start.
    case dnsServerFailed(network: String, message: String)
    case invalidContainerID(String)
    case alreadyAttached(containerID: String, network: String)
    case namespaceNotFound(String)
    case pluginNotFound(plugin: String, searched: [String])
    /// A CNI plugin failed; `message` is its error `msg` and `details`.
    case pluginFailed(plugin: String, command: String, message: String)
    case commandFailed(command: String, message: String)
    /// An rtnetlink request (a link, address or route) the kernel refused.
    case netlinkFailed(operation: String, reason: String)
    case notANetworkNamespace(String)
    /// Every address of the network's subnet is leased.
    case addressesExhausted(network: String, subnet: String)
    case subnetInUse(subnet: String, interface: String)
    /// `--ip` names an address another container holds.
    case addressInUse(address: String, network: String)
    /// `--ip-range` outside `--subnet`, or without one.
    case invalidIPRange(range: String, subnet: String)
    case stateCorrupt(path: String, reason: String)
    case io(path: String, reason: String)
    /// The proxy that publishes a port on `[::]` could not listen (Docker's userland proxy error).
    case proxyFailed(String)

    public var description: String {
        switch self {
        case .portAllocated(let ip, let port, let proto):
            "Bind for \(ip.isEmpty ? "0.0.0.0" : ip):\(port)/\(proto) failed: port is already allocated"
        case .hostAddressUnavailable(let ip, let port, let proto, let reason):
            "cannot publish \(ip):\(port)/\(proto): \(reason)"
        case .noFreePort(let ip, let range, let proto):
            "no free host port in \(range) on \(ip.isEmpty ? "0.0.0.0" : ip) for \(proto)"
        case .ipv6NotSupported(let ip):
            "cannot publish on IPv6 address \(ip): the bridge network is IPv4 only"
        case .unknownNetwork(let name): "network \(name) not found"
        case .ambiguousNetwork(let reference): "network \(reference) is ambiguous: more than one network ID starts with it"
        case .invalidNetworkName(let name):
            "invalid network name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        case .networkExists(let name): "network with name \(name) already exists"
        case .invalidSubnet(let subnet): "invalid subnet \(subnet): expected an IPv4 network such as 10.80.0.0/16"
        case .invalidGateway(let gateway, let subnet): "no matching subnet for gateway \(gateway) (subnet \(subnet))"
        case .poolExhausted:
            "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network; pass --subnet"
        case .networkInUse(let network, let containers):
            "error while removing network: network \(network) has active endpoints (\(containers.joined(separator: ", ")))"
        case .predefinedNetwork(let name): "\(name) is a pre-defined network and cannot be removed"
        case .notConnected(let id, let network): "container \(id) is not connected to network \(network)"
        case .dnsServerFailed(let network, let message): "cannot start the DNS server of network \(network): \(message)"
        case .invalidContainerID(let id): "invalid container ID for networking: \(id)"
        case .alreadyAttached(let id, let network): "container \(id) is already attached to network \(network)"
        case .namespaceNotFound(let path): "network namespace \(path) does not exist"
        case .pluginNotFound(let plugin, let searched):
            "CNI plugin \(plugin) not found in \(searched.joined(separator: ":")); install containernetworking-plugins"
        case .pluginFailed(let plugin, let command, let message): "CNI \(plugin) \(command) failed: \(message)"
        case .commandFailed(let command, let message): "\(command) failed: \(message)"
        case .netlinkFailed(let operation, let reason): "cannot \(operation): \(reason)"
        case .notANetworkNamespace(let path): "\(path) is not a network namespace (expected e.g. /proc/<pid>/ns/net)"
        case .addressesExhausted(let network, let subnet):
            "no free address left in subnet \(subnet) of network \(network); disconnect or remove containers on it"
        case .subnetInUse(let subnet, let interface):
            "subnet \(subnet) is already in use on interface \(interface); choose another subnet"
        case .addressInUse(let address, _): "Address already in use: \(address)"
        case .invalidIPRange(let range, let subnet):
            subnet.isEmpty ? "no matching subnet for range \(range)" : "no matching subnet for range \(range) (subnet \(subnet))"
        case .stateCorrupt(let path, let reason): "network state \(path) is unreadable: \(reason)"
        case .io(let path, let reason): "\(path): \(reason)"
        case .proxyFailed(let message): message
        }
    }
}
