import BerthEngine
import BerthKubeAPI
import BerthRuntime
import Foundation
import Synchronization

/// The node: registers this host as a Node, binds pending pods to it, and runs the pods bound to
/// it on the engine's containers, publishing their status and events, as a kubelet (with a
/// one-node scheduler) does. Started by `berth serve` next to the controllers.
public struct Kubelet: Sendable {
    let context: KubeletContext

    /// `nodeName` is the host's name, as the kubelet's default. A terminating pod is stopped once
    /// `trafficGate` no longer routes new connections to it (2 s at most).
    public init(store: KubeObjectStore, engine: Engine, nodeName: String, trafficGate: (any KubeTrafficGate)? = nil) {
        context = KubeletContext(store: store, engine: engine, nodeName: nodeName, trafficGate: trafficGate)
    }

    /// Whether `network`'s pod subnet is free for the node of `engine`'s root (`berth serve` claims
    /// an address plan only then).
    public static func podSubnetIsFree(_ network: KubeClusterNetwork, engine: Engine) -> Bool {
        PodSandboxes.podSubnetIsFree(network, engine: engine)
    }

    /// Runs until the task is cancelled.
    public func run() async {
        let context = context
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? context.node.heartbeat()
                    try? await Task.sleep(for: .seconds(10))
                }
            }
            group.addTask {
                // The pods' network first: a pod cannot start without it.
                var lastProblem = ""
                while !Task.isCancelled {
                    do {
                        try await context.sandboxes.ensureNetwork()
                        break
                    } catch {
                        // Retried every second; each new reason is said once, so the log shows why pods wait.
                        let problem = "\(error)"
                        if problem != lastProblem {
                            FileHandle.standardError.write(Data("berth serve: kubelet: cannot set up the pod network: \(problem)\n".utf8))
                            lastProblem = problem
                        }
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                await KubeReconcileLoop(store: context.store).run(PodWorker(context: context), workers: 8)
            }
            group.addTask {
                await KubeReconcileLoop(store: context.store).run(PersistentVolumeProvisioner(store: context.store, root: context.engine.root))
            }
            group.addTask {
                // Containers of pods that are gone (deleted while the daemon was down) are removed.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(10))
                    await PodWorker(context: context).removeOrphans()
                }
            }
        }
    }
}

/// What the kubelet's parts share: the store, the engine, the node's name, its event recorders,
/// and the state that lives only in memory (restart back-off, probe results, prepared volumes).
final class KubeletContext: Sendable {
    let store: KubeObjectStore
    let engine: Engine
    let nodeName: String
    let events: KubeEventRecorder
    let schedulerEvents: KubeEventRecorder
    let backOff = KubeletBackOff()
    let probes: PodProbes
    /// Pods whose status must be published now: a probe changed its verdict.
    let wakeups: AsyncStream<KubeObjectKey>
    let sandboxes: PodSandboxes
    let node: NodeAgent
    let volumes = Mutex<[String: PodVolumes]>([:])
    let trafficGate: (any KubeTrafficGate)?
    /// Recent usage readings, for the Metrics API's CPU rates.
    let usageMeter = UsageMeter()

    init(store: KubeObjectStore, engine: Engine, nodeName: String, trafficGate: (any KubeTrafficGate)? = nil) {
        self.store = store
        self.trafficGate = trafficGate
        self.engine = engine
        self.nodeName = nodeName
        events = KubeEventRecorder(store: store, component: "kubelet", host: nodeName)
        schedulerEvents = KubeEventRecorder(store: store, component: "default-scheduler", host: nodeName)
        let (wakeups, wake) = AsyncStream.makeStream(of: KubeObjectKey.self)
        self.wakeups = wakeups
        probes = PodProbes(engine: engine, events: events) { wake.yield($0) }
        sandboxes = PodSandboxes(engine: engine, network: store.clusterNetwork)
        node = NodeAgent(store: store, nodeName: nodeName, startTime: Date.now.formatted(.iso8601))
    }
}
