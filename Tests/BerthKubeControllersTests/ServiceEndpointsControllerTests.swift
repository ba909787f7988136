import BerthKubeAPI
import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeControllers

@Suite struct ServiceEndpointsControllerTests {
    let services = KubeResourceRegistry.services
    let endpoints = KubeResourceRegistry.endpoints
    let slices = KubeResourceRegistry.endpointSlices

    func start(_ harness: ControllerHarness) {
        let store = harness.store
        harness.start { await KubeControllerManager(store: store, host: "node", apiPort: 6443, hostAddress: { "192.0.2.10" }).run() }
    }

    /// A pod on the node with `ip`, Running, Ready when `ready`, its container naming port 8080 `http` when `named`.
    @discardableResult
    func pod(_ store: KubeObjectStore, _ name: String, ip: String, ready: Bool, named: Bool = true, labels: String = #"{"app":"web"}"#,
             extraSpec: String = "") throws -> OrderedJSON {
        let ports = named ? #","ports":[{"name":"http","containerPort":8080}]"# : ""
        _ = try store.create(KubeResourceRegistry.pods, namespace: "default", object: object(#"""
            {"metadata":{"name":"\#(name)","labels":\#(labels)},"spec":{"nodeName":"node",\#(extraSpec)"containers":[{"name":"c","image":"busybox"\#(ports)}]}}
            """#))
        return try setReady(store, name, ip: ip, ready: ready)
    }

    @discardableResult
    func setReady(_ store: KubeObjectStore, _ name: String, ip: String, ready: Bool) throws -> OrderedJSON {
        let status = try object(#"{"phase":"Running","podIP":"\#(ip)","podIPs":[{"ip":"\#(ip)"}],"conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}"#)
        return try store.edit(KubeResourceRegistry.pods, "default", name) { $0.setting(["status"], to: status) }
    }

    func managedSlices(_ store: KubeObjectStore, _ service: String, by manager: String = "endpointslice-controller.k8s.io") throws -> [EndpointSlice] {
        try store.list(slices, namespace: "default").items.map { try $0.decode(EndpointSlice.self) }.filter {
            $0.metadata.labels?["kubernetes.io/service-name"] == service && $0.metadata.labels?["endpointslice.kubernetes.io/managed-by"] == manager
        }
    }

    /// `ip ready/serving/terminating` of every endpoint of the service's slices, sorted.
    func conditions(_ store: KubeObjectStore, _ service: String) throws -> [String] {
        try managedSlices(store, service).flatMap { $0.endpoints ?? [] }.map { endpoint in
            let c = endpoint.conditions
            return "\(endpoint.addresses.joined()) \(c?.ready == true) \(c?.serving == true) \(c?.terminating == true)"
        }.sorted()
    }

    @Test func slicesAndEndpointsFollowPodReadinessLabelsAndDeletion() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        start(harness)
        let service = try store.create(services, namespace: "default", object: object(#"""
            {"metadata":{"name":"web","labels":{"tier":"front"}},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http"}]}}
            """#))
        // A Service selecting nothing yet has a placeholder slice and Endpoints without subsets.
        #expect(await harness.eventually { try managedSlices(store, "web").count == 1 && managedSlices(store, "web")[0].endpoints == [] })
        #expect(await harness.eventually { try store.get(endpoints, namespace: "default", name: "web")["subsets"] == nil })

        try pod(store, "web-0", ip: "10.244.0.5", ready: true, extraSpec: #""hostname":"web-0","subdomain":"web","#)
        try pod(store, "web-1", ip: "10.244.0.6", ready: false)
        try pod(store, "web-2", ip: "10.244.0.7", ready: true, named: false)
        try pod(store, "other", ip: "10.244.0.8", ready: true, labels: #"{"app":"db"}"#)
        #expect(await harness.eventually {
            try conditions(store, "web") == ["10.244.0.5 true true false", "10.244.0.6 false false false", "10.244.0.7 true true false"]
        })
        let all = try managedSlices(store, "web")
        // The pod without the named port has a slice of its own, without ports.
        #expect(all.map { ($0.ports ?? []).map { "\($0.port ?? 0)" }.joined() }.sorted() == ["", "8080"])
        let named = try #require(all.first { $0.ports?.isEmpty == false })
        let first = try #require(named.endpoints?.first)
        #expect(first.hostname == "web-0" && first.nodeName == "node" && first.targetRef?.name == "web-0" && first.targetRef?.kind == "Pod")
        #expect(named.metadata.labels?["tier"] == "front" && named.metadata.ownerReferences?.first?.uid == service.string("metadata", "uid"))
        #expect(named.metadata.ownerReferences?.first?.controller == true && named.addressType == "IPv4")
        #expect(named.metadata.name?.hasPrefix("web-") == true)
        #expect(await harness.eventually {
            let subsets = try store.get(endpoints, namespace: "default", name: "web").value(at: ["subsets"])?.compact
            return subsets == #"[{"addresses":[{"hostname":"web-0","ip":"10.244.0.5","nodeName":"node","targetRef":{"kind":"Pod","name":"web-0","namespace":"default","uid":"\#(try store.get(KubeResourceRegistry.pods, namespace: "default", name: "web-0").string("metadata", "uid") ?? "")"}}],"notReadyAddresses":[{"ip":"10.244.0.6","nodeName":"node","targetRef":{"kind":"Pod","name":"web-1","namespace":"default","uid":"\#(try store.get(KubeResourceRegistry.pods, namespace: "default", name: "web-1").string("metadata", "uid") ?? "")"}}],"ports":[{"port":8080,"protocol":"TCP"}]}]"#
        })

        // Readiness flips reach the slices; a terminating pod is at once not ready but serving.
        try setReady(store, "web-1", ip: "10.244.0.6", ready: true)
        try setReady(store, "web-0", ip: "10.244.0.5", ready: false)
        #expect(await harness.eventually { try conditions(store, "web").prefix(2) == ["10.244.0.5 false false false", "10.244.0.6 true true false"] })
        try store.delete(KubeResourceRegistry.pods, namespace: "default", name: "web-1")
        #expect(await harness.eventually { try conditions(store, "web").contains("10.244.0.6 false true true") })
        #expect(await harness.eventually {
            try store.get(endpoints, namespace: "default", name: "web").value(at: ["subsets"])?.compact.contains("10.244.0.6") == false
        })
        // A pod whose labels stop matching leaves.
        try store.edit(KubeResourceRegistry.pods, "default", "web-2") { $0.setting(["metadata", "labels"], to: .stringMap(["app": "gone"])) }
        #expect(await harness.eventually { try !conditions(store, "web").contains { $0.hasPrefix("10.244.0.7") } })
        #expect(await harness.eventually { try managedSlices(store, "web").count == 1 })

        // Deleting the Service takes its slices and Endpoints along.
        try store.delete(services, namespace: "default", name: "web")
        #expect(await harness.eventually { try managedSlices(store, "web").isEmpty })
        #expect(await harness.eventually { (try? store.get(endpoints, namespace: "default", name: "web")) == nil })
    }

    @Test func publishNotReadyAddressesMakesEveryPodReady() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        start(harness)
        _ = try store.create(services, namespace: "default", object: object(#"""
            {"metadata":{"name":"db"},"spec":{"clusterIP":"None","publishNotReadyAddresses":true,"selector":{"app":"db"},"ports":[{"port":5432}]}}
            """#))
        try pod(store, "db-0", ip: "10.244.0.9", ready: false, labels: #"{"app":"db"}"#)
        #expect(await harness.eventually { try conditions(store, "db") == ["10.244.0.9 true true false"] })
        #expect(await harness.eventually {
            try store.get(endpoints, namespace: "default", name: "db").decode(Endpoints.self).subsets?.first?.addresses?.first?.ip == "10.244.0.9"
        })
    }

    @Test func userEndpointsOfASelectorlessServiceAreMirroredAndLeftAlone() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        start(harness)
        _ = try store.create(services, namespace: "default", object: object(#"{"metadata":{"name":"ext"},"spec":{"ports":[{"name":"web","port":80}]}}"#))
        _ = try store.create(endpoints, namespace: "default", object: object(#"""
            {"metadata":{"name":"ext"},"subsets":[{"addresses":[{"ip":"192.0.2.1"}],"notReadyAddresses":[{"ip":"192.0.2.2"}],"ports":[{"name":"web","port":8080}]}]}
            """#))
        let mirroring = "endpointslicemirroring-controller.k8s.io"
        #expect(await harness.eventually {
            let slice = try managedSlices(store, "ext", by: mirroring)
            return slice.count == 1 && slice[0].endpoints?.map { "\($0.addresses[0]) \($0.conditions?.ready == true)" } == ["192.0.2.1 true", "192.0.2.2 false"]
                && slice[0].ports == [EndpointPort(name: "web", port: 8080, protocol: "TCP")]
        })
        try store.edit(endpoints, "default", "ext") { $0.setting(["subsets"], to: try? object(#"[{"addresses":[{"ip":"192.0.2.3"}],"ports":[{"name":"web","port":8080}]}]"#)) }
        #expect(await harness.eventually { try managedSlices(store, "ext", by: mirroring).first?.endpoints?.map { $0.addresses[0] } == ["192.0.2.3"] })
        // The endpoints controller neither rewrites nor deletes the user's Endpoints, nor slices them itself.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try store.get(endpoints, namespace: "default", name: "ext").value(at: ["subsets"])?.compact.contains("192.0.2.3") == true)
        #expect(try managedSlices(store, "ext").isEmpty)
        try store.delete(services, namespace: "default", name: "ext")
        #expect(await harness.eventually { try managedSlices(store, "ext", by: mirroring).isEmpty })
    }

    @Test func loadBalancerServicesGetTheHostAddressUntilTheirTypeChanges() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        start(harness)
        _ = try store.create(services, namespace: "default", object: object(#"{"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80}]}}"#))
        #expect(await harness.eventually {
            try store.get(services, namespace: "default", name: "lb").value(at: ["status", "loadBalancer"])?.compact == #"{"ingress":[{"ip":"192.0.2.10","ipMode":"VIP"}]}"#
        })
        try store.edit(services, "default", "lb") { $0.setting(["spec", "type"], to: .string("ClusterIP")) }
        #expect(await harness.eventually {
            let live = try store.get(services, namespace: "default", name: "lb")
            return try live.value(at: ["status", "loadBalancer"]) == .object([]) && live.decode(Service.self).spec.ports?.first?.nodePort == nil
        })
    }

    @Test func theKubernetesServicePointsAtTheAPIServer() async throws {
        let harness = try ControllerHarness()
        let store = harness.store
        start(harness)
        #expect(await harness.eventually {
            let service = try store.get(services, namespace: "default", name: "kubernetes")
            return service.string("spec", "clusterIP") == store.clusterNetwork.apiServerClusterIP
                && service.value(at: ["spec", "ports"])?.compact == #"[{"name":"https","port":443,"protocol":"TCP","targetPort":6443}]"#
        })
        #expect(await harness.eventually {
            try store.get(endpoints, namespace: "default", name: "kubernetes").value(at: ["subsets"])?.compact
                == #"[{"addresses":[{"ip":"192.0.2.10"}],"ports":[{"name":"https","port":6443,"protocol":"TCP"}]}]"#
        })
        #expect(await harness.eventually {
            let slice = try store.get(slices, namespace: "default", name: "kubernetes").decode(EndpointSlice.self)
            return slice.endpoints?.first?.addresses == ["192.0.2.10"] && slice.ports?.first?.port == 6443
        })
        // Neither the mirroring nor the slice controller adds slices of their own for it.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try store.list(slices, namespace: "default").items.count == 1)
        // Deleted, it comes back.
        try store.delete(services, namespace: "default", name: "kubernetes")
        #expect(await harness.eventually { (try? store.get(services, namespace: "default", name: "kubernetes")) != nil })
    }
}
