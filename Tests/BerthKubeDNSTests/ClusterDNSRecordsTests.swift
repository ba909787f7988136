import BerthKubeAPI
import BerthTemplate
import Testing

@testable import BerthKubeDNS

@Suite struct ClusterDNSRecordsTests {
    let records = ClusterDNSRecords(network: KubeClusterNetwork(index: 3))

    /// A ClusterIP Service `api` (port http/80), a headless `web` (a StatefulSet's: web-0 ready,
    /// web-1 not ready, plus an endpoint without hostname), an ExternalName `ext`, and pods.
    var index: ClusterDNSIndex {
        get throws {
            var index = ClusterDNSIndex()
            index.services["default/api"] = try decode(Service.self, """
            {"metadata":{"name":"api","namespace":"default"},"spec":{"clusterIP":"10.96.3.20","ports":[{"name":"http","port":80,"protocol":"TCP"}]}}
            """)
            index.services["default/web"] = try decode(Service.self, """
            {"metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"None","ports":[{"name":"http","port":80}]}}
            """)
            index.services["other/ext"] = try decode(Service.self, """
            {"metadata":{"name":"ext","namespace":"other"},"spec":{"type":"ExternalName","externalName":"example.org"}}
            """)
            index.slices["default/web-abc"] = try decode(EndpointSlice.self, """
            {"metadata":{"name":"web-abc","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
             "endpoints":[{"addresses":["10.244.3.5"],"hostname":"web-0","conditions":{"ready":true}},
                          {"addresses":["10.244.3.6"],"hostname":"web-1","conditions":{"ready":false}},
                          {"addresses":["10.244.3.7"],"conditions":{"ready":true}}],
             "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}
            """)
            index.pods["default/web-0"] = ClusterDNSIndex.PodEntry(namespace: "default", ip: "10.244.3.5")
            index.pods["default/loner"] = ClusterDNSIndex.PodEntry(namespace: "default", ip: "10.244.3.9")
            return index
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try OrderedJSON.parse(Array(json.utf8)).decode(type)
    }

    func ask(_ name: String, _ type: DNSType, index: ClusterDNSIndex? = nil) throws -> DNSMessage? {
        var query = DNSMessage(id: 42)
        query.recursionDesired = true
        query.questions = [DNSQuestion(name: name, type: type)]
        return records.answer(query, index: try index ?? self.index)
    }

    func data(_ response: DNSMessage?) -> [DNSRecordData] { response?.answers.map(\.data) ?? [] }

    @Test func serviceAddressIsItsClusterIP() throws {
        let response = try #require(try ask("API.default.svc.cluster.local", .a))
        #expect(response.responseCode == .noError && response.authoritative)
        #expect(response.answers == [DNSRecord(name: "API.default.svc.cluster.local", type: .a, ttl: 5, data: .a([10, 96, 3, 20]))])
    }

    @Test func headlessServiceAnswersItsReadyEndpoints() throws {
        #expect(data(try ask("web.default.svc.cluster.local", .a)) == [.a([10, 244, 3, 5]), .a([10, 244, 3, 7])])
        #expect(data(try ask("web-0.web.default.svc.cluster.local", .a)) == [.a([10, 244, 3, 5])])
        #expect(data(try ask("10-244-3-7.web.default.svc.cluster.local", .a)) == [.a([10, 244, 3, 7])])
        // Not ready: not published, unless the Service publishes not-ready addresses.
        #expect(try ask("web-1.web.default.svc.cluster.local", .a)?.responseCode == .nameError)
        var publishing = try index
        publishing.services["default/web"]?.spec.publishNotReadyAddresses = true
        #expect(data(try ask("web-1.web.default.svc.cluster.local", .a, index: publishing)) == [.a([10, 244, 3, 6])])
        // A ClusterIP Service has no per-endpoint names.
        #expect(try ask("web-0.api.default.svc.cluster.local", .a)?.responseCode == .nameError)
    }

    @Test func srvRecordsForNamedPorts() throws {
        let clusterIP = try #require(try ask("_http._tcp.api.default.svc.cluster.local", .srv))
        #expect(data(clusterIP) == [.srv(priority: 0, weight: 100, port: 80, target: "api.default.svc.cluster.local")])
        #expect(clusterIP.additionals.map(\.data) == [.a([10, 96, 3, 20])])
        let headless = try #require(try ask("_http._tcp.web.default.svc.cluster.local", .srv))
        #expect(data(headless) == [.srv(priority: 0, weight: 50, port: 8080, target: "web-0.web.default.svc.cluster.local"),
                                   .srv(priority: 0, weight: 50, port: 8080, target: "10-244-3-7.web.default.svc.cluster.local")])
        #expect(headless.additionals.map(\.name) == ["web-0.web.default.svc.cluster.local", "10-244-3-7.web.default.svc.cluster.local"])
        #expect(try ask("_http._udp.api.default.svc.cluster.local", .srv)?.responseCode == .nameError)
        // The SRV name exists: another type gets NODATA.
        let nodata = try #require(try ask("_http._tcp.api.default.svc.cluster.local", .a))
        #expect(nodata.responseCode == .noError && nodata.answers.isEmpty && nodata.authorities.first?.type == .soa)
    }

    @Test func podRecordsOnlyForExistingPods() throws {
        #expect(data(try ask("10-244-3-9.default.pod.cluster.local", .a)) == [.a([10, 244, 3, 9])])
        #expect(try ask("10-244-3-9.other.pod.cluster.local", .a)?.responseCode == .nameError)
        #expect(try ask("10-244-3-99.default.pod.cluster.local", .a)?.responseCode == .nameError)
    }

    @Test func reverseLookups() throws {
        #expect(data(try ask("20.3.96.10.in-addr.arpa", .ptr)) == [.ptr("api.default.svc.cluster.local")])
        #expect(data(try ask("5.3.244.10.in-addr.arpa", .ptr)) == [.ptr("web-0.web.default.svc.cluster.local")])
        #expect(data(try ask("9.3.244.10.in-addr.arpa", .ptr)) == [.ptr("10-244-3-9.default.pod.cluster.local")])
        // Addresses nothing has, and addresses outside the cluster's ranges, are the host resolver's.
        #expect(try ask("99.3.96.10.in-addr.arpa", .ptr) == nil)
        #expect(try ask("1.1.168.192.in-addr.arpa", .ptr) == nil)
    }

    @Test func negativeAnswersCarryTheZoneSOA() throws {
        let missing = try #require(try ask("nope.default.svc.cluster.local", .a))
        #expect(missing.responseCode == .nameError)
        #expect(missing.authorities.map(\.name) == ["cluster.local"])
        // Names that exist without records of the type asked.
        for name in ["default.svc.cluster.local", "svc.cluster.local", "cluster.local", "api.default.svc.cluster.local"] {
            let type: DNSType = name.hasPrefix("api") ? .aaaa : .a
            let response = try #require(try ask(name, type))
            #expect(response.responseCode == .noError && response.answers.isEmpty, "\(name)")
        }
        #expect(try ask("nowhere.svc.cluster.local", .a)?.responseCode == .nameError)
    }

    @Test func zoneApexExternalNameAndVersion() throws {
        #expect(data(try ask("cluster.local", .ns)) == [.ns("ns.dns.cluster.local")])
        #expect(try ask("cluster.local", .ns)?.additionals.map(\.data) == [.a([10, 96, 3, 10])])
        #expect(try ask("cluster.local", .soa)?.answers.first?.type == .soa)
        #expect(data(try ask("ext.other.svc.cluster.local", .a)) == [.cname("example.org")])
        #expect(data(try ask("dns-version.cluster.local", .txt)) == [.txt(["1.1.0"])])
    }

    @Test func otherNamesAreNotOurs() throws {
        #expect(try ask("example.org", .a) == nil)
        #expect(try ask("cluster.local.example.org", .a) == nil)
    }

    @Test func ednsQueriesGetAnOPTBack() throws {
        var query = DNSMessage(id: 1)
        query.questions = [DNSQuestion(name: "api.default.svc.cluster.local", type: .a)]
        query.additionals = [DNSRecord(name: "", type: .opt, class: 4096, ttl: 0, data: .raw([]))]
        let response = try #require(records.answer(query, index: try index))
        #expect(response.opt?.class == ClusterDNSServer.ednsPayloadSize)
        #expect(response.answers.count == 1)
    }
}
