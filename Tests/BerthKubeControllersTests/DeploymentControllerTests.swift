import BerthKubeAPI
import BerthTemplate
import Foundation
import Synchronization
import Testing

@testable import BerthKubeControllers

@Suite struct DeploymentControllerTests {
    /// A store with the controllers and a fake kubelet running over it.
    final class Cluster {
        let harness: ControllerHarness
        let kubelet: Task<Void, Never>
        var store: KubeObjectStore { harness.store }

        init(ready: @escaping @Sendable (OrderedJSON) -> Bool = { _ in true }) throws {
            harness = try ControllerHarness()
            let store = harness.store
            harness.start { await KubeControllerManager(store: store, host: "node").run() }
            kubelet = runFakeKubelet(store, ready: ready)
        }

        deinit { kubelet.cancel() }

        func deployment(_ name: String = "web") throws -> OrderedJSON { try store.get(store.deployments, namespace: "default", name: name) }
        func replicaSets() throws -> [OrderedJSON] { try store.list(store.replicaSets, namespace: "default").items }

        /// What `kubectl rollout status` waits for: the spec observed, every replica updated and available, nothing old left.
        func rolledOut(_ name: String = "web") throws -> Bool {
            let deployment = try deployment(name)
            let replicas = deployment.number("spec", "replicas")
            return deployment.number("status", "observedGeneration") >= deployment.number("metadata", "generation")
                && deployment.number("status", "updatedReplicas") == replicas && deployment.number("status", "replicas") == replicas
                && deployment.number("status", "availableReplicas") == replicas
                && DeploymentConditions.condition(deployment["status"] ?? .null, "Progressing")?.string("reason") == "NewReplicaSetAvailable"
        }

        func images() throws -> [String] {
            try store.activePods().compactMap { pod in
                guard case .array(let containers)? = pod.value(at: ["spec", "containers"]) else { return nil }
                return containers.first?.string("image")
            }.sorted()
        }

        func setImage(_ image: String, _ name: String = "web") throws {
            try store.edit(store.deployments, "default", name) { live in
                guard case .array(var containers)? = live.value(at: ["spec", "template", "spec", "containers"]) else { return live }
                containers[0] = containers[0].setting(["image"], to: .string(image))
                return live.setting(["spec", "template", "spec", "containers"], to: .array(containers))
            }
        }
    }

