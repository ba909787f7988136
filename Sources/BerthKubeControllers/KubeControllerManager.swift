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
            if let replicaSets = try? ReplicaSetController(store: store, host: host) { group.addTask { await loop.run(replicaSets) } }
            if let deployments = try? DeploymentController(store: store, host: host) { group.addTask { await loop.run(deployments) } }
            group.addTask { await loop.run(GarbageCollector(store: store)) }
            group.addTask { await loop.run(NamespaceController(store: store)) }
            if let jobs = try? JobController(store: store, host: host) { group.addTask { await loop.run(jobs) } }
            group.addTask { await loop.run(CronJobController(store: store, host: host)) }
            group.addTask { await loop.run(StatefulSetController(store: store, host: host)) }
            if let daemonSets = try? DaemonSetController(store: store, host: host) { group.addTask { await loop.run(daemonSets) } }
        }
    }
}
