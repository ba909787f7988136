import BerthKubeAPI
import Foundation

/// A pod's /etc/resolv.conf and /etc/hosts as the kubelet makes them: the resolver settings from
/// the pod's `dnsPolicy` and `dnsConfig`, and the managed hosts file (localhost, the pod's own
/// address and names, `hostAliases`). The kubelet writes both into the pod's directory and every
/// container of the pod mounts them, so they are the same in all of them.
public struct PodDNS: Sendable, Equatable {
    public var nameservers: [String] = []
    public var searches: [String] = []
    /// `name` or `name:value`.
    public var options: [String] = []

    /// The resolver's limits the kubelet applies (glibc reads three servers; the search list is
    /// capped at 32 domains and 2048 characters).
    static let maxNameservers = 3
    static let maxSearches = 32
    static let maxSearchCharacters = 2048

    public init(nameservers: [String] = [], searches: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.searches = searches
        self.options = options
    }

    /// The settings of a resolv.conf text.
    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let key = fields.first else { continue }
            switch key {
            case "nameserver": nameservers += fields.dropFirst().prefix(1)
            case "search", "domain": searches = Array(fields.dropFirst())
            case "options": options += fields.dropFirst()
            default: continue
            }
        }
    }

    /// The pod's settings. `host` is the node's resolv.conf; off the host network its loopback
    /// servers are unreachable and left out (as Docker leaves them out).
    public static func forPod(_ pod: Pod, network: KubeClusterNetwork, host: PodDNS) -> PodDNS {
        let hostNetwork = pod.spec.hostNetwork ?? false
        var hostConfig = host
        if !hostNetwork {
            hostConfig.nameservers.removeAll { $0.hasPrefix("127.") || $0 == "::1" }
        }
        var dns: PodDNS
        switch pod.spec.dnsPolicy ?? "ClusterFirst" {
        case "None":
            dns = PodDNS()
        case "ClusterFirst" where !hostNetwork, "ClusterFirstWithHostNet":
            let namespace = pod.metadata.namespace ?? "default"
            let domain = network.clusterDomain
            dns = PodDNS(nameservers: [network.dnsClusterIP],
                         searches: unique(["\(namespace).svc.\(domain)", "svc.\(domain)", domain] + hostConfig.searches),
                         options: ["ndots:5"])
        default:
            // Default, and ClusterFirst on the host network: the node's settings.
            dns = hostConfig
        }
        if let config = pod.spec.dnsConfig {
            dns.nameservers = unique(dns.nameservers + (config.nameservers ?? []))
            dns.searches = unique(dns.searches + (config.searches ?? []))
            // A pod option replaces the one of the same name.
            for option in config.options ?? [] {
                guard let name = option.name, !name.isEmpty else { continue }
                let text = option.value.map { "\(name):\($0)" } ?? name
                if let at = dns.options.firstIndex(where: { $0.split(separator: ":").first.map(String.init) == name }) {
                    dns.options[at] = text
                } else {
                    dns.options.append(text)
                }
            }
        }
        dns.nameservers = Array(dns.nameservers.prefix(maxNameservers))
        var searches: [String] = []
        for domain in dns.searches.prefix(maxSearches) {
            guard (searches + [domain]).joined(separator: " ").count <= maxSearchCharacters else { break }
            searches.append(domain)
        }
        dns.searches = searches
        return dns
    }

    /// The resolv.conf text: search, name servers, options (the order container runtimes write).
    public var resolvConf: String {
        var lines: [String] = []
        if !searches.isEmpty { lines.append("search " + searches.joined(separator: " ")) }
        lines += nameservers.map { "nameserver " + $0 }
        if !options.isEmpty { lines.append("options " + options.joined(separator: " ")) }
        return lines.map { $0 + "\n" }.joined()
    }

    /// The managed /etc/hosts of a pod off the host network: localhost, the pod's address with its
    /// host name (its FQDN first when it has a subdomain), then its `hostAliases`.
    public static func hostsFile(pod: Pod, podIP: String, hostname: String, network: KubeClusterNetwork) -> String {
        var text = """
        # Kubernetes-managed hosts file.
        127.0.0.1\tlocalhost
        ::1\tlocalhost ip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        fe00::0\tip6-mcastprefix
        fe00::1\tip6-allnodes
        fe00::2\tip6-allrouters

        """
        if !podIP.isEmpty {
            if let subdomain = pod.spec.subdomain, !subdomain.isEmpty {
                let namespace = pod.metadata.namespace ?? "default"
                text += "\(podIP)\t\(hostname).\(subdomain).\(namespace).svc.\(network.clusterDomain)\t\(hostname)\n"
            } else {
                text += "\(podIP)\t\(hostname)\n"
            }
        }
        return text + aliases(pod)
    }

    /// The `hostAliases` section (also appended to the node's hosts file for a host-network pod).
    static func aliases(_ pod: Pod) -> String {
        let aliases = pod.spec.hostAliases ?? []
        guard !aliases.isEmpty else { return "" }
        return "\n# Entries added by HostAliases.\n" + aliases.map { alias in
            "\(alias.ip ?? "")\t\((alias.hostnames ?? []).joined(separator: "\t"))\n"
        }.joined()
    }

    private static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }

    /// Writes the pod's resolv.conf and hosts files into `directory` and answers the `--mount`
    /// specs that put them at /etc/resolv.conf and /etc/hosts. Files are rewritten in place (the
    /// mounts of running containers keep following them) and only when their content changed.
    static func mounts(pod: Pod, sandbox: PodSandboxInfo, network: KubeClusterNetwork, directory: String,
                       hostResolvConf: String = "/etc/resolv.conf") throws -> [String] {
        let hostDNS = PodDNS(parsing: (try? String(contentsOfFile: hostResolvConf, encoding: .utf8)) ?? "")
        let resolv = forPod(pod, network: network, host: hostDNS).resolvConf
        let hosts: String
        if pod.spec.hostNetwork == true {
            var nodeHosts = (try? String(contentsOfFile: "/etc/hosts", encoding: .utf8)) ?? ""
            if !nodeHosts.isEmpty, !nodeHosts.hasSuffix("\n") { nodeHosts += "\n" }
            hosts = nodeHosts + aliases(pod)
        } else {
            hosts = hostsFile(pod: pod, podIP: sandbox.podIP, hostname: sandbox.hostname, network: network)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var specs: [String] = []
        for (name, content, target) in [("resolv.conf", resolv, "/etc/resolv.conf"), ("etc-hosts", hosts, "/etc/hosts")] {
            let path = directory + "/" + name
            if (try? String(contentsOfFile: path, encoding: .utf8)) != content {
                // Not atomically: a rename would leave running containers' mounts on the old file.
                try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            }
            specs.append("type=bind,source=\(path),target=\(target)")
        }
        return specs
    }
}
