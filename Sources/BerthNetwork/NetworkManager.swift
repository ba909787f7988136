import BerthFiles
import BerthOCI
import Foundation

/// Connects containers' network namespaces to Berth's networks with rtnetlink (`BridgeLink`: the
/// bridge, a veth per container, the container's address, default route and `lo`), leases addresses
/// in the CNI host-local plugin's on-disk format (`AddressLeases`), programs the firewall
/// (`Iptables`), and removes everything it created when they go.
///
/// State lives under `<root>/network/`: one record per container and network
/// (`<containerID>@<network>.json`, see `AttachmentRecord`), the network definitions (`networks/`,
/// see `NetworkStore`), the user networks' DNS (`dns/`, see `NetworkDNS`), and a lock file that
/// serializes attach and detach across `berth` processes (port allocation reads every record). The
/// address leases are machine-wide, in `ipamDirectory`.
///
/// On the host, the bridge has the gateway address and `net.ipv4.ip_forward=1` is set; Berth sets
/// `net.ipv4.conf.<bridge>.route_localnet=1`, so DNAT to the bridge works for connections to
/// 127.0.0.1. iptables (nf_tables backend) gets, per container with published ports in one
/// `iptables-restore` transaction, a DNAT rule per port in nat `BERTH-HOSTPORTS`, each with the
/// comment `berth net=<cniName> id=<container>`; per bridge, the chains, the subnet's, localhost and
/// hairpin masquerade in nat `BERTH-MASQ-<bridge>`, accept rules in filter `BERTH-FORWARD` and the
/// isolation from the other networks in `BERTH-ISOLATION-1/2` (the full layout: `Iptables`).
/// Attachments made by older versions through the CNI plugins `bridge`, `host-local` and
/// `loopback` (and before those, `firewall`, `portmap` and the bridge plugin's `ipMasq` with their
/// `CNI-` chains) are torn down by replaying their plugins.
public final class NetworkManager {
    /// The Berth root this manager keeps its state under.
    public let root: String
    /// The default network, `bridge` (tests open the manager with a bridge of their own).
    private let defaultNetwork: BridgeNetwork
    /// The plugin runner, for tearing down attachments made by older versions through the plugins.
    var cni = CNI()
    private let stateDirectory: String
    /// Where the address leases are kept (`<cniName>/`, see `AddressLeases`): one place for the machine, not
    /// one per root, because the bridges are the machine's and two roots (two stores, parallel
    /// tests) must never hand out one address twice. Under /run, leases end with the machine, as
    /// the containers holding them do.
    public static let ipamDirectory = "/run/berth/ipam"
    private let ipamDirectory = NetworkManager.ipamDirectory
    private let lock: StateLock

