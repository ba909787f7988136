import Foundation

/// One cluster's Service rules, as `iptables-restore` takes them.
///
/// nat:
/// - `BERTH-SERVICES-N` (from PREROUTING, for pods and the outside, and OUTPUT, for the host): per
///   Service port with endpoints, `-d <ClusterIP, external or load balancer IP>/32 -p <proto> --dport
///   <port> -j BERTH-SVC-N-…`; last, local destinations go on to `BERTH-NODEPORTS-N`, which sends
///   `--dport <nodePort>` to the same chain: every host address, 127.0.0.1 included (the pod bridge
///   has `route_localnet=1`, see BerthNetwork).
/// - `BERTH-SVC-N-…` picks an endpoint at random, as kube-proxy does: of n endpoints, rule i takes
///   `-m statistic --mode random --probability 1/(n-i)`, the last takes the rest. With ClientIP
///   affinity, `-m recent --rcheck --seconds <timeout> --reap` rules first send a client seen before
///   to its endpoint, whose chain records it with `-m recent --set`.
/// - `BERTH-SEP-N-…` DNATs to one endpoint.
/// - `BERTH-POSTROUTING-N` (from POSTROUTING) masquerades DNATed connections from the pod subnet
///   to it (a pod reaching itself or a neighbour through a Service: the reply must come back through
///   the host to be un-DNATed) and from 127.0.0.0/8 (a NodePort on localhost).
///
/// filter `BERTH-SERVICES-N` (from INPUT, FORWARD and OUTPUT for new connections): a Service port
/// without endpoints rejects at once (TCP with a reset, others with port-unreachable), so clients
/// are refused instead of left waiting.
public struct ProxyRules: Sendable, Equatable {
    public enum Table: String, Sendable, CaseIterable {
        case filter, nat
    }

    /// Per table, the plan's chains and their rules (`-A` lines), in order.
    public var chains: [Table: [String]] = [:]
    public var rules: [Table: [String]] = [:]
    /// Per table, the jumps from the built-in chains (`-A HOOK …`; FORWARD's goes first with `-I`).
    public var jumps: [Table: [String]] = [:]

    public init(_ ports: [ProxiedPort], chains names: ProxyChains, podCIDR: String) {
        chains[.nat] = [names.services, names.nodePorts, names.postrouting]
        chains[.filter] = [names.services]
        jumps[.nat] = ["-A PREROUTING -j \(names.services)", "-A OUTPUT -j \(names.services)",
                       "-A POSTROUTING -j \(names.postrouting)"]
        jumps[.filter] = ["INPUT", "FORWARD", "OUTPUT"].map { "-A \($0) -m conntrack --ctstate NEW -j \(names.services)" }
        var services: [String] = [], nodePorts: [String] = [], reject: [String] = [], perService: [String] = []
        for port in ports {
            let match = "-p \(port.proto) -m comment --comment"
            let destinations = [port.clusterIP].map { ($0, "cluster IP") } + port.externalIPs.map { ($0, "external IP") }
                + port.loadBalancerIPs.map { ($0, "load balancer IP") }
            if port.endpoints.isEmpty {
                let target = "-j REJECT --reject-with \(port.proto == "tcp" ? "tcp-reset" : "icmp-port-unreachable")"
                let comment = "\"\(port.name) has no endpoints\""
                for (address, _) in destinations {
                    reject.append("-A \(names.services) -d \(address)/32 \(match) \(comment) -m \(port.proto) --dport \(port.port) \(target)")
                }
                if let nodePort = port.nodePort {
                    reject.append("-A \(names.services) -m addrtype --dst-type LOCAL \(match) \(comment) -m \(port.proto) --dport \(nodePort) \(target)")
                }
                continue
            }
            let chain = names.service(port)
            chains[.nat, default: []].append(chain)
            for (address, kind) in destinations {
                services.append("-A \(names.services) -d \(address)/32 \(match) \"\(port.name) \(kind)\" -m \(port.proto) --dport \(port.port) -j \(chain)")
            }
            if let nodePort = port.nodePort {
                nodePorts.append("-A \(names.nodePorts) \(match) \(port.name) -m \(port.proto) --dport \(nodePort) -j \(chain)")
            }
            let endpointChains = port.endpoints.map { names.endpoint(port, $0) }
            if let timeout = port.affinityTimeout {
                for target in endpointChains {
                    perService.append("-A \(chain) -m recent --name \(target) --mask 255.255.255.255 --rcheck --seconds \(timeout) --reap -j \(target)")
                }
            }
            for (index, target) in endpointChains.enumerated() {
                let left = endpointChains.count - index
                let pick = left == 1 ? "" : String(format: "-m statistic --mode random --probability %.10f ", 1.0 / Double(left))
                perService.append("-A \(chain) \(pick)-j \(target)")
            }
            for (endpoint, target) in zip(port.endpoints, endpointChains) {
                chains[.nat, default: []].append(target)
                let remember = port.affinityTimeout == nil ? "" : "-m recent --name \(target) --mask 255.255.255.255 --set "
                perService.append("-A \(target) -p \(port.proto) \(remember)-j DNAT --to-destination \(endpoint.description)")
            }
        }
        services.append("-A \(names.services) -m addrtype --dst-type LOCAL -j \(names.nodePorts)")
        let masquerade = [
            "-A \(names.postrouting) -s \(podCIDR) -d \(podCIDR) -m conntrack --ctstate DNAT -j MASQUERADE",
            "-A \(names.postrouting) -s 127.0.0.0/8 ! -d 127.0.0.0/8 -m conntrack --ctstate DNAT -j MASQUERADE",
        ]
        rules[.nat] = services + nodePorts + masquerade + perService
        rules[.filter] = reject
    }

