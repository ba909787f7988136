import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization

@testable import BerthKubeControllers

/// The kubelet's part in controller tests: pod status written straight into the store.
struct FakeKubelet {
    let store: KubeObjectStore

    func pods(_ namespace: String = "default") throws -> [OrderedJSON] {
        try store.list(KubeResourceRegistry.pods, namespace: namespace).items
    }

    func pod(_ name: String, _ namespace: String = "default") -> OrderedJSON? {
        try? store.get(KubeResourceRegistry.pods, namespace: namespace, name: name)
    }

    /// Sets the pod's phase (and Ready with it: Running pods are ready unless told otherwise).
    func set(_ name: String, phase: String, ready: Bool? = nil, restarts: Int = 0, namespace: String = "default") throws {
        for _ in 0..<10 {
            do {
                return try write(name, phase: phase, ready: ready, restarts: restarts, namespace: namespace)
            } catch let error as KubeAPIError where error.code == 409 {
                continue
            }
        }
    }

    private func write(_ name: String, phase: String, ready: Bool?, restarts: Int, namespace: String) throws {
        guard let pod = pod(name, namespace) else { return }
        let isReady = ready ?? (phase == "Running")
        let now = Date.now.formatted(.iso8601)
        let status = OrderedJSON.object([
            ("phase", .string(phase)),
            ("conditions", .array([.object([("type", .string("Ready")), ("status", .string(isReady ? "True" : "False")),
                                            ("lastTransitionTime", .string(now))])])),
            ("containerStatuses", .array([.object([("name", .string("main")), ("ready", .bool(isReady)), ("restartCount", .int(restarts)),
                                                  ("image", .string("busybox")), ("imageID", .string(""))])])),
        ])
        _ = try store.replace(KubeResourceRegistry.pods, namespace: namespace, name: name, object: pod.setting(["status"], to: status))
    }

    /// Marks every pod Running and Ready as it appears, until the task is cancelled.
    func runEverything(_ namespace: String = "default") -> Task<Void, Never> {
        let events = try? store.watch(KubeResourceRegistry.pods, namespace: namespace)
        return Task { [self] in
            guard let events else { return }
            for await event in events where event.type == .added {
                try? set(event.object.string("metadata", "name") ?? "", phase: "Running", namespace: namespace)
            }
        }
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date) { current = Mutex(start) }

    var now: Date { current.withLock { $0 } }

    func set(_ date: Date) { current.withLock { $0 = date } }

    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

func reasons(_ store: KubeObjectStore, about name: String, namespace: String = "default") throws -> [String] {
    try store.list(KubeResourceRegistry.events, namespace: namespace).items
        .filter { $0.string("involvedObject", "name") == name }
        .compactMap { $0.string("reason") }
}

func messages(_ store: KubeObjectStore, about name: String, namespace: String = "default") throws -> [String] {
    try store.list(KubeResourceRegistry.events, namespace: namespace).items
        .filter { $0.string("involvedObject", "name") == name }
        .compactMap { $0.string("message") }
}

extension OrderedJSON {
    /// The `status` of condition `type` among `status.conditions`.
    func condition(_ type: String) -> OrderedJSON? {
        guard case .array(let conditions)? = value(at: ["status", "conditions"]) else { return nil }
        return conditions.first { $0.string("type") == type }
    }
}
