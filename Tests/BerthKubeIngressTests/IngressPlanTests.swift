import BerthKubeAPI
import BerthTemplate
import Testing

@testable import BerthKubeIngress

/// The routes Ingresses give, their precedence, and the nginx configuration they render to.
@Suite struct IngressPlanTests {
    func ingress(_ name: String, created: String = "2026-01-01T00:00:00Z", _ spec: String) throws -> Ingress {
        try OrderedJSON.parse(Array(#"{"metadata":{"name":"\#(name)","namespace":"default","creationTimestamp":"\#(created)"},"spec":\#(spec)}"#.utf8))
            .decode(Ingress.self)
    }

    func path(_ path: String, _ type: String, _ service: String, port: String = #"{"number":80}"#) -> String {
        #"{"path":"\#(path)","pathType":"\#(type)","backend":{"service":{"name":"\#(service)","port":\#(port)}}}"#
    }

    func backend(_ service: String, _ port: String = "80") -> IngressPlan.Backend {
        IngressPlan.Backend(namespace: "default", service: service, port: port)
    }

    @Test func routesGoLongestFirstExactBeforePrefixAndTheOldestIngressWins() throws {
        let first = try ingress("first", #"{"rules":[{"host":"a.example","http":{"paths":[\#(path("/", "Prefix", "root")),\#(path("/api/", "Prefix", "api")),\#(path("/api", "Exact", "exact")),\#(path("/api/v1", "ImplementationSpecific", "v1", port: #"{"name":"http"}"#))]}}]}"#)
        let second = try ingress("second", created: "2026-01-02T00:00:00Z", #"{"rules":[{"host":"a.example","http":{"paths":[\#(path("/api", "Prefix", "late"))]}},{"http":{"paths":[\#(path("/any", "Prefix", "any"))]}}],"defaultBackend":{"service":{"name":"fallback","port":{"number":8080}}}}"#)
        let plan = IngressPlan(ingresses: [second, first]) { _ in true }
        #expect(plan.servers.map(\.host) == [nil, "a.example"])
        let host = plan.servers[1]
        #expect(host.routes.map { "\($0.match.rawValue) \($0.path) \($0.backend.service):\($0.backend.port)" } == [
            "prefix /api/v1 v1:http", "prefix /any any:80", "exact /api exact:80", "prefix /api api:80", "prefix / root:80",
        ])
        #expect(host.fallback == backend("fallback", "8080"))
        #expect(plan.servers[0].routes.map(\.path) == ["/any"] && plan.servers[0].fallback == backend("fallback", "8080"))
    }

    @Test func tlsHostsNeedTheirSecretAndWildcardsCoverOneLabel() throws {
        let spec = #"{"tls":[{"hosts":["a.example"],"secretName":"a-tls"},{"hosts":["*.w.example","b.example"],"secretName":"gone"},{"hosts":["*.v.example"],"secretName":"v-tls"}],"rules":[{"host":"a.example","http":{"paths":[\#(path("/", "Prefix", "a"))]}},{"host":"b.example","http":{"paths":[\#(path("/", "Prefix", "b"))]}},{"host":"x.v.example","http":{"paths":[\#(path("/", "Prefix", "x"))]}}]}"#
        let plan = IngressPlan(ingresses: [try ingress("tls", spec)]) { $0.secret != "gone" }
        #expect(plan.servers.map { "\($0.host ?? "_") \($0.certificate?.secret ?? "-")" } == ["_ -", "a.example a-tls", "b.example -", "x.v.example v-tls"])
        #expect(plan.missingCertificates.map(\.host) == ["*.w.example", "b.example"])
        #expect(plan.certificates == [IngressPlan.Certificate(namespace: "default", secret: "a-tls"), IngressPlan.Certificate(namespace: "default", secret: "v-tls")])
    }

    @Test func nginxLocationsGivePrefixByPathElementAndExactMatches() throws {
        let spec = #"{"tls":[{"hosts":["*.w.example"],"secretName":"w-tls"}],"rules":[{"host":"*.w.example","http":{"paths":[\#(path("/foo", "Prefix", "foo")),\#(path("/foo", "Exact", "exact")),\#(path("/bar/", "Prefix", "bar")),\#(path("/q\\\"uote", "Exact", "foo"))]}}]}"#
        let plan = IngressPlan(ingresses: [try ingress("web", spec)]) { _ in true }
        let text = NginxConfiguration(directory: "/r/kube/ingress", httpPort: 8080, httpsPort: 8443)
            .render(plan, endpoints: [backend("foo"): ["10.244.1.3:80", "10.244.1.2:80"], backend("bar"): ["10.244.1.4:8080"]])
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // Upstreams are numbered in backend order: bar, exact, foo.
        #expect(lines.contains("upstream backend0 {") && lines.contains("server 10.244.1.4:8080;") && !lines.contains("upstream backend1 {"))
        #expect(text.contains("upstream backend2 {\n        server 10.244.1.2:80;\n        server 10.244.1.3:80;\n    }"))
        #expect(text.contains("""
                server {
                    listen 8080 default_server;
                    listen 8443 ssl default_server;
                    ssl_reject_handshake on;
                    server_name _;
                    location / { return 404; }
                }
            """))
        #expect(text.contains(#"""
                server {
                    listen 8080;
                    listen 8443 ssl;
                    ssl_certificate /r/kube/ingress/certs/default_w-tls.crt;
                    ssl_certificate_key /r/kube/ingress/certs/default_w-tls.key;
                    server_name ~^[^.]+\.w\.example$;
                    location = "/q\"uote" { proxy_pass http://backend2; }
                    location = "/bar" { proxy_pass http://backend0; }
                    location "/bar/" { proxy_pass http://backend0; }
                    location = "/foo" { return 503; }
                    location "/foo/" { proxy_pass http://backend2; }
                    location / { return 404; }
                }
            """#))
    }

    @Test func aClosedPortGetsNoListener() throws {
        let plan = IngressPlan(ingresses: [try ingress("web", #"{"rules":[{"host":"a.example","http":{"paths":[\#(path("/", "Prefix", "a"))]}}]}"#)]) { _ in true }
        let text = NginxConfiguration(directory: "/d", httpPort: 0, httpsPort: 8443).render(plan, endpoints: [:])
        // a.example has no certificate and HTTP is off: it has no server at all.
        #expect(!text.contains("a.example") && !text.contains("listen 0") && text.contains("listen 8443 ssl default_server;"))
    }
}
