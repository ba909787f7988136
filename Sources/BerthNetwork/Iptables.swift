import Foundation

/// Berth's iptables rules for bridge networks, in chains prefixed `BERTH-`. Every change is one
/// `iptables-restore --noflush` transaction, so a container's rules appear and go all at once and
/// each costs one exec; rules of other programs (Docker, old CNI chains) are never touched.
///
/// Per container, only for published ports (nat, `BERTH-HOSTPORTS`): one DNAT per port, `[-d
/// <hostIP>/32] -p <proto> --dport <host port> -j DNAT --to-destination <address>:<container
/// port>`, with the comment `berth net=<cniName> id=<containerID>`. A container without published
/// ports costs no rule, so no `iptables-restore` when it comes or goes.
///
/// Per bridge, created on its first attachment and removed with the network:
/// - nat `BERTH-MASQ-<bridge>` (jumped from POSTROUTING) masquerades, as Docker's `-s <subnet> !
///   -o <bridge> -j MASQUERADE` does, what the subnet sends elsewhere; and also connections to
///   127.0.0.0/8 that OUTPUT DNATed to the bridge (with `route_localnet=1` on the bridge), and
///   DNATed connections from the subnet to the subnet (hairpin: a container reaching a published
///   port, its own included, through a host address), so replies come back the way they went.
///   Older versions gave each container a `-s <address>/32 ! -d <subnet> -j MASQUERADE` instead,
///   removed with the container;
/// - filter `BERTH-FORWARD` (jumped from the top of FORWARD, whose policy Docker sets to DROP)
///   accepts everything from the bridge, and towards it replies and DNATed connections;
/// - filter `BERTH-ISOLATION-1`: `-i <bridge> ! -o <bridge> -m conntrack ! --ctstate DNAT -j
///   BERTH-ISOLATION-2`, and filter `BERTH-ISOLATION-2`: `-o <bridge> -j DROP`.
///
/// The isolation chains mirror Docker's `DOCKER-ISOLATION-STAGE-1/2`: traffic that enters from one
/// Berth bridge and leaves by another is dropped, so containers on different networks (the default
/// `bridge` included) cannot reach each other, while each still reaches the host, its gateway and
/// the outside world, and published ports stay reachable. Stage 1 picks what leaves a Berth bridge
/// for elsewhere, stage 2 drops it when elsewhere is a Berth bridge, so each bridge costs one rule in
/// each. Connections to a published port through a host address (DNATed) are exempt: Docker's
/// userland proxy lets every container reach published ports that way. A container on two networks
/// has an interface on each bridge, so its traffic to either is not forwarded and never dropped.
/// `BERTH-ISOLATION-1` is jumped from the top of FORWARD, above `BERTH-FORWARD`'s accepts; the
/// chains and the jump go when the last bridge's rules do.
///
/// Once per host: nat `BERTH-HOSTPORTS`, jumped from PREROUTING and OUTPUT for local destinations.
enum Iptables {
    static let hostPortsChain = "BERTH-HOSTPORTS"
    static let forwardChain = "BERTH-FORWARD"
    static let isolationChains = (first: "BERTH-ISOLATION-1", second: "BERTH-ISOLATION-2")

    /// At most 26 characters: a bridge name has at most 15, iptables allows 28.
    static func masqueradeChain(bridge: String) -> String { "BERTH-MASQ-\(bridge)" }

    /// Names the container and network on every rule of the container's, so a scan finds them.
    static func comment(network: BridgeNetwork, containerID: String) -> String {
        "berth net=\(network.cniName) id=\(containerID)"
    }

    /// The container's nat rules as `iptables-save` prints them, without the leading `-A`; with
    /// `masquerade`, the masquerade rule older versions gave each container.
    static func containerRules(network: BridgeNetwork, containerID: String, address: String,
                               ports: [PortMapping], masquerade: Bool = false) -> [String] {
        let comment = "-m comment --comment \"\(comment(network: network, containerID: containerID))\""
        var rules = masquerade
            ? ["\(masqueradeChain(bridge: network.bridge)) -s \(address)/32 ! -d \(network.subnet) \(comment) -j MASQUERADE"] : []
        for port in ports {
            let destination = port.hostIP.isEmpty ? "" : "-d \(port.hostIP)/32 "
            rules.append("\(hostPortsChain) \(destination)-p \(port.proto) -m \(port.proto) --dport \(port.hostPort) "
                         + "\(comment) -j DNAT --to-destination \(address):\(port.containerPort)")
        }
        return rules
    }

