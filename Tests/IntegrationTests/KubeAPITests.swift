import Foundation
import Testing

/// `berth serve`'s Kubernetes API driven by the real kubectl 1.32: discovery, authentication,
/// the first kinds (Namespace, ConfigMap, Secret), errors as kubectl prints them, watches and
/// persistence across a killed daemon. Expected texts are what kubectl prints for a real
/// cluster's answers (kube-apiserver 1.32).
@Suite(.enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeAPITests {
    /// `kubectl version`, and a kind Berth does not serve (KubeKindsTests checks `api-resources`).
    @Test func versionAndAnUnknownResource() throws {
        let cluster = try KubeCluster()
        let version = try cluster.ok("version")
        #expect(version.contains("Server Version: v1.32."))
        let unknown = try cluster.kubectl("get", "foos")
        #expect(!unknown.succeeded)
        #expect(unknown.err == "error: the server doesn't have a resource type \"foos\"\n")
    }

    @Test func systemNamespacesAndHealth() throws {
        let cluster = try KubeCluster()
        let namespaces = try cluster.ok("get", "namespaces", "-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase,LABEL:.metadata.labels.kubernetes\\.io/metadata\\.name", "--no-headers")
        #expect(namespaces.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") } == [
            "default Active default", "kube-node-lease Active kube-node-lease", "kube-public Active kube-public", "kube-system Active kube-system",
        ])
        #expect(try cluster.ok("get", "--raw", "/healthz") == "ok")
        #expect(try cluster.ok("get", "--raw", "/readyz") == "ok")
        let forbidden = try cluster.kubectl("delete", "namespace", "kube-system")
        #expect(forbidden.err == "Error from server (Forbidden): namespaces \"kube-system\" is forbidden: this namespace may not be deleted\n")
    }

    @Test func requestsWithoutAClientCertificateAreUnauthorized() throws {
        let cluster = try KubeCluster()
        let pki = cluster.sandbox.root + "/kube/pki"
        let anonymous = try Command.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "--cacert", pki + "/ca.crt",
                                                         "https://127.0.0.1:\(cluster.port)/api/v1/namespaces"], timeout: 30)
        #expect(anonymous.out == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"# + "\n401")
        // kubectl with the cluster's CA and a bearer token instead of a client certificate (without
        // any credentials kubectl would prompt for a user name).
        let config = cluster.sandbox.scratch + "/anonymous-kubeconfig"
        let written = try Command.run("kubectl", ["config", "--kubeconfig", config, "set-cluster", "berth", "--server", "https://127.0.0.1:\(cluster.port)",
                                                  "--certificate-authority", pki + "/ca.crt"], timeout: 30)
        try #require(written.succeeded, "\(written)")
        _ = try Command.run("kubectl", ["config", "--kubeconfig", config, "set-credentials", "anonymous", "--token", "not-a-certificate"], timeout: 30)
        _ = try Command.run("kubectl", ["config", "--kubeconfig", config, "set-context", "berth", "--cluster", "berth", "--user", "anonymous"], timeout: 30)
        _ = try Command.run("kubectl", ["config", "--kubeconfig", config, "use-context", "berth"], timeout: 30)
        let denied = try Command.run("kubectl", ["--kubeconfig", config, "--cache-dir", cluster.cacheDirectory, "get", "configmaps"], timeout: 60)
        #expect(!denied.succeeded)
        #expect(denied.err.hasSuffix("error: You must be logged in to the server (the server has asked for the client to provide credentials)\n"))
        // A certificate from another CA, even one naming system:masters, is no better than none.
        let rogue = cluster.sandbox.scratch + "/rogue"
        let made = try Command.run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", rogue + ".key",
                                               "-out", rogue + ".crt", "-subj", "/O=system:masters/CN=rogue", "-days", "2"], timeout: 30)
        try #require(made.succeeded, "\(made)")
        let impostor = try Command.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", pki + "/ca.crt", "--cert", rogue + ".crt",
                                                        "--key", rogue + ".key", "https://127.0.0.1:\(cluster.port)/api/v1/namespaces"], timeout: 30)
        #expect(impostor.out == "401")
        let admin = try Command.run("/usr/bin/curl", ["-s", "--cacert", pki + "/ca.crt", "--cert", pki + "/admin.crt", "--key", pki + "/admin.key",
                                                     "https://127.0.0.1:\(cluster.port)/version"], timeout: 30)
        #expect(admin.out.contains(#""major":"1","minor":"32""#))
    }

    /// An `Upgrade` no stream takes (curl's h2c offer, a WebSocket handshake without its key) is
    /// ignored, as the apiserver ignores it: the request is answered, not held.
    @Test func requestsOfferingAnUpgradeNobodyTakesAreAnsweredPlainly() throws {
        let cluster = try KubeCluster()
        let pki = cluster.sandbox.root + "/kube/pki"
        func get(_ path: String, _ headers: [String]) throws -> CommandResult {
            try Command.run("/usr/bin/curl", ["-s", "-m", "10", "-w", "\n%{http_code}", "--cacert", pki + "/ca.crt", "--cert", pki + "/admin.crt",
                                             "--key", pki + "/admin.key"] + headers.flatMap { ["-H", $0] } + ["https://127.0.0.1:\(cluster.port)" + path],
                            timeout: 30)
        }
        let h2c = try get("/version", ["Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"])
        #expect(h2c.succeeded && h2c.out.contains(#""major":"1","minor":"32""#) && h2c.out.hasSuffix("\n200"), "\(h2c)")
        let keyless = try get("/api/v1/namespaces/default", ["Upgrade: websocket", "Connection: Upgrade"])
        #expect(keyless.succeeded && keyless.out.contains(#""kind":"Namespace","apiVersion":"v1""#) && keyless.out.hasSuffix("\n200"), "\(keyless)")
    }

    @Test func configMapsCreateGetListDelete() throws {
        let cluster = try KubeCluster()
        #expect(try cluster.ok("create", "configmap", "web", "--from-literal=a=1", "--from-literal=b=2") == "configmap/web created\n")
        let again = try cluster.kubectl("create", "configmap", "web", "--from-literal=a=1")
        #expect(!again.succeeded)
        #expect(again.err == "error: failed to create configmap: configmaps \"web\" already exists\n")
        let table = try cluster.ok("get", "configmaps")
        #expect(table.split(separator: "\n").first.map { $0.split(separator: " ").joined(separator: " ") } == "NAME DATA AGE")
        #expect(table.contains("web    2      "))
        #expect(try cluster.ok("get", "configmap", "web", "-o", "jsonpath={.data.a},{.data.b},{.metadata.namespace}") == "1,2,default")
        let missing = try cluster.kubectl("get", "configmap", "nope")
        #expect(missing.err == "Error from server (NotFound): configmaps \"nope\" not found\n")
        #expect(try cluster.ok("label", "configmap", "web", "tier=fe") == "configmap/web labeled\n")
        #expect(try cluster.ok("annotate", "configmap", "web", "note=hi") == "configmap/web annotated\n")
        #expect(try cluster.ok("get", "configmaps", "-l", "tier=fe", "-o", "name") == "configmap/web\n")
        #expect(try cluster.ok("get", "configmaps", "-l", "tier=be", "-o", "name") == "")
        #expect(try cluster.ok("get", "configmap", "web", "-o", "jsonpath={.metadata.annotations.note}") == "hi")
        #expect(try cluster.ok("delete", "configmap", "web") == "configmap \"web\" deleted\n")
        let gone = try cluster.kubectl("delete", "configmap", "web")
        #expect(gone.err == "Error from server (NotFound): configmaps \"web\" not found\n")
        let invalid = try cluster.kubectl("create", "configmap", "Bad_Name")
        #expect(invalid.err.hasPrefix("error: failed to create configmap: ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"))
    }

    @Test func patchesAndReplaceWithResourceVersions() throws {
        let cluster = try KubeCluster()
        try cluster.ok("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=2")
        #expect(try cluster.ok("patch", "configmap", "cfg", "--type=merge", "-p", #"{"data":{"a":"10","b":null}}"#) == "configmap/cfg patched\n")
        #expect(try cluster.ok("get", "configmap", "cfg", "-o", "jsonpath={.data}") == #"{"a":"10"}"#)
        #expect(try cluster.ok("patch", "configmap", "cfg", "--type=json", "-p", #"[{"op":"add","path":"/data/c","value":"3"},{"op":"remove","path":"/data/a"}]"#)
                == "configmap/cfg patched\n")
        #expect(try cluster.ok("get", "configmap", "cfg", "-o", "jsonpath={.data}") == #"{"c":"3"}"#)
        let badPath = try cluster.kubectl("patch", "configmap", "cfg", "--type=json", "-p", #"[{"op":"remove","path":"/data/zzz"}]"#)
        #expect(!badPath.succeeded)
        // A replacement carrying a stale resourceVersion is refused; kubectl prints the Conflict.
        let stale = try cluster.ok("get", "configmap", "cfg", "-o", "json")
        try cluster.ok("label", "configmap", "cfg", "bump=1")
        let conflict = try cluster.kubectl(["replace", "--validate=false", "-f", "-"], stdin: .bytes(Data(stale.utf8)))
        #expect(conflict.err == #"Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again"# + "\n")
        let fresh = try cluster.ok("get", "configmap", "cfg", "-o", "json")
        let replaced = try cluster.kubectl(["replace", "--validate=false", "-f", "-"], stdin: .bytes(Data(fresh.replacingOccurrences(of: #""c": "3""#, with: #""c": "4""#).utf8)))
        #expect(replaced.out == "configmap/cfg replaced\n", "\(replaced)")
        #expect(try cluster.ok("get", "configmap", "cfg", "-o", "jsonpath={.data.c}") == "4")
    }

    @Test func applyCreatesThenPatchesAndTheServerValidatesFields() throws {
        let cluster = try KubeCluster()
        let manifest = cluster.sandbox.scratch + "/cm.yaml"
        func write(_ data: String) throws {
            let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels: {app: web}\ndata:\n\(data)"
            try Data(text.utf8).write(to: URL(fileURLWithPath: manifest))
        }
        try write("  a: \"1\"\n  b: \"2\"\n")
        #expect(try cluster.ok("apply", "-f", manifest) == "configmap/applied created\n")
        #expect(try cluster.ok("apply", "-f", manifest) == "configmap/applied unchanged\n")
        try write("  a: \"1\"\n  c: \"3\"\n")
        #expect(try cluster.ok("apply", "-f", manifest) == "configmap/applied configured\n")
        #expect(try cluster.ok("get", "configmap", "applied", "-o", "jsonpath={.data}") == #"{"a":"1","c":"3"}"#)
        // A strategic merge patch from kubectl patch (its default type).
        #expect(try cluster.ok("patch", "configmap", "applied", "-p", #"{"data":{"a":null,"z":"26"}}"#) == "configmap/applied patched\n")
        #expect(try cluster.ok("get", "configmap", "applied", "-o", "jsonpath={.data}") == #"{"c":"3","z":"26"}"#)

        let typo = cluster.sandbox.scratch + "/typo.yaml"
        try Data("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatta:\n  a: \"1\"\n".utf8).write(to: URL(fileURLWithPath: typo))
        let strict = try cluster.kubectl("apply", "-f", typo)
        #expect(!strict.succeeded)
        #expect(strict.err == #"Error from server (BadRequest): error when creating "\#(typo)": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "datta""# + "\n")
        let warned = try cluster.kubectl("create", "--validate=warn", "-f", typo)
        #expect(warned.out == "configmap/typo created\n")
        #expect(warned.err == "Warning: unknown field \"datta\"\n")
    }

    @Test func eventsShowInDescribe() throws {
        let cluster = try KubeCluster()
        try cluster.ok("create", "configmap", "described", "--from-literal=a=1")
        let uid = try cluster.ok("get", "configmap", "described", "-o", "jsonpath={.metadata.uid}")
        let event = """
            {"apiVersion":"v1","kind":"Event","metadata":{"name":"described.1"},
             "involvedObject":{"kind":"ConfigMap","namespace":"default","name":"described","uid":"\(uid)","apiVersion":"v1"},
             "reason":"Checked","message":"looked at","type":"Normal","source":{"component":"test-tool"},
             "firstTimestamp":"2020-01-01T00:00:00Z","lastTimestamp":"2020-01-01T00:00:00Z","count":3}
            """
        #expect(try cluster.kubectl(["create", "-f", "-"], stdin: .bytes(Data(event.utf8))).out == "event/described.1 created\n")
        let events = try cluster.ok("get", "events")
        #expect(events.split(separator: "\n").map { $0.split(separator: " ").dropFirst().joined(separator: " ") } == [
            "SEEN TYPE REASON OBJECT MESSAGE", "Normal Checked configmap/described looked at",
        ])
        let described = try cluster.ok("describe", "configmap", "described")
        let lines = described.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.suffix(3).first == "Type Reason Age From Message")
        #expect(lines.last?.hasPrefix("Normal Checked ") == true && lines.last?.hasSuffix(" test-tool looked at") == true)
        #expect(lines.last?.contains("(x3 over ") == true)
        // Another object's events do not show.
        try cluster.ok("create", "configmap", "other")
        #expect(try cluster.ok("describe", "configmap", "other").hasSuffix("Events:  <none>\n"))
    }

    @Test func serverDryRunsChangeNothing() throws {
        let cluster = try KubeCluster()
        #expect(try cluster.ok("create", "configmap", "dry", "--from-literal=a=1", "--dry-run=server") == "configmap/dry created (server dry run)\n")
        #expect(try cluster.kubectl("get", "configmap", "dry").err == "Error from server (NotFound): configmaps \"dry\" not found\n")
        try cluster.ok("create", "configmap", "real", "--from-literal=a=1")
        #expect(try cluster.ok("label", "configmap", "real", "x=y", "--dry-run=server") == "configmap/real labeled (server dry run)\n")
        #expect(try cluster.ok("delete", "configmap", "real", "--dry-run=server") == "configmap \"real\" deleted (server dry run)\n")
        #expect(try cluster.ok("get", "configmap", "real", "-o", "jsonpath={.metadata.name} {.metadata.labels}") == "real ")
    }

    @Test func secretsKeepBase64Data() throws {
        let cluster = try KubeCluster()
        #expect(try cluster.ok("create", "secret", "generic", "creds", "--from-literal=user=admin", "--from-literal=pw=hunter2") == "secret/creds created\n")
        #expect(try cluster.ok("get", "secret", "creds", "-o", "jsonpath={.type} {.data.pw}") == "Opaque aHVudGVyMg==")
        let table = try cluster.ok("get", "secrets")
        #expect(table.split(separator: "\n").map { $0.split(separator: " ").prefix(3).joined(separator: " ") } == ["NAME TYPE DATA", "creds Opaque 2"])
        // stringData is folded into data by the server.
        let manifest = #"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"folded"},"stringData":{"token":"abc"}}"#
        #expect(try cluster.kubectl(["create", "--validate=false", "-f", "-"], stdin: .bytes(Data(manifest.utf8))).out == "secret/folded created\n")
        #expect(try cluster.ok("get", "secret", "folded", "-o", "jsonpath={.data.token}") == "YWJj")
    }

    @Test func namespacesHoldTheirObjects() throws {
        let cluster = try KubeCluster()
        #expect(try cluster.ok("create", "namespace", "team") == "namespace/team created\n")
        try cluster.ok("create", "configmap", "settings", "-n", "team", "--from-literal=k=v")
        let all = try cluster.ok("get", "configmaps", "-A", "--no-headers")
        #expect(all.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["team settings"])
        let missing = try cluster.kubectl("create", "configmap", "x", "-n", "nowhere")
        #expect(missing.err == "error: failed to create configmap: namespaces \"nowhere\" not found\n")
        // The namespace stays Terminating until the namespace controller has emptied and finalized
        // it; an object held by a finalizer holds the namespace too, until the finalizer goes.
        let held = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: team\n  finalizers: [example.com/hold]\n"
        try cluster.kubectl(["apply", "-f", "-"], stdin: .bytes(Data(held.utf8)))
        #expect(try cluster.ok("delete", "namespace", "team", "--wait=false") == "namespace \"team\" deleted\n")
        #expect(try cluster.ok("get", "namespace", "team", "-o", "jsonpath={.status.phase}") == "Terminating")
        let refused = try cluster.kubectl("create", "configmap", "late", "-n", "team")
        #expect(refused.err == "error: failed to create configmap: configmaps \"late\" is forbidden: unable to create new content in namespace team because it is being terminated\n")
        #expect(try cluster.kubectl("wait", "--for=delete", "configmap/settings", "-n", "team", "--timeout=60s").succeeded)
        #expect(try cluster.ok("get", "namespace", "team", "-o", "jsonpath={.status.phase}") == "Terminating")
        #expect(try cluster.ok("patch", "configmap", "held", "-n", "team", "--type=merge", "-p", #"{"metadata":{"finalizers":null}}"#)
                == "configmap/held patched\n")
        #expect(try cluster.kubectl("wait", "--for=delete", "namespace/team", "--timeout=60s").succeeded)
        #expect(try cluster.ok("get", "configmaps", "-A", "-o", "name") == "")
    }

    @Test func watchPrintsChangesAsTheyHappen() throws {
        let cluster = try KubeCluster()
        try cluster.ok("create", "configmap", "before", "--from-literal=a=1")
        let watch = try cluster.startKubectl("get", "configmaps", "-w", "--output-watch-events")
        defer { watch.kill(SIGTERM); _ = watch.wait(timeout: 30) }
        try waitForOutput(watch, lines: 2)
        try cluster.ok("create", "configmap", "during", "--from-literal=a=1")
        try cluster.ok("label", "configmap", "during", "x=y")
        try cluster.ok("delete", "configmap", "during")
        try waitForOutput(watch, lines: 5)
        let lines = watch.peekOutput().split(separator: "\n").map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
        #expect(lines == ["EVENT NAME DATA", "ADDED before 1", "ADDED during 1", "MODIFIED during 1", "DELETED during 1"])
    }

    @Test func objectsSurviveAKilledDaemon() throws {
        let cluster = try KubeCluster()
        try cluster.ok("create", "configmap", "kept", "--from-literal=a=1")
        try cluster.ok("create", "secret", "generic", "kept", "--from-literal=a=1")
        let before = try cluster.ok("get", "configmap", "kept", "-o", "jsonpath={.metadata.uid} {.metadata.resourceVersion}")
        try cluster.daemon.killAndRestart()
        #expect(try cluster.ok("get", "configmap", "kept", "-o", "jsonpath={.metadata.uid} {.metadata.resourceVersion}") == before)
        #expect(try cluster.ok("get", "secret", "kept", "-o", "jsonpath={.data.a}") == "MQ==")
        // The revision counter continues where it stopped.
        try cluster.ok("create", "configmap", "after")
        let after = try cluster.ok("get", "configmap", "after", "-o", "jsonpath={.metadata.resourceVersion}")
        #expect(Int(after)! > Int(before.split(separator: " ")[1])!)
    }

    @Test func kubeConfigMergeKeepsOtherEntries() throws {
        let cluster = try KubeCluster()
        let config = cluster.sandbox.scratch + "/merged/config"
        try FileManager.default.createDirectory(atPath: cluster.sandbox.scratch + "/merged", withIntermediateDirectories: true)
        let other = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: other
              cluster: {server: "https://10.0.0.1:6443"}
            users:
            - name: other
              user: {token: abc}
            contexts:
            - name: other
              context: {cluster: other, user: other}
            current-context: other
            """
        try Data(other.utf8).write(to: URL(fileURLWithPath: config))
        // Without --kube-port: the port the daemon serves on (a free one here, not 6443).
        let merged = try Command.run(BerthSandbox.binary, ["--root", cluster.sandbox.root, "kube", "config", "--merge"],
                                     environment: ["KUBECONFIG": config], timeout: 60)
        #expect(merged.succeeded, "\(merged)")
        let contexts = try Command.run("kubectl", ["--kubeconfig", config, "config", "get-contexts", "-o", "name"], timeout: 30)
        #expect(contexts.out == "berth\nother\n")
        let current = try Command.run("kubectl", ["--kubeconfig", config, "config", "current-context"], timeout: 30)
        #expect(current.out == "berth\n")
        let version = try Command.run("kubectl", ["--kubeconfig", config, "--cache-dir", cluster.cacheDirectory, "get", "ns", "default", "-o", "name"], timeout: 60)
        #expect(version.out == "namespace/default\n")
        let mode = try FileManager.default.attributesOfItem(atPath: config)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// Waits until the watch has printed `lines` lines (a hung watch fails the test after a minute).
    private func waitForOutput(_ watch: Command.Running, lines: Int) throws {
        let deadline = Date().addingTimeInterval(60)
        while watch.peekOutput().split(separator: "\n").count < lines {
            try #require(Date() < deadline, "the watch printed only: \(watch.peekOutput())")
            usleep(20_000)
        }
    }
}
