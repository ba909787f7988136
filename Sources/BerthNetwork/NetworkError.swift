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
    case invalidContainerID(String)
    case alreadyAttached(String)
    case namespaceNotFound(String)
    case pluginNotFound(plugin: String, searched: [String])
    /// A CNI plugin failed; `message` is its error `msg` and `details`.
    case pluginFailed(plugin: String, command: String, message: String)
    case commandFailed(command: String, message: String)
    case subnetInUse(subnet: String, interface: String)
    case stateCorrupt(path: String, reason: String)
    case io(path: String, reason: String)

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
        case .invalidContainerID(let id): "invalid container ID for networking: \(id)"
        case .alreadyAttached(let id): "container \(id) is already attached to a network; detach it first"
        case .namespaceNotFound(let path): "network namespace \(path) does not exist"
        case .pluginNotFound(let plugin, let searched):
            "CNI plugin \(plugin) not found in \(searched.joined(separator: ":")); install containernetworking-plugins"
        case .pluginFailed(let plugin, let command, let message): "CNI \(plugin) \(command) failed: \(message)"
        case .commandFailed(let command, let message): "\(command) failed: \(message)"
        case .subnetInUse(let subnet, let interface):
            "subnet \(subnet) is already in use on interface \(interface); choose another subnet"
        case .stateCorrupt(let path, let reason): "network state \(path) is unreadable: \(reason)"
        case .io(let path, let reason): "\(path): \(reason)"
        }
    }
}