    /// Makes sure the bridge's rules are in place, then adds the container's in one transaction.
    /// The bridge's are looked for (an `iptables-save`) only when no marker under /run says they
    /// were made since boot; the container's transaction fails only when its chain is missing
    /// all the same (tables flushed by hand), and is then retried once the bridge's are remade.
    static func addContainerRules(network: BridgeNetwork, containerID: String, address: String,
                                  ports: [PortMapping]) throws {
        if !bridgeRulesAreMarked(network) { try ensureBridgeRules(network) }
        let rules = containerRules(network: network, containerID: containerID, address: address, ports: ports)
        guard !rules.isEmpty else { return }
        let transaction = ["*nat"] + rules.map { "-A \($0)" } + ["COMMIT"]
        if try restore(transaction).status == 0 { return }
        try ensureBridgeRules(network)
        try check(restore(transaction), transaction)
    }

    /// Removes the container's rules in one transaction: the exact inverse of `addContainerRules`
    /// when all of it is there, else (an interrupted attach, a reboot) whatever of it a scan finds.
    /// `masquerade` for an attachment of an older version, which had a masquerade rule of its own.
    /// Idempotent.
    static func removeContainerRules(network: BridgeNetwork, containerID: String, address: String?,
                                     ports: [PortMapping], masquerade: Bool) throws {
        if ports.isEmpty, !masquerade { return }
        if let address {
            let rules = containerRules(network: network, containerID: containerID, address: address, ports: ports,
                                       masquerade: masquerade)
            if try restore(["*nat"] + rules.map { "-D \($0)" } + ["COMMIT"]).status == 0 { return }
        }
        let needle = "--comment \"\(comment(network: network, containerID: containerID))\""
        let present = try save()["nat", default: []].filter { $0.hasPrefix("-A BERTH-") && $0.contains(needle) }
        guard !present.isEmpty else { return }
        let transaction = ["*nat"] + present.map { "-D" + $0.dropFirst(2) } + ["COMMIT"]
        try check(restore(transaction), transaction)
    }

    /// Creates what is missing of the host's and the bridge's chains and rules, in one transaction
    /// per table (filter first: the nat chain is what `addContainerRules` notices missing). Machine-
    /// wide lock: two roots share the host's tables, and declaring an existing chain would flush it.
    static func ensureBridgeRules(_ network: BridgeNetwork) throws {
        try lock.withLock {
            let tables = try save()
            let bridge = network.bridge
            let masquerade = masqueradeChain(bridge: bridge)
            var filter: [String] = []
            let existingFilter = tables["filter", default: []]
            if !existingFilter.contains(":\(forwardChain)") { filter.append(":\(forwardChain) - [0:0]") }
            if !existingFilter.contains("-A FORWARD -j \(forwardChain)") { filter.append("-I FORWARD -j \(forwardChain)") }
            for rule in bridgeForwardRules(network) where !existingFilter.contains("-A \(rule)") {
                filter.append("-A \(rule)")
            }
            for chain in [isolationChains.first, isolationChains.second] where !existingFilter.contains(":\(chain)") {
                filter.append(":\(chain) - [0:0]")
            }
            // Inserted after BERTH-FORWARD's jump, so above it.
            if !existingFilter.contains("-A FORWARD -j \(isolationChains.first)") {
                filter.append("-I FORWARD -j \(isolationChains.first)")
            }
            // Every bridge with forwarding rules gets isolated, those made before isolation existed too.
            let forwarded = existingFilter.compactMap { line -> String? in
                let words = line.split(separator: " ")
                guard words.count == 6, words[1] == forwardChain, words[2] == "-i", words[4] == "-j", words[5] == "ACCEPT"
                else { return nil }
                return String(words[3])
            }
            for isolated in Set(forwarded + [bridge]).sorted() {
                for rule in bridgeIsolationRules(bridge: isolated) where !existingFilter.contains("-A \(rule)") {
                    filter.append("-A \(rule)")
                }
            }
            var nat: [String] = []
            let existingNat = tables["nat", default: []]
            if !existingNat.contains(":\(hostPortsChain)") { nat.append(":\(hostPortsChain) - [0:0]") }
            for hook in ["PREROUTING", "OUTPUT"] where !existingNat.contains("-A \(hook) -m addrtype --dst-type LOCAL -j \(hostPortsChain)") {
                nat.append("-A \(hook) -m addrtype --dst-type LOCAL -j \(hostPortsChain)")
            }
            if !existingNat.contains(":\(masquerade)") { nat.append(":\(masquerade) - [0:0]") }
            // The chains of older versions lack the subnet's rule.
            nat += bridgeMasqueradeRules(network).map { "-A \($0)" }.filter { !existingNat.contains($0) }
            if !existingNat.contains("-A POSTROUTING -j \(masquerade)") { nat.append("-A POSTROUTING -j \(masquerade)") }
            try apply(filter: filter, nat: nat)
            try StateFile.write(Data(network.subnet.utf8), to: marker(of: network), synced: false)
        }
    }