    /// Opens (creating if needed) the network state under `root`, with `bridge` as the default
    /// network. Tests pass a bridge of their own so they never share `berth0` with real containers.
    public init(root: String, bridge: BridgeNetwork = .default) throws {
        self.root = root
        defaultNetwork = bridge
        let stateRoot = StateRoot(root)
        stateDirectory = stateRoot.network
        lock = StateLock(path: stateRoot.networkLock)
        for directory in [stateDirectory, ipamDirectory] {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw NetworkError.io(path: directory, reason: "\(error)")
            }
        }
    }

    /// The network containers attach to by `name`: the default `bridge` or a user network; nil
    /// for `host`, `none` and names no network has. Reads that network's definition alone.
    public func network(named name: String) throws -> BridgeNetwork? {
        if name == defaultNetwork.name { return defaultNetwork }
        guard let definition = try NetworkStore(root: root).named(name), !definition.isPredefined else { return nil }
        return definition.bridge
    }

    /// Connects the container's network namespace (e.g. /proc/<pid>/ns/net) to `network` ("bridge" =
    /// berth0) as `interface`, and publishes ports. Fails with a clear error, and leaves nothing
    /// behind (no veth, no iptables rule, no IPAM lease), when a host port is already in use: each
    /// host port is checked by binding it (TCP, UDP or SCTP) on the requested address, and against
    /// the ports other containers publish, before anything is created. Host port 0 (or a host range)
    /// gets a free port. On a network with DNS, `dnsNames` resolve to the container's address.
    public func attach(containerID: String, networkNamespace: String, network: String = "bridge",
                       ports: [PortMapping], interface: String = "eth0", dnsNames: [String] = [],
                       address requestedAddress: String? = nil, macAddress requestedMAC: String? = nil)
        throws -> NetworkAttachment {
        try Self.validate(containerID: containerID)
        guard let bridge = try self.network(named: network) else { throw NetworkError.unknownNetwork(network) }
        return try lock.withLock {
            let recordPath = AttachmentRecord.path(in: stateDirectory, containerID: containerID, network: network)
            if try AttachmentRecord.load(from: recordPath) != nil {
                throw NetworkError.alreadyAttached(containerID: containerID, network: network)
            }
            guard let identity = NamespaceIdentity(path: networkNamespace) else {
                throw NetworkError.namespaceNotFound(networkNamespace)
            }
            try checkSubnetIsFree(bridge)
            let resolved = try HostPorts.resolve(ports, taken: try publishedPorts())
            let namespace = open(networkNamespace, O_RDONLY | O_CLOEXEC)
            guard namespace >= 0 else { throw NetworkError.namespaceNotFound(networkNamespace) }
            defer { close(namespace) }
            guard BridgeLink.isNamespaceFile(namespace) else { throw NetworkError.notANetworkNamespace(networkNamespace) }
            guard let subnet = IPv4Network(bridge.subnet), let gateway = IPv4Network(bridge.gateway) else {
                throw NetworkError.invalidSubnet(bridge.subnet)
            }
            // Every step is recorded as started before any runs, so a crash anywhere is undone: the
            // veth by the name chosen here, the lease by the container ID it holds, the rules by
            // their comment; each undo is a no-op for a step that never ran.
            var record = AttachmentRecord(
                containerID: containerID, network: bridge, networkNamespace: networkNamespace,
                namespaceIdentity: identity, interface: interface, plugins: [], pluginsStarted: 0, result: nil,
                rulesStarted: true, loopbackStarted: false, ports: resolved, attachment: nil,
                hostVeth: BridgeLink.unusedVethName(), leaseStarted: true, ownMasquerade: false)
            do {
                try record.save(in: stateDirectory)
                let socket = try NetlinkSocket()
                let bridgeIndex = try BridgeLink.ensureBridge(bridge, socket: socket)
                let address = try AddressLeases(network: bridge, ipamDirectory: ipamDirectory)
                    .reserve(containerID: containerID, interface: interface, requested: requestedAddress)
                record.address = IPv4Network.format(address)
                let mac = try requestedMAC.map(BridgeLink.parse(mac:)) ?? BridgeLink.randomMAC()
                try BridgeLink.createVeth(hostName: record.hostVeth!, bridgeIndex: bridgeIndex, interface: interface,
                                          mac: mac, namespace: namespace, namespacePath: networkNamespace, socket: socket)
                try BridgeLink.configureContainer(namespace: namespace, namespacePath: networkNamespace, interface: interface,
                                                  address: address, subnet: subnet, gateway: bridge.internal ? nil : gateway.address)
                try Self.routeLocalhost(bridge: bridge.bridge)
                try Iptables.addContainerRules(network: bridge, containerID: containerID,
                                               address: IPv4Network.format(address), ports: resolved)
                let attachment = NetworkAttachment(network: bridge.name, ipAddress: IPv4Network.format(address),
                                                   prefixLength: subnet.prefixLength, gateway: bridge.gateway,
                                                   macAddress: BridgeLink.format(mac: mac), ports: resolved)
                record.attachment = attachment
                try record.save(in: stateDirectory)
                if bridge.embeddedDNS {
                    try NetworkDNS(root: root, network: bridge).register(
                        containerID: containerID, address: attachment.ipAddress, names: dnsNames)
                }
                return attachment
            } catch {
                // Leave nothing behind: undo whatever part ran. The first error is the one to report.
                try? teardown(record, networkNamespace: networkNamespace)
                throw error
            }
        }
    }

    /// Removes everything `attach` created for the container on `network` (every network when
    /// nil): its veth, address lease, masquerade, firewall and port-forwarding rules, DNS names.
    /// Idempotent; works from the persisted record when the namespace is gone (pass nil, or a path
    /// that no longer names the attached namespace).
    public func detach(containerID: String, networkNamespace: String?, network: String? = nil) throws {
        try Self.validate(containerID: containerID)
        try lock.withLock {
            var firstError: Error?
            for name in try recordNames() where name.containerID == containerID && (network == nil || name.network == network) {
                let recordPath = AttachmentRecord.path(in: stateDirectory, containerID: containerID, network: name.network)
                do {
                    guard let record = try AttachmentRecord.load(from: recordPath) else { continue }
                    try teardown(record, networkNamespace: networkNamespace ?? record.networkNamespace)
                } catch {
                    firstError = firstError ?? error
                }
            }
            if let firstError { throw firstError }
        }
    }

    /// Makes `names` the container's DNS names on `network` (after `rename`): the server answers
    /// them, and no longer the old ones, from now on. Nothing to do unless the container is
    /// attached to `network` and the network has DNS.
    public func updateDNSNames(containerID: String, network: String, names: [String]) throws {
        try Self.validate(containerID: containerID)
        try lock.withLock {
            let path = AttachmentRecord.path(in: stateDirectory, containerID: containerID, network: network)
            guard let record = try AttachmentRecord.load(from: path), record.network.embeddedDNS,
                  let attachment = record.attachment
            else { return }
            try NetworkDNS(root: root, network: record.network).register(
                containerID: containerID, address: attachment.ipAddress, names: names)
        }
    }

    /// The container's attachment to `network`, if it has one (for `inspect` and `port`).
    public func attachment(containerID: String, network: String = "bridge") throws -> NetworkAttachment? {
        try Self.validate(containerID: containerID)
        return try AttachmentRecord.load(from: AttachmentRecord.path(in: stateDirectory, containerID: containerID,
                                                                    network: network))?.attachment
    }

    /// The IDs of all containers with an attachment record, complete or interrupted: after a crash,
    /// the runtime detaches those whose containers are no longer running.
    public func attachedContainers() throws -> [String] {
        Array(Set(try recordNames().map(\.containerID))).sorted()
    }

    /// The containers attached to `network`.
    public func containers(on network: String) throws -> [String] {
        try recordNames().filter { $0.network == network }.map(\.containerID).sorted()
    }

    /// Removes a user network: its definition, DNS server, IPAM leases, bridge and the bridge's
    /// forwarding rule. Refuses while containers are attached, and the predefined networks.
    public func removeNetwork(_ definition: NetworkDefinition) throws {
        if definition.isPredefined { throw NetworkError.predefinedNetwork(definition.name) }
        try lock.withLock {
            let attached = try recordNames().filter { $0.network == definition.name }.map(\.containerID)
            guard attached.isEmpty else {
                throw NetworkError.networkInUse(network: definition.name, containers: attached.sorted())
            }
            if let bridge = definition.bridge {
                try NetworkDNS(root: root, network: bridge).remove()
                try Iptables.removeBridgeRules(bridge)
                try BridgeLink.deleteLink(bridge.bridge, socket: try NetlinkSocket())
                try? FileManager.default.removeItem(atPath: "\(ipamDirectory)/\(bridge.cniName)")
            }
            try NetworkStore(root: root).removeDefinition(definition.name)
        }
    }

    // MARK: - Teardown

    /// Removes Berth's iptables rules, the veth and the address lease; for a record of an older
    /// version, replays the plugins' DEL in reverse order with the last result as `prevResult`, then
    /// removes what the plugins cannot when the namespace is gone; then the record.
    private func teardown(_ record: AttachmentRecord, networkNamespace: String) throws {
        // Only enter the namespace if it is still the one attached; a reused pid is someone else's.
        let namespace = NamespaceIdentity(path: networkNamespace).flatMap {
            $0 == record.namespaceIdentity ? networkNamespace : nil
        } ?? ""
        var firstError: Error?
        if record.loopbackStarted, !namespace.isEmpty {
            do {
                try cni.invoke(.del, config: record.network.loopbackConfiguration, containerID: record.containerID,
                               networkNamespace: namespace, interface: "lo")
            } catch {
                firstError = firstError ?? error
            }
        }
        if record.rulesStarted == true {
            do {
                try Iptables.removeContainerRules(network: record.network, containerID: record.containerID,
                                                  address: record.address ?? (try? Self.attachment(from: record))?.ipAddress,
                                                  ports: record.ports, masquerade: record.ownMasquerade ?? true)
            } catch {
                firstError = firstError ?? error
            }
        }
        if let hostVeth = record.hostVeth {
            do {
                try BridgeLink.deleteLink(hostVeth, socket: try NetlinkSocket())
            } catch {
                firstError = firstError ?? error
            }
        }
        if record.leaseStarted == true {
            // After the veth and rules: the address is free for others only once nothing routes to it.
            let leases = AddressLeases(network: record.network, ipamDirectory: ipamDirectory)
            do {
                if let address = record.address {
                    try leases.release(address: address, containerID: record.containerID, interface: record.interface)
                } else {
                    try leases.releaseAll(containerID: record.containerID, interface: record.interface)
                }
            } catch {
                firstError = firstError ?? error
            }
        }
        for plugin in record.plugins.prefix(record.pluginsStarted).reversed() {
            let config = record.result.map { plugin.setting("prevResult", to: $0) } ?? plugin
            do {
                try cni.invoke(.del, config: config, containerID: record.containerID, networkNamespace: namespace,
                               interface: record.interface)
            } catch {
                firstError = firstError ?? error
            }
        }
        do {
            if record.plugins.first?["ipMasq"] == .bool(true) {
                try Iptables.removePluginMasquerade(cniName: record.network.cniName, containerID: record.containerID)
            }
            if namespace.isEmpty, let hostVeth = Self.hostVeth(in: record.result) {
                // The kernel removes a veth with its namespace, but asynchronously; do it now.
                try BridgeLink.deleteLink(hostVeth, socket: try NetlinkSocket())
            }
        } catch {
            firstError = firstError ?? error
        }
        if record.network.embeddedDNS {
            do {
                try NetworkDNS(root: root, network: record.network).unregister(containerID: record.containerID)
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
        let path = AttachmentRecord.path(in: stateDirectory, containerID: record.containerID,
                                         network: record.network.name)
        if unlink(path) != 0, errno != ENOENT {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }

    // MARK: - Helpers

    /// Lets the bridge carry packets from 127.0.0.0/8, so connections to 127.0.0.1:<host port>
    /// that OUTPUT DNATs to a container leave through it (then masqueraded, see `Iptables`).
    private static func routeLocalhost(bridge: String) throws {
        let path = "/proc/sys/net/ipv4/conf/\(bridge)/route_localnet"
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw NetworkError.io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        guard write(descriptor, "1", 1) == 1 else {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// The host side of the veth: the result's interface without a sandbox that is not the bridge.
    private static func hostVeth(in result: JSONValue?) -> String? {
        let bridge = result?["interfaces"]?[0]?["name"]?.stringValue
        for interface in result?["interfaces"]?.arrayValue ?? [] where interface["sandbox"] == nil {
            if let name = interface["name"]?.stringValue, name != bridge, name.hasPrefix("veth") { return name }
        }
        return nil
    }

    private static func attachment(from record: AttachmentRecord) throws -> NetworkAttachment {
        let result = record.result
        guard let ip = result?["ips"]?[0], let address = ip["address"]?.stringValue,
              let slash = address.firstIndex(of: "/"), let prefixLength = Int(address[address.index(after: slash)...])
        else {
            throw NetworkError.pluginFailed(plugin: "bridge", command: "ADD", message: "result has no IP address")
        }
        let mac = ip["interface"]?.intValue.flatMap { result?["interfaces"]?[$0]?["mac"]?.stringValue } ?? ""
        return NetworkAttachment(network: record.network.name, ipAddress: String(address[..<slash]),
                                 prefixLength: prefixLength,
                                 gateway: ip["gateway"]?.stringValue ?? record.network.gateway,
                                 macAddress: mac, ports: record.ports)
    }

    /// Container IDs become file names, iptables comments and CNI_CONTAINERID.
    private static func validate(containerID: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        guard !containerID.isEmpty, containerID.count <= 128, containerID.first != ".",
              containerID.allSatisfy({ allowed.contains($0) })
        else { throw NetworkError.invalidContainerID(containerID) }
    }

    private func recordNames() throws -> [(containerID: String, network: String)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: stateDirectory)
        } catch {
            throw NetworkError.io(path: stateDirectory, reason: "\(error)")
        }
        return names.compactMap { AttachmentRecord.parse(fileName: $0) }
    }

    /// The host ports every other attachment publishes.
    private func publishedPorts() throws -> [PortMapping] {
        try recordNames().flatMap { name in
            try AttachmentRecord.load(from: AttachmentRecord.path(in: stateDirectory, containerID: name.containerID,
                                                                 network: name.network))?.ports ?? []
        }
    }

    /// Refuses a subnet that another interface already routes (Docker's bridge, a VPN, the LAN).
    /// Checked while the bridge does not exist yet: once it holds the subnet, an interface that
    /// claims it later is the one in conflict, and the check would cost every attach an `ip` exec.
    private func checkSubnetIsFree(_ bridge: BridgeNetwork) throws {
        if access("/sys/class/net/\(bridge.bridge)", F_OK) == 0 { return }
        guard let subnet = IPv4Network(bridge.subnet) else {
            throw NetworkError.subnetInUse(subnet: bridge.subnet, interface: "(not an IPv4 subnet)")
        }
        for (interface, network) in try NetworkStore.hostSubnets() where interface != bridge.bridge && network.overlaps(subnet) {
            throw NetworkError.subnetInUse(subnet: bridge.subnet, interface: interface)
        }
    }
}
