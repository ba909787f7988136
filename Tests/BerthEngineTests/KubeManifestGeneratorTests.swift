@testable import BerthEngine
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation
import Testing

/// `kube generate`'s translation of container records, without a runtime.
struct KubeManifestGeneratorTests {
    static func record(_ name: String = "web", config: ContainerRecord.Config = .init(cmd: ["sh"]),
                       host: ContainerRecord.HostConfig = .init()) -> ContainerRecord {
        ContainerRecord(id: String(repeating: "ab", count: 32), name: name, created: Date(), imageName: "busybox:latest",
                        imageID: "sha256:" + String(repeating: "0", count: 64), config: config, hostConfig: host, layers: [])
    }

    static func image(entrypoint: [String]? = nil, cmd: [String]? = ["sh"], env: [String]? = nil) -> ContainerConfig {
        var image = ContainerConfig()
        image.Entrypoint = entrypoint
        image.Cmd = cmd
        image.Env = env
        return image
    }

    /// The one container of the pod template of the last document (the Deployment).
    static func container(_ documents: [OrderedJSON]) -> OrderedJSON? {
        guard case .array(let containers)? = documents.last?["spec"]?["template"]?["spec"]?["containers"] else { return nil }
        return containers.first
    }

    @Test func commandAndArgsFollowKubernetesOverrideRules() {
        typealias G = KubeManifestGenerator
        let image = Self.image(entrypoint: ["/entry"], cmd: ["serve"])
        #expect(G.commandAndArgs(.init(entrypoint: ["/entry"], cmd: ["serve"]), image: image) == (nil, nil))
        #expect(G.commandAndArgs(.init(entrypoint: ["/entry"], cmd: ["debug"]), image: image) == (nil, ["debug"]))
        #expect(G.commandAndArgs(.init(entrypoint: ["/other"], cmd: ["serve"]), image: image) == (["/other"], ["serve"]))
        // `--entrypoint ""` drops the image's entrypoint: the command alone runs.
        #expect(G.commandAndArgs(.init(entrypoint: [], cmd: ["sh", "-c", "true"]), image: image) == (["sh", "-c", "true"], nil))
        #expect(G.commandAndArgs(.init(entrypoint: ["/other"], cmd: []), image: image) == (["/other"], nil))
    }

    @Test func namesBecomeRFC1123Labels() {
        #expect(KubeManifestGenerator.dnsLabel("My_App.v2") == "my-app-v2")
        #expect(KubeManifestGenerator.dnsLabel("/srv/data/") == "srv-data")
        #expect(KubeManifestGenerator.dnsLabel("___") == "container")
        #expect(KubeManifestGenerator.dnsLabel(String(repeating: "a", count: 80)).count == 55)
        #expect(KubeManifestGenerator.isLabelKey("app.kubernetes.io/name"))
        #expect(!KubeManifestGenerator.isLabelKey("com.example/with space"))
        #expect(!KubeManifestGenerator.isLabelValue("-leading"))
    }

    @Test func imagesThatWouldBePulledAlwaysAskForIfNotPresent() {
        #expect(KubeManifestGenerator.pullsAlways("busybox"))
        #expect(KubeManifestGenerator.pullsAlways("localhost:5000/app:latest"))
        #expect(!KubeManifestGenerator.pullsAlways("localhost:5000/app:v1"))
        #expect(!KubeManifestGenerator.pullsAlways("app@sha256:" + String(repeating: "0", count: 64)))
        #expect(KubeManifestGenerator.pullsAlways("localhost:5000/app"))
    }

    @Test func quantitiesUseTheLargestExactBinarySuffix() {
        #expect(KubeManifestGenerator.quantity(64 << 20) == "64Mi")
        #expect(KubeManifestGenerator.quantity(2 << 30) == "2Gi")
        #expect(KubeManifestGenerator.quantity(1536 << 10) == "1536Ki")
        #expect(KubeManifestGenerator.quantity(1000) == "1000")
    }

