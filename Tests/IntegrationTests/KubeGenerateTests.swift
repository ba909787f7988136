import Foundation
import Testing

/// `berth kube generate`: manifests from running containers that the Kubernetes 1.32 schemas
/// accept and that `berth serve` runs.
@Suite(.serialized, .enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeGenerateTests {
    /// The documents of a YAML stream, through PyYAML (kubernetes-validate's own parser).
    static func documents(_ file: String) throws -> [[String: Any]] {
        let converted = try Command.run("python3", [
            "-c", "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))", file,
        ])
        try #require(converted.succeeded, "\(converted)")
        return try #require(try JSONSerialization.jsonObject(with: converted.stdout) as? [[String: Any]])
    }

    static func validate(_ file: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let check = try Command.run("kubernetes-validate", ["--strict", "-k", KubeCluster.kubernetesVersion, file], timeout: 120)
        #expect(check.succeeded, "\(check)\n\((try? String(contentsOfFile: file, encoding: .utf8)) ?? "")", sourceLocation: sourceLocation)
    }

    static func fetch(_ url: String) throws -> String? {
        let fetched = try Command.run("curl", ["-sf", "--max-time", "5", url], timeout: 30)
        return fetched.succeeded ? fetched.out : nil
    }

    @Test func generatedManifestsValidateAndRunTheContainerOnBerthServe() throws {
        let cluster = try KubeCluster.withBusybox()
        let sandbox = cluster.sandbox
        let port = try KubeCluster.freePort()
        let site = sandbox.scratch + "/site"
        try FileManager.default.createDirectory(atPath: site, withIntermediateDirectories: true)
        try sandbox.ok("volume", "create", "gen-data")
        try sandbox.ok("run", "-d", "--name", "gen_web", "-p", "\(port):8080", "-e", "GREETING=hello from generate",
                       "--memory", "64m", "--cpus", "0.5", "--cap-drop", "NET_RAW", "--read-only", "--user", "0:0",
                       "-v", "gen-data:/data", "-v", "\(site):/site:ro", "--label", "tier=web", "--label", "note=not a label value",
                       "busybox:latest", "sh", "-c", "echo \"$GREETING\" > /data/index.html && exec httpd -f -p 8080 -h /data")
        let page = try eventually("the container's page") { try Self.fetch("http://127.0.0.1:\(port)/index.html") }
        #expect(page == "hello from generate\n")

        let file = sandbox.scratch + "/gen-web.yaml"
        try sandbox.ok("kube", "generate", "-f", file, "gen_web")
        try Self.validate(file)
        let documents = try Self.documents(file)
        #expect(documents.map { $0["kind"] as? String } == ["PersistentVolumeClaim", "Deployment"])
        let claim = try #require(documents.first?["metadata"] as? [String: Any])
        #expect(claim["name"] as? String == "gen-data")
        let deployment = try #require(documents.last)
        #expect((deployment["metadata"] as? [String: Any])?["name"] as? String == "gen-web-pod-deployment")
        let spec = try #require(deployment["spec"] as? [String: Any])
        #expect((spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String] == ["app": "gen-web-pod"])
        let template = try #require(spec["template"] as? [String: Any])
        let metadata = try #require(template["metadata"] as? [String: Any])
        #expect(metadata["labels"] as? [String: String] == ["app": "gen-web-pod", "tier": "web"])
        #expect(metadata["annotations"] as? [String: String] == ["note/gen-web": "not a label value"])
        let podSpec = try #require(template["spec"] as? [String: Any])
        #expect(podSpec["restartPolicy"] == nil)
        let container = try #require((podSpec["containers"] as? [[String: Any]])?.first)
        #expect(container["name"] as? String == "gen-web")
        #expect(container["image"] as? String == "busybox:latest")
        // The store's image, not Docker Hub's: `latest` would default to pulling Always.
        #expect(container["imagePullPolicy"] as? String == "IfNotPresent")
        // The image has no entrypoint and CMD ["sh"]: the container's command replaces the CMD.
        #expect(container["command"] == nil)
        #expect(container["args"] as? [String] == ["sh", "-c", "echo \"$GREETING\" > /data/index.html && exec httpd -f -p 8080 -h /data"])
        #expect(container["env"] as? [[String: String]] == [["name": "GREETING", "value": "hello from generate"]])
        #expect(container["ports"] as? [[String: Int]] == [["containerPort": 8080, "hostPort": port]])
        #expect(container["resources"] as? [String: [String: String]] == ["limits": ["cpu": "500m", "memory": "64Mi"]])
        let security = try #require(container["securityContext"] as? [String: Any])
        #expect(security["capabilities"] as? [String: [String]] == ["drop": ["NET_RAW"]])
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        #expect(security["runAsUser"] as? Int == 0 && security["runAsGroup"] as? Int == 0)
        let mounts = try #require(container["volumeMounts"] as? [[String: Any]])
        #expect(mounts.map { $0["mountPath"] as? String } == ["/data", "/site"])
        #expect(mounts.last?["readOnly"] as? Bool == true)
        let volumes = try #require(podSpec["volumes"] as? [[String: Any]])
        #expect((volumes.first?["persistentVolumeClaim"] as? [String: String])?["claimName"] == "gen-data")
        #expect(volumes.last?["hostPath"] as? [String: String] == ["path": site, "type": "Directory"])

        // With a Service: the published port is the Service's, not a hostPort; a bare Pod keeps
        // Docker's default restart policy `no` as Never.
        let withService = sandbox.scratch + "/gen-web-pod.yaml"
        try sandbox.ok("kube", "generate", "--service", "--type", "pod", "-f", withService, "gen_web")
        try Self.validate(withService)
        let podDocuments = try Self.documents(withService)
        #expect(podDocuments.map { $0["kind"] as? String } == ["PersistentVolumeClaim", "Service", "Pod"])
        let service = try #require(podDocuments[1]["spec"] as? [String: Any])
        #expect(service["type"] as? String == "NodePort")
        #expect(service["selector"] as? [String: String] == ["app": "gen-web-pod"])
        let servicePort = try #require((service["ports"] as? [[String: Any]])?.first)
        #expect(servicePort["port"] as? Int == 8080 && servicePort["targetPort"] as? Int == 8080)
        // A host port outside the NodePort range leaves the choice to the cluster.
        #expect((servicePort["nodePort"] as? Int) == ((30000...32767).contains(port) ? port : nil))
        let pod = try #require(podDocuments[2]["spec"] as? [String: Any])
        #expect(pod["restartPolicy"] as? String == "Never")
        #expect(((pod["containers"] as? [[String: Any]])?.first?["ports"] as? [[String: Int]]) == [["containerPort": 8080]])

        // The Deployment runs the app on berth serve once the container is gone (its host port free).
        try sandbox.ok("rm", "-f", "gen_web")
        let applied = try cluster.kubectl("apply", "-f", file)
        try #require(applied.succeeded, "\(applied)")
        let served = try eventually("the generated Deployment's page on the host port") {
            try Self.fetch("http://127.0.0.1:\(port)/index.html")
        }
        #expect(served == "hello from generate\n")
        try cluster.ok("delete", "-f", file, "--wait=true")
    }

    @Test func containersThatKubernetesCannotRunAsAskedAreRefused() throws {
        let sandbox = try BerthSandbox()
        _ = try sandbox.importBusybox()
        try sandbox.ok("create", "--name", "retrying", "--restart", "on-failure", "busybox:latest")
        let deployment = try sandbox.run("kube", "generate", "retrying")
        #expect(deployment.status == 1 && deployment.out.isEmpty, "\(deployment)")
        #expect(deployment.err.hasPrefix("Error: Kubernetes Deployments only restart Always"), "\(deployment)")
        let pod = try sandbox.run("kube", "generate", "--type", "pod", "retrying")
        #expect(pod.succeeded && pod.out.contains("restartPolicy: OnFailure"), "\(pod)")
        let unpublished = try sandbox.run("kube", "generate", "--service", "--type", "pod", "retrying")
        #expect(unpublished.status == 1 && unpublished.err.contains("publishes no"), "\(unpublished)")
        let missing = try sandbox.run("kube", "generate", "no-such-container")
        #expect(missing.status == 1 && missing.err.contains("No such container: no-such-container"), "\(missing)")
        let kind = try sandbox.run("kube", "generate", "--type", "job", "retrying")
        #expect(!kind.succeeded && kind.err.contains("invalid type \"job\""), "\(kind)")
    }
}
