import BerthNetwork
import BerthProcess
import Foundation

/// Networking through BerthNetwork: the container's new network namespace is attached to its
/// networks between `runc create` and `runc start`, and detached when the container stops or is
/// removed; `network connect` and `disconnect` change a running container's networks in place.
extension ContainerRuntime {
    /// Parses `-p` specs as Docker does, so a bad one fails `create` before anything exists.
    public static func validatePublish(_ specs: [String]) throws {
        for spec in specs { _ = try PortMapping.parse(spec) }
    }

    /// Resolves `--network` (a name or ID) at create time: host and none stand alone, any other
    /// network becomes the container's first endpoint. Aliases need a user-defined network, as in Docker.
    func resolveNetwork(_ hostConfig: inout ContainerRecord.HostConfig, aliases: [String]) throws
        -> [ContainerRecord.EndpointConfig] {
        // `container:NAME` (a pod's containers joining its sandbox) attaches nothing of its own.
        if hostConfig.networkMode.hasPrefix("container:") {
            _ = try container(String(hostConfig.networkMode.dropFirst("container:".count)))
            return []
        }
        let definition = try NetworkStore(root: root).find(hostConfig.networkMode)
        hostConfig.networkMode = definition.name
        if definition.bridge == nil { return [] }
        if !aliases.isEmpty, definition.isPredefined {
            throw RuntimeError.invalidOption("network-scoped alias is supported only for containers in user defined networks")
        }
        return [ContainerRecord.EndpointConfig(network: definition.name, aliases: aliases)]
    }

    /// Attaches the namespace of the container's init (`pid`) to each configured network: `eth0`
    /// to the first, which also publishes the ports, `eth1` to the next, and so on. On failure
    /// whatever was attached is detached again.
    func attachNetworks(_ record: ContainerRecord, pid: Int32) throws -> ContainerRecord.NetworkSettings {
        let ports = try record.hostConfig.publish.flatMap { try PortMapping.parse($0) }
        let namespace = "/proc/\(pid)/ns/net"
        let manager = try NetworkManager(root: root)
        var settings = ContainerRecord.NetworkSettings()
        settings.networkNamespace = namespace
        do {
            for (index, endpoint) in record.endpointsConfig.enumerated() {
                let attachment = try manager.attach(
                    containerID: record.id, networkNamespace: namespace, network: endpoint.network,
                    ports: index == 0 ? ports : [], interface: "eth\(index)", dnsNames: Self.dnsNames(record, endpoint),
                    address: endpoint.ipv4Address,
                    macAddress: index == 0 && !record.config.macAddress.isEmpty ? record.config.macAddress : nil)
                if index == 0 {
                    settings.ipAddress = attachment.ipAddress
                    settings.gateway = attachment.gateway
                    settings.macAddress = attachment.macAddress
                    settings.prefixLength = attachment.prefixLength
                    settings.ports = attachment.ports.map {
                        ContainerRecord.PortBinding(containerPort: $0.containerPort, proto: $0.proto, hostIP: $0.hostIP,
                                                    hostPort: $0.hostPort)
                    }
                    settings.ports += try publishOnIPv6(record, attachment)
                }
                settings.endpoints.append(Self.endpoint(attachment, interface: "eth\(index)"))
                if settings.nameServer == nil, try manager.network(named: endpoint.network)?.embeddedDNS == true {
                    settings.nameServer = attachment.gateway
                }
            }
        } catch {
            try? manager.detach(containerID: record.id, networkNamespace: namespace)
            throw error
        }
        // A DNS server that started daemonizes: its intermediate process is now a zombie child of
        // this monitor (a subreaper), which otherwise reaps orphans only once the container exits.
        Spawn.reapOrphans(sparing: [pid])
        return settings
    }

    /// dockerd's `connect` (at start) or `disconnect` (at exit) events of a container on each of
    /// its networks: its endpoints' networks, or `host` or `none`.
    func recordNetworkEvents(_ action: String, _ record: ContainerRecord) {
        var names = record.endpointsConfig.map(\.network)
        if names.isEmpty, ["host", "none"].contains(record.hostConfig.networkMode) { names = [record.hostConfig.networkMode] }
        guard !names.isEmpty, let store = try? NetworkStore(root: root) else { return }
        for name in names {
            guard let definition = try? store.named(name) else { continue }
            events.record(.network, action, id: definition.id,
                          attributes: definition.endpointEventAttributes(container: record.id))
        }
    }

    /// Where the host has IPv6, Docker also publishes each port it publishes on every address on
    /// `[::]`: a proxy per TCP and UDP port (`PortProxy`), whose pids the container's directory
    /// keeps for `detachNetwork`.
    private func publishOnIPv6(_ record: ContainerRecord, _ attachment: NetworkAttachment) throws
        -> [ContainerRecord.PortBinding] {
        let ports = attachment.ports.filter { $0.hostIP.isEmpty && ["tcp", "udp"].contains($0.proto) }
        guard !ports.isEmpty, PortProxy.hostHasIPv6 else { return [] }
        var bindings: [ContainerRecord.PortBinding] = []
        var pids: [pid_t] = []
        let pidFile = proxyPidFile(record.id)
        for port in ports {
            pids.append(try PortProxy.start(executable: "/proc/self/exe", port: port, containerIP: attachment.ipAddress))
            // Written as each starts, so a failure later stops those already running.
            try pids.map(String.init).joined(separator: "\n").write(toFile: pidFile, atomically: true, encoding: .utf8)
            bindings.append(ContainerRecord.PortBinding(containerPort: port.containerPort, proto: port.proto, hostIP: "::",
                                                        hostPort: port.hostPort))
        }
        return bindings
    }

