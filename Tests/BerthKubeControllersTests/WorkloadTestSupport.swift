import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization

/// The built-in kinds plus pods, ReplicaSets and Deployments (served as the apiserver serves them,
/// with generations), for the workload controllers' tests.
let workloadRegistry: KubeResourceRegistry = {
    func kind(_ group: String, _ kind: String, _ plural: String, generation: Bool) -> KubeResource {
        var resource = KubeResourceRegistry.configMaps
        resource.group = group
        resource.kind = kind
        resource.plural = plural
        resource.singular = kind.lowercased()
        resource.shortNames = []
        resource.hasGeneration = generation
        return resource
    }
    var resources = KubeResourceRegistry.builtIn.resources
    for extra in [kind("", "Pod", "pods", generation: false), kind("apps", "ReplicaSet", "replicasets", generation: true),
                  kind("apps", "Deployment", "deployments", generation: true)]
    where !resources.contains(where: { $0.group == extra.group && $0.plural == extra.plural }) {
        resources.append(extra)
    }
    return KubeResourceRegistry(resources: resources)
}()

extension KubeObjectStore {
    func served(_ group: String, _ plural: String) -> KubeResource {
        guard let resource = registry.resources.first(where: { $0.group == group && $0.plural == plural }) else {
            preconditionFailure("\(plural) is not served")
        }
        return resource
    }

    var pods: KubeResource { served("", "pods") }
    var replicaSets: KubeResource { served("apps", "replicasets") }
    var deployments: KubeResource { served("apps", "deployments") }

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

/// Plays the node's part: every new pod is bound to the node and reported Running and Ready
/// (while `ready` answers true for it).
func runFakeKubelet(_ store: KubeObjectStore, ready: @escaping @Sendable (OrderedJSON) -> Bool = { _ in true }) -> Task<Void, Never> {
    Task {
        guard let events = try? store.watch(store.pods, namespace: nil) else { return }
        for await event in events where event.type != .deleted {
            let pod = event.object
            guard pod.string("status", "phase") == nil, ready(pod) else { continue }
            try? markReady(store, pod)
        }
    }
}

/// Reports `pod` Running and Ready since now, as the kubelet would.
func markReady(_ store: KubeObjectStore, _ pod: OrderedJSON, ready: Bool = true) throws {
    let now = OrderedJSON.string(Date.now.formatted(.iso8601))
    let condition = OrderedJSON.object([("type", .string("Ready")), ("status", .string(ready ? "True" : "False")), ("lastTransitionTime", now)])
    try store.edit(store.pods, pod.string("metadata", "namespace"), pod.string("metadata", "name") ?? "") { live in
        live.setting(["spec", "nodeName"], to: .string("node"))
            .setting(["status"], to: .object([("phase", .string("Running")), ("conditions", .array([condition])), ("startTime", now)]))
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
