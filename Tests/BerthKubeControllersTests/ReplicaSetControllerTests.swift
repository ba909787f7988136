import BerthKubeAPI
import BerthTemplate
import Synchronization
import Testing

@testable import BerthKubeControllers

@Suite struct ReplicaSetControllerTests {
    let replicaSetManifest = """
        {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web","namespace":"default"},
         "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
          "template":{"metadata":{"labels":{"app":"web","tier":"fe"}},"spec":{"containers":[{"name":"web","image":"busybox"}]}}}}
        """

    @Test func keepsReplicasPodsFromTheTemplateWithOwnerReferencesAndEvents() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let kubelet = runFakeKubelet(store)
        defer { kubelet.cancel() }
        let replicaSet = try store.create(store.replicaSets, namespace: "default", object: object(replicaSetManifest))

        let status = { try store.get(store.replicaSets, namespace: "default", name: "web")["status"] ?? .null }
        #expect(await harness.eventually {
            try status().number("readyReplicas") == 3 && status().number("availableReplicas") == 3 && status().number("replicas") == 3
        })
        #expect(try status().number("fullyLabeledReplicas") == 3)
        #expect(try status().number("observedGeneration") == 1)
        let pods = try store.activePods()
        #expect(pods.count == 3)
        for pod in pods {
            #expect(pod.name.hasPrefix("web-") && pod.name.count == "web-".count + 5)
            #expect(pod.string("metadata", "generateName") == "web-")
            #expect(pod.stringMap(at: ["metadata", "labels"]) == ["app": "web", "tier": "fe"])
            #expect(pod.value(at: ["spec", "containers"]) == replicaSet.value(at: ["spec", "template", "spec", "containers"]))
            let reference = try #require(try pod.value(at: ["metadata"])?.decode(ObjectMeta.self).controller)
            #expect(reference == OwnerReference(apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: replicaSet.uid,
                                                controller: true, blockOwnerDeletion: true))
        }
        let events = try store.events(about: "web")
        #expect(Set(events.filter { $0.reason == "SuccessfulCreate" }.map(\.message)) == Set(pods.map { "Created pod: \($0.name)" }))
        #expect(events.allSatisfy { $0.component == "replicaset-controller" })
    }

    @Test func scalesUpAndDownDeletingNotReadyPodsFirst() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        // Only the first three pods become ready: the two added by the scale-up stay Pending.
        let readied = ReadyBudget(3)
        let kubelet = runFakeKubelet(store) { _ in readied.take() }
        defer { kubelet.cancel() }
        _ = try store.create(store.replicaSets, namespace: "default", object: object(replicaSetManifest))
        let status = { try store.get(store.replicaSets, namespace: "default", name: "web")["status"] ?? .null }
        #expect(await harness.eventually { try status().number("readyReplicas") == 3 })
        let firstThree = Set(try store.activePods().map(\.name))

        try store.edit(store.replicaSets, "default", "web") { $0.setting(["spec", "replicas"], to: .int(5)) }
        #expect(await harness.eventually { try store.activePods().count == 5 && status().number("replicas") == 5 })
        #expect(try status().number("readyReplicas") == 3)

        try store.edit(store.replicaSets, "default", "web") { $0.setting(["spec", "replicas"], to: .int(1)) }
        #expect(await harness.eventually { try store.activePods().count == 1 && status().number("replicas") == 1 })
        #expect(try firstThree.contains(#require(store.activePods().first).name))
        #expect(try store.events(about: "web").filter { $0.reason == "SuccessfulDelete" }.count == 4)
    }

    @Test func replacesDeletedAndFailedPodsAdoptsOrphansAndReleasesRelabelledPods() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let kubelet = runFakeKubelet(store)
        defer { kubelet.cancel() }
        let replicaSet = try store.create(store.replicaSets, namespace: "default", object: object(replicaSetManifest))
        #expect(await harness.eventually { try store.activePods().count == 3 })

        let deleted = try #require(try store.activePods().first)
        _ = try store.delete(store.pods, namespace: "default", name: deleted.name)
        #expect(await harness.eventually { try store.activePods().count == 3 && !store.activePods().map(\.name).contains(deleted.name) })

        let failed = try #require(try store.activePods().first)
        try store.edit(store.pods, "default", failed.name) { $0.setting(["status", "phase"], to: .string("Failed")) }
        #expect(await harness.eventually { try store.activePods().count == 3 && !store.activePods().map(\.name).contains(failed.name) })

        // A matching orphan is adopted, which makes four: one goes.
        _ = try store.create(store.pods, namespace: "default", object: object("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}
            """))
        #expect(await harness.eventually { try store.activePods().count == 3 })
        #expect(try store.activePods().allSatisfy { OwnerRefs.controllerUID(of: $0) == replicaSet.uid })

        // A pod relabelled out of the selector is released (its reference removed) and replaced.
        let relabelled = try #require(try store.activePods().first)
        try store.edit(store.pods, "default", relabelled.name) { $0.setting(["metadata", "labels"], to: .stringMap(["app": "debug"])) }
        #expect(await harness.eventually {
            try store.get(store.pods, namespace: "default", name: relabelled.name).value(at: ["metadata", "ownerReferences"]) == nil
                && store.activePods().filter { OwnerRefs.controllerUID(of: $0) == replicaSet.uid }.count == 3
        })
    }
}

/// How many more pods the fake kubelet may report ready.
final class ReadyBudget: Sendable {
    private let remaining: Mutex<Int>

    init(_ count: Int) { remaining = Mutex(count) }

    func take() -> Bool {
        remaining.withLock { count in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
    }

    func add(_ count: Int) { remaining.withLock { $0 += count } }
}
