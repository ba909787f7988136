import BerthTemplate
import Testing

@testable import BerthKubeAPI

struct KubeDeletionTests {
    let cm = KubeResourceRegistry.configMaps
    let namespaces = KubeResourceRegistry.namespaces
    static let pods = KubeResourceRegistry.pods

    @Test func finalizersHoldAnObjectUntilAnUpdateRemovesThem() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(cm, namespace: "default", object: json(#"{"metadata":{"name":"held","finalizers":["example.com/hold"]}}"#))
        let deletion = try scratch.store.delete(cm, namespace: "default", name: "held", options: KubeDeleteOptions())
        #expect(!deletion.removed)
        let live = try scratch.store.get(cm, namespace: "default", name: "held")
        #expect(live.string("metadata", "deletionTimestamp") != nil)
        #expect(live.value(at: ["metadata", "deletionGracePeriodSeconds"]) == .int(0))
        // A finalizer may not be added now, only removed.
        #expect(throws: KubeAPIError.self) {
            try scratch.store.replace(cm, namespace: "default", name: "held",
                                      object: live.setting(["metadata", "finalizers"], to: .strings(["example.com/hold", "more"])))
        }
        // An update that keeps a finalizer keeps the object.
        let relabelled = try scratch.store.replace(cm, namespace: "default", name: "held", object: live.setting(["metadata", "labels"], to: .stringMap(["a": "b"])))
        #expect(relabelled.string("metadata", "deletionTimestamp") == live.string("metadata", "deletionTimestamp"))
        _ = try scratch.store.replace(cm, namespace: "default", name: "held", object: relabelled.setting(["metadata", "finalizers"], to: nil))
        #expect(throws: KubeAPIError.notFound(cm, "held")) { try scratch.store.get(cm, namespace: "default", name: "held") }
    }

    @Test func propagationPoliciesAddTheCollectorsFinalizers() throws {
        let scratch = try ScratchStore()
        for name in ["orphan", "foreground", "background"] {
            _ = try scratch.store.create(cm, namespace: "default", object: configMap(name))
        }
        #expect(try !scratch.store.delete(cm, namespace: "default", name: "orphan", options: KubeDeleteOptions(propagationPolicy: .orphan)).removed)
        #expect(try scratch.store.get(cm, namespace: "default", name: "orphan").value(at: ["metadata", "finalizers"]) == .strings(["orphan"]))
        #expect(try !scratch.store.delete(cm, namespace: "default", name: "foreground", options: KubeDeleteOptions(propagationPolicy: .foreground)).removed)
        #expect(try scratch.store.get(cm, namespace: "default", name: "foreground").value(at: ["metadata", "finalizers"]) == .strings(["foregroundDeletion"]))
        #expect(try scratch.store.delete(cm, namespace: "default", name: "background", options: KubeDeleteOptions(propagationPolicy: .background)).removed)
        let jobs = KubeResource(group: "batch", version: "v1", kind: "Job", plural: "jobs", singular: "job", namespaced: true,
                                shortNames: [], categories: [], verbs: KubeResource.allVerbs)
        #expect(KubeObjectStore.defaultPropagation(jobs) == .orphan)
        #expect(KubeObjectStore.defaultPropagation(cm) == .background)
    }