    private func proxyPidFile(_ id: String) -> String { containers.path(of: id) + "/port-proxies" }

    func detachNetwork(_ record: ContainerRecord) {
        let pidFile = proxyPidFile(record.id)
        if let pids = try? String(contentsOfFile: pidFile, encoding: .utf8) {
            PortProxy.stop(pids.split(separator: "\n").compactMap { pid_t($0) })
            try? FileManager.default.removeItem(atPath: pidFile)
        }
        guard !["host", "none"].contains(record.hostConfig.networkMode), !record.hostConfig.networkMode.hasPrefix("container:") else { return }
        try? NetworkManager(root: root).detach(containerID: record.id, networkNamespace: nil)
    }

    /// `network connect`: records the network for the container's next start and, while it runs,
    /// attaches it now on the next free `ethN` (its DNS names included).
    public func connect(_ reference: String, to networkReference: String, aliases: [String]) throws {
        let record = try container(reference)
        let definition = try NetworkStore(root: root).find(networkReference)
        if definition.bridge == nil || record.hostConfig.networkMode == "host" {
            throw RuntimeError.invalidOption("container cannot be disconnected from host network or connected to host network")
        }
        if record.hostConfig.networkMode == "none" {
            throw RuntimeError.invalidOption("container cannot be connected to multiple networks with one of the networks in private (none) mode")
        }
        if !aliases.isEmpty, definition.isPredefined {
            throw RuntimeError.invalidOption("network-scoped alias is supported only for containers in user defined networks")
        }
        if record.endpointsConfig.contains(where: { $0.network == definition.name }) {
            throw RuntimeError.invalidOption("endpoint with name \(record.name) already exists in network \(definition.name)")
        }
        let endpointConfig = ContainerRecord.EndpointConfig(network: definition.name, aliases: aliases)
        var attached: ContainerRecord.Endpoint?
        var nameServer = record.network.nameServer
        if record.state.running, let namespace = record.network.networkNamespace {
            let used = Set(record.network.endpoints.map(\.interface))
            let interface = (0...).lazy.map { "eth\($0)" }.first { !used.contains($0) }!
            let manager = try NetworkManager(root: root)
            let attachment = try manager.attach(containerID: record.id, networkNamespace: namespace, network: definition.name,
                                                ports: [], interface: interface,
                                                dnsNames: Self.dnsNames(record, endpointConfig))
            attached = Self.endpoint(attachment, interface: interface)
            if nameServer == nil, definition.bridge?.embeddedDNS == true { nameServer = attachment.gateway }
        }
        let updated = try containers.update(record.id) { current in
            current.endpointsConfig.append(endpointConfig)
            if let attached {
                current.network.endpoints.append(attached)
                current.network.nameServer = nameServer
            }
        }
        if attached != nil {
            try BundleBuilder.writeEtcFiles(directory: containers.path(of: record.id), record: updated)
        }
    }

    /// `network disconnect`: forgets the network and, while the container runs, detaches it now.
    public func disconnect(_ reference: String, from networkReference: String) throws {
        let record = try container(reference)
        let definition = try NetworkStore(root: root).find(networkReference)
        guard record.endpointsConfig.contains(where: { $0.network == definition.name }) else {
            throw NetworkError.notConnected(containerID: record.name, network: definition.name)
        }
        if record.state.running {
            try NetworkManager(root: root).detach(containerID: record.id, networkNamespace: record.network.networkNamespace,
                                                  network: definition.name)
        }
        try containers.update(record.id) { current in
            current.endpointsConfig.removeAll { $0.network == definition.name }
            current.network.endpoints.removeAll { $0.network == definition.name }
        }
    }

    /// After `rename`: the container answers to its new name, and no longer the old one, on every
    /// network with DNS it is attached to; its short ID and aliases stay.
    func renameInNetworks(_ renamed: ContainerRecord) throws {
        guard !renamed.endpointsConfig.isEmpty else { return }
        let manager = try NetworkManager(root: root)
        for endpoint in renamed.endpointsConfig {
            try manager.updateDNSNames(containerID: renamed.id, network: endpoint.network,
                                       names: Self.dnsNames(renamed, endpoint))
        }
    }

    /// A container answers to its name, its short ID and its aliases on a network with DNS.
    private static func dnsNames(_ record: ContainerRecord, _ endpoint: ContainerRecord.EndpointConfig) -> [String] {
        [record.name, record.shortID] + endpoint.aliases
    }

    private static func endpoint(_ attachment: NetworkAttachment, interface: String) -> ContainerRecord.Endpoint {
        ContainerRecord.Endpoint(network: attachment.network, interface: interface, ipAddress: attachment.ipAddress,
                                 gateway: attachment.gateway, macAddress: attachment.macAddress,
                                 prefixLength: attachment.prefixLength)
    }
}