    /// Under /run, so it goes at boot with the rules it vouches for; it names the subnet, since a
    /// removed network's bridge name can come back with another.
    private static func marker(of network: BridgeNetwork) -> String { "/run/berth/iptables-\(network.bridge).ready" }

    private static func bridgeRulesAreMarked(_ network: BridgeNetwork) -> Bool {
        FileManager.default.contents(atPath: marker(of: network)) == Data(network.subnet.utf8)
    }

    /// Removes the bridge's rules and chain when its network goes, and the accept rule older
    /// Berth versions added to the firewall plugin's `CNI-ADMIN` for it; with the last bridge's
    /// isolation rules, the isolation chains and their jump.
    static func removeBridgeRules(_ network: BridgeNetwork) throws {
        try lock.withLock {
            unlink(marker(of: network))
            let tables = try save()
            let bridge = network.bridge
            let masquerade = masqueradeChain(bridge: bridge)
            let existingFilter = tables["filter", default: []]
            var filter = existingFilter.filter { line in
                line.hasPrefix("-A \(forwardChain) ") && (line.contains(" -i \(bridge) ") || line.contains(" -o \(bridge) "))
                    || line.hasPrefix("-A CNI-ADMIN ") && line.contains("\"berth: published ports to \(bridge)\"")
            }.map { "-D" + $0.dropFirst(2) }
            let isolation = bridgeIsolationRules(bridge: bridge).map { "-A \($0)" }
            filter += isolation.filter(existingFilter.contains).map { "-D" + $0.dropFirst(2) }
            let otherIsolation = existingFilter.filter { line in
                !isolation.contains(line)
                    && [isolationChains.first, isolationChains.second].contains { line.hasPrefix("-A \($0) ") }
            }
            if otherIsolation.isEmpty {
                if existingFilter.contains("-A FORWARD -j \(isolationChains.first)") {
                    filter.append("-D FORWARD -j \(isolationChains.first)")
                }
                for chain in [isolationChains.first, isolationChains.second] where existingFilter.contains(":\(chain)") {
                    filter.append("-X \(chain)")
                }
            }
            var nat = tables["nat", default: []].filter { $0.hasPrefix("-A POSTROUTING ") && $0.hasSuffix("-j \(masquerade)") }
                .map { "-D" + $0.dropFirst(2) }
            if tables["nat", default: []].contains(":\(masquerade)") { nat += ["-F \(masquerade)", "-X \(masquerade)"] }
            try apply(filter: filter, nat: nat)
        }
    }

    /// Applies each table's lines as one transaction, filter first; a table with none is skipped.
    private static func apply(filter: [String], nat: [String]) throws {
        for (table, lines) in [("filter", filter), ("nat", nat)] where !lines.isEmpty {
            let transaction = ["*\(table)"] + lines + ["COMMIT"]
            try check(restore(transaction), transaction)
        }
    }

    /// An internal network's bridge forwards nothing to or from elsewhere (Docker's `--internal`).
    private static func bridgeForwardRules(_ network: BridgeNetwork) -> [String] {
        let bridge = network.bridge
        if network.internal {
            return ["\(forwardChain) -i \(bridge) ! -o \(bridge) -j DROP", "\(forwardChain) ! -i \(bridge) -o \(bridge) -j DROP",
                    "\(forwardChain) -i \(bridge) -o \(bridge) -j ACCEPT"]
        }
        return ["\(forwardChain) -i \(bridge) -j ACCEPT",
                "\(forwardChain) -o \(bridge) -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT"]
    }

