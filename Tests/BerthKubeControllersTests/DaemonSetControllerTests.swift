import BerthKubeAPI
import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeControllers

@Suite struct DaemonSetControllerTests {
    static func daemonSet(_ name: String = "agent", podSpec: String = "", strategy: String = "") throws -> OrderedJSON {
        try object("""
            {"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"\(name)"},"spec":{"selector":{"matchLabels":{"app":"\(name)"}},\(strategy)
             "template":{"metadata":{"labels":{"app":"\(name)"}},"spec":{\(podSpec)"containers":[{"name":"main","image":"busybox"}]}}}}
            """)
    }

    static func node(labels: String = "{}", taints: String = "[]") throws -> OrderedJSON {
        try object(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node","labels":\#(labels)},"spec":{"taints":\#(taints)}}"#)
    }

    static func start(_ harness: ControllerHarness) throws -> FakeKubelet {
        let store = harness.store
        let controller = DaemonSetController(store: store, host: "node")
        harness.start { await KubeReconcileLoop(store: store).run(controller) }
        return FakeKubelet(store: store)
    }

    static func status(_ store: KubeObjectStore, _ name: String = "agent") -> OrderedJSON? {
        (try? store.get(KubeResourceRegistry.daemonSets, namespace: "default", name: name))?["status"]
    }

    @Test func oneDaemonPodRunsOnTheNodeOnceItExists() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.daemonSets, namespace: "default", object: Self.daemonSet())
        #expect(await harness.eventually { Self.status(store)?["desiredNumberScheduled"]?.int == 0 })
        #expect(try kubelet.pods().isEmpty)
        _ = try store.create(KubeResourceRegistry.nodes, namespace: nil, object: Self.node())
        #expect(await harness.eventually { try kubelet.pods().count == 1 })
        let pod = try #require(try kubelet.pods().first)
        #expect(PodFacts.name(pod).hasPrefix("agent-") && PodFacts.name(pod).count == "agent-".count + 5)
        let term = pod.value(at: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"])
        #expect(term?.compact == #"[{"matchFields":[{"key":"metadata.name","operator":"In","values":["node"]}]}]"#)
        guard case .array(let tolerations)? = pod.value(at: ["spec", "tolerations"]) else { Issue.record("no tolerations"); return }
        #expect(tolerations.contains { $0.string("key") == "node.kubernetes.io/not-ready" && $0.string("effect") == "NoExecute" })
        #expect(PodFacts.label(pod, "pod-template-generation") == "1")
        let hash = try #require(PodFacts.label(pod, "controller-revision-hash"))
        #expect((try? store.get(KubeResourceRegistry.controllerRevisions, namespace: "default", name: "agent-\(hash)")) != nil)
        try kubelet.set(PodFacts.name(pod), phase: "Running")
        #expect(await harness.eventually { Self.status(store)?["numberReady"]?.int == 1 })
        let status = try #require(Self.status(store))
        #expect(status["desiredNumberScheduled"]?.int == 1 && status["currentNumberScheduled"]?.int == 1)
        #expect(status["numberAvailable"]?.int == 1 && status["updatedNumberScheduled"]?.int == 1 && status["numberMisscheduled"]?.int == 0)
        #expect(status["observedGeneration"]?.int == 1)
        #expect(try reasons(store, about: "agent").contains("SuccessfulCreate"))
        // A deleted daemon pod comes back.
        _ = try store.delete(KubeResourceRegistry.pods, namespace: "default", name: PodFacts.name(pod))
        #expect(await harness.eventually { try kubelet.pods().count == 1 && kubelet.pods().first?.string("metadata", "uid") != pod.string("metadata", "uid") })
    }

    @Test func nodeSelectorsAndTaintsKeepPodsOff() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.nodes, namespace: nil,
                             object: Self.node(labels: #"{"disk":"ssd"}"#, taints: #"[{"key":"dedicated","value":"db","effect":"NoSchedule"}]"#))
        _ = try store.create(KubeResourceRegistry.daemonSets, namespace: "default", object: Self.daemonSet("hdd", podSpec: #""nodeSelector":{"disk":"hdd"},"#))
        _ = try store.create(KubeResourceRegistry.daemonSets, namespace: "default", object: Self.daemonSet("plain"))
        _ = try store.create(KubeResourceRegistry.daemonSets, namespace: "default",
                             object: Self.daemonSet("tolerant", podSpec: #""nodeSelector":{"disk":"ssd"},"tolerations":[{"key":"dedicated","operator":"Equal","value":"db","effect":"NoSchedule"}],"#))
        #expect(await harness.eventually { try kubelet.pods().count == 1 })
        #expect(await harness.eventually {
            Self.status(store, "hdd")?["desiredNumberScheduled"]?.int == 0 && Self.status(store, "plain")?["desiredNumberScheduled"]?.int == 0
        })
        #expect(try kubelet.pods().map { PodFacts.label($0, "app") } == ["tolerant"])
    }

    @Test func aRollingUpdateReplacesThePodOfTheOldTemplate() async throws {
        let harness = try ControllerHarness()
        let kubelet = try Self.start(harness)
        let store = harness.store
        _ = try store.create(KubeResourceRegistry.nodes, namespace: nil, object: Self.node())
        _ = try store.create(KubeResourceRegistry.daemonSets, namespace: "default", object: Self.daemonSet())
        #expect(await harness.eventually { try kubelet.pods().count == 1 })
        let first = try #require(try kubelet.pods().first)
        let set = try store.get(KubeResourceRegistry.daemonSets, namespace: "default", name: "agent")
        _ = try store.replace(KubeResourceRegistry.daemonSets, namespace: "default", name: "agent",
                              object: set.setting(["spec", "template", "metadata", "labels", "tier"], to: .string("edge")))
        #expect(await harness.eventually {
            try kubelet.pods().count == 1 && kubelet.pods().first.map { PodFacts.label($0, "tier") == "edge" } == true
        })
        let second = try #require(try kubelet.pods().first)
        #expect(PodFacts.label(second, "controller-revision-hash") != PodFacts.label(first, "controller-revision-hash"))
        #expect(PodFacts.label(second, "pod-template-generation") == "2")
        let revisions = try store.controlled(KubeResourceRegistry.controllerRevisions, by: try store.get(KubeResourceRegistry.daemonSets, namespace: "default", name: "agent"))
        #expect(revisions.map { RevisionHistory.number($0) }.sorted() == [1, 2])
    }

    @Test func tolerationsMatchTaintsByKeyValueAndEffect() throws {
        let taint = try object(#"{"key":"k","value":"v","effect":"NoSchedule"}"#)
        #expect(DaemonSetController.tolerates(try object(#"{"key":"k","operator":"Equal","value":"v"}"#), taint))
        #expect(DaemonSetController.tolerates(try object(#"{"key":"k","operator":"Exists","effect":"NoSchedule"}"#), taint))
        #expect(DaemonSetController.tolerates(try object(#"{"operator":"Exists"}"#), taint))
        #expect(!DaemonSetController.tolerates(try object(#"{"key":"k","value":"w"}"#), taint))
        #expect(!DaemonSetController.tolerates(try object(#"{"key":"k","operator":"Exists","effect":"NoExecute"}"#), taint))
    }
}
