import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization

extension KubeObjectStore {
    var pods: KubeResource { KubeResourceRegistry.pods }
    var replicaSets: KubeResource { KubeResourceRegistry.replicaSets }
    var deployments: KubeResource { KubeResourceRegistry.deployments }

    /// The namespace's pods that are not being deleted and not finished.
    func activePods(_ namespace: String = "default") throws -> [OrderedJSON] {
        try list(pods, namespace: namespace).items.filter { pod in
            let phase = pod.string("status", "phase")
            return pod.value(at: ["metadata", "deletionTimestamp"]) == nil && phase != "Succeeded" && phase != "Failed"
        }
    }

    /// Changes the stored object through `edit`, retrying on conflicts as a client does.
    @discardableResult
    func edit(_ resource: KubeResource, _ namespace: String?, _ name: String, _ edit: (OrderedJSON) -> OrderedJSON) throws -> OrderedJSON {
        while true {
            let live = try get(resource, namespace: namespace, name: name)
            do {
                return try replace(resource, namespace: namespace, name: name, object: edit(live))
            } catch let error as KubeAPIError where error.code == 409 {
                continue
            }
        }
    }

    /// The reasons and messages of the events recorded about the object named `name`.
    func events(about name: String, namespace: String = "default") throws -> [(reason: String, message: String, component: String)] {
        try list(KubeResourceRegistry.events, namespace: namespace).items
            .filter { $0.string("involvedObject", "name") == name }
            .map { ($0.string("reason") ?? "", $0.string("message") ?? "", $0.string("source", "component") ?? "") }
    }
}

/// Plays the node's part: every new pod is reported Running and Ready
/// (when `ready` answers true for it; it is asked once per pod).
func runFakeKubelet(_ store: KubeObjectStore, ready: @escaping @Sendable (OrderedJSON) -> Bool = { _ in true }) -> Task<Void, Never> {
    Task {
        guard let events = try? store.watch(store.pods, namespace: nil) else { return }
        var seen: Set<String> = []
        for await event in events where event.type != .deleted {
            let pod = event.object
            guard seen.insert(pod.uid).inserted, ready(pod) else { continue }
            do {
                try markReady(store, pod)
            } catch let error as KubeAPIError where error.code == 404 {
                continue
            } catch {
                print("fake kubelet: cannot report \(pod.name) ready: \(error)")
            }
        }
    }
}

/// Reports a pending `pod` Running and Ready since now, as the kubelet would.
func markReady(_ store: KubeObjectStore, _ pod: OrderedJSON) throws {
    let now = OrderedJSON.string(Date.now.formatted(.iso8601))
    let condition = OrderedJSON.object([("type", .string("Ready")), ("status", .string("True")), ("lastTransitionTime", now)])
    try store.edit(store.pods, pod.string("metadata", "namespace"), pod.string("metadata", "name") ?? "") { live in
        // A status written meanwhile (a test marking the pod Failed) wins, as the node would not undo it.
        guard live.string("status", "phase") == "Pending" else { return live }
        return live.setting(["status"], to: .object([("phase", .string("Running")), ("conditions", .array([condition])), ("startTime", now)]))
    }
}

func deploymentManifest(name: String = "web", replicas: Int, image: String = "busybox:1", extraSpec: String = "") -> String {
    """
    {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"\(name)","namespace":"default"},
     "spec":{"replicas":\(replicas),"selector":{"matchLabels":{"app":"\(name)"}},\(extraSpec)
      "template":{"metadata":{"labels":{"app":"\(name)"}},"spec":{"containers":[{"name":"web","image":"\(image)"}]}}}}
    """
}

extension OrderedJSON {
    var name: String { string("metadata", "name") ?? "" }
    var uid: String { string("metadata", "uid") ?? "" }
    func number(_ path: String...) -> Int { value(at: path)?.int ?? 0 }
}

/// A value tasks share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}
