import Foundation

/// The iptables rules Berth adds around the CNI plugins' own.
enum Iptables {
    /// The firewall plugin's chain for administrator rules; it jumps there from `CNI-FORWARD` first.
    static let adminChain = "CNI-ADMIN"

    /// Accepts forwarded connections that a published-port DNAT sends to the bridge. The firewall
    /// plugin only accepts replies towards a container, and Docker leaves FORWARD's policy at DROP,
    /// so without this rule published ports would answer on the host's own addresses but not to
    /// other machines. One rule per bridge, naming no container, kept like the bridge itself.
    static func ensurePublishedPortsForwarding(bridge: String) throws {
        let iptables = try Command.locate("iptables")
        // Creating an existing chain fails; whether it exists is all that matters.
        _ = try Command.run(iptables, ["-w", "-t", "filter", "-N", adminChain])
        let rule = publishedPortsRule(bridge: bridge)
        if try Command.run(iptables, ["-w", "-t", "filter", "-C", adminChain] + rule).status != 0 {
            try Command.check("iptables", ["-w", "-t", "filter", "-A", adminChain] + rule)
        }
    }

    /// Removes the rule `ensurePublishedPortsForwarding` added, when the bridge goes.
    static func removePublishedPortsForwarding(bridge: String) throws {
        let iptables = try Command.locate("iptables")
        let rule = publishedPortsRule(bridge: bridge)
        while try Command.run(iptables, ["-w", "-t", "filter", "-C", adminChain] + rule).status == 0 {
            try Command.check("iptables", ["-w", "-t", "filter", "-D", adminChain] + rule)
        }
    }

    private static func publishedPortsRule(bridge: String) -> [String] {
        ["-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", "-m", "comment", "--comment",
         "berth: published ports to \(bridge)", "-j", "ACCEPT"]
    }

    /// Removes the bridge plugin's per-container masquerade rule and chain. The plugin's DEL skips
    /// them when the container's namespace is already gone (the usual case once a container has
    /// exited), so Berth finds them by the plugin's comment `name: "<net>" id: "<container>"`.
    static func removeMasquerade(cniName: String, containerID: String) throws {
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
