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
        let harness = try ControllerHarness()
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

    @Test func foregroundDeletionRemovesBlockingDependentsBeforeTheOwner() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let kubelet = runFakeKubelet(store)
        defer { kubelet.cancel() }
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 2)))
        #expect(await harness.eventually { try store.activePods().count == 2 })

        // Record the order things go in (by the revision of their removal): the Deployment must be the last.
        let gone = Locked<[(revision: Int, kind: String)]>([])
        let from = KubeListOptions(resourceVersion: String(try store.currentResourceVersion()))
        let watches = try [store.pods, store.replicaSets, store.deployments].map { try store.watch($0, namespace: "default", options: from) }
        let observers = watches.map { events in
            Task {
                for await event in events where event.type == .deleted {
                    let revision = Int(event.object.string("metadata", "resourceVersion") ?? "") ?? 0
                    gone.withLock { $0.append((revision, event.object.string("kind") ?? "")) }
                }
            }
        }
        defer { observers.forEach { $0.cancel() } }

        let deletion = try store.delete(store.deployments, namespace: "default", name: "web",
                                        options: KubeDeleteOptions(propagationPolicy: .foreground))
        #expect(!deletion.removed)
        #expect(deletion.object.finalizers == ["foregroundDeletion"])
        #expect(await harness.eventually { (try? store.get(store.deployments, namespace: "default", name: "web")) == nil })
        #expect(await harness.eventually { gone.withLock { $0.count } == 4 })
        #expect(gone.withLock { $0.max { $0.revision < $1.revision }?.kind } == "Deployment")
        #expect(try store.list(store.replicaSets, namespace: "default").items.isEmpty && store.list(store.pods, namespace: "default").items.isEmpty)
    }

    @Test func orphanDeletionLeavesTheDependentsWithoutTheOwnerReference() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let kubelet = runFakeKubelet(store)
        defer { kubelet.cancel() }
        let deployment = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 2)))
        #expect(await harness.eventually { try store.activePods().count == 2 && store.list(store.replicaSets, namespace: "default").items.count == 1 })
        let replicaSet = try #require(try store.list(store.replicaSets, namespace: "default").items.first)

        _ = try store.delete(store.deployments, namespace: "default", name: "web", options: KubeDeleteOptions(propagationPolicy: .orphan))
        #expect(await harness.eventually { (try? store.get(store.deployments, namespace: "default", name: "web")) == nil })
        let kept = try store.get(store.replicaSets, namespace: "default", name: replicaSet.name)
        #expect(kept.uid == replicaSet.uid)
        #expect(!OwnerRefs.isOwned(kept, by: deployment.uid))
        #expect(try store.activePods().count == 2)
    }

    @Test func deletingANamespaceEmptiesItThenFinalizesIt() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node").run() }
        let kubelet = runFakeKubelet(store)
        defer { kubelet.cancel() }
        _ = try store.create(KubeResourceRegistry.namespaces, namespace: nil, object: object(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}"#))
        _ = try store.create(store.deployments, namespace: "team", object: object(deploymentManifest(replicas: 2)
            .replacingOccurrences(of: #""namespace":"default""#, with: #""namespace":"team""#)))
        _ = try store.create(KubeResourceRegistry.configMaps, namespace: "team", object: configMap("settings"))
        #expect(await harness.eventually { try store.activePods("team").count == 2 })

        let deleted = try store.delete(KubeResourceRegistry.namespaces, namespace: nil, name: "team")
        #expect(deleted.string("status", "phase") == "Terminating")
        #expect(await harness.eventually { (try? store.get(KubeResourceRegistry.namespaces, namespace: nil, name: "team")) == nil })
        for resource in [store.pods, store.replicaSets, store.deployments, KubeResourceRegistry.configMaps, KubeResourceRegistry.serviceAccounts] {
            #expect(try store.list(resource, namespace: "team").items.isEmpty)
        }
    }
}
