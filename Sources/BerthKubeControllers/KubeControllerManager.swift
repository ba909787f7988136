import BerthKubeAPI
import BerthNetwork

/// The controllers of a one-node cluster, run together over one store as kube-controller-manager
/// runs them over one apiserver.
public struct KubeControllerManager: Sendable {
    private let store: KubeObjectStore
    private let host: String
    private let apiPort: Int?
    private let hostAddress: @Sendable () -> String

    /// `apiPort` is where the API listens, for the `kubernetes` Service (none without it);
    /// `hostAddress` names the host's address for it and for LoadBalancer Services.
    public init(store: KubeObjectStore, host: String, apiPort: Int? = nil, hostAddress: @escaping @Sendable () -> String = HostAddress.primary) {
        self.store = store
        self.host = host
        self.apiPort = apiPort
        self.hostAddress = hostAddress
    }

    /// Runs every controller until the task is cancelled.
    public func run() async {
        let loop = KubeReconcileLoop(store: store)
        await withDiscardingTaskGroup { group in
            group.addTask { await loop.run(ServiceAccountController(store: store)) }
            group.addTask { await loop.run(ReplicaSetController(store: store, host: host)) }
            group.addTask { await loop.run(DeploymentController(store: store, host: host)) }
            group.addTask { await loop.run(GarbageCollector(store: store)) }
            group.addTask { await loop.run(NamespaceController(store: store)) }
            group.addTask { await loop.run(JobController(store: store, host: host)) }
            group.addTask { await loop.run(CronJobController(store: store, host: host)) }
            group.addTask { await loop.run(StatefulSetController(store: store, host: host)) }
            group.addTask { await loop.run(DaemonSetController(store: store, host: host)) }
            group.addTask { await loop.run(EndpointSliceController(store: store)) }
            group.addTask { await loop.run(EndpointsController(store: store)) }
            group.addTask { await loop.run(EndpointSliceMirroringController(store: store)) }
            group.addTask { await loop.run(ServiceLoadBalancerController(store: store, hostAddress: hostAddress)) }
            if let apiPort {
                group.addTask { await loop.run(KubernetesServiceController(store: store, apiPort: apiPort, hostAddress: hostAddress)) }
            }
        }
    }
}