    @Test func createsAHashedReplicaSetAndScalesThreeFiveOne() async throws {
        let cluster = try Cluster()
        let store = cluster.store
        let created = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 3)))
        #expect(await cluster.harness.eventually { try cluster.rolledOut() })

        let replicaSet = try #require(try cluster.replicaSets().first)
        #expect(try cluster.replicaSets().count == 1)
        let hash = PodTemplateHash.compute(created.value(at: ["spec", "template"]) ?? .null, collisionCount: nil)
        #expect(replicaSet.name == "web-\(hash)")
        #expect(hash.allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
        #expect(replicaSet.stringMap(at: ["spec", "selector", "matchLabels"]) == ["app": "web", "pod-template-hash": hash])
        #expect(replicaSet.stringMap(at: ["spec", "template", "metadata", "labels"]) == ["app": "web", "pod-template-hash": hash])
        #expect(replicaSet.stringMap(at: ["metadata", "annotations"]) == [
            "deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": "3", "deployment.kubernetes.io/max-replicas": "4",
        ])
        #expect(OwnerRefs.controllerUID(of: replicaSet) == created.uid)
        #expect(try cluster.deployment().metadataAnnotations["deployment.kubernetes.io/revision"] == "1")
        let available = DeploymentConditions.condition(try cluster.deployment()["status"] ?? .null, "Available")
        #expect(available?.string("reason") == "MinimumReplicasAvailable" && available?.string("status") == "True")
        #expect(try store.activePods().allSatisfy { $0.stringMap(at: ["metadata", "labels"])?["pod-template-hash"] == hash })

        try store.edit(store.deployments, "default", "web") { $0.setting(["spec", "replicas"], to: .int(5)) }
        #expect(await cluster.harness.eventually { try cluster.rolledOut() && store.activePods().count == 5 })
        try store.edit(store.deployments, "default", "web") { $0.setting(["spec", "replicas"], to: .int(1)) }
        #expect(await cluster.harness.eventually { try cluster.rolledOut() && store.activePods().count == 1 })
        #expect(try cluster.replicaSets().count == 1)

        let messages = try store.events(about: "web").filter { $0.reason == "ScalingReplicaSet" }
        #expect(messages.map(\.message).sorted() == [
            "Scaled up replica set web-\(hash) to 3 from 0", "Scaled up replica set web-\(hash) to 5 from 3",
            "Scaled down replica set web-\(hash) to 1 from 5",
        ].sorted())
        #expect(messages.allSatisfy { $0.component == "deployment-controller" })
    }

    @Test func rollingUpdateStaysWithinMaxSurgeAndMaxUnavailableAtEveryStep() async throws {
        let cluster = try Cluster()
        let store = cluster.store
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(
            replicas: 4, extraSpec: #""strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":1}},"#)))
        #expect(await cluster.harness.eventually { try cluster.rolledOut() })

        // Follow every change from here on and note the extremes: the ReplicaSets' sizes (the pods
        // the controllers aim for, which maxSurge bounds) and the pods that are ready (which
        // maxUnavailable bounds). Pods going away are not counted, as upstream does not count them.
        let counts = Locked<(maxSized: Int, minReady: Int, steps: Int)>((0, Int.max, 0))
        let from = KubeListOptions(resourceVersion: String(try store.currentResourceVersion()))
        let podEvents = try store.watch(store.pods, namespace: "default", options: from)
        let setEvents = try store.watch(store.replicaSets, namespace: "default", options: from)
        let initialPods = try store.activePods()
        let initialSets = try cluster.replicaSets()
        let podObserver = Task {
            var pods = Dictionary(uniqueKeysWithValues: initialPods.map { ($0.uid, $0) })
            for await event in podEvents {
                pods[event.object.uid] = event.type == .deleted || !PodState.isActive(event.object) ? nil : event.object
                let ready = pods.values.filter(PodState.isReady).count
                counts.withLock { $0 = ($0.maxSized, min($0.minReady, ready), $0.steps + 1) }
            }
        }
        let setObserver = Task {
            var sizes = Dictionary(uniqueKeysWithValues: initialSets.map { ($0.uid, $0.specReplicas) })
            for await event in setEvents {
                sizes[event.object.uid] = event.type == .deleted ? nil : event.object.specReplicas
                let sized = sizes.values.reduce(0, +)
                counts.withLock { $0 = (max($0.maxSized, sized), $0.minReady, $0.steps + 1) }
            }
        }
        defer {
            podObserver.cancel()
            setObserver.cancel()
        }

        try cluster.setImage("busybox:2")
        #expect(await cluster.harness.eventually { try cluster.rolledOut() && cluster.images() == Array(repeating: "busybox:2", count: 4) })
        let seen = counts.withLock { $0 }
        #expect(seen.steps > 8)
        #expect(seen.maxSized <= 5)
        #expect(seen.minReady >= 3)
        let sets = try cluster.replicaSets().sorted { $0.revision < $1.revision }
        #expect(sets.map(\.revision) == [1, 2])
        #expect(sets.map(\.specReplicas) == [0, 4])
        #expect(try cluster.deployment().metadataAnnotations["deployment.kubernetes.io/revision"] == "2")
    }

    @Test func recreateRemovesEveryOldPodBeforeCreatingNewOnes() async throws {
        let cluster = try Cluster()
        let store = cluster.store
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(
            replicas: 3, extraSpec: #""strategy":{"type":"Recreate"},"#)))
        #expect(await cluster.harness.eventually { try cluster.rolledOut() })

        let mixed = Locked(false)
        let watch = try store.watch(store.pods, namespace: "default", options: KubeListOptions(resourceVersion: String(try store.currentResourceVersion())))
        let observer = Task {
            var images = Dictionary(uniqueKeysWithValues: try store.activePods().map { ($0.uid, $0.value(at: ["spec", "containers"])?.compact ?? "") })
            for await event in watch {
                images[event.object.uid] = event.type == .deleted || !PodState.isActive(event.object) ? nil : event.object.value(at: ["spec", "containers"])?.compact ?? ""
                if Set(images.values).count > 1 { mixed.withLock { $0 = true } }
            }
        }
        defer { observer.cancel() }

        try cluster.setImage("busybox:2")
        #expect(await cluster.harness.eventually { try cluster.rolledOut() && cluster.images() == Array(repeating: "busybox:2", count: 3) })
        #expect(mixed.withLock { $0 } == false)
    }

    @Test func rollbackToAnEarlierTemplateBringsItsReplicaSetBackAsTheNewestRevision() async throws {
        let cluster = try Cluster()
        let store = cluster.store
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 2)))
        #expect(await cluster.harness.eventually { try cluster.rolledOut() })
        let original = try #require(try cluster.replicaSets().first)
        try store.edit(store.deployments, "default", "web") { live in
            var annotations = live.metadataAnnotations
            annotations["kubernetes.io/change-cause"] = "kubectl set image deployment/web web=busybox:2"
            return live.setting(["metadata", "annotations"], to: .stringMap(annotations))
        }
        try cluster.setImage("busybox:2")
        #expect(await cluster.harness.eventually { try cluster.rolledOut() && cluster.images() == ["busybox:2", "busybox:2"] })
        let second = try #require(try cluster.replicaSets().first { $0.uid != original.uid })
        #expect(second.metadataAnnotations["kubernetes.io/change-cause"] == "kubectl set image deployment/web web=busybox:2")

        // What `kubectl rollout undo` sends: revision 1's template without its hash label.
        var template = original.value(at: ["spec", "template"]) ?? .null
        template = template.setting(["metadata", "labels"], to: .stringMap(["app": "web"]))
        try store.edit(store.deployments, "default", "web") { $0.setting(["spec", "template"], to: template) }
        #expect(await cluster.harness.eventually { try cluster.rolledOut() && cluster.images() == ["busybox:1", "busybox:1"] })
        let back = try store.get(store.replicaSets, namespace: "default", name: original.name)
        #expect(back.uid == original.uid)
        #expect(back.metadataAnnotations["deployment.kubernetes.io/revision"] == "3")
        #expect(back.metadataAnnotations["deployment.kubernetes.io/revision-history"] == "1")
        #expect(try cluster.deployment().metadataAnnotations["deployment.kubernetes.io/revision"] == "3")
        #expect(try cluster.replicaSets().count == 2)
        #expect(try store.get(store.replicaSets, namespace: "default", name: second.name).specReplicas == 0)
    }

    @Test func pausedDeploymentDoesNotRollOutUntilResumed() async throws {
        let cluster = try Cluster()
        let store = cluster.store
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 2)))
        #expect(await cluster.harness.eventually { try cluster.rolledOut() })
        try store.edit(store.deployments, "default", "web") { $0.setting(["spec", "paused"], to: .bool(true)) }
        try cluster.setImage("busybox:2")
        #expect(await cluster.harness.eventually {
            let deployment = try cluster.deployment()
            return deployment.number("status", "observedGeneration") == deployment.number("metadata", "generation")
                && DeploymentConditions.condition(deployment["status"] ?? .null, "Progressing")?.string("reason") == "DeploymentPaused"
        })
        #expect(try cluster.replicaSets().count == 1)
        #expect(try cluster.images() == ["busybox:1", "busybox:1"])

        try store.edit(store.deployments, "default", "web") { $0.setting(["spec", "paused"], to: nil) }
        #expect(await cluster.harness.eventually { try cluster.rolledOut() && cluster.images() == ["busybox:2", "busybox:2"] })
        #expect(try cluster.replicaSets().count == 2)
    }

    @Test func oldReplicaSetsBeyondTheRevisionHistoryLimitAreDeleted() async throws {
        let cluster = try Cluster()
        let store = cluster.store
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 1, extraSpec: #""revisionHistoryLimit":1,"#)))
        #expect(await cluster.harness.eventually { try cluster.rolledOut() })
        for image in ["busybox:2", "busybox:3"] {
            try cluster.setImage(image)
            #expect(await cluster.harness.eventually { try cluster.rolledOut() && cluster.images() == [image] })
        }
        #expect(await cluster.harness.eventually { try cluster.replicaSets().map(\.revision).sorted() == [2, 3] })
    }

    @Test func aDeletedPodIsReplaced() async throws {
        let cluster = try Cluster()
        let store = cluster.store
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 2)))
        #expect(await cluster.harness.eventually { try cluster.rolledOut() })
        let victim = try #require(try store.activePods().first)
        _ = try store.delete(store.pods, namespace: "default", name: victim.name)
        #expect(await cluster.harness.eventually {
            try store.activePods().count == 2 && !store.activePods().map(\.name).contains(victim.name) && cluster.rolledOut()
        })
    }

    @Test func progressDeadlineExceededWhenPodsNeverBecomeReady() async throws {
        let cluster = try Cluster { _ in false }
        let store = cluster.store
        _ = try store.create(store.deployments, namespace: "default", object: object(deploymentManifest(replicas: 1, extraSpec: #""progressDeadlineSeconds":1,"#)))
        #expect(await cluster.harness.eventually {
            let progressing = DeploymentConditions.condition(try cluster.deployment()["status"] ?? .null, "Progressing")
            return progressing?.string("reason") == "ProgressDeadlineExceeded" && progressing?.string("status") == "False"
        })
        let available = DeploymentConditions.condition(try cluster.deployment()["status"] ?? .null, "Available")
        #expect(available?.string("reason") == "MinimumReplicasUnavailable")
    }

    @Test func fencepostsRoundSurgeUpAndUnavailableDown() throws {
        func fenceposts(_ replicas: Int) throws -> (Int, Int) {
            let spec = try #require(DeploymentSpec(object(deploymentManifest(replicas: replicas))))
            return (spec.surge, spec.unavailable)
        }
        #expect(try fenceposts(1) == (1, 0))
        #expect(try fenceposts(3) == (1, 0))
        #expect(try fenceposts(4) == (1, 1))
        #expect(try fenceposts(10) == (3, 2))
    }
}
