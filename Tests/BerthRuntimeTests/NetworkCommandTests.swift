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
        let create = try fixture.berth("network", "create", "--subnet", "10.181.0.0/24", "--label", "team=web", "appnet")
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
        #expect(address.hasPrefix("10.181.0."))
        // Docker adds the short ID after the given aliases.
        #expect(try fixture.berth("inspect", "--format", "{{json .NetworkSettings.Networks.appnet.Aliases}}", "web").stdout
            == "[\"www\",\"\(webID.prefix(12))\"]\n")

        // By name, by alias and by short ID; the server is the gateway, as in resolv.conf.
        let client = try fixture.berth(
            "run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
            "grep nameserver /etc/resolv.conf; wget -qO- http://web/; wget -qO- http://www/; nslookup \(webID.prefix(12)) | grep -A1 '^Name'")
        #expect(client.status == 0, "\(client.stderr)")
        #expect(client.stdout.hasPrefix("nameserver 10.181.0.1\nhello from web\nhello from web\n"))
        #expect(client.stdout.contains("Address: \(address)"))

        // The default bridge has no DNS for container names, as in Docker.
        let outsider = try fixture.berth("run", "--rm", "busybox", "sh", "-c", "wget -qO- -T 2 http://web/ || echo unreachable")
        #expect(outsider.stdout.hasSuffix("unreachable\n"))

        let inspect = try fixture.berth("network", "inspect", "--format",
                                        "{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.team}}",
                                        "appnet")
        // As dockerd's, the IPAM config names a gateway only when one was given.
        #expect(inspect.stdout == "appnet bridge 10.181.0.0/24  web\n")
        #expect(try fixture.berth("network", "inspect", "--format", "{{json .Containers}}", "appnet").stdout.contains("\"Name\":\"web\""))

        let inUse = try fixture.berth("network", "rm", "appnet")
        #expect(inUse.status == 1)
        #expect(inUse.stderr.contains("has active endpoints"))
        #expect(try dnsServers(fixture).count == 1)

        #expect(try fixture.berth("rm", "-f", "web").status == 0)
        #expect(try dnsServers(fixture) == [], "the DNS server stops with the network's last container")
        let remove = try fixture.berth("network", "rm", "appnet")
        #expect(remove.status == 0 && remove.stdout == "appnet\n", "\(remove.stderr)")
        #expect(try networkLeftovers(bridge: bridge, subnet: "10.181.0.") == [])
        let dnsState = (try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/network/dns")) ?? []
        #expect(dnsState == [])
    }

    @Test func connectAndDisconnectARunningContainer() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try fixture.berth("network", "create", "--subnet", "10.181.1.0/24", "backend").status == 0)
        #expect(try fixture.berth("run", "-d", "--name", "api", "busybox", "sleep", "300").status == 0)

        let connect = try fixture.berth("network", "connect", "--alias", "db", "backend", "api")
        #expect(connect.status == 0, "\(connect.stderr)")
        let addresses = try fixture.berth("exec", "api", "ip", "-o", "-4", "addr", "show").stdout
        #expect(addresses.contains("eth0") && addresses.contains("10.77."))
        #expect(addresses.contains("eth1") && addresses.contains("10.181.1."))
        #expect(try fixture.berth("exec", "api", "cat", "/etc/resolv.conf").stdout.contains("nameserver 10.181.1.1"))
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
        #expect(try networkLeftovers(bridge: nil, subnet: "10.181.1.") == [])
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
        #expect(missing.status == 1 && missing.stderr == "Error response from daemon: network nope not found\n")
        let notThere = try fixture.berth("network", "inspect", "nope")
        #expect(notThere.status == 1 && notThere.stderr == "Error: No such network: nope\n" && notThere.stdout == "[]\n")
        let badSubnet = try fixture.berth("network", "create", "--subnet", "10.181.2.7/24", "bad")
        #expect(badSubnet.status == 1 && badSubnet.stderr.contains("invalid subnet"))
        let badName = try fixture.berth("network", "create", "-bad")
        #expect(badName.status != 0)
        let badGateway = try fixture.berth("network", "create", "--subnet", "10.181.2.0/24", "--gateway", "10.99.0.1", "bad")
        #expect(badGateway.status == 1 && badGateway.stderr.contains("no matching subnet for gateway 10.99.0.1"))

        let unknown = try fixture.berth("run", "--rm", "--network", "nowhere", "busybox", "true")
        #expect(unknown.status == 125 && unknown.stderr.contains("network nowhere not found"))
        let alias = try fixture.berth("run", "--rm", "--network-alias", "x", "busybox", "true")
        #expect(alias.status == 125 && alias.stderr.contains("network-scoped alias is supported only for containers in user defined networks"))
        #expect(try fixture.berth("ps", "-aq").stdout == "")
        #expect(try fixture.berth("network", "ls", "-q").stdout.split(separator: "\n").count == 4)
        #expect(try fixture.berth("network", "rm", "auto").status == 0)
    }

    /// Docker's isolation between bridge networks: a container on one network cannot reach one on
    /// another (nor can the default bridge), while each reaches its gateway, a container connected
    /// to both reaches both, and published ports stay reachable from the host and, through a host
    /// address, from other networks. Every isolation rule of the two networks goes with them.
    @Test func userNetworksAreIsolatedFromEachOther() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        let createA = try fixture.berth("network", "create", "--subnet", "10.181.5.0/24", "isola")
        let createB = try fixture.berth("network", "create", "--subnet", "10.181.6.0/24", "isolb")
        #expect(createA.status == 0 && createB.status == 0, "\(createA.stderr)\(createB.stderr)")
        let bridgeA = "br-\(createA.stdout.prefix(12))"
        let bridgeB = "br-\(createB.stdout.prefix(12))"

        let serve = { (name: String) in "echo from \(name) > /tmp/index.html; httpd -f -p 80 -h /tmp" }
        #expect(try fixture.berth("run", "-d", "--name", "ona", "--network", "isola", "busybox", "sh", "-c", serve("a")).status == 0)
        let onB = try fixture.berth("run", "-d", "--name", "onb", "--network", "isolb", "-p", "80",
                                    "busybox", "sh", "-c", serve("b"))
        #expect(onB.status == 0, "\(onB.stderr)")
        #expect(try fixture.berth("run", "-d", "--name", "onboth", "--network", "isola", "busybox", "sleep", "300").status == 0)
        let connect = try fixture.berth("network", "connect", "isolb", "onboth")
        #expect(connect.status == 0, "\(connect.stderr)")
        let address = { (container: String, network: String) in
            try fixture.berth("inspect", "--format", "{{.NetworkSettings.Networks.\(network).IPAddress}}", container)
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let addressA = try address("ona", "isola")
        let addressB = try address("onb", "isolb")
        #expect(addressA.hasPrefix("10.181.5.") && addressB.hasPrefix("10.181.6."))

        let rules = try commandOutput("iptables-save").split(separator: "\n").map(String.init)
        let isolation = { (bridge: String) in
            ["-A BERTH-ISOLATION-1 -i \(bridge) ! -o \(bridge) -m conntrack ! --ctstate DNAT -j BERTH-ISOLATION-2",
             "-A BERTH-ISOLATION-2 -o \(bridge) -j DROP"]
        }
        for rule in isolation(bridgeA) + isolation(bridgeB) + isolation("berth0") {
            #expect(rules.contains(rule), "missing \(rule)")
        }
        let isolationJump = try #require(rules.firstIndex(of: "-A FORWARD -j BERTH-ISOLATION-1"))
        let forwardJump = try #require(rules.firstIndex(of: "-A FORWARD -j BERTH-FORWARD"))
        #expect(isolationJump < forwardJump, "isolation must come before BERTH-FORWARD's accepts")

        // busybox's `wget -T` crashes once connected, so `timeout` bounds the attempts instead.
        let fetch = { (url: String) in "timeout 3 wget -qO- \(url) || echo no http" }
        // Across networks: nothing by IP, neither ping nor TCP; the gateway still answers.
        let fromA = try fixture.berth(
            "exec", "ona", "sh", "-c",
            "ping -c 1 -W 2 \(addressB) >/dev/null || echo no ping; \(fetch("http://\(addressB)/")); "
                + "ping -c 1 -W 2 10.181.5.1 >/dev/null && echo gateway")
        #expect(fromA.stdout == "no ping\nno http\ngateway\n", "\(fromA.stderr)")
        let fromB = try fixture.berth(
            "exec", "onb", "sh", "-c",
            "\(fetch("http://\(addressA)/")); ping -c 1 -W 2 10.181.6.1 >/dev/null && echo gateway")
        #expect(fromB.stdout == "no http\ngateway\n", "\(fromB.stderr)")
        let fromDefault = try fixture.berth("run", "--rm", "busybox", "sh", "-c", fetch("http://\(addressA)/"))
        #expect(fromDefault.stdout == "no http\n", "\(fromDefault.stderr)")

        // On both networks: both reachable.
        let fromBoth = try fixture.berth("exec", "onboth", "sh", "-c",
                                         "\(fetch("http://\(addressA)/")); \(fetch("http://\(addressB)/"))")
        #expect(fromBoth.stdout == "from a\nfrom b\n", "\(fromBoth.stderr)")

        // Published ports: from the host, and from network A through A's gateway (a host address).
        let port = try fixture.berth("port", "onb", "80").stdout.split(separator: "\n").first
            .flatMap { $0.split(separator: ":").last }.map(String.init) ?? ""
        #expect(!port.isEmpty)
        #expect(try commandOutput("curl", "-s", "--max-time", "10", "http://127.0.0.1:\(port)/") == "from b\n")
        let published = try fixture.berth("exec", "ona", "sh", "-c", fetch("http://10.181.5.1:\(port)/"))
        #expect(published.stdout == "from b\n", "\(published.stderr)")

        #expect(try fixture.berth("rm", "-f", "ona", "onb", "onboth").status == 0)
        #expect(try fixture.berth("network", "rm", "isola", "isolb").stdout == "isola\nisolb\n")
        let after = try commandOutput("iptables-save").split(separator: "\n").map(String.init)
        for rule in isolation(bridgeA) + isolation(bridgeB) { #expect(!after.contains(rule), "left: \(rule)") }
        #expect(try networkLeftovers(bridge: bridgeA, subnet: "10.181.5.") == [])
        #expect(try networkLeftovers(bridge: bridgeB, subnet: "10.181.6.") == [])
    }

    /// After `rename`, the network's DNS answers the new name at once and no longer the old one;
    /// aliases stay.
    @Test func renameUpdatesTheNetworksDNS() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try fixture.berth("network", "create", "--subnet", "10.181.7.0/24", "renames").status == 0)
        let run = try fixture.berth("run", "-d", "--name", "before", "--network", "renames", "--network-alias", "kept",
                                    "busybox", "sleep", "300")
        #expect(run.status == 0, "\(run.stderr)")
        let lookup = "for name in before after kept; do "
            + "if ping -c 1 -W 2 $name >/dev/null 2>&1; then echo $name resolves; else echo $name does not; fi; done"
        let first = try fixture.berth("run", "--rm", "--network", "renames", "busybox", "sh", "-c", lookup)
        #expect(first.stdout == "before resolves\nafter does not\nkept resolves\n", "\(first.stderr)")

        let rename = try fixture.berth("rename", "before", "after")
        #expect(rename.status == 0, "\(rename.stderr)")
        let second = try fixture.berth("run", "--rm", "--network", "renames", "busybox", "sh", "-c", lookup)
        #expect(second.stdout == "before does not\nafter resolves\nkept resolves\n", "\(second.stderr)")

        #expect(try fixture.berth("rm", "-f", "after").status == 0)
        #expect(try fixture.berth("network", "rm", "renames").status == 0)
        #expect(try networkLeftovers(bridge: nil, subnet: "10.181.7.") == [])
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
