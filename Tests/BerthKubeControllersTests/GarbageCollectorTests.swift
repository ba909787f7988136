import BerthKubeAPI
import BerthTemplate
import Testing

@testable import BerthKubeControllers

@Suite struct GarbageCollectorTests {
    func configMap(_ name: String, owners: [OrderedJSON] = []) throws -> OrderedJSON {
        var map = try object(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"},"data":{"k":"v"}}"#)
        if !owners.isEmpty {
            map = map.setting(["metadata", "ownerReferences"], to: .array(owners.map { owner in
                .object([("apiVersion", .string("v1")), ("kind", .string("ConfigMap")), ("name", .string(owner.name)), ("uid", .string(owner.uid))])
            }))
        }
        return map
    }

    @Test func dependentsOfADeletedOwnerGoUnlessAnotherOwnerIsLeft() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let maps = KubeResourceRegistry.configMaps
        let first = try store.create(maps, namespace: "default", object: configMap("first"))
        let second = try store.create(maps, namespace: "default", object: configMap("second"))
        _ = try store.create(maps, namespace: "default", object: configMap("only-first", owners: [first]))
        _ = try store.create(maps, namespace: "default", object: configMap("both", owners: [first, second]))
        _ = try store.create(maps, namespace: "default", object: configMap("grandchild",
                                          owners: [try store.get(maps, namespace: "default", name: "only-first")]))

        _ = try store.delete(maps, namespace: "default", name: "first")
        let names = { Set(try store.list(maps, namespace: "default").items.map(\.name)) }
        #expect(await harness.eventually { try names() == ["second", "both"] })
        let both = try store.get(maps, namespace: "default", name: "both")
        #expect(OwnerRefs.isOwned(both, by: second.uid) && !OwnerRefs.isOwned(both, by: first.uid))
    }

    @Test func anObjectCreatedWithAMissingOwnerIsDeleted() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let maps = KubeResourceRegistry.configMaps
        let ghost = try configMap("ghost").setting(["metadata", "uid"], to: .string("0b5d3c1e-0000-4000-8000-000000000000"))
        _ = try store.create(maps, namespace: "default", object: configMap("stray", owners: [ghost]))
        #expect(await harness.eventually { (try? store.get(maps, namespace: "default", name: "stray")) == nil })
    }

    @Test func deletingADeploymentTakesItsReplicaSetsAndPods() async throws {
        let harness = try ControllerHarness(registry: workloadRegistry)
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let kubelet = runFakeKubelet(store)
        defer { kubelet.cancel() }
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 2)))
        #expect(await harness.eventually { try store.activePods().count == 2 })
        _ = try store.delete(store.deployments, namespace: "default", name: "web")
        #expect(await harness.eventually {
            try store.list(store.replicaSets, namespace: "default").items.isEmpty && store.list(store.pods, namespace: "default").items.isEmpty
        })
    }
}
