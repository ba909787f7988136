import BerthKubeAPI
import Foundation
import Synchronization

/// What kube-proxy does, in the kernel: turns the cluster's Services and EndpointSlices into
/// iptables rules (`ProxyRules`), so connections to a ClusterIP, NodePort, external or load
/// balancer IP are DNATed to a ready endpoint by the kernel itself.
///
/// Every change of a Service or a slice resyncs everything (one key, so bursts fold into one
/// sync), and each sync is one `iptables-restore --noflush` transaction of the plan's chains. The
/// first sync adopts what a daemon killed before it could clean up left; `stop` removes it all.
/// UDP has no connection end, so when an endpoint goes its conntrack entries are deleted (DNS moves
/// to the new endpoint at once), and a deleted Service's entries go with it.
public final class KubeProxy: KubeReconciler, KubeTrafficGate {
    public let name = "kube-proxy"
    private let store: KubeObjectStore
    private let chains: ProxyChains
    private let podCIDR: String
    /// Held for a whole sync, so a sync and `stop` never interleave.
    private let state = Mutex(State())
    /// The endpoint addresses the installed rules send new connections to (what the gate waits on).
    private let routed = Mutex(Set<String>())

    private struct State {
        /// Nil until the kernel's rules have been read (and again after a failed transaction).
        var installed: ProxyInstalledRules?
        var ports: [ProxiedPort] = []
        var stopped = false
    }

    private static let key = KubeObjectKey(namespace: "", name: "services")

    public init(store: KubeObjectStore) {
        self.store = store
        chains = ProxyChains(plan: store.clusterNetwork.index)
        podCIDR = store.clusterNetwork.podCIDR
    }

    public var triggers: [KubeTrigger] {
        [KubeTrigger(resource: KubeResourceRegistry.services) { _ in [Self.key] },
         KubeTrigger(resource: KubeResourceRegistry.endpointSlices) { _ in [Self.key] }]
    }

    public func reconcile(_ key: KubeObjectKey) async throws -> Duration? {
        try await sync()
        return nil
    }

    /// Syncs at once (adopting or clearing what an earlier daemon left), then on every change,
    /// until the task is cancelled.
    public func run() async {
        do {
            try await sync()
        } catch {
            FileHandle.standardError.write(Data("berth serve: \(name): \(error)\n".utf8))
        }
        await KubeReconcileLoop(store: store).run(self, workers: 1)
    }

    /// Programs the rules for the store's current Services and slices.
    public func sync() async throws {
        let services = try store.list(KubeResourceRegistry.services, namespace: nil).items.compactMap { try? $0.decode(Service.self) }
        let slices = try store.list(KubeResourceRegistry.endpointSlices, namespace: nil).items.compactMap { try? $0.decode(EndpointSlice.self) }
        let ports = ProxiedPort.plan(services: services, slices: slices)
        try await Self.offThePool { try self.apply(ports) }
    }

    /// Removes every chain and rule of the plan; later syncs do nothing (a graceful stop).
    public func stop() async throws {
        try await Self.offThePool { try self.apply(nil) }
    }

    public func waitUntilUnrouted(_ podIP: String, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while routed.withLock({ $0.contains(podIP) }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// `ports` nil: remove everything.
    private func apply(_ ports: [ProxiedPort]?) throws {
        try state.withLock { state in
            guard !state.stopped else { return }
            if let ports, state.installed != nil, ports == state.ports { return }
            let rules = ports.map { ProxyRules($0, chains: chains, podCIDR: podCIDR) } ?? ProxyRules()
            let installed = try state.installed ?? ProxyInstalledRules(iptablesSave: ProxyHost.iptablesSave(), chains: chains)
            do {
                try ProxyHost.iptablesRestore(rules.transaction(from: installed))
            } catch {
                state.installed = nil
                throw error
            }
            state.installed = rules.installed
            routed.withLock { $0 = Set((ports ?? []).flatMap { $0.endpoints.map(\.ip) }) }
            guard let ports else {
                state.stopped = true
                return
            }
            for arguments in Self.staleConnections(old: state.ports, new: ports) {
                do {
                    try ProxyHost.conntrackDelete(arguments)
                } catch {
                    FileHandle.standardError.write(Data("berth serve: \(name): \(error)\n".utf8))
                }
            }
            state.ports = ports
        }
    }

    /// The `conntrack -D` filters for connections the new rules would not make: UDP flows to an
    /// endpoint that is gone (UDP has no end, so a client would keep talking to it), UDP flows to a
    /// port that had no endpoint before (they were refused), and every flow of a port that is gone.
    static func staleConnections(old: [ProxiedPort], new: [ProxiedPort]) -> [[String]] {
        let current = Dictionary(new.map { ("\($0.name)/\($0.proto)", $0) }, uniquingKeysWith: { first, _ in first })
        var filters: [[String]] = []
        for port in old {
            let proto = port.proto
            guard let now = current["\(port.name)/\(proto)"] else {
                for address in port.addresses {
                    filters.append(["-p", proto, "--orig-dst", address, "--orig-port-dst", "\(port.port)"])
                }
                if let nodePort = port.nodePort {
                    for endpoint in port.endpoints {
                        filters.append(["-p", proto, "--orig-port-dst", "\(nodePort)", "--dst-nat", endpoint.ip])
                    }
                }
                continue
            }
            guard proto == "udp" else { continue }
            if port.endpoints.isEmpty, !now.endpoints.isEmpty {
                for address in now.addresses {
                    filters.append(["-p", proto, "--orig-dst", address, "--orig-port-dst", "\(now.port)"])
                }
            }
            for endpoint in port.endpoints where !now.endpoints.contains(where: { $0.ip == endpoint.ip }) {
                for address in port.addresses {
                    filters.append(["-p", proto, "--orig-dst", address, "--dst-nat", endpoint.ip])
                }
                if let nodePort = port.nodePort {
                    filters.append(["-p", proto, "--orig-port-dst", "\(nodePort)", "--dst-nat", endpoint.ip])
                }
            }
        }
        return filters
    }

    /// iptables-restore and conntrack block for a while; they run off Swift's cooperative threads.
    private static func offThePool(_ work: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