    @Test func restartPoliciesMapPerKind() throws {
        #expect(try KubeManifestGenerator.restartPolicy("no", kind: .deployment) == nil)
        #expect(try KubeManifestGenerator.restartPolicy("always", kind: .deployment) == nil)
        #expect(try KubeManifestGenerator.restartPolicy("unless-stopped", kind: .pod) == "Always")
        #expect(try KubeManifestGenerator.restartPolicy("no", kind: .pod) == "Never")
        #expect(try KubeManifestGenerator.restartPolicy("on-failure", kind: .pod) == "OnFailure")
        #expect(throws: KubeManifestGenerator.Failure.self) { try KubeManifestGenerator.restartPolicy("on-failure", kind: .deployment) }
    }

    @Test func onlyWhatDiffersFromTheImageIsWritten() throws {
        var config = ContainerRecord.Config(user: "1000:1000", env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                                     "LANG=C.UTF-8", "MODE=prod"], cmd: ["sh"])
        config.hostname = "abababababab"
        var host = ContainerRecord.HostConfig(memory: 3 << 30, capAdd: ["cap_net_admin"], privileged: true)
        host.cpuQuota = 150_000
        host.cpuPeriod = 100_000
        let source = KubeGenerateSource(container: Self.record(config: config, host: host), image: Self.image(env: ["LANG=C.UTF-8"]))
        let documents = try KubeManifestGenerator.documents([source], options: .init())
        let container = try #require(Self.container(documents))
        #expect(container["command"] == nil && container["args"] == nil)
        #expect(container["env"] == .array([.object([("name", .string("MODE")), ("value", .string("prod"))])]))
        #expect(container["resources"] == .object([("limits", .object([("cpu", .string("1500m")), ("memory", .string("3Gi"))]))]))
        #expect(container["securityContext"] == .object([
            ("capabilities", .object([("add", .array([.string("NET_ADMIN")]))])), ("privileged", .bool(true)),
            ("runAsGroup", .number("1000")), ("runAsUser", .number("1000")),
        ]))
        // The default hostname (the container's short ID) is not the pod's.
        #expect(documents.last?["spec"]?["template"]?["spec"]?["hostname"] == nil)
    }

    @Test func severalContainersMakeOnePodWithServicePortsForEachPublishedPort() throws {
        var web = Self.record("web")
        web.network.ports = [
            .init(containerPort: 80, proto: "tcp", hostIP: "0.0.0.0", hostPort: 30080),
            .init(containerPort: 80, proto: "tcp", hostIP: "::", hostPort: 30080),
        ]
        var dns = Self.record("dns")
        dns.network.ports = [.init(containerPort: 53, proto: "udp", hostIP: "127.0.0.1", hostPort: 5353)]
        let documents = try KubeManifestGenerator.documents(
            [KubeGenerateSource(container: web, image: Self.image()), KubeGenerateSource(container: dns, image: Self.image())],
            options: .init(kind: .deployment, service: true, replicas: 3))
        #expect(documents.map { $0["kind"] } == [.string("Service"), .string("Deployment")])
        #expect(documents[0]["spec"]?["ports"] == .array([
            .object([("name", .string("80")), ("nodePort", .number("30080")), ("port", .number("80")), ("targetPort", .number("80"))]),
            .object([("name", .string("53-udp")), ("port", .number("53")), ("protocol", .string("UDP")), ("targetPort", .number("53"))]),
        ]))
        #expect(documents[1]["metadata"]?["name"] == .string("web-pod-deployment"))
        #expect(documents[1]["spec"]?["replicas"] == .number("3"))
        guard case .array(let containers)? = documents[1]["spec"]?["template"]?["spec"]?["containers"] else {
            Issue.record("no containers")
            return
        }
        #expect(containers.map { $0["name"] } == [.string("web"), .string("dns")])
        // With a Service the pod publishes no host ports.
        #expect(containers[1]["ports"] == .array([.object([("containerPort", .number("53")), ("protocol", .string("UDP"))])]))
    }
}