    @Test func aNamespaceTerminatesUntilFinalized() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(namespaces, namespace: nil, object: json(#"{"metadata":{"name":"temp"}}"#))
        _ = try scratch.store.create(cm, namespace: "temp", object: configMap("a"))
        let deletion = try scratch.store.delete(namespaces, namespace: nil, name: "temp", options: KubeDeleteOptions())
        #expect(!deletion.removed)
        let terminating = try scratch.store.get(namespaces, namespace: nil, name: "temp")
        #expect(terminating.string("status", "phase") == "Terminating")
        #expect(terminating.string("metadata", "deletionTimestamp") != nil)
        // Its contents are the namespace controller's to delete; the store keeps them and refuses new ones.
        #expect(try scratch.store.list(cm, namespace: "temp").items.count == 1)
        #expect(throws: KubeAPIError.namespaceTerminating(cm, "b", "temp")) {
            try scratch.store.create(cm, namespace: "temp", object: configMap("b"))
        }
        #expect(KubeAPIError.namespaceTerminating(cm, "b", "temp").message
                == "configmaps \"b\" is forbidden: unable to create new content in namespace temp because it is being terminated")
        // An ordinary update can neither drop the finalizer nor make it Active again.
        let replaced = try scratch.store.replace(namespaces, namespace: nil, name: "temp",
                                                 object: terminating.setting(["spec", "finalizers"], to: .array([])).setting(["status", "phase"], to: .string("Active")))
        #expect(replaced.value(at: ["spec", "finalizers"]) == .strings(["kubernetes"]))
        #expect(replaced.string("status", "phase") == "Terminating")
        _ = try scratch.store.delete(cm, namespace: "temp", name: "a")
        try scratch.store.finalizeNamespace("temp")
        #expect(throws: KubeAPIError.notFound(namespaces, "temp")) { try scratch.store.get(namespaces, namespace: nil, name: "temp") }
    }

    @Test func finalizingALiveNamespaceOnlyEmptiesItsFinalizers() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(namespaces, namespace: nil, object: json(#"{"metadata":{"name":"live"}}"#))
        try scratch.store.finalizeNamespace("live")
        let live = try scratch.store.get(namespaces, namespace: nil, name: "live")
        #expect(live.value(at: ["spec", "finalizers"]) == .array([]))
        #expect(live.string("status", "phase") == "Active")
        // Without a finalizer left, a DELETE removes it at once.
        #expect(try scratch.store.delete(namespaces, namespace: nil, name: "live", options: KubeDeleteOptions()).removed)
    }

    @Test func aBoundPodGetsItsGracePeriodAndTheNodeFinishesIt() throws {
        let scratch = try ScratchStore()
        let pod = try json(#"{"metadata":{"name":"web"},"spec":{"nodeName":"node","terminationGracePeriodSeconds":12,"containers":[{"name":"c","image":"busybox"}]}}"#)
        _ = try scratch.store.create(Self.pods, namespace: "default", object: pod)
        let deletion = try scratch.store.delete(Self.pods, namespace: "default", name: "web", options: KubeDeleteOptions())
        #expect(!deletion.removed)
        #expect(deletion.object.value(at: ["metadata", "deletionGracePeriodSeconds"]) == .int(12))
        // A second DELETE may shorten the period, not lengthen it.
        let longer = try scratch.store.delete(Self.pods, namespace: "default", name: "web", options: KubeDeleteOptions(gracePeriodSeconds: 60))
        #expect(longer.object.value(at: ["metadata", "deletionGracePeriodSeconds"]) == .int(12))
        let shorter = try scratch.store.delete(Self.pods, namespace: "default", name: "web", options: KubeDeleteOptions(gracePeriodSeconds: 5))
        #expect(shorter.object.value(at: ["metadata", "deletionGracePeriodSeconds"]) == .int(5))
        #expect(try scratch.store.delete(Self.pods, namespace: "default", name: "web", options: KubeDeleteOptions(gracePeriodSeconds: 0)).removed)
    }

    @Test func unboundOrFinishedPodsGoAtOnce() throws {
        let scratch = try ScratchStore()
        _ = try scratch.store.create(Self.pods, namespace: "default", object: json(#"{"metadata":{"name":"pending"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#))
        #expect(try scratch.store.delete(Self.pods, namespace: "default", name: "pending", options: KubeDeleteOptions()).removed)
        let done = try scratch.store.create(Self.pods, namespace: "default",
                                            object: json(#"{"metadata":{"name":"done"},"spec":{"nodeName":"n","containers":[{"name":"c","image":"busybox"}]}}"#))
        _ = try scratch.store.replace(Self.pods, namespace: "default", name: "done",
                                      object: done.setting(["status", "phase"], to: .string("Succeeded")), scope: .status)
        #expect(try scratch.store.delete(Self.pods, namespace: "default", name: "done", options: KubeDeleteOptions()).removed)
    }
}
