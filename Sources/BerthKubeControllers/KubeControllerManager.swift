import BerthKubeAPI

/// The controllers of a one-node cluster, run together over one store as kube-controller-manager
/// runs them over one apiserver.
public struct KubeControllerManager: Sendable {
    private let store: KubeObjectStore
    private let host: String

    public init(store: KubeObjectStore, host: String) {
        self.store = store
        self.host = host
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
        }
    }
}
