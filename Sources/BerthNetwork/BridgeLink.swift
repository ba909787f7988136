import CBerth
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The links of a bridge network, made in-process with rtnetlink: what the CNI `bridge` plugin
/// (with `isGateway` and `hairpinMode`) and `loopback` plugin did, without an exec each.
///
/// On the host: the bridge with the gateway address, up, and `net.ipv4.ip_forward=1`; per container
/// a veth pair whose host end (`veth` + 8 hex digits, as the plugin names them) is a port of the
/// bridge with hairpin mode on, and whose peer is created directly in the container's namespace.
/// Inside the namespace: the peer's address, the peer up, the default route via the gateway, `lo` up.
enum BridgeLink {
    private static let up: UInt32 = 0x1  // IFF_UP

    /// Creates the bridge if it is missing, and makes sure it is up, holds the gateway address and
    /// the host forwards IPv4. Returns the bridge's interface index.
    static func ensureBridge(_ network: BridgeNetwork, socket: NetlinkSocket) throws -> Int32 {
        guard let subnet = IPv4Network(network.subnet), let gateway = IPv4Network(network.gateway) else {
            throw NetworkError.invalidSubnet(network.subnet)
        }
        let name = network.bridge
        if if_nametoindex(name) == 0 {
            var message = NetlinkMessage(type: NetlinkSocket.newLink, flags: NetlinkSocket.create | NetlinkSocket.exclusive)
            message.appendLinkHeader(flags: up, change: up)
            message.attribute(NetlinkMessage.linkName, string: name)
            // A fixed address: a bridge without one takes its lowest port's, changing as containers come and go.
            message.attribute(NetlinkMessage.linkAddress, randomMAC())
            message.nest(NetlinkMessage.linkInfo) { $0.attribute(NetlinkMessage.infoKind, string: "bridge") }
            // Another berth process may create it at the same moment.
            try perform(message, on: socket, "create bridge \(name)", tolerating: EEXIST)
        }
        let index = Int32(bitPattern: if_nametoindex(name))
        guard index > 0 else {
            throw NetworkError.netlinkFailed(operation: "find bridge \(name)", reason: String(cString: strerror(errno)))
        }
        try setUp(index: index, name: name, socket: socket)
        var address = NetlinkMessage(type: NetlinkSocket.newAddress, flags: NetlinkSocket.create | NetlinkSocket.exclusive)
        address.appendAddressHeader(prefixLength: subnet.prefixLength, index: index)
        address.attribute(NetlinkMessage.addressLocal, address: gateway.address)
        address.attribute(NetlinkMessage.addressAddress, address: gateway.address)
        address.attribute(NetlinkMessage.addressBroadcast, address: broadcast(subnet))
        try perform(address, on: socket, "add gateway address \(network.gateway)/\(subnet.prefixLength) to \(name)",
                    tolerating: EEXIST)
        try writeProcFile("/proc/sys/net/ipv4/ip_forward", "1")
        return index
    }

    /// Creates the veth pair: `hostName` on the bridge, up, in hairpin mode; its peer `interface`,
    /// with `mac`, in the namespace open as `namespace`.
    static func createVeth(hostName: String, bridgeIndex: Int32, interface: String, mac: [UInt8],
                           namespace: Int32, namespacePath: String, socket: NetlinkSocket) throws {
        var message = NetlinkMessage(type: NetlinkSocket.newLink, flags: NetlinkSocket.create | NetlinkSocket.exclusive)
        message.appendLinkHeader(flags: up, change: up)
        message.attribute(NetlinkMessage.linkName, string: hostName)
        message.attribute(NetlinkMessage.linkMaster, integer: UInt32(bitPattern: bridgeIndex))
        message.nest(NetlinkMessage.linkInfo) { info in
            info.attribute(NetlinkMessage.infoKind, string: "veth")
            info.nest(NetlinkMessage.infoData) { data in
                data.nest(NetlinkMessage.vethPeer) { peer in
                    peer.appendLinkHeader()
                    peer.attribute(NetlinkMessage.linkName, string: interface)
                    peer.attribute(NetlinkMessage.linkAddress, mac)
                    peer.attribute(NetlinkMessage.linkNamespaceFD, integer: UInt32(bitPattern: namespace))
                }
            }
        }
        try perform(message, on: socket, "create veth \(hostName) with \(interface) in \(namespacePath)")
        let index = Int32(bitPattern: if_nametoindex(hostName))
        guard index > 0 else {
            throw NetworkError.netlinkFailed(operation: "find veth \(hostName)", reason: String(cString: strerror(errno)))
        }
        // Hairpin: the bridge sends a container's packets back out of its own port, so it reaches its
        // published ports through the host's addresses.
        var hairpin = NetlinkMessage(type: NetlinkSocket.setLink, flags: 0)
        hairpin.appendLinkHeader(family: Int32(AF_BRIDGE), index: index)
        hairpin.nest(NetlinkMessage.linkProtocolInfo, flagged: true) {
            $0.attribute(NetlinkMessage.bridgePortMode, [1])
        }
        try perform(hairpin, on: socket, "turn on hairpin mode on \(hostName)")
    }