    /// No rules and no chains at all: what a graceful stop leaves.
    public init() {}

    /// The one `iptables-restore --noflush` input that turns `installed` into these rules: every
    /// chain of the plan is declared (which empties it) and refilled, chains no longer needed are
    /// deleted, and the jumps from the built-in chains are added where missing. FORWARD's jump is
    /// put back at the top each time, above the accept rules BerthNetwork inserts there later.
    public func transaction(from installed: ProxyInstalledRules) -> String {
        var lines: [String] = []
        for table in Table.allCases {
            let wanted = chains[table] ?? []
            let stale = installed.chains[table, default: []].subtracting(wanted).sorted()
            let wantedJumps = jumps[table] ?? []
            let present = installed.jumps[table] ?? []
            lines.append("*\(table.rawValue)")
            lines += (wanted + stale).map { ":\($0) - [0:0]" }
            for jump in present where !wantedJumps.contains(jump) || jump.hasPrefix("-A FORWARD ") {
                lines.append("-D" + jump.dropFirst(2))
            }
            for jump in wantedJumps where !present.contains(jump) || jump.hasPrefix("-A FORWARD ") {
                lines.append(jump.hasPrefix("-A FORWARD ") ? "-I FORWARD 1" + jump.dropFirst("-A FORWARD".count) : jump)
            }
            lines += rules[table] ?? []
            lines += stale.map { "-X \($0)" }
            lines.append("COMMIT")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What is installed once `transaction` has been applied.
    public var installed: ProxyInstalledRules {
        var result = ProxyInstalledRules()
        for table in Table.allCases {
            result.chains[table] = Set(chains[table] ?? [])
            result.jumps[table] = jumps[table] ?? []
        }
        return result
    }
}

/// A plan's chains and jumps as the kernel has them.
public struct ProxyInstalledRules: Sendable, Equatable {
    public var chains: [ProxyRules.Table: Set<String>] = [:]
    /// `-A HOOK …` lines of the built-in chains that jump to the plan's chains.
    public var jumps: [ProxyRules.Table: [String]] = [:]

    public init() {}

    /// The plan's part of `iptables-save` output; a daemon killed before it could clean up leaves
    /// chains and jumps that the next one finds here and adopts.
    public init(iptablesSave text: String, chains names: ProxyChains) {
        var table: ProxyRules.Table?
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("*") {
                table = ProxyRules.Table(rawValue: String(line.dropFirst()))
            } else if let table, line.hasPrefix(":") {
                let chain = String(line.dropFirst().prefix { $0 != " " })
                if names.owns(chain) { chains[table, default: []].insert(chain) }
            } else if let table, line.hasPrefix("-A ") {
                let words = line.split(separator: " ")
                guard words.count > 2, ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"].contains(words[1]),
                      let jump = words.lastIndex(of: "-j"), jump + 1 < words.count, names.owns(String(words[jump + 1]))
                else { continue }
                jumps[table, default: []].append(line)
            }
        }
    }
}
