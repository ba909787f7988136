import BerthOCI
import Foundation
import Testing
@testable import BerthNetwork

/// Real rtnetlink, iptables, network namespaces and (for older attachments and lease
/// compatibility) CNI plugins; needs root. Serialized: the tests share the
/// test bridge and the host's iptables.
@Suite(.serialized, .enabled(if: NetworkTestHost.unavailableReason == nil, "\(NetworkTestHost.skipMessage)"))
final class NetworkManagerTests {
    /// A bridge of the tests' own, so they never meet containers on berth0.
    static let bridge = BridgeNetwork(name: "bridge", cniName: "berth-test", bridge: "berthtest0",
                                      subnet: "10.78.0.0/16", gateway: "10.78.0.1")
    let root: String
    var manager: NetworkManager
    var namespaces: [TestNamespace] = []

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-net-\(UUID().uuidString)").path
        manager = try NetworkManager(root: root, bridge: Self.bridge)
    }

    deinit {
        for namespace in namespaces { namespace.delete() }
        try? FileManager.default.removeItem(atPath: root)
    }

    func makeNamespace() throws -> TestNamespace {
        let namespace = try TestNamespace()
        namespaces.append(namespace)
        return namespace
    }

    @Test func publishedPortAnswersOnLoopbackAndHostAddressAndGatewayIsReachable() throws {
        let namespace = try makeNamespace()
        let id = "pub-\(UUID().uuidString.prefix(8).lowercased())"
        let attachment = try manager.attach(containerID: id, networkNamespace: namespace.path,
                                            ports: try PortMapping.parse("5000"))
        #expect(attachment.network == "bridge")
        let subnet = try #require(IPv4Network(Self.bridge.subnet))
        #expect(try #require(IPv4Network(attachment.ipAddress)).overlaps(subnet))
        #expect(attachment.prefixLength == 16)
        #expect(attachment.gateway == "10.78.0.1")
        #expect(attachment.macAddress.split(separator: ":").count == 6)
        let hostPort = try #require(attachment.ports.first?.hostPort)
        #expect(hostPort != 0 && attachment.ports.first?.containerPort == 5000)
        #expect(try manager.attachment(containerID: id) == attachment)

        // The container's lo is up.
        #expect(try namespace.run(["ip", "-o", "link", "show", "lo"]).contains(",UP"))

        let server = try namespace.serveHTTP(port: 5000, body: "hi from \(id)")
        defer { server.terminate() }
        #expect(try fetch(host: "127.0.0.1", port: hostPort).hasSuffix("hi from \(id)\n"))
        let hostAddress = try #require(try NetworkTestHost.nonLoopbackAddress(excluding: Self.bridge.bridge))
        #expect(try fetch(host: hostAddress, port: hostPort).hasSuffix("hi from \(id)\n"))
        // Hairpin: the container reaches its own published port through the host's address.
        #expect(try namespace.fetch(host: hostAddress, port: hostPort).hasSuffix("hi from \(id)\n"))

        // The namespace reaches the host through its gateway: ICMP and TCP to a server on the bridge address.
        #expect(try namespace.run(["busybox", "ping", "-c", "1", "-W", "2", attachment.gateway]).contains("1 packets received"))
        let gatewayServer = try HTTPServer(address: attachment.gateway, body: "hello from the host")
        defer { gatewayServer.terminate() }
        let reply = try namespace.fetch(host: attachment.gateway, port: gatewayServer.port)
        #expect(reply.hasSuffix("hello from the host\n"))

        let veth = try #require(try NetworkTestHost.hostVeth(of: namespace))
        try manager.detach(containerID: id, networkNamespace: namespace.path)
        #expect(try leftovers(containerID: id, ip: attachment.ipAddress, veth: veth) == [])
        #expect(try manager.attachment(containerID: id) == nil)
        #expect(!(try namespace.run(["ip", "-o", "link"]).contains("eth0")))
        // Idempotent.
        try manager.detach(containerID: id, networkNamespace: namespace.path)
        try manager.detach(containerID: id, networkNamespace: nil)
    }

    /// A published port seen from another machine: a client namespace joined to the host by a veth
    /// pair of its own (not the bridge), so its connections are DNATed and forwarded like a remote
    /// client's, through FORWARD whose policy Docker sets to DROP on this host.
    @Test func publishedPortIsForwardedToRemoteClients() throws {
        let container = try makeNamespace()
        let client = try makeNamespace()
        let hostEnd = "bo-\(client.name.suffix(8))"
        try Command.check("ip", ["link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", client.name])
        defer { _ = try? Command.check("ip", ["link", "delete", hostEnd]) }
        try Command.check("ip", ["addr", "add", "10.79.253.1/30", "dev", hostEnd])
        try Command.check("ip", ["link", "set", hostEnd, "up"])
        try client.run(["ip", "addr", "add", "10.79.253.2/30", "dev", "eth0"])
        try client.run(["ip", "link", "set", "eth0", "up"])

        let id = "remote-\(UUID().uuidString.prefix(8).lowercased())"
        let attachment = try manager.attach(containerID: id, networkNamespace: container.path,
                                            ports: try PortMapping.parse("5000"))
        defer { try? manager.detach(containerID: id, networkNamespace: container.path) }
        let hostPort = try #require(attachment.ports.first?.hostPort)
        let server = try container.serveHTTP(port: 5000, body: "hi remote")
        defer { server.terminate() }
        #expect(try client.fetch(host: "10.79.253.1", port: hostPort).hasSuffix("hi remote\n"))
        let veth = try #require(try NetworkTestHost.hostVeth(of: container))
        try manager.detach(containerID: id, networkNamespace: container.path)
        #expect(try leftovers(containerID: id, ip: attachment.ipAddress, veth: veth) == [])
    }

    @Test func detachAfterTheNamespaceIsGoneRemovesEverything() throws {
        let namespace = try makeNamespace()
        let id = "gone-\(UUID().uuidString.prefix(8).lowercased())"
        let attachment = try manager.attach(containerID: id, networkNamespace: namespace.path,
                                            ports: try PortMapping.parse("127.0.0.1::8080") + PortMapping.parse("53/udp"))
        let veth = try #require(try NetworkTestHost.hostVeth(of: namespace))
        #expect(try !leftovers(containerID: id, ip: attachment.ipAddress, veth: veth).isEmpty)
        namespace.delete()
        // As after a crash: another process, knowing only the root, replays the record.
        try NetworkManager(root: root, bridge: Self.bridge).detach(containerID: id, networkNamespace: nil)
        #expect(try leftovers(containerID: id, ip: attachment.ipAddress, veth: veth) == [])
    }

    /// One veth on the bridge, named as the bridge plugin names them, in hairpin mode; in the
    /// namespace the address, the default route via the gateway and lo up; detach removes the
    /// veth, the lease and the rules.
    @Test func attachMakesOneHairpinVethAndConfiguresTheNamespace() throws {
        let namespace = try makeNamespace()
        let id = "links-\(UUID().uuidString.prefix(8).lowercased())"
        let before = try bridgePorts()
        let attachment = try manager.attach(containerID: id, networkNamespace: namespace.path,
                                            ports: try PortMapping.parse("5000"))
        let added = try bridgePorts().subtracting(before)
        #expect(added.count == 1)
        let veth = try #require(added.first)
        #expect(veth.range(of: "^veth[0-9a-f]{8}$", options: .regularExpression) != nil)
        #expect(try NetworkTestHost.hostVeth(of: namespace) == veth)
        let hairpin = try String(contentsOfFile: "/sys/class/net/\(veth)/brport/hairpin_mode", encoding: .utf8)
        #expect(hairpin.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        #expect(try Command.check("ip", ["-o", "link", "show", veth]).stdoutText.contains(",UP"))

        let address = try namespace.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
        #expect(address.contains(" inet \(attachment.ipAddress)/16 brd 10.78.255.255 "))
        let link = try namespace.run(["ip", "-o", "link", "show", "eth0"])
        #expect(link.contains(",UP") && link.contains("link/ether \(attachment.macAddress) "))
        #expect(try namespace.run(["ip", "-4", "route", "show", "default"])
            .hasPrefix("default via \(Self.bridge.gateway) dev eth0"))
        #expect(try namespace.run(["ip", "-o", "link", "show", "lo"]).contains(",UP"))
        let lease = "\(NetworkManager.ipamDirectory)/\(Self.bridge.cniName)/\(attachment.ipAddress)"
        #expect(FileManager.default.contents(atPath: lease) == Data("\(id)\r\neth0".utf8))
        // The bridge holds the gateway, and the host forwards.
        #expect(try Command.check("ip", ["-o", "-4", "addr", "show", "dev", Self.bridge.bridge]).stdoutText
            .contains(" inet 10.78.0.1/16 "))
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8).hasPrefix("1"))

        try manager.detach(containerID: id, networkNamespace: namespace.path)
        #expect(try leftovers(containerID: id, ip: attachment.ipAddress, veth: veth) == [])
        #expect(try bridgePorts() == before)
        #expect(!FileManager.default.fileExists(atPath: lease))
    }

    /// The veth cannot be made (the namespace already has an eth0) after the record, the bridge and
    /// the lease were: everything is undone, and the namespace's own eth0 is left alone.
    @Test func anAttachFailingMidwayIsRolledBack() throws {
        let namespace = try makeNamespace()
        try namespace.run(["ip", "link", "add", "eth0", "type", "bridge"])
        let id = "rollback-\(UUID().uuidString.prefix(8).lowercased())"
        let before = try bridgePorts()
        do {
            _ = try manager.attach(containerID: id, networkNamespace: namespace.path,
                                   ports: try PortMapping.parse("5000") + PortMapping.parse("5001/udp"))
            Issue.record("attach succeeded into a namespace that has an eth0")
        } catch let error as NetworkError {
            guard case .netlinkFailed(let operation, let reason) = error else {
                Issue.record("unexpected error: \(error)")
                return
            }
            #expect(operation.hasPrefix("create veth veth") && operation.hasSuffix("with eth0 in \(namespace.path)"))
            #expect(reason.hasPrefix("File exists"))
        }
        #expect(try namespace.run(["ip", "-o", "link", "show", "eth0"]).contains("eth0: "))
        #expect(try namespace.run(["ip", "-o", "link"]).split(separator: "\n").count == 2)
        #expect(try leftovers(containerID: id, ip: nil, veth: nil) == [])
        #expect(try bridgePorts() == before)
        #expect(try manager.attachedContainers() == [])
    }

    @Test func aPathThatIsNotANamespaceIsRefusedAndLeavesNothing() throws {
        let file = "\(root)/not-a-namespace"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let id = "notns-\(UUID().uuidString.prefix(8).lowercased())"
        #expect(throws: NetworkError.notANetworkNamespace(file)) {
            try manager.attach(containerID: id, networkNamespace: file, ports: try PortMapping.parse("5000"))
        }
        #expect(try leftovers(containerID: id, ip: nil, veth: nil) == [])
        #expect(try manager.attachedContainers() == [])
    }

    /// The real host-local plugin and Berth share the leases: an address the plugin leased is
    /// skipped, the plugin's DEL releases its own lease and not Berth's.
    @Test func aLeaseOfTheHostLocalPluginIsSkipped() throws {
        if NetworkTestHost.missingPlugins(["host-local"], test: "aLeaseOfTheHostLocalPluginIsSkipped") != nil { return }
        let pluginID = "hostlocal-\(UUID().uuidString.prefix(8).lowercased())"
        let ipam = Self.bridge.pluginConfigurations(ipamDataDirectory: NetworkManager.ipamDirectory)[0]["ipam"]!
        let config = JSONValue.object(["cniVersion": .string(CNI.version), "name": .string(Self.bridge.cniName),
                                       "ipam": ipam])
        let hostLocal = try CNI().locate("host-local")
        func run(_ command: String) throws -> Command.Output {
            try Command.run(hostLocal, [], environment: [
                "CNI_COMMAND": command, "CNI_CONTAINERID": pluginID, "CNI_NETNS": "/proc/self/ns/net",
                "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni",
            ], input: try config.encoded())
        }
        let added = try run("ADD")
        #expect(added.status == 0, "host-local ADD: \(added.stdoutText) \(added.stderrText)")
        let result = try JSONValue.decoded(from: added.stdout)
        let pluginAddress = try #require(result["ips"]?[0]?["address"]?.stringValue?.split(separator: "/").first.map(String.init))
        let directory = "\(NetworkManager.ipamDirectory)/\(Self.bridge.cniName)"
        // The allocator's next candidate is the plugin's address.
        let previous = try #require(IPv4Network(pluginAddress)).address - 1
        try StateLock(path: "\(directory)/lock").withLock {
            try StateFile.write(Data(IPv4Network.format(previous).utf8), to: "\(directory)/last_reserved_ip.0")
        }
        let namespace = try makeNamespace()
        let id = "afterplugin-\(UUID().uuidString.prefix(8).lowercased())"
        let attachment = try manager.attach(containerID: id, networkNamespace: namespace.path, ports: [])
        #expect(attachment.ipAddress != pluginAddress)
        #expect(try #require(IPv4Network(attachment.ipAddress)).address > previous + 1)
        #expect(FileManager.default.contents(atPath: "\(directory)/\(pluginAddress)") == Data("\(pluginID)\r\neth0".utf8))

        #expect(try run("DEL").status == 0)
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/\(pluginAddress)"))
        #expect(FileManager.default.fileExists(atPath: "\(directory)/\(attachment.ipAddress)"))
        let veth = try #require(try NetworkTestHost.hostVeth(of: namespace))
        try manager.detach(containerID: id, networkNamespace: namespace.path)
        #expect(try leftovers(containerID: id, ip: attachment.ipAddress, veth: veth) == [])
    }

    /// An attachment of the previous version, made by the bridge (host-local) and loopback plugins
    /// with Berth's rules, is torn down by replaying the plugins' DEL.
    @Test func anAttachmentOfTheBridgePluginIsTornDown() throws {
        if NetworkTestHost.missingPlugins(["bridge", "host-local", "loopback"], test: "anAttachmentOfTheBridgePluginIsTornDown") != nil {
            return
        }
        let namespace = try makeNamespace()
        let id = "plugin-\(UUID().uuidString.prefix(8).lowercased())"
        let bridge = Self.bridge
        let ports = try HostPorts.resolve(try PortMapping.parse("5000"), taken: [])
        let plugins = bridge.pluginConfigurations(ipamDataDirectory: NetworkManager.ipamDirectory)
        var record = AttachmentRecord(
            containerID: id, network: bridge, networkNamespace: namespace.path,
            namespaceIdentity: NamespaceIdentity(path: namespace.path), interface: "eth0", plugins: plugins,
            pluginsStarted: 1, result: nil, rulesStarted: true, loopbackStarted: true, ports: ports, attachment: nil)
        try CNI().invoke(.add, config: bridge.loopbackConfiguration, containerID: id, networkNamespace: namespace.path,
                         interface: "lo")
        record.result = try CNI().invoke(.add, config: plugins[0], containerID: id, networkNamespace: namespace.path,
                                         interface: "eth0")
        let ip = try #require(record.result?["ips"]?[0]?["address"]?.stringValue?.split(separator: "/").first.map(String.init))
        try Iptables.addContainerRules(network: bridge, containerID: id, address: ip, ports: ports)
        try record.save(in: "\(root)/network")
        let veth = try #require(try NetworkTestHost.hostVeth(of: namespace))
        #expect(try leftovers(containerID: id, ip: ip, veth: veth).contains { $0.hasPrefix("lease: ") })
        #expect(try manager.attachedContainers() == [id])
        try manager.detach(containerID: id, networkNamespace: namespace.path)
        #expect(try leftovers(containerID: id, ip: ip, veth: veth) == [])
        #expect(!(try namespace.run(["ip", "-o", "link"]).contains("eth0")))
    }

    /// What a `berth` killed after making the lease, the veth and the rules leaves: a record of the
    /// steps started, without the address. Another process's detach finds and removes it all.
    @Test func anAttachKilledBeforeItsAddressIsRecordedIsCleanedByDetach() throws {
        let namespace = try makeNamespace()
        let id = "killed-\(UUID().uuidString.prefix(8).lowercased())"
        let bridge = Self.bridge
        let ports = try HostPorts.resolve(try PortMapping.parse("5000"), taken: [])
        let record = AttachmentRecord(
            containerID: id, network: bridge, networkNamespace: namespace.path,
            namespaceIdentity: NamespaceIdentity(path: namespace.path), interface: "eth0", plugins: [],
            pluginsStarted: 0, result: nil, rulesStarted: true, loopbackStarted: false, ports: ports, attachment: nil,
            hostVeth: BridgeLink.unusedVethName(), leaseStarted: true)
        try record.save(in: "\(root)/network")
        let socket = try NetlinkSocket()
        let bridgeIndex = try BridgeLink.ensureBridge(bridge, socket: socket)
        let address = try AddressLeases(network: bridge, ipamDirectory: NetworkManager.ipamDirectory)
            .reserve(containerID: id, interface: "eth0")
        let descriptor = open(namespace.path, O_RDONLY | O_CLOEXEC)
        defer { close(descriptor) }
        try BridgeLink.createVeth(hostName: record.hostVeth!, bridgeIndex: bridgeIndex, interface: "eth0",
                                  mac: BridgeLink.randomMAC(), namespace: descriptor, namespacePath: namespace.path,
                                  socket: socket)
        try BridgeLink.configureContainer(namespace: descriptor, namespacePath: namespace.path, interface: "eth0",
                                          address: address, subnet: try #require(IPv4Network(bridge.subnet)),
                                          gateway: try #require(IPv4Network(bridge.gateway)).address)
        let ip = IPv4Network.format(address)
        try Iptables.addContainerRules(network: bridge, containerID: id, address: ip, ports: ports)
        #expect(try leftovers(containerID: id, ip: ip, veth: record.hostVeth).count >= 4)
        try NetworkManager(root: root, bridge: bridge).detach(containerID: id, networkNamespace: nil)
        #expect(try leftovers(containerID: id, ip: ip, veth: record.hostVeth) == [])
    }

    /// The names of the bridge's ports.
    func bridgePorts() throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: "/sys/class/net/\(Self.bridge.bridge)") else { return [] }
        let listing = try Command.check("ip", ["-o", "link", "show", "master", Self.bridge.bridge]).stdoutText
        return Set(listing.split(separator: "\n").map { line in
            String(line.split(separator: " ")[1].split(separator: "@")[0]).trimmingCharacters(in: CharacterSet(charactersIn: ":"))
        })
    }

    /// Exactly one DNAT rule per published port, in Berth's chain and named for the container, is
    /// what an attachment adds to the host's tables (the bridge's own rule masquerades the subnet);
    /// detach removes exactly these, leaving the bridge's chains for the next container.
    @Test func attachAddsExactlyTheContainersRules() throws {
        let namespace = try makeNamespace()
        let id = "rules-\(UUID().uuidString.prefix(8).lowercased())"
        let before = Set(try Command.check("iptables-save", []).stdoutText.split(separator: "\n").filter { !$0.hasPrefix("#") })
        let attachment = try manager.attach(containerID: id, networkNamespace: namespace.path,
                                            ports: try PortMapping.parse("127.0.0.1::80") + PortMapping.parse("81/sctp"))
        let ip = attachment.ipAddress
        let tcp = try #require(attachment.ports.first?.hostPort)
        let sctp = try #require(attachment.ports.last?.hostPort)
        let comment = "-m comment --comment \"berth net=berth-test id=\(id)\""
        let after = Set(try Command.check("iptables-save", []).stdoutText.split(separator: "\n").filter { !$0.hasPrefix("#") })
        let containerLines = after.subtracting(before).filter { !$0.hasPrefix(":") && !$0.hasPrefix("*") && $0 != "COMMIT" }
            .filter { $0.contains(id) }
        #expect(containerLines == [
            "-A BERTH-HOSTPORTS -d 127.0.0.1/32 -p tcp -m tcp --dport \(tcp) \(comment) -j DNAT --to-destination \(ip):80",
            "-A BERTH-HOSTPORTS -p sctp -m sctp --dport \(sctp) \(comment) -j DNAT --to-destination \(ip):81",
        ])
        try manager.detach(containerID: id, networkNamespace: namespace.path)
        let final = Set(try Command.check("iptables-save", []).stdoutText.split(separator: "\n").filter { !$0.hasPrefix("#") })
        #expect(final.filter { $0.contains(id) || $0.contains(" \(ip)/") || $0.contains(" \(ip):") } == [])
        // The bridge's own chains stay, as the bridge does.
        #expect(final.contains(":BERTH-MASQ-berthtest0 - [0:0]"))
        #expect(final.contains("-A BERTH-MASQ-berthtest0 -s 10.78.0.0/16 ! -o berthtest0 -j MASQUERADE"))
        #expect(final.contains("-A BERTH-FORWARD -i berthtest0 -j ACCEPT"))
        #expect(final.contains("-A POSTROUTING -j BERTH-MASQ-berthtest0"))
    }

    /// A container without published ports gets no rule of its own: the bridge's rules serve it.
    @Test func attachWithoutPortsAddsNoRule() throws {
        let namespace = try makeNamespace()
        let id = "noports-\(UUID().uuidString.prefix(8).lowercased())"
        let ip = try manager.attach(containerID: id, networkNamespace: namespace.path, ports: []).ipAddress
        let mentioning = { (rules: String) in
            rules.split(separator: "\n").filter { $0.contains(id) || $0.contains(" \(ip)/") || $0.contains(" \(ip):") }
        }
        #expect(mentioning(try Command.check("iptables-save", []).stdoutText) == [])
        #expect(try Command.check("iptables-save", []).stdoutText
            .contains("-A BERTH-MASQ-berthtest0 -s 10.78.0.0/16 ! -o berthtest0 -j MASQUERADE\n"))
        try manager.detach(containerID: id, networkNamespace: namespace.path)
    }

    /// An attachment made by an older Berth, whose chain ran the bridge plugin with `ipMasq` and
    /// the `firewall` and `portmap` plugins (their `CNI-` chains), is still torn down completely.
    @Test func anAttachmentOfThePluginChainIsTornDown() throws {
        if NetworkTestHost.missingPlugins(["bridge", "host-local", "firewall", "portmap"],
                                          test: "anAttachmentOfThePluginChainIsTornDown") != nil { return }
        let namespace = try makeNamespace()
        let id = "legacy-\(UUID().uuidString.prefix(8).lowercased())"
        let bridge = Self.bridge
        let ports = try HostPorts.resolve(try PortMapping.parse("127.0.0.1::8080") + PortMapping.parse("53/udp"), taken: [])
        var bridgePlugin = bridge.pluginConfigurations(ipamDataDirectory: NetworkManager.ipamDirectory)[0]
        bridgePlugin = bridgePlugin.setting("ipMasq", to: .bool(true))
        let portMappings: [JSONValue] = ports.map { port in
            .object(["hostPort": .number(Double(port.hostPort)), "containerPort": .number(Double(port.containerPort)),
                     "protocol": .string(port.proto), "hostIP": .string(port.hostIP)])
        }
        let plugins: [JSONValue] = [
            bridgePlugin,
            .object(["type": .string("firewall"), "backend": .string("iptables")]),
            .object(["type": .string("portmap"), "snat": .bool(true),
                     "capabilities": .object(["portMappings": .bool(true)]),
                     "runtimeConfig": .object(["portMappings": .array(portMappings)])]),
        ].map { $0.setting("name", to: .string(bridge.cniName)).setting("cniVersion", to: .string(CNI.version)) }
        var record = AttachmentRecord(
            containerID: id, network: bridge, networkNamespace: namespace.path,
            namespaceIdentity: NamespaceIdentity(path: namespace.path), interface: "eth0", plugins: plugins,
            pluginsStarted: 0, result: nil, rulesStarted: nil, loopbackStarted: false, ports: ports, attachment: nil)
        for plugin in plugins {
            record.pluginsStarted += 1
            let config = record.result.map { plugin.setting("prevResult", to: $0) } ?? plugin
            record.result = try CNI().invoke(.add, config: config, containerID: id, networkNamespace: namespace.path,
                                             interface: "eth0")
        }
        try record.save(in: "\(root)/network")
        let ip = try #require(record.result?["ips"]?[0]?["address"]?.stringValue?.split(separator: "/").first.map(String.init))
        let veth = try #require(try NetworkTestHost.hostVeth(of: namespace))
        #expect(try leftovers(containerID: id, ip: ip, veth: veth).contains { $0.contains("CNI-") })
        namespace.delete()
        try manager.detach(containerID: id, networkNamespace: nil)
        #expect(try leftovers(containerID: id, ip: ip, veth: veth) == [])
    }

    @Test(arguments: ["tcp", "udp"])
    func takenHostPortFailsAndLeavesNothing(proto: String) throws {
        let holder = try PortHolder(proto: proto)
        defer { holder.close() }
        let namespace = try makeNamespace()
        let id = "taken-\(proto)-\(UUID().uuidString.prefix(8).lowercased())"
        let ports = try PortMapping.parse("9000/\(proto)") + PortMapping.parse("\(holder.port):5000/\(proto)")
        #expect(throws: NetworkError.portAllocated(hostIP: "", port: holder.port, proto: proto)) {
            try manager.attach(containerID: id, networkNamespace: namespace.path, ports: ports)
        }
        #expect(try namespace.run(["ip", "-o", "link"]).split(separator: "\n").count == 1)
        #expect(try leftovers(containerID: id, ip: nil, veth: nil) == [])
        #expect(try manager.attachedContainers() == [])
    }

    @Test func hostPortPublishedByAnotherContainerIsRefused() throws {
        let first = try makeNamespace()
        let second = try makeNamespace()
        let firstID = "first-\(UUID().uuidString.prefix(8).lowercased())"
        let secondID = "second-\(UUID().uuidString.prefix(8).lowercased())"
        let attachment = try manager.attach(containerID: firstID, networkNamespace: first.path,
                                            ports: try PortMapping.parse("5000"))
        let hostPort = try #require(attachment.ports.first?.hostPort)
        #expect(throws: NetworkError.portAllocated(hostIP: "127.0.0.1", port: hostPort, proto: "tcp")) {
            try manager.attach(containerID: secondID, networkNamespace: second.path,
                               ports: try PortMapping.parse("127.0.0.1:\(hostPort):80"))
        }
        #expect(try leftovers(containerID: secondID, ip: nil, veth: nil) == [])
        #expect(throws: NetworkError.alreadyAttached(containerID: firstID, network: "bridge")) {
            try manager.attach(containerID: firstID, networkNamespace: first.path, ports: [])
        }
        #expect(throws: NetworkError.unknownNetwork("frontend")) {
            try manager.attach(containerID: secondID, networkNamespace: second.path, network: "frontend", ports: [])
        }
        let veth = try #require(try NetworkTestHost.hostVeth(of: first))
        try manager.detach(containerID: firstID, networkNamespace: first.path)
        #expect(try leftovers(containerID: firstID, ip: attachment.ipAddress, veth: veth) == [])
    }

    @Test func tenAttachDetachCyclesLeaveNothing() throws {
        let namespace = try makeNamespace()
        var seen: [(id: String, ip: String, veth: String)] = []
        let clock = ContinuousClock()
        var attachTime = Duration.zero
        var detachTime = Duration.zero
        for cycle in 0..<10 {
            let id = "cycle\(cycle)-\(UUID().uuidString.prefix(8).lowercased())"
            let ports = try PortMapping.parse("5000") + PortMapping.parse("5001/udp")
            var attachment: NetworkAttachment?
            attachTime += try clock.measure {
                attachment = try manager.attach(containerID: id, networkNamespace: namespace.path, ports: ports)
            }
            let ip = try #require(attachment?.ipAddress)
            seen.append((id, ip, try #require(try NetworkTestHost.hostVeth(of: namespace))))
            detachTime += try clock.measure { try manager.detach(containerID: id, networkNamespace: namespace.path) }
        }
        print("attach with 2 published ports: \(attachTime / 10) on average; detach: \(detachTime / 10)")
        for (id, ip, veth) in seen {
            #expect(try leftovers(containerID: id, ip: ip, veth: veth) == [])
        }
        #expect(try Command.check("ip", ["-o", "link", "show", "master", Self.bridge.bridge]).stdoutText == "")
    }

    /// Everything that would show the container was ever attached: its host veth, any iptables or
    /// nftables rule naming its ID or address, its IPAM lease, its attachment record.
    func leftovers(containerID: String, ip: String?, veth: String?) throws -> [String] {
        var found: [String] = []
        let addressPattern = ip.map { "(^|[^0-9.])" + NSRegularExpression.escapedPattern(for: $0) + "([^0-9]|$)" }
        func scan(_ text: String, source: String) {
            for line in text.split(separator: "\n") {
                let text = String(line)
                if text.contains(containerID)
                    || addressPattern.map({ text.range(of: $0, options: .regularExpression) != nil }) == true {
                    found.append("\(source): \(text)")
                }
            }
        }
        scan(try Command.check("iptables-save", []).stdoutText, source: "iptables")
        scan(try Command.check("nft", ["list", "ruleset"]).stdoutText, source: "nft")
        if let veth {
            for line in try Command.check("ip", ["-o", "link"]).stdoutText.split(separator: "\n")
            where line.contains(" \(veth)@") || line.contains(" \(veth):") {
                found.append("link: \(line)")
            }
        }
        let leases = "\(NetworkManager.ipamDirectory)/\(Self.bridge.cniName)"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: leases)) ?? [] {
            let contents = (try? String(contentsOfFile: "\(leases)/\(name)", encoding: .utf8)) ?? ""
            if name == ip || contents.contains(containerID) { found.append("lease: \(name)") }
        }
        if FileManager.default.fileExists(atPath: "\(root)/network/\(containerID)@bridge.json") {
            found.append("record: \(containerID)@bridge.json")
        }
        return found
    }
}
