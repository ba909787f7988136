import BerthKubeAPI
import BerthTemplate
import Foundation

/// The scheduler of a one-node cluster: binds a pending pod to this node when its requests fit
/// what the node can allocate minus what the pods bound to it request; otherwise the pod stays
/// Pending, `PodScheduled` False with reason Unschedulable, and a FailedScheduling event says why.
struct PodScheduler {
    let context: KubeletContext

    /// Answers when to try again (nil once bound).
    func schedule(_ object: OrderedJSON, _ pod: Pod) throws -> Duration? {
        guard pod.metadata.deletionTimestamp == nil else {
            _ = try? context.store.delete(KubeResourceRegistry.pods, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "",
                                          options: KubeDeleteOptions(preconditionUID: pod.metadata.uid, gracePeriodSeconds: 0))
            return nil
        }
        let bound = try context.store.list(KubeResourceRegistry.pods, namespace: nil).items.compactMap { try? $0.decode(Pod.self) }
            .filter { $0.spec.nodeName == context.nodeName && !["Succeeded", "Failed"].contains($0.status?.phase ?? "") }
        let (cpu, memory) = NodeAgent.allocatable()
        let used = bound.map(Self.requests).reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        let wanted = Self.requests(pod)
        var short: [String] = []
        if wanted.0 > cpu - used.0 { short.append("cpu") }
        if wanted.1 > memory - used.1 { short.append("memory") }
        if bound.count >= NodeAgent.maxPods { short.append("pods") }
        let now = Date.now.formatted(.iso8601)
        guard short.isEmpty else {
            let message = "0/1 nodes are available: " + short.map { "1 Insufficient \($0)" }.joined(separator: ", ")
                + ". preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
            context.schedulerEvents.record(object, .warning, reason: "FailedScheduling", message: message)
            let condition = OrderedJSON.object([
                ("type", .string("PodScheduled")), ("status", .string("False")), ("lastProbeTime", .null),
                ("lastTransitionTime", .string(now)), ("reason", .string("Unschedulable")), ("message", .string(message)),
            ])
            if object.value(at: ["status", "conditions"]).flatMap({ try? $0.decode([PodCondition].self) })?
                .contains(where: { $0.type == "PodScheduled" && $0.reason == "Unschedulable" }) != true {
                let updated = object.setting(["status", "phase"], to: .string("Pending"))
                    .setting(["status", "conditions"], to: .array([condition]))
                _ = try context.store.replace(KubeResourceRegistry.pods, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "",
                                              object: updated)
            }
            return .seconds(5)
        }
        let condition = OrderedJSON.object([
            ("type", .string("PodScheduled")), ("status", .string("True")), ("lastProbeTime", .null),
            ("lastTransitionTime", .string(now)),
        ])
        let updated = object.setting(["spec", "nodeName"], to: .string(context.nodeName))
            .setting(["status", "phase"], to: .string("Pending"))
            .setting(["status", "conditions"], to: .array([condition]))
        _ = try context.store.replace(KubeResourceRegistry.pods, namespace: pod.metadata.namespace, name: pod.metadata.name ?? "",
                                      object: updated)
        context.schedulerEvents.record(object, .normal, reason: "Scheduled",
                                       message: "Successfully assigned \(pod.metadata.namespace ?? "default")/\(pod.metadata.name ?? "") to \(context.nodeName)")
        return nil
    }

    /// A pod's cpu (millicores) and memory (bytes) requests: the sum over its containers, or the
    /// largest init container's when that is more (init containers run one at a time). A limit
    /// without a request counts as the request, as the apiserver defaults it.
    static func requests(_ pod: Pod) -> (Int64, Int64) {
        func of(_ container: Container) -> (Int64, Int64) {
            let requests = container.resources?.requests ?? [:]
            let limits = container.resources?.limits ?? [:]
            return (milli(requests["cpu"] ?? limits["cpu"]), (milli(requests["memory"] ?? limits["memory"]) + 999) / 1000)
        }
        let app = pod.spec.containers.map(of).reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
        let initial = (pod.spec.initContainers ?? []).map(of).reduce((0, 0)) { (max($0.0, $1.0), max($0.1, $1.1)) }
        return (max(app.0, initial.0), max(app.1, initial.1))
    }

    /// A quantity in thousandths (`500m` → 500, `2` → 2000, `1Gi` → 1073741824000); nil or
    /// malformed is 0, which the apiserver's validation rules out before it gets here.
    static func milli(_ text: String?) -> Int64 {
        guard let text, let quantity = KubeQuantity.parsing(text) else { return 0 }
        return quantity.dividedRoundingUp(by: KubeQuantity(nanos: 1_000_000))
    }
}
