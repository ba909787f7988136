import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeAPI

@Suite struct KubeServiceAdmissionTests {
    let services = KubeResourceRegistry.services

    func service(_ name: String, _ spec: String) throws -> OrderedJSON {
        try json(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)"},"spec":\#(spec)}"#)
    }

    @Test func serviceGetsTheAPIServerDefaultsAndAClusterIP() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(services, namespace: "default", object: service("web", #"{"selector":{"app":"web"},"ports":[{"port":80}]}"#))
        let spec = try #require(created["spec"])
        let ip = try #require(spec.string("clusterIP"))
        #expect(scratch.store.clusterNetwork.allocatableClusterIPs.contains(ip))
        #expect(spec["clusterIPs"] == .strings([ip]))
        #expect(spec.string("type") == "ClusterIP" && spec.string("sessionAffinity") == "None" && spec.string("internalTrafficPolicy") == "Cluster")
        #expect(spec["ipFamilies"] == .strings(["IPv4"]) && spec.string("ipFamilyPolicy") == "SingleStack")
        #expect(spec.value(at: ["ports"])?.compact == #"[{"port":80,"protocol":"TCP","targetPort":80}]"#)
        #expect(spec["externalTrafficPolicy"] == nil)
        #expect(created["status"]?.compact == #"{"loadBalancer":{}}"#)

        let sticky = try scratch.store.create(services, namespace: "default", object: service("sticky", #"{"type":"NodePort","sessionAffinity":"ClientIP","ports":[{"port":80,"targetPort":"http"}]}"#))
        #expect(sticky.value(at: ["spec", "sessionAffinityConfig"])?.compact == #"{"clientIP":{"timeoutSeconds":10800}}"#)
        #expect(sticky.string("spec", "externalTrafficPolicy") == "Cluster")
        let nodePort = try #require(sticky.items("spec", "ports").first?["nodePort"]?.int)
        #expect(scratch.store.clusterNetwork.nodePortRange.contains(nodePort))
        #expect(sticky.items("spec", "ports").first?["targetPort"] == .string("http"))

        let headless = try scratch.store.create(services, namespace: "default", object: service("db", #"{"clusterIP":"None","selector":{"app":"db"}}"#))
        #expect(headless.string("spec", "clusterIP") == "None" && headless["spec"]?["clusterIPs"] == .strings(["None"]))

        let external = try scratch.store.create(services, namespace: "default", object: service("ext", #"{"type":"ExternalName","externalName":"example.com"}"#))
        #expect(external["spec"]?["clusterIP"] == nil && external["spec"]?["internalTrafficPolicy"] == nil)
    }

    @Test func serviceValidationCauses() throws {
        let scratch = try ScratchStore()
        let create = { (name: String, spec: String) in { _ = try scratch.store.create(services, namespace: "default", object: try service(name, spec)) } }
        #expect(causes(create("web", #"{"selector":{"app":"web"}}"#)) == ["spec.ports: Required value"])
        #expect(causes(create("web", #"{"ports":[{"port":80},{"name":"b","port":0}]}"#))
                == ["spec.ports[0].name: Required value", "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                    // The defaulted targetPort is the port, so it is refused too, as by the apiserver.
                    "spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"])
        #expect(causes(create("web", #"{"ports":[{"name":"a","port":80},{"name":"a","port":80}]}"#)) == [
            "spec.ports[1].name: Duplicate value: \"a\"",
            #"spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}"#,
        ])
        #expect(causes(create("web", #"{"type":"Fancy","ports":[{"port":80,"protocol":"ICMP"}]}"#)) == [
            #"spec.type: Unsupported value: "Fancy": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort""#,
            #"spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#,
        ])
        #expect(causes(create("web", #"{"ports":[{"port":80,"nodePort":30080}]}"#)) == ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"])
        #expect(causes(create("web", #"{"clusterIP":"banana","ports":[{"port":80}]}"#))
                == [#"spec.clusterIPs[0]: Invalid value: "banana": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#])
        #expect(causes(create("web", #"{"type":"ExternalName","externalName":"example.com.","clusterIP":"10.96.0.5"}"#))
                == ["spec.clusterIPs: Forbidden: may not be set for ExternalName services"])
        #expect(causes(create("web", #"{"type":"NodePort","clusterIP":"None","ports":[{"port":80}]}"#))
                == [#"spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services"#])
        #expect(causes(create("web", #"{"externalTrafficPolicy":"Local","ports":[{"port":80}]}"#))
                == [#"spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services"#])
        #expect(causes(create("web", #"{"clusterIP":"10.96.0.20","clusterIPs":["10.96.0.21"],"ports":[{"port":80}]}"#))
                == [#"spec.clusterIPs: Invalid value: []string{"10.96.0.21"}: first value must match `clusterIP`"#])
        #expect(causes(create("1web", #"{"ports":[{"port":80}]}"#)).first?.hasPrefix("metadata.name: Invalid value: \"1web\": a DNS-1035 label") == true)
        #expect(causes(create("web", #"{"ports":[{"port":80,"targetPort":"no_such"}]}"#))
                == [#"spec.ports[0].targetPort: Invalid value: "no_such": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#])
    }

    @Test func clusterIPAndNodePortAllocationRefusesWhatIsTakenOrOutOfRange() throws {
        let scratch = try ScratchStore()
        let network = scratch.store.clusterNetwork
        let create = { (name: String, spec: String) in { _ = try scratch.store.create(services, namespace: "default", object: try service(name, spec)) } }
        let fixed = network.allocatableClusterIPs[5]
        try create("a", #"{"clusterIP":"\#(fixed)","type":"NodePort","ports":[{"port":80,"nodePort":30080}]}"#)()
        #expect(causes(create("b", #"{"clusterIP":"\#(fixed)","ports":[{"port":80}]}"#))
                == [#"spec.clusterIPs: Invalid value: []string{"\#(fixed)"}: failed to allocate IP \#(fixed): provided IP is already allocated"#])
        #expect(causes(create("b", #"{"clusterIP":"192.168.7.7","ports":[{"port":80}]}"#))
                == [#"spec.clusterIPs: Invalid value: []string{"192.168.7.7"}: failed to allocate IP 192.168.7.7: the provided IP (192.168.7.7) is not in the valid range. The range of valid IPs is \#(network.serviceCIDR)"#])
        #expect(causes(create("b", #"{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}"#))
                == ["spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"])
        #expect(causes(create("b", #"{"type":"NodePort","ports":[{"port":80,"nodePort":80}]}"#))
                == ["spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"])
        // Deleting the Service frees both, for the next one to take.
        try scratch.store.delete(services, namespace: "default", name: "a")
        let again = try scratch.store.create(services, namespace: "default",
                                             object: service("b", #"{"clusterIP":"\#(fixed)","type":"NodePort","ports":[{"port":80,"nodePort":30080}]}"#))
        #expect(again.string("spec", "clusterIP") == fixed)
        // Every allocation differs, and the allocation survives a reopened store.
        var seen: Set<String> = [fixed]
        for index in 0..<20 {
            let created = try scratch.store.create(services, namespace: "default", object: service("s\(index)", #"{"ports":[{"port":80}]}"#))
            #expect(seen.insert(created.string("spec", "clusterIP") ?? "").inserted)
        }
        let reopened = try scratch.reopen()
        let refused = causes { _ = try reopened.create(services, namespace: "default", object: try service("c", #"{"clusterIP":"\#(fixed)","ports":[{"port":80}]}"#)) }
        #expect(refused.count == 1)
    }

    @Test func concurrentCreatesNeverShareAClusterIP() async throws {
        let scratch = try ScratchStore()
        let store = scratch.store
        let addresses = await withTaskGroup(of: String?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try? store.create(KubeResourceRegistry.services, namespace: "default",
                                      object: json(#"{"metadata":{"name":"s\#(index)"},"spec":{"type":"NodePort","ports":[{"port":80}]}}"#))
                        .string("spec", "clusterIP")
                }
            }
            var all: [String] = []
            for await address in group { if let address { all.append(address) } }
            return all
        }
        #expect(addresses.count == 40 && Set(addresses).count == 40)
        let nodePorts = try store.list(services, namespace: "default").items.compactMap { $0.items("spec", "ports").first?["nodePort"]?.int }
        #expect(nodePorts.count == 40 && Set(nodePorts).count == 40)
    }

    @Test func updatesKeepTheClusterIPAndTypeChangesReleaseNodePorts() throws {
        let scratch = try ScratchStore()
        let created = try scratch.store.create(services, namespace: "default", object: service("web", #"{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80}]}"#))
        let ip = try #require(created.string("spec", "clusterIP"))
        let nodePort = try #require(created.items("spec", "ports").first?["nodePort"]?.int)
        // A body without the allocated values keeps them.
        let replaced = try scratch.store.replace(services, namespace: "default", name: "web",
                                                 object: service("web", #"{"type":"NodePort","selector":{"app":"web","tier":"x"},"ports":[{"port":80}]}"#))
        #expect(replaced.string("spec", "clusterIP") == ip && replaced.items("spec", "ports").first?["nodePort"]?.int == nodePort)
        #expect(causes { _ = try scratch.store.replace(services, namespace: "default", name: "web", object: replaced.setting(["spec", "clusterIP"], to: .string("10.96.0.99"))) }
                == [#"spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set"#])
        // Back to ClusterIP: the nodePort and the external policy go, and the port is free again.
        let clusterIP = try scratch.store.replace(services, namespace: "default", name: "web", object: replaced.setting(["spec", "type"], to: .string("ClusterIP")))
        #expect(clusterIP.items("spec", "ports").first?["nodePort"] == nil && clusterIP["spec"]?["externalTrafficPolicy"] == nil)
        #expect(clusterIP.string("spec", "clusterIP") == ip)
        // A Local LoadBalancer gets a health-check port besides its node ports, kept across updates and dropped as Cluster.
        let local = try scratch.store.create(services, namespace: "default",
                                             object: service("local", #"{"type":"LoadBalancer","externalTrafficPolicy":"Local","ports":[{"port":80}]}"#))
        let healthCheck = try #require(local.value(at: ["spec", "healthCheckNodePort"])?.int)
        #expect(scratch.store.clusterNetwork.nodePortRange.contains(healthCheck) && healthCheck != local.items("spec", "ports").first?["nodePort"]?.int)
        let kept = try scratch.store.replace(services, namespace: "default", name: "local",
                                             object: local.setting(["spec", "healthCheckNodePort"], to: nil).setting(["metadata", "labels"], to: .stringMap(["a": "b"])))
        #expect(kept.value(at: ["spec", "healthCheckNodePort"])?.int == healthCheck)
        let cluster = try scratch.store.replace(services, namespace: "default", name: "local", object: kept.setting(["spec", "externalTrafficPolicy"], to: .string("Cluster")))
        #expect(cluster.value(at: ["spec", "healthCheckNodePort"]) == nil)
        let other = try scratch.store.create(services, namespace: "default",
                                             object: service("other", #"{"type":"NodePort","ports":[{"port":80,"nodePort":\#(nodePort)}]}"#))
        #expect(other.items("spec", "ports").first?["nodePort"]?.int == nodePort)
    }

    @Test func endpointsAndSlicesAreValidated() throws {
        let scratch = try ScratchStore()
        let endpoints = try scratch.store.create(KubeResourceRegistry.endpoints, namespace: "default", object: json(#"{"metadata":{"name":"ext"},"subsets":[{"addresses":[{"ip":"10.1.2.3"}],"ports":[{"port":80}]}]}"#))
        #expect(endpoints.value(at: ["subsets"])?.compact == #"[{"addresses":[{"ip":"10.1.2.3"}],"ports":[{"port":80,"protocol":"TCP"}]}]"#)
        #expect(causes { _ = try scratch.store.create(KubeResourceRegistry.endpoints, namespace: "default", object: json(#"{"metadata":{"name":"bad"},"subsets":[{"addresses":[{"ip":"nope"},{"ip":"127.0.0.1"}],"ports":[{"port":70000}]}]}"#)) } == [
            #"subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
            #"subsets[0].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)"#,
            "subsets[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ])
        let slices = KubeResourceRegistry.endpointSlices
        #expect(causes { _ = try scratch.store.create(slices, namespace: "default", object: json(#"{"metadata":{"name":"s"},"endpoints":[]}"#)) } == ["addressType: Required value"])
        #expect(causes { _ = try scratch.store.create(slices, namespace: "default", object: json(#"{"metadata":{"name":"s"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.300"]},{"addresses":[]}]}"#)) } == [
            #"endpoints[0].addresses[0]: Invalid value: "10.0.0.300": must be a valid IPv4 address"#,
            "endpoints[1].addresses: Required value: must contain at least 1 address",
        ])
        let slice = try scratch.store.create(slices, namespace: "default", object: json(#"{"metadata":{"name":"s"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.3"]}],"ports":[{"port":80}]}"#))
        #expect(slice.value(at: ["ports"])?.compact == #"[{"port":80,"protocol":"TCP","name":""}]"#)
    }

    @Test func servicesSelectByClusterIPAndType() throws {
        #expect(KubeResourceRegistry.selectableFields(services).isSuperset(of: ["spec.clusterIP", "spec.type"]))
        let fields = KubeKinds.fields(of: try service("web", #"{"type":"NodePort","clusterIP":"10.96.0.7"}"#), services)
        #expect(fields["spec.clusterIP"] == "10.96.0.7" && fields["spec.type"] == "NodePort")
    }

    @Test func tablesAsKubectlPrintsThem() throws {
        let now = try Date("2026-01-01T01:00:00Z", strategy: .iso8601)
        func cells(_ resource: KubeResource, _ text: String) throws -> [String] {
            KubeTable.cells(resource, try json(text), now: now).map { $0.string() ?? $0.compact }
        }
        let meta = #""metadata":{"name":"web","creationTimestamp":"2026-01-01T00:00:00Z"}"#
        #expect(KubeTable.columns(services).map { $0.priority == 0 ? $0.name : "*" + $0.name }
                == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "*Selector"])
        #expect(try cells(services, #"{\#(meta),"spec":{"type":"NodePort","clusterIP":"10.96.0.5","selector":{"app":"web","tier":"b"},"ports":[{"port":80,"nodePort":30080,"protocol":"TCP"},{"port":53,"protocol":"UDP"}]}}"#)
                == ["web", "NodePort", "10.96.0.5", "<none>", "80:30080/TCP,53/UDP", "60m", "app=web,tier=b"])
        #expect(try cells(services, #"{\#(meta),"spec":{"type":"LoadBalancer","clusterIP":"10.96.0.5","ports":[{"port":80,"nodePort":31000,"protocol":"TCP"}]}}"#)
                == ["web", "LoadBalancer", "10.96.0.5", "<pending>", "80:31000/TCP", "60m", "<none>"])
        #expect(try cells(services, #"{\#(meta),"spec":{"type":"LoadBalancer","clusterIP":"10.96.0.5","ports":[{"port":80,"nodePort":31000,"protocol":"TCP"}]},"status":{"loadBalancer":{"ingress":[{"ip":"192.168.1.20","ipMode":"VIP"}]}}}"#)[3]
                == "192.168.1.20")
        #expect(try cells(services, #"{\#(meta),"spec":{"type":"ExternalName","externalName":"example.com"}}"#)
                == ["web", "ExternalName", "<none>", "example.com", "<none>", "60m", "<none>"])
        let endpoints = KubeResourceRegistry.endpoints
        #expect(try cells(endpoints, #"{\#(meta),"subsets":[{"addresses":[{"ip":"10.244.0.5"},{"ip":"10.244.0.6"}],"notReadyAddresses":[{"ip":"10.244.0.9"}],"ports":[{"port":8080},{"port":9090}]}]}"#)
                == ["web", "10.244.0.5:8080,10.244.0.6:8080,10.244.0.5:9090 + 1 more...", "60m"])
        #expect(try cells(endpoints, #"{\#(meta)}"#) == ["web", "<none>", "60m"])
        let slices = KubeResourceRegistry.endpointSlices
        #expect(KubeTable.columns(slices).map(\.name) == ["Name", "AddressType", "Ports", "Endpoints", "Age"])
        #expect(try cells(slices, #"{\#(meta),"addressType":"IPv4","ports":[{"port":8080}],"endpoints":[{"addresses":["10.244.0.5"]},{"addresses":["10.244.0.6"]},{"addresses":["10.244.0.7"]},{"addresses":["10.244.0.8"]}]}"#)
                == ["web", "IPv4", "8080", "10.244.0.5,10.244.0.6,10.244.0.7 + 1 more...", "60m"])
        #expect(try cells(slices, #"{\#(meta),"addressType":"IPv4","endpoints":[]}"#) == ["web", "IPv4", "<unset>", "<unset>", "60m"])
    }

    @Test func networkingKindsHaveSchemasPatchStrategiesAndOpenAPIDocuments() throws {
        #expect(KubeSchema.listStrategies(services)(["spec", "ports"]) == .mergeByKey("port"))
        #expect(KubeSchema.of(KubeResourceRegistry.endpointSlices)?.definition == "io.k8s.api.discovery.v1.EndpointSlice")
        #expect(KubeSchema.of(KubeResourceRegistry.ingresses)?.definition == "io.k8s.api.networking.v1.Ingress")
        #expect(KubeSchema.of(KubeResourceRegistry.ingressClasses)?.definition == "io.k8s.api.networking.v1.IngressClass")
        let discovery = try #require(KubeOpenAPI.document(.builtIn, path: "apis/discovery.k8s.io/v1"))
        #expect(discovery.value(at: ["paths", "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}", "patch"]) != nil)
        #expect(discovery.value(at: ["components", "schemas", "io.k8s.api.discovery.v1.EndpointSlice"]) != nil)
        let networking = try #require(KubeOpenAPI.document(.builtIn, path: "apis/networking.k8s.io/v1"))
        #expect(networking.value(at: ["paths", "/apis/networking.k8s.io/v1/ingressclasses/{name}"]) != nil)
        let swagger = KubeOpenAPI.swagger(.builtIn)
        #expect(swagger.value(at: ["definitions", "io.k8s.api.core.v1.Service"]) != nil && swagger.value(at: ["definitions", "io.k8s.api.networking.v1.Ingress"]) != nil)
    }

    @Test func serviceProtobufFromKubectlCreateService() throws {
        // kubectl create service nodeport web --tcp=80:8080: metadata{name, labels}, spec{ports[{name, protocol, port, targetPort, nodePort 0}], selector, type}.
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(number << 3 | 2), UInt8(bytes.count)] + bytes }
        func varint(_ number: Int, _ value: UInt8) -> [UInt8] { [UInt8(number << 3), value] }
        let port = field(1, Array("80-8080".utf8)) + field(2, Array("TCP".utf8)) + varint(3, 80)
            + field(4, varint(1, 0) + [UInt8(2 << 3), 0x90, 0x3F] + field(3, [])) + varint(5, 0)
        let spec = field(1, port) + field(2, field(1, Array("app".utf8)) + field(2, Array("web".utf8))) + field(3, []) + field(4, Array("NodePort".utf8))
        let raw = field(1, field(1, Array("web".utf8))) + field(2, spec)
        let typeMeta = field(1, Array("v1".utf8)) + field(2, Array("Service".utf8))
        let body = [0x6B, 0x38, 0x73, 0x00] + field(1, typeMeta) + field(2, raw)
        let decoded = try KubeProtobuf.decode(body)
        #expect(decoded.compact == #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"web"},"type":"NodePort"}}"#)
    }
}
