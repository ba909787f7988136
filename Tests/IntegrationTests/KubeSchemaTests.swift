import Foundation
import Testing

/// What Berth's schema table gives the real kubectl 1.32: `explain`, server-side field
/// validation for `apply` (no `--validate=false`), strategic merge patches computed from the
/// served OpenAPI (apply, edit, set image, label, rollout pause/resume), server-side apply with
/// field ownership, and deletion held by finalizers. Expected texts are what kubectl prints
/// for a real cluster's answers (kube-apiserver 1.32).
@Suite(.enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeSchemaKubectlTests {
    /// A Deployment of no replicas: the API's behaviour without pods to run.
    static func deployment(_ name: String = "web", image: String = "busybox:1", strategy: String = "RollingUpdate",
                           labels: String = "{}", containers: String? = nil) -> String {
        let rollingUpdate = strategy == "RollingUpdate" ? "\n    rollingUpdate: {maxSurge: 1}" : ""
        return """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: \(name)
              labels: \(labels)
            spec:
              replicas: 0
              selector:
                matchLabels: {app: \(name)}
              strategy:
                type: \(strategy)\(rollingUpdate)
              template:
                metadata:
                  labels: {app: \(name)}
                spec:
                  containers:
            \(containers ?? "      - {name: web, image: \"\(image)\", env: [{name: A, value: \"1\"}, {name: B, value: \"2\"}]}\n      - {name: side, image: \"\(image)\"}")

            """
    }

    private func apply(_ cluster: KubeCluster, _ manifest: String, _ flags: String...) throws -> CommandResult {
        try cluster.kubectl(["apply", "-f", "-"] + flags, stdin: .bytes(Data(manifest.utf8)))
    }

    @Test func explainReadsTheServedSchema() throws {
        let cluster = try KubeCluster()
        let explained = try cluster.ok("explain", "deployment.spec.strategy")
        #expect(explained.contains("KIND:       Deployment\nVERSION:    v1\n\nFIELD: strategy <DeploymentStrategy>"))
        #expect(explained.contains("  rollingUpdate\t<RollingUpdateDeployment>"))
        #expect(explained.contains("  type\t<string>"))
        let kind = try cluster.ok("explain", "pod")
        #expect(kind.contains("DESCRIPTION:\n    A group of containers that share a network namespace and volumes, run on one\n    node.\n"))
        #expect(try cluster.ok("explain", "pod.spec.containers.ports.containerPort").contains("FIELD: containerPort <integer>"))
    }

    @Test func applyValidatesOnTheServer() throws {
        let cluster = try KubeCluster()
        let typo = Self.deployment().replacingOccurrences(of: "{name: side, image:", with: "{name: side, imagex: x, image:")
        let refused = try apply(cluster, typo)
        #expect(refused.err == "Error from server (BadRequest): error when creating \"STDIN\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[1].imagex\"\n")
        let wrongType = Self.deployment().replacingOccurrences(of: "replicas: 0", with: "replicas: \"two\"")
        let wrong = try cluster.kubectl(["create", "--validate=false", "-f", "-"], stdin: .bytes(Data(wrongType.utf8)))
        #expect(wrong.err == "Error from server (BadRequest): error when creating \"STDIN\": Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32\n")
        let warned = try cluster.kubectl(["create", "--validate=warn", "-f", "-"], stdin: .bytes(Data(typo.utf8)))
        #expect(warned.succeeded)
        #expect(warned.err == "Warning: unknown field \"spec.template.spec.containers[1].imagex\"\n")
    }

    @Test func clientSideApplyEditSetImageAndLabelPatchByTheSchema() throws {
        let cluster = try KubeCluster()
        #expect(try apply(cluster, Self.deployment()).out == "deployment.apps/web created\n")
        // Env B and container `side` dropped, the strategy switched: kubectl sends $setElementOrder,
        // $patch: delete and $retainKeys, computed from the served schema's patch metadata.
        let next = Self.deployment(image: "busybox:2", strategy: "Recreate",
                                   containers: "      - {name: web, image: \"busybox:2\", env: [{name: A, value: \"1\"}]}")
        let configured = try apply(cluster, next)
        #expect(configured.out == "deployment.apps/web configured\n")
        #expect(configured.err == "")
        #expect(try cluster.ok("get", "deployment", "web", "-o", "jsonpath={.spec.strategy} {.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].env}")
                == #"{"type":"Recreate"} web [{"name":"A","value":"1"}]"#)
        #expect(try apply(cluster, next).out == "deployment.apps/web unchanged\n")

        let edited = try cluster.kubectl(["edit", "deployment", "web"], environment: ["KUBE_EDITOR": "sed -i s/busybox:2/busybox:3/"])
        #expect(edited.out == "deployment.apps/web edited\n")
        #expect(try cluster.ok("set", "image", "deployment/web", "web=busybox:4") == "deployment.apps/web image updated\n")
        #expect(try cluster.ok("label", "deployment", "web", "tier=fe") == "deployment.apps/web labeled\n")
        #expect(try cluster.ok("annotate", "deployment", "web", "note=x") == "deployment.apps/web annotated\n")
        #expect(try cluster.ok("rollout", "pause", "deployment/web") == "deployment.apps/web paused\n")
        #expect(try cluster.ok("get", "deployment", "web", "-o", "jsonpath={.spec.paused}") == "true")
        #expect(try cluster.ok("rollout", "resume", "deployment/web") == "deployment.apps/web resumed\n")
        #expect(try cluster.ok("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.labels.tier} {.metadata.annotations.note}")
                == "busybox:4 fe x")
    }

    @Test func serverSideApplyOwnsFieldsAndConflicts() throws {
        let cluster = try KubeCluster()
        let first = Self.deployment("api", labels: "{team: a}")
        #expect(try apply(cluster, first, "--server-side").out == "deployment.apps/api serverside-applied\n")
        // A changed image, a dropped label and a dropped container.
        let second = Self.deployment("api", labels: "{}", containers: "      - {name: web, image: \"busybox:2\"}")
        #expect(try apply(cluster, second, "--server-side").out == "deployment.apps/api serverside-applied\n")
        #expect(try cluster.ok("get", "deployment", "api", "-o", "jsonpath={.metadata.labels.team}|{.spec.template.spec.containers[*].image}|{.spec.template.spec.containers[0].env}")
                == "|busybox:2|")
        let managers = try cluster.ok("get", "deployment", "api", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}")
        #expect(managers == "kubectl/Apply")

        let other = Self.deployment("api", labels: "{}", containers: "      - {name: web, image: \"busybox:9\"}")
        let conflict = try apply(cluster, other, "--server-side", "--field-manager=other")
        #expect(!conflict.succeeded)
        #expect(conflict.err.hasPrefix("error: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.template.spec.containers[name=\"web\"].image\n"))
        #expect(try apply(cluster, other, "--server-side", "--field-manager=other", "--force-conflicts").succeeded)
        #expect(try cluster.ok("get", "deployment", "api", "-o", "jsonpath={.spec.template.spec.containers[0].image}") == "busybox:9")
        // Client-side apply works on the object afterwards.
        let client = try apply(cluster, second)
        #expect(client.out == "deployment.apps/api configured\n")
        #expect(try cluster.ok("get", "deployment", "api", "-o", "jsonpath={.spec.template.spec.containers[0].image}") == "busybox:2")
    }

    @Test func finalizersHoldADeletedObject() throws {
        let cluster = try KubeCluster()
        let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\ndata: {a: \"1\"}\n"
        #expect(try apply(cluster, manifest).out == "configmap/held created\n")
        #expect(try cluster.ok("delete", "configmap", "held", "--wait=false") == "configmap \"held\" deleted\n")
        #expect(try cluster.ok("get", "configmap", "held", "-o", "jsonpath={.metadata.finalizers}") == #"["example.com/hold"]"#)
        #expect(try !cluster.ok("get", "configmap", "held", "-o", "jsonpath={.metadata.deletionTimestamp}").isEmpty)
        #expect(try cluster.ok("patch", "configmap", "held", "--type=json", "-p", #"[{"op":"remove","path":"/metadata/finalizers"}]"#)
                == "configmap/held patched\n")
        let gone = try cluster.kubectl("get", "configmap", "held")
        #expect(gone.err == "Error from server (NotFound): configmaps \"held\" not found\n")
    }

    @Test func openAPIDocumentsAreNamedByTheirHash() throws {
        let cluster = try KubeCluster()
        let index = try cluster.ok("get", "--raw", "/openapi/v3")
        let paths = try #require(try JSONSerialization.jsonObject(with: Data(index.utf8)) as? [String: Any])["paths"] as? [String: [String: String]]
        let url = try #require(paths?["apis/apps/v1"]?["serverRelativeURL"])
        let hash = String(try #require(url.split(separator: "=").last))
        let document = try cluster.ok("get", "--raw", url)
        #expect(try hash == sha512(document))
        let v2 = try cluster.ok("get", "--raw", "/openapi/v2")
        #expect(v2.hasPrefix(#"{"swagger":"2.0""#))
    }

    private func sha512(_ text: String) throws -> String {
        let result = try Command.run("sha512sum", [], stdin: .bytes(Data(text.utf8)))
        return String(result.out.prefix(128)).uppercased()
    }
}
