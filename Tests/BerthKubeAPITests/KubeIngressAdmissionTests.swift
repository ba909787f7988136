import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeAPI

/// Ingress and IngressClass admission: the 1.32 apiserver's causes, the default class, the tables.
@Suite struct KubeIngressAdmissionTests {
    let ingresses = KubeResourceRegistry.ingresses

    func ingress(_ spec: String, annotations: String = "{}") throws -> OrderedJSON {
        try json(#"{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"web","annotations":\#(annotations)},"spec":\#(spec)}"#)
    }

    @Test func pathsNeedATypeAnAbsolutePathAndAServicePort() throws {
        let scratch = try ScratchStore()
        let spec = #"""
            {"rules":[{"host":"a.example","http":{"paths":[
              {"path":"/a","backend":{"service":{"name":"web","port":{"number":80}}}},
              {"path":"rel","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}},
              {"path":"/x//y","pathType":"Exact","backend":{"service":{"name":"Web","port":{"name":"http","number":80}}}},
              {"path":"/b","pathType":"Regex","backend":{"service":{"name":"web","port":{}}}},
              {"path":"/c","pathType":"ImplementationSpecific","backend":{"service":{"name":"web","port":{"number":70000}}}},
              {"path":"/d/.","pathType":"Prefix","backend":{}}]}}]}
            """#
        #expect(causes { _ = try scratch.store.create(ingresses, namespace: "default", object: try ingress(spec)) } == [
            "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
            "spec.rules[0].http.paths[1].path: Invalid value: \"rel\": must be an absolute path",
            "spec.rules[0].http.paths[2].path: Invalid value: \"/x//y\": must not contain '//'",
            "spec.rules[0].http.paths[2].backend.service.name: Invalid value: \"Web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.rules[0].http.paths[2].backend: Invalid value: \"\": cannot set both port name & port number",
            "spec.rules[0].http.paths[3].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
            "spec.rules[0].http.paths[3].backend: Required value: port name or number is required",
            "spec.rules[0].http.paths[4].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.rules[0].http.paths[5].path: Invalid value: \"/d/.\": cannot end with '/.'",
            "spec.rules[0].http.paths[5].backend: Invalid value: \"\": resource or service backend is required",
        ])
    }

    @Test func hostsAreDNSNamesOrOneLeadingWildcard() throws {
        let scratch = try ScratchStore()
        let backend = #"{"service":{"name":"web","port":{"number":80}}}"#
        let spec = #"{"rules":[{"host":"*.example.com"},{"host":"a.*.com"},{"host":"10.0.0.1"}],"tls":[{"hosts":["*.*.example"],"secretName":"Bad_Name"}],"defaultBackend":\#(backend)}"#
        #expect(causes { _ = try scratch.store.create(ingresses, namespace: "default", object: try ingress(spec)) } == [
            "spec.rules[1].host: Invalid value: \"a.*.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.rules[2].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
            "spec.tls[0].hosts[0]: Invalid value: \"*.*.example\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.tls[0].secretName: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ])
        #expect(causes { _ = try scratch.store.create(ingresses, namespace: "default", object: try ingress("{}")) } == [
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
        ])
        #expect(causes {
            _ = try scratch.store.create(ingresses, namespace: "default", object: try ingress(#"{"ingressClassName":"a","defaultBackend":\#(backend)}"#,
                                                                                         annotations: #"{"kubernetes.io/ingress.class":"b"}"#))
        } == ["annotations.kubernetes.io/ingress.class: Invalid value: \"b\": must match `ingressClassName` when both are specified"])
    }

    @Test func aClasslessIngressGetsTheDefaultClassAndAnEmptyLoadBalancerStatus() throws {
        let scratch = try ScratchStore()
        let classes = KubeResourceRegistry.ingressClasses
        _ = try scratch.store.create(classes, namespace: nil, object: try json(#"{"metadata":{"name":"other"},"spec":{"controller":"example.com/other"}}"#))
        let backend = #"{"defaultBackend":{"service":{"name":"web","port":{"number":80}}}}"#
        let before = try scratch.store.create(ingresses, namespace: "default", object: try ingress(backend))
        #expect(before.value(at: ["spec", "ingressClassName"]) == nil)
        #expect(before["status"]?.compact == #"{"loadBalancer":{}}"#)
        _ = try scratch.store.create(classes, namespace: nil, object: try json(#"{"metadata":{"name":"berth","annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}},"spec":{"controller":"berth.dev/ingress"}}"#))
        let after = try scratch.store.create(ingresses, namespace: "default", object: try ingress(backend).setting(["metadata", "name"], to: .string("second")))
        #expect(after.string("spec", "ingressClassName") == "berth")
        let table = KubeTable.cells(ingresses, after.setting(["status", "loadBalancer", "ingress"], to: try json(#"[{"ip":"192.0.2.7"}]"#)), now: Date())
        #expect(Array(table.dropLast()) == [.string("second"), .string("berth"), .string("*"), .string("192.0.2.7"), .string("80")])
        let classTable = KubeTable.cells(classes, try scratch.store.get(classes, namespace: nil, name: "berth"), now: Date())
        #expect(Array(classTable.dropLast()) == [.string("berth"), .string("berth.dev/ingress"), .string("<none>")])
    }

    @Test func ingressClassControllersAreDomainPrefixedAndImmutable() throws {
        let scratch = try ScratchStore()
        let classes = KubeResourceRegistry.ingressClasses
        #expect(causes { _ = try scratch.store.create(classes, namespace: nil, object: try json(#"{"metadata":{"name":"c"},"spec":{}}"#)) }
                == ["spec.controller: Required value"])
        #expect(causes { _ = try scratch.store.create(classes, namespace: nil, object: try json(#"{"metadata":{"name":"c"},"spec":{"controller":"nginx"}}"#)) }
                == ["spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"])
        let created = try scratch.store.create(classes, namespace: nil, object: try json(#"{"metadata":{"name":"c"},"spec":{"controller":"a.io/x"}}"#))
        #expect(causes { _ = try scratch.store.replace(classes, namespace: nil, name: "c", object: created.setting(["spec", "controller"], to: .string("a.io/y"))) }
                == ["spec.controller: Invalid value: \"a.io/y\": field is immutable"])
    }
}
