import Foundation
import Glibc
import Testing

/// User-defined networks through the built `berth` binary: real bridges, CNI plugins, iptables and
/// dnsmasq (root only). Each test uses its own subnet, so the suites may run side by side.
@Suite(.serialized)
struct NetworkCommandTests {
    static func skipped(_ test: String = #function) -> Bool {
        if RuntimeFixture.skipped(test) { return true }
        var reason = RuntimeFixture.bridgeSkipReason
        if reason == nil, access("/usr/sbin/dnsmasq", X_OK) != 0 { reason = "dnsmasq is missing (apt-get install dnsmasq-base)" }
        guard let reason else { return false }
        print("SKIPPED \(test): \(reason)")
        return true
    }

    @Test func containersOnAUserNetworkResolveEachOtherByName() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        let create = try fixture.berth("network", "create", "--subnet", "10.81.0.0/24", "--label", "team=web", "appnet")
        #expect(create.status == 0, "\(create.stderr)")
        let networkID = create.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(networkID.count == 64)
        let bridge = "br-\(networkID.prefix(12))"

        let web = try fixture.berth("run", "-d", "--name", "web", "--network", "appnet", "--network-alias", "www",
                                    "busybox", "sh", "-c", "echo hello from web > /tmp/index.html; httpd -f -p 80 -h /tmp")
        #expect(web.status == 0, "\(web.stderr)")
        let webID = web.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let address = try fixture.berth("inspect", "--format", "{{.NetworkSettings.Networks.appnet.IPAddress}}", "web")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(address.hasPrefix("10.81.0."))
        #expect(try fixture.berth("inspect", "--format", "{{json .NetworkSettings.Networks.appnet.Aliases}}", "web").stdout
            == "[\"www\"]\n")

        // By name, by alias and by short ID; the server is the gateway, as in resolv.conf.
        let client = try fixture.berth(
            "run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
            "grep nameserver /etc/resolv.conf; wget -qO- http://web/; wget -qO- http://www/; nslookup \(webID.prefix(12)) | grep -A1 '^Name'")
        #expect(client.status == 0, "\(client.stderr)")
        #expect(client.stdout.hasPrefix("nameserver 10.81.0.1\nhello from web\nhello from web\n"))
        #expect(client.stdout.contains("Address: \(address)"))

        // The default bridge has no DNS for container names, as in Docker.
        let outsider = try fixture.berth("run", "--rm", "busybox", "sh", "-c", "wget -qO- -T 2 http://web/ || echo unreachable")
        #expect(outsider.stdout.hasSuffix("unreachable\n"))

        let inspect = try fixture.berth("network", "inspect", "--format",
                                        "{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.team}}",
                                        "appnet")
        #expect(inspect.stdout == "appnet bridge 10.81.0.0/24 10.81.0.1 web\n")
        #expect(try fixture.berth("network", "inspect", "--format", "{{json .Containers}}", "appnet").stdout.contains("\"Name\":\"web\""))

        let inUse = try fixture.berth("network", "rm", "appnet")
        #expect(inUse.status == 1)
        #expect(inUse.stderr.contains("has active endpoints"))
        #expect(try dnsServers(fixture).count == 1)

        #expect(try fixture.berth("rm", "-f", "web").status == 0)
        #expect(try dnsServers(fixture) == [], "the DNS server stops with the network's last container")
        let remove = try fixture.berth("network", "rm", "appnet")
        #expect(remove.status == 0 && remove.stdout == "appnet\n", "\(remove.stderr)")
        #expect(try networkLeftovers(bridge: bridge, subnet: "10.81.0.") == [])
        let dnsState = (try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/network/dns")) ?? []
        #expect(dnsState == [])
    }

    @Test func connectAndDisconnectARunningContainer() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try fixture.berth("network", "create", "--subnet", "10.81.1.0/24", "backend").status == 0)
        #expect(try fixture.berth("run", "-d", "--name", "api", "busybox", "sleep", "300").status == 0)

        let connect = try fixture.berth("network", "connect", "--alias", "db", "backend", "api")
        #expect(connect.status == 0, "\(connect.stderr)")
        let addresses = try fixture.berth("exec", "api", "ip", "-o", "-4", "addr", "show").stdout
        #expect(addresses.contains("eth0") && addresses.contains("10.77."))
        #expect(addresses.contains("eth1") && addresses.contains("10.81.1."))
        #expect(try fixture.berth("exec", "api", "cat", "/etc/resolv.conf").stdout.contains("nameserver 10.81.1.1"))
        let lookup = try fixture.berth("run", "--rm", "--network", "backend", "busybox", "ping", "-c", "1", "-W", "2", "db")
        #expect(lookup.status == 0, "\(lookup.stdout)\(lookup.stderr)")
        #expect(try fixture.berth("ps", "--filter", "network=backend", "--format", "{{.Names}} {{.Networks}}").stdout
            == "api bridge,backend\n")

        let again = try fixture.berth("network", "connect", "backend", "api")
        #expect(again.status == 1 && again.stderr.contains("already exists in network backend"))

        #expect(try fixture.berth("network", "disconnect", "backend", "api").status == 0)
        #expect(!(try fixture.berth("exec", "api", "ip", "-o", "link").stdout.contains("eth1")))
        let networks = try fixture.berth("inspect", "--format", "{{json .NetworkSettings.Networks}}", "api").stdout
        #expect(networks.contains("\"bridge\"") && !networks.contains("backend"))
        let notConnected = try fixture.berth("network", "disconnect", "backend", "api")
        #expect(notConnected.status == 1 && notConnected.stderr.contains("is not connected to network backend"))
        #expect(try fixture.berth("network", "disconnect", "-f", "backend", "api").status == 0)

        let hostOnly = try fixture.berth("create", "--network", "host", "busybox", "true")
        let hostID = hostOnly.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let refused = try fixture.berth("network", "connect", "backend", hostID)
        #expect(refused.status == 1 && refused.stderr.contains("host network"))

        #expect(try fixture.berth("rm", "-f", "api", hostID).status == 0)
        let prune = try fixture.berth("network", "prune", "-f")
        #expect(prune.stdout == "Deleted Networks:\nbackend\n\n")
        #expect(try networkLeftovers(bridge: nil, subnet: "10.81.1.") == [])
    }

    @Test func badNetworkInputFailsClearlyAndLeavesNothing() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        let listed = try fixture.berth("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout
        #expect(listed == "bridge bridge\nhost host\nnone null\n")
        let created = try fixture.berth("network", "create", "auto")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try fixture.berth("network", "ls", "-q", "--filter", "type=custom").stdout
            == String(created.stdout.prefix(12)) + "\n")

        let duplicate = try fixture.berth("network", "create", "auto")
        #expect(duplicate.status == 1 && duplicate.stderr == "Error response from daemon: network with name auto already exists\n")
        let predefined = try fixture.berth("network", "rm", "bridge")
        #expect(predefined.status == 1 && predefined.stderr.contains("bridge is a pre-defined network and cannot be removed"))
        let missing = try fixture.berth("network", "rm", "nope")
        #expect(missing.status == 1 && missing.stderr == "Error: No such network: nope\n")
        let notThere = try fixture.berth("network", "inspect", "nope")
        #expect(notThere.status == 1 && notThere.stderr == "Error: No such network: nope\n" && notThere.stdout == "[]\n")
        let badSubnet = try fixture.berth("network", "create", "--subnet", "10.81.2.7/24", "bad")
        #expect(badSubnet.status == 1 && badSubnet.stderr.contains("invalid subnet"))
        let badName = try fixture.berth("network", "create", "-bad")
        #expect(badName.status != 0)
        let badGateway = try fixture.berth("network", "create", "--subnet", "10.81.2.0/24", "--gateway", "10.99.0.1", "bad")
        #expect(badGateway.status == 1 && badGateway.stderr.contains("no matching subnet for gateway 10.99.0.1"))

        let unknown = try fixture.berth("run", "--rm", "--network", "nowhere", "busybox", "true")
        #expect(unknown.status == 125 && unknown.stderr.contains("network nowhere not found"))
        let alias = try fixture.berth("run", "--rm", "--network-alias", "x", "busybox", "true")
        #expect(alias.status == 125 && alias.stderr.contains("network-scoped alias is supported only for containers in user defined networks"))
        #expect(try fixture.berth("ps", "-aq").stdout == "")
        #expect(try fixture.berth("network", "ls", "-q").stdout.split(separator: "\n").count == 4)
        #expect(try fixture.berth("network", "rm", "auto").status == 0)
    }

    /// The dnsmasq processes serving this fixture's networks.
    private func dnsServers(_ fixture: RuntimeFixture) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { pid -> String? in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let commandLine = String(decoding: data, as: UTF8.self)
            return commandLine.contains("dnsmasq") && commandLine.contains(fixture.root) ? pid : nil
        }
    }

    /// What is left on the host of a removed network: its bridge, addresses in its subnet, rules.
    private func networkLeftovers(bridge: String?, subnet: String) throws -> [String] {
        var found: [String] = []
        let links = try commandOutput("ip", "-o", "link")
        if let bridge, links.contains(" \(bridge):") { found.append("bridge \(bridge)") }
        for line in try commandOutput("ip", "-o", "-4", "addr").split(separator: "\n") where line.contains(subnet) {
            found.append("address: \(line)")
        }
        for line in try commandOutput("iptables-save").split(separator: "\n")
        where line.contains(subnet) || bridge.map({ line.contains($0) }) == true {
            found.append("iptables: \(line)")
        }
        return found
    }
}