    /// Inside the namespace: `lo` up, the address on `interface`, `interface` up, and the default
    /// route via the gateway, unless the namespace has one already (from its first network).
    static func configureContainer(namespace: Int32, namespacePath: String, interface: String, address: UInt32,
                                   subnet: IPv4Network, gateway: UInt32?) throws {
        try NetworkNamespace.perform(in: namespace, path: namespacePath) {
            let socket = try NetlinkSocket()
            let loopback = Int32(bitPattern: if_nametoindex("lo"))
            guard loopback > 0 else {
                throw NetworkError.netlinkFailed(operation: "find lo in \(namespacePath)", reason: String(cString: strerror(errno)))
            }
            try setUp(index: loopback, name: "lo in \(namespacePath)", socket: socket)
            let index = Int32(bitPattern: if_nametoindex(interface))
            guard index > 0 else {
                throw NetworkError.netlinkFailed(operation: "find \(interface) in \(namespacePath)",
                                                 reason: String(cString: strerror(errno)))
            }
            var message = NetlinkMessage(type: NetlinkSocket.newAddress, flags: NetlinkSocket.create | NetlinkSocket.exclusive)
            message.appendAddressHeader(prefixLength: subnet.prefixLength, index: index)
            message.attribute(NetlinkMessage.addressLocal, address: address)
            message.attribute(NetlinkMessage.addressAddress, address: address)
            message.attribute(NetlinkMessage.addressBroadcast, address: broadcast(subnet))
            try perform(message, on: socket,
                        "add address \(IPv4Network.format(address))/\(subnet.prefixLength) to \(interface) in \(namespacePath)")
            try setUp(index: index, name: "\(interface) in \(namespacePath)", socket: socket)
            // An internal network gives no way out: no default route, as Docker's gives none.
            guard let gateway else { return }
            var route = NetlinkMessage(type: NetlinkSocket.newRoute, flags: NetlinkSocket.create | NetlinkSocket.exclusive)
            route.appendRouteHeader(destinationLength: 0)
            route.attribute(NetlinkMessage.routeGateway, address: gateway)
            route.attribute(NetlinkMessage.routeOutputInterface, integer: UInt32(bitPattern: index))
            // As the plugins did: the first network's default route wins.
            try perform(route, on: socket, "add default route via \(IPv4Network.format(gateway)) in \(namespacePath)",
                        tolerating: EEXIST)
        }
    }

    /// Deletes a link by name; one already gone is fine. Deleting a veth's host end deletes its peer.
    static func deleteLink(_ name: String, socket: NetlinkSocket) throws {
        var message = NetlinkMessage(type: NetlinkSocket.deleteLink, flags: 0)
        message.appendLinkHeader()
        message.attribute(NetlinkMessage.linkName, string: name)
        try perform(message, on: socket, "delete link \(name)", tolerating: ENODEV)
    }

    /// `veth` + 8 random hex digits, as the bridge plugin names them, not naming an existing link.
    static func unusedVethName() -> String {
        while true {
            let name = "veth" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
            if if_nametoindex(name) == 0 { return name }
        }
    }

    /// A random unicast, locally administered MAC address.
    static func randomMAC() -> [UInt8] {
        var bytes = (0..<6).map { _ in UInt8.random(in: 0...255) }
        bytes[0] = (bytes[0] & 0xfe) | 0x02
        return bytes
    }

    /// `--mac-address`'s `02:42:ac:11:00:02`.
    static func parse(mac text: String) throws -> [UInt8] {
        let bytes = text.split(separator: ":", omittingEmptySubsequences: false).compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        guard bytes.count == 6 else { throw NetworkError.netlinkFailed(operation: "set MAC address \(text)", reason: "invalid MAC address") }
        return bytes
    }

    static func format(mac: [UInt8]) -> String { mac.map { String(format: "%02x", $0) }.joined(separator: ":") }

    /// Whether `descriptor` is a namespace file (nsfs), as /proc/<pid>/ns/net and `ip netns` mounts are.
    static func isNamespaceFile(_ descriptor: Int32) -> Bool { berth_is_namespace_file(descriptor) }

    private static func setUp(index: Int32, name: String, socket: NetlinkSocket) throws {
        var message = NetlinkMessage(type: NetlinkSocket.setLink, flags: 0)
        message.appendLinkHeader(index: index, flags: up, change: up)
        try perform(message, on: socket, "bring \(name) up")
    }

    private static func broadcast(_ subnet: IPv4Network) -> UInt32 {
        let mask = IPv4Network.mask(subnet.prefixLength)
        return subnet.address & mask | ~mask
    }

    private static func perform(_ message: NetlinkMessage, on socket: NetlinkSocket, _ operation: String,
                                tolerating tolerated: Int32? = nil) throws {
        do {
            try socket.perform(message)
        } catch let failure as NetlinkSocket.Failure {
            if failure.code == tolerated { return }
            throw NetworkError.netlinkFailed(operation: operation, reason: failure.description)
        }
    }

    private static func writeProcFile(_ path: String, _ value: String) throws {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw NetworkError.io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        guard write(descriptor, value, value.utf8.count) == value.utf8.count else {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
