import Foundation

/// The address plan of one Berth cluster: the node's pod CIDR, the service CIDR ClusterIPs come
/// from, the cluster DNS's fixed ClusterIP and domain, and the NodePort range. Plan `index` N uses
/// `10.244.N.0/24` for pods and `10.96.N.0/24` for services, so plan 0 has a real cluster's
/// defaults (`kubernetes` at 10.96.0.1, DNS at 10.96.0.10) and several daemons on one host (other
/// state roots, parallel tests) never share a subnet: each holds its plan's host-wide lock.
public struct KubeClusterNetwork: Sendable, Equatable, Codable {
    public let index: Int

    public init(index: Int) {
        precondition((0..<Self.plans).contains(index), "cluster network plan \(index) is out of range")
        self.index = index
    }

    /// How many plans one host has room for.
    public static let plans = 256

    /// The pods' subnet; its first address is the pod bridge's.
    public var podCIDR: String { "10.244.\(index).0/24" }
    /// The pod bridge's address (the pods' gateway).
    public var podGateway: String { "10.244.\(index).1" }
    /// Where ClusterIPs come from.
    public var serviceCIDR: String { "10.96.\(index).0/24" }
    /// The ClusterIP of the `kubernetes` Service in `default` (the API server).
    public var apiServerClusterIP: String { "10.96.\(index).1" }
    /// The ClusterIP of the cluster DNS (`kube-dns` in `kube-system`), written into pods' resolv.conf.
    public var dnsClusterIP: String { "10.96.\(index).10" }
    /// The suffix of cluster names.
    public var clusterDomain: String { "cluster.local" }
    /// Where NodePorts come from (the apiserver's default `--service-node-port-range`).
    public var nodePortRange: ClosedRange<Int> { 30000...32767 }

    /// The ClusterIPs the allocator may hand out: the service CIDR but for its network address,
    /// its broadcast address and the two fixed ones above.
    public var allocatableClusterIPs: [String] {
        (2...254).filter { $0 != 10 }.map { "10.96.\(index).\($0)" }
    }

    /// Whether `address` is in the service CIDR.
    public func isClusterIP(_ address: String) -> Bool { address.hasPrefix("10.96.\(index).") }
}

/// A plan this process holds: the lock file's descriptor stays open (and locked) for as long as
/// the process lives, and the kernel releases it when the process ends, even by kill -9.
public struct KubeClusterNetworkClaim: Sendable {
    public let network: KubeClusterNetwork

    public enum Failure: Error, CustomStringConvertible {
        case io(path: String, reason: String)
        case exhausted

        public var description: String {
            switch self {
            case .io(let path, let reason): "cannot claim a cluster network plan: \(path): \(reason)"
            case .exhausted: "no free cluster network plan: \(KubeClusterNetwork.plans) Berth clusters already run on this host"
            }
        }
    }

    /// Claims a plan for the cluster whose state is in `kubeDirectory`: the plan it had before
    /// (recorded in `network.json`) when no other daemon holds it now, else the first free one.
    /// `locks` holds one lock file per plan, shared by every root on the host; `usable` turns down
    /// a plan whose subnets something else on the host holds without its lock (a bridge left by a
    /// root that was deleted, another tool's network).
    public static func claim(kubeDirectory: String, locks: String = "/run/berth/kube-networks",
                             usable: (KubeClusterNetwork) -> Bool = { _ in true }) throws(Failure) -> KubeClusterNetworkClaim {
        let record = kubeDirectory + "/network.json"
        do {
            try FileManager.default.createDirectory(atPath: locks, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: kubeDirectory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: locks, reason: error.localizedDescription)
        }
        let previous = (try? Data(contentsOf: URL(fileURLWithPath: record))).flatMap { try? JSONDecoder().decode(KubeClusterNetwork.self, from: $0) }
        var order = Array(0..<KubeClusterNetwork.plans)
        if let previous { order.swapAt(0, previous.index) }
        for index in order {
            let path = "\(locks)/\(index).lock"
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                close(descriptor)
                continue
            }
            let network = KubeClusterNetwork(index: index)
            guard usable(network) else {
                close(descriptor)
                continue
            }
            if network != previous {
                do {
                    try JSONEncoder().encode(network).write(to: URL(fileURLWithPath: record), options: .atomic)
                } catch {
                    close(descriptor)
                    throw .io(path: record, reason: error.localizedDescription)
                }
            }
            return KubeClusterNetworkClaim(network: network)
        }
        throw .exhausted
    }
}
