import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization
import Testing

@testable import BerthKubeControllers

@Suite struct StatefulSetControllerTests {
    static func set(replicas: Int, extra: String = "", image: String = "busybox") throws -> OrderedJSON {
        try object("""
            {"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web"},"spec":{"replicas":\(replicas),"serviceName":"web",
             "selector":{"matchLabels":{"app":"web"}}\(extra),
             "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"main","image":"\(image)",
               "volumeMounts":[{"name":"data","mountPath":"/data"}]}]}},
             "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}
            """)
    }

    static func start(_ harness: ControllerHarness) -> FakeKubelet {
        let store = harness.store
        harness.start { await KubeReconcileLoop(store: store).run(StatefulSetController(store: store, host: "node")) }
        return FakeKubelet(store: store)
    }

    static func status(_ store: KubeObjectStore, _ field: String) -> Int? {
        (try? store.get(KubeResourceRegistry.statefulSets, namespace: "default", name: "web"))?.value(at: ["status", field])?.int
    }

    @Test func orderedReadyCreatesEachPodAfterThePreviousIsReady() async throws {
        let harness = try ControllerHarness()
        let kubelet = Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.statefulSets, namespace: "default", object: Self.set(replicas: 3))
        #expect(await harness.eventually { Self.status(store, "replicas") == 1 })
        // The status is written after the decision: web-0 exists and web-1 was not made.
        #expect(kubelet.pod("web-0") != nil && kubelet.pod("web-1") == nil)
        try kubelet.set("web-0", phase: "Running", ready: false)
        #expect(await harness.eventually { PodFacts.phase(kubelet.pod("web-0") ?? .null) == "Running" })
        #expect(await harness.eventually { Self.status(store, "replicas") == 1 && Self.status(store, "readyReplicas") == nil })
        #expect(kubelet.pod("web-1") == nil)
        try kubelet.set("web-0", phase: "Running")
        #expect(await harness.eventually { kubelet.pod("web-1") != nil })
        #expect(kubelet.pod("web-2") == nil)
        try kubelet.set("web-1", phase: "Running")
        #expect(await harness.eventually { kubelet.pod("web-2") != nil })
        try kubelet.set("web-2", phase: "Running")
        #expect(await harness.eventually { Self.status(store, "readyReplicas") == 3 && Self.status(store, "availableReplicas") == 3 })

