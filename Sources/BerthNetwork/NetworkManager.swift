import Foundation

/// Connects containers' network namespaces to Berth's networks through the standard CNI plugins,
/// and removes everything it created when they go.
///
/// State lives under `<root>/network/`: one record per attached container (`<containerID>.json`),
/// the host-local IPAM leases (`ipam/<cniName>/`), and a lock file that serializes attach and
/// detach across `berth` processes (port allocation reads every record).
///
/// On the host, the plugins create the bridge with the gateway address, set `net.ipv4.ip_forward=1`
/// (bridge, `isGateway`) and `net.ipv4.conf.<bridge>.route_localnet=1` (portmap with `snat`, so
/// DNAT to the bridge works for connections to 127.0.0.1). iptables (nf_tables backend) gets, per
/// container, a masquerade chain `CNI-<hash>` (nat POSTROUTING, comment `name: "<cniName>" id:
/// "<container>"`), accept rules for its address in filter `CNI-FORWARD`, and a DNAT chain
/// `CNI-DN-<hash>` under nat `CNI-HOSTPORT-DNAT` (comment `dnat name: … id: …`); once per bridge,
/// Berth adds an accept rule for DNATed traffic to the bridge in filter `CNI-ADMIN`.
public final class NetworkManager {
    /// The Berth root this manager keeps its state under.
    public let root: String
    /// The networks containers can attach to, by name.
    public let networks: [String: BridgeNetwork]
    /// The plugin runner; tests point it at a directory with a failing plugin.
    var cni = CNI()
    private let stateDirectory: String
    private let ipamDirectory: String
    private static let containerInterface = "eth0"

    /// Opens (creating if needed) the network state under `root`, with `bridge` as the default
    /// network. Tests pass a bridge of their own so they never share `berth0` with real containers.
    public init(root: String, bridge: BridgeNetwork = .default) throws {
        self.root = root
        networks = [bridge.name: bridge]
        stateDirectory = "\(root)/network"
        ipamDirectory = "\(root)/network/ipam"
        do {
            try FileManager.default.createDirectory(atPath: ipamDirectory, withIntermediateDirectories: true)
        } catch {
            throw NetworkError.io(path: ipamDirectory, reason: "\(error)")
        }
    }

    /// Connects the container's network namespace (e.g. /proc/<pid>/ns/net) to `network` ("bridge" =
    /// berth0) and publishes ports. Fails with a clear error, and leaves nothing behind (no veth, no
    /// iptables rule, no IPAM lease), when a host port is already in use: each host port is checked
    /// by binding it (TCP, UDP or SCTP) on the requested address, and against the ports other
    /// containers publish, before any plugin runs. Host port 0 (or a host range) gets a free port.
    public func attach(containerID: String, networkNamespace: String, network: String = "bridge",
                       ports: [PortMapping]) throws -> NetworkAttachment {
        try Self.validate(containerID: containerID)
        guard let bridge = networks[network] else { throw NetworkError.unknownNetwork(network) }
        return try withLock {
            let recordPath = AttachmentRecord.path(in: stateDirectory, containerID: containerID)
            if try AttachmentRecord.load(from: recordPath) != nil {
                throw NetworkError.alreadyAttached(containerID)
            }
            guard let identity = NamespaceIdentity(path: networkNamespace) else {
                throw NetworkError.namespaceNotFound(networkNamespace)
            }
            try checkSubnetIsFree(bridge)
            let resolved = try HostPorts.resolve(ports, taken: try publishedPorts())
            for plugin in ["bridge", "host-local", "firewall", "loopback"] + (resolved.isEmpty ? [] : ["portmap"]) {
                _ = try cni.locate(plugin)
            }
            var record = AttachmentRecord(
                containerID: containerID, network: bridge, networkNamespace: networkNamespace,
                namespaceIdentity: identity, interface: Self.containerInterface,
                plugins: bridge.pluginConfigurations(ipamDataDirectory: ipamDirectory, ports: resolved),
                pluginsStarted: 0, result: nil, loopbackStarted: false, ports: resolved, attachment: nil)
            try record.save(in: stateDirectory)
            do {
                try Iptables.ensurePublishedPortsForwarding(bridge: bridge.bridge)
                for plugin in record.plugins {
                    record.pluginsStarted += 1
                    try record.save(in: stateDirectory)
                    let config = record.result.map { plugin.setting("prevResult", to: $0) } ?? plugin
                    record.result = try cni.invoke(.add, config: config, containerID: containerID,
                                                   networkNamespace: networkNamespace, interface: record.interface)
                    try record.save(in: stateDirectory)
                }
                record.loopbackStarted = true
                try record.save(in: stateDirectory)
                try cni.invoke(.add, config: bridge.loopbackConfiguration, containerID: containerID,
                               networkNamespace: networkNamespace, interface: "lo")
                let attachment = try Self.attachment(from: record)
                record.attachment = attachment
                try record.save(in: stateDirectory)
                return attachment
            } catch {
                // Leave nothing behind: undo whatever part of the chain ran. The ADD error is the one to report.
                try? teardown(record, networkNamespace: networkNamespace)
                throw error
            }
        }
    }