    private static func bridgeIsolationRules(bridge: String) -> [String] {
        ["\(isolationChains.first) -i \(bridge) ! -o \(bridge) -m conntrack ! --ctstate DNAT -j \(isolationChains.second)",
         "\(isolationChains.second) -o \(bridge) -j DROP"]
    }

    private static func bridgeMasqueradeRules(_ network: BridgeNetwork) -> [String] {
        let chain = masqueradeChain(bridge: network.bridge)
        if network.internal { return [] }
        return ["\(chain) -s 127.0.0.0/8 -o \(network.bridge) -j MASQUERADE",
                "\(chain) -s \(network.subnet) -d \(network.subnet) -o \(network.bridge) -m conntrack --ctstate DNAT -j MASQUERADE",
                "\(chain) -s \(network.subnet) ! -o \(network.bridge) -j MASQUERADE"]
    }

    /// Serializes the creation and removal of shared chains among all `berth` processes.
    private static let lock = StateLock(path: "/run/berth/iptables.lock")

    /// `iptables-save`'s lines by table; chain declarations are shortened to `:<name>`.
    private static func save() throws -> [String: Set<String>] {
        var tables: [String: Set<String>] = [:]
        var table = ""
        for line in try Command.check("iptables-save", []).stdoutText.split(separator: "\n") {
            if line.hasPrefix("*") {
                table = String(line.dropFirst())
            } else if line.hasPrefix(":") {
                tables[table, default: []].insert(String(line.prefix { $0 != " " }))
            } else if line.hasPrefix("-A ") {
                tables[table, default: []].insert(String(line))
            }
        }
        return tables
    }

    private static func restore(_ lines: [String]) throws -> Command.Output {
        try Command.run(try Command.locate("iptables-restore"), ["--noflush", "-w"],
                        input: Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    private static func check(_ output: Command.Output, _ lines: [String]) throws {
        guard output.status != 0 else { return }
        let message = output.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
        throw NetworkError.commandFailed(
            command: "iptables-restore --noflush (\(lines.dropFirst().first ?? "")…)",
            message: message.isEmpty ? "exit status \(output.status)" : message.replacingOccurrences(of: "\n", with: " "))
    }


    /// Removes the masquerade rule and chain of the bridge plugin's `ipMasq`, which attachments made
    /// by older Berth versions have. The plugin's DEL skips them when the container's namespace is
    /// already gone (the usual case once a container has exited), so Berth finds them by the
    /// plugin's comment `name: "<net>" id: "<container>"`.
    static func removePluginMasquerade(cniName: String, containerID: String) throws {
        let comment = "name: \"\(cniName)\" id: \"\(containerID)\""
        let listed = try Command.check("iptables", ["-w", "-t", "nat", "-S", "POSTROUTING"]).stdoutText
        // iptables -S prints the comment with its quotes escaped.
        let needle = comment.replacingOccurrences(of: "\"", with: "\\\"")
        for line in listed.split(separator: "\n") where line.contains(needle) {
            let words = line.split(separator: " ").map(String.init)
            guard let sourceIndex = words.firstIndex(of: "-s"), sourceIndex + 1 < words.count,
                  let jumpIndex = words.lastIndex(of: "-j"), jumpIndex + 1 < words.count
            else { continue }
            let source = words[sourceIndex + 1]
            let chain = words[jumpIndex + 1]
            try Command.check("iptables", ["-w", "-t", "nat", "-D", "POSTROUTING", "-s", source, "-m", "comment",
                                           "--comment", comment, "-j", chain])
            if chain.hasPrefix("CNI-") {
                let iptables = try Command.locate("iptables")
                _ = try Command.run(iptables, ["-w", "-t", "nat", "-F", chain])
                _ = try Command.run(iptables, ["-w", "-t", "nat", "-X", chain])
            }
        }
    }
}

/// Identifies a network namespace by its nsfs device and inode, so a `/proc/<pid>/ns/net` path whose
/// pid now belongs to another process is not mistaken for the container's namespace.
struct NamespaceIdentity: Codable, Equatable {
    var device: UInt64
    var inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