        let pod = try #require(kubelet.pod("web-1"))
        #expect(pod.string("spec", "hostname") == "web-1" && pod.string("spec", "subdomain") == "web")
        let labels = pod.stringMap(at: ["metadata", "labels"]) ?? [:]
        #expect(labels["statefulset.kubernetes.io/pod-name"] == "web-1" && labels["apps.kubernetes.io/pod-index"] == "1")
        let revision = try #require(labels["controller-revision-hash"])
        let set = try store.get(KubeResourceRegistry.statefulSets, namespace: "default", name: "web")
        #expect(set.string("status", "currentRevision") == revision && set.string("status", "updateRevision") == revision)
        #expect(set.value(at: ["status", "observedGeneration"])?.int == 1)
        let history = try store.get(KubeResourceRegistry.controllerRevisions, namespace: "default", name: revision)
        #expect(history["revision"]?.int == 1 && history.string("data", "spec", "template", "$patch") == "replace")
        #expect(history.stringMap(at: ["metadata", "labels"])?["app"] == "web")
        #expect(try messages(store, about: "web").contains("create Pod web-0 in StatefulSet web successful"))
        #expect(try messages(store, about: "web").contains("create Claim data-web-0 Pod web-0 in StatefulSet web success"))
    }

    @Test func eachReplicaKeepsItsClaimAcrossPodReplacement() async throws {
        let harness = try ControllerHarness()
        let kubelet = Self.start(harness)
        let everything = kubelet.runEverything()
        defer { everything.cancel() }
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.statefulSets, namespace: "default", object: Self.set(replicas: 2))
        #expect(await harness.eventually { Self.status(store, "readyReplicas") == 2 })
        let claim = try store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data-web-0")
        #expect(claim.stringMap(at: ["metadata", "labels"]) == ["app": "web"])
        #expect(claim.value(at: ["metadata", "ownerReferences"]) == nil)
        #expect(claim.string("spec", "resources", "requests", "storage") == "1Gi")
        #expect((try? store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data-web-1")) != nil)
        let pod = try #require(kubelet.pod("web-0"))
        guard case .array(let volumes)? = pod.value(at: ["spec", "volumes"]) else { Issue.record("no volumes"); return }
        #expect(volumes.first?.string("persistentVolumeClaim", "claimName") == "data-web-0")

        _ = try store.delete(KubeResourceRegistry.pods, namespace: "default", name: "web-0")
        #expect(await harness.eventually { kubelet.pod("web-0").map { $0.string("metadata", "uid") != pod.string("metadata", "uid") } ?? false })
        let kept = try store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data-web-0")
        #expect(kept.string("metadata", "uid") == claim.string("metadata", "uid"))
    }

    @Test func scalingDownRemovesTheHighestOrdinalFirst() async throws {
        let harness = try ControllerHarness()
        let kubelet = Self.start(harness)
        let everything = kubelet.runEverything()
        defer { everything.cancel() }
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.statefulSets, namespace: "default", object: Self.set(replicas: 3))
        #expect(await harness.eventually { Self.status(store, "readyReplicas") == 3 })
        let deletions = Mutex<[String]>([])
        let events = try store.watch(KubeResourceRegistry.pods, namespace: "default", options: KubeListOptions(resourceVersion: String(store.currentResourceVersion())))
        let watcher = Task {
            for await event in events where event.type == .deleted {
                deletions.withLock { $0.append(PodFacts.name(event.object)) }
            }
        }
        defer { watcher.cancel() }
        let set = try store.get(KubeResourceRegistry.statefulSets, namespace: "default", name: "web")
        _ = try store.replace(KubeResourceRegistry.statefulSets, namespace: "default", name: "web", object: set.setting(["spec", "replicas"], to: .int(1)))
        #expect(await harness.eventually { deletions.withLock { $0 } == ["web-2", "web-1"] })
        #expect(await harness.eventually { Self.status(store, "replicas") == 1 })
        // The claims stay (whenScaled defaults to Retain).
        #expect((try? store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data-web-2")) != nil)
    }

    @Test func aRollingUpdateReplacesPodsFromTheHighestOrdinalDown() async throws {
        let harness = try ControllerHarness()
        let kubelet = Self.start(harness)
        let everything = kubelet.runEverything()
        defer { everything.cancel() }
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.statefulSets, namespace: "default",
                             object: Self.set(replicas: 3, extra: #","updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}}"#))
        #expect(await harness.eventually { Self.status(store, "readyReplicas") == 3 })
        let old = try #require(kubelet.pod("web-0").flatMap { PodFacts.label($0, "controller-revision-hash") })
        let deletions = Mutex<[String]>([])
        let events = try store.watch(KubeResourceRegistry.pods, namespace: "default", options: KubeListOptions(resourceVersion: String(store.currentResourceVersion())))
        let watcher = Task {
            for await event in events where event.type == .deleted {
                deletions.withLock { $0.append(PodFacts.name(event.object)) }
            }
        }
        defer { watcher.cancel() }
        let set = try store.get(KubeResourceRegistry.statefulSets, namespace: "default", name: "web")
        _ = try store.replace(KubeResourceRegistry.statefulSets, namespace: "default", name: "web",
                              object: set.setting(["spec", "template", "spec", "containers"], to: .array([object(#"{"name":"main","image":"busybox:2"}"#)])))
        #expect(await harness.eventually { Self.status(store, "updatedReplicas") == 2 && Self.status(store, "readyReplicas") == 3 })
        #expect(deletions.withLock { $0 } == ["web-2", "web-1"])
        let updated = try store.get(KubeResourceRegistry.statefulSets, namespace: "default", name: "web")
        let new = try #require(updated.string("status", "updateRevision"))
        #expect(new != old && updated.string("status", "currentRevision") == old)
        #expect(PodFacts.label(kubelet.pod("web-0") ?? .null, "controller-revision-hash") == old)
        let image = try (kubelet.pod("web-2")?.value(at: ["spec", "containers"])?.decode([Container].self))?.first?.image
        #expect(image == "busybox:2")
        #expect(try store.get(KubeResourceRegistry.controllerRevisions, namespace: "default", name: new)["revision"]?.int == 2)
        // Partition 0 finishes the rollout; the current revision becomes the new one.
        _ = try store.replace(KubeResourceRegistry.statefulSets, namespace: "default", name: "web",
                              object: updated.setting(["spec", "updateStrategy", "rollingUpdate", "partition"], to: .int(0)))
        #expect(await harness.eventually {
            try store.get(KubeResourceRegistry.statefulSets, namespace: "default", name: "web").string("status", "currentRevision") == new
                && Self.status(store, "currentReplicas") == 3
        })
    }

    @Test func aDeleteRetentionPolicyRemovesScaledClaimsAndTiesClaimsToTheSet() async throws {
        let harness = try ControllerHarness()
        let kubelet = Self.start(harness)
        let everything = kubelet.runEverything()
        defer { everything.cancel() }
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.statefulSets, namespace: "default", object: Self.set(
            replicas: 2, extra: #","persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"}"#))
        #expect(await harness.eventually { Self.status(store, "readyReplicas") == 2 })
        let set = try store.get(KubeResourceRegistry.statefulSets, namespace: "default", name: "web")
        let claim = try store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data-web-0")
        #expect(OwnerRefs.controllerUID(of: claim) == set.string("metadata", "uid"))
        _ = try store.edit(KubeResourceRegistry.statefulSets, "default", "web") { $0.setting(["spec", "replicas"], to: .int(1)) }
        #expect(await harness.eventually {
            (try? store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data-web-1")) == nil
        })
        #expect(kubelet.pod("web-1") == nil)
        #expect((try? store.get(KubeResourceRegistry.persistentVolumeClaims, namespace: "default", name: "data-web-0")) != nil)
    }

    @Test func parallelCreatesEveryPodAtOnce() async throws {
        let harness = try ControllerHarness()
        let kubelet = Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.statefulSets, namespace: "default",
                             object: Self.set(replicas: 3, extra: #","podManagementPolicy":"Parallel""#))
        #expect(await harness.eventually { Self.status(store, "replicas") == 3 })
        #expect(["web-0", "web-1", "web-2"].allSatisfy { kubelet.pod($0) != nil })
    }

    @Test func podNamesGiveTheirOrdinal() {
        #expect(StatefulSetController.ordinal(of: "web-12", set: "web") == 12)
        #expect(StatefulSetController.ordinal(of: "web-01", set: "web") == nil)
        #expect(StatefulSetController.ordinal(of: "web-x", set: "web") == nil)
        #expect(StatefulSetController.ordinal(of: "webby-1", set: "web") == nil)
    }
}