    /// Removes everything `attach` created for the container: its veth, address lease, masquerade,
    /// firewall and port-forwarding rules. Idempotent; works from the persisted record when the
    /// namespace is gone (pass nil, or a path that no longer names the attached namespace).
    public func detach(containerID: String, networkNamespace: String?) throws {
        try Self.validate(containerID: containerID)
        try withLock {
            let recordPath = AttachmentRecord.path(in: stateDirectory, containerID: containerID)
            guard let record = try AttachmentRecord.load(from: recordPath) else { return }
            try teardown(record, networkNamespace: networkNamespace ?? record.networkNamespace)
        }
    }

    /// The container's attachment, if it has one (for `inspect` and `port`).
    public func attachment(containerID: String) throws -> NetworkAttachment? {
        try Self.validate(containerID: containerID)
        return try AttachmentRecord.load(from: AttachmentRecord.path(in: stateDirectory, containerID: containerID))?
            .attachment
    }

    /// The IDs of all containers with an attachment record, complete or interrupted: after a crash,
    /// the runtime detaches those whose containers are no longer running.
    public func attachedContainers() throws -> [String] {
        try recordNames().sorted()
    }

    // MARK: - Teardown

    /// Replays the plugins' DEL in reverse order with the last result as `prevResult`, then removes
    /// what the plugins cannot when the namespace is gone, then the record.
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
            try Iptables.removeMasquerade(cniName: record.network.cniName, containerID: record.containerID)
            if namespace.isEmpty, let hostVeth = Self.hostVeth(in: record.result) {
                // The kernel removes a veth with its namespace, but asynchronously; do it now.
                let ip = try Command.locate("ip")
                if try Command.run(ip, ["link", "show", "dev", hostVeth]).status == 0 {
                    _ = try Command.run(ip, ["link", "delete", "dev", hostVeth])
                }
            }
        } catch {
            firstError = firstError ?? error
        }
        if let firstError { throw firstError }
        let path = AttachmentRecord.path(in: stateDirectory, containerID: record.containerID)
        if unlink(path) != 0, errno != ENOENT {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }

    // MARK: - Helpers

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

    private func recordNames() throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: stateDirectory)
        } catch {
            throw NetworkError.io(path: stateDirectory, reason: "\(error)")
        }
        return names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
    }

    /// The host ports every other attachment publishes.
    private func publishedPorts() throws -> [PortMapping] {
        try recordNames().flatMap { name in
            try AttachmentRecord.load(from: AttachmentRecord.path(in: stateDirectory, containerID: name))?.ports ?? []
        }
    }

    /// Refuses a subnet that another interface already routes (Docker's bridge, a VPN, the LAN).
    private func checkSubnetIsFree(_ bridge: BridgeNetwork) throws {
        guard let subnet = IPv4Network(bridge.subnet) else {
            throw NetworkError.subnetInUse(subnet: bridge.subnet, interface: "(not an IPv4 subnet)")
        }
        let listing = try Command.check("ip", ["-o", "-4", "addr", "show"]).stdoutText
        for line in listing.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 4, words[2] == "inet" else { continue }
            let interface = String(words[1])
            if interface != bridge.bridge, let network = IPv4Network(String(words[3])), network.overlaps(subnet) {
                throw NetworkError.subnetInUse(subnet: bridge.subnet, interface: interface)
            }
        }
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let path = "\(stateDirectory)/lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw NetworkError.io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw NetworkError.io(path: path, reason: String(cString: strerror(errno))) }
        }
        return try body()
    }
}
