import Foundation
import Testing

/// The Kubernetes Python client (PyPI `kubernetes`) and kubernetes-validate against `berth serve`.
@Suite(.enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl")) struct KubeClientsTests {
    /// Runs a Python script with the client configured from the cluster's kubeconfig (`api` is a
    /// CoreV1Api, `apps` an AppsV1Api).
    private func python(_ cluster: KubeCluster, _ body: String) throws -> CommandResult {
        let script = """
            import sys, threading, time
            from kubernetes import client, config, watch
            config.load_kube_config(config_file=sys.argv[1])
            api = client.CoreV1Api()
            apps = client.AppsV1Api()
            \(body)
            """
        return try Command.run("python3", ["-c", script, cluster.kubeconfig], timeout: 120)
    }

    @Test func pythonClientCreatesReadsPatchesListsAndDeletes() throws {
        let cluster = try KubeCluster()
        let result = try python(cluster, """
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings", labels={"tier": "web"}), data={"mode": "fast"})
            created = api.create_namespaced_config_map("default", body)
            print("created", created.metadata.name, created.metadata.uid != None, created.data)
            read = api.read_namespaced_config_map("settings", "default")
            print("read", read.data["mode"], read.metadata.resource_version == created.metadata.resource_version)
            patched = api.patch_namespaced_config_map("settings", "default", {"data": {"mode": "slow"}})
            print("patched", patched.data)
            listed = api.list_namespaced_config_map("default", label_selector="tier=web")
            print("listed", [item.metadata.name for item in listed.items])
            print("unmatched", [item.metadata.name for item in api.list_namespaced_config_map("default", label_selector="tier=db").items])
            api.delete_namespaced_config_map("settings", "default")
            try:
                api.read_namespaced_config_map("settings", "default")
            except client.exceptions.ApiException as error:
                print("gone", error.status, error.reason)
            """)
        #expect(result.succeeded, "\(result)")
        #expect(result.lines == [
            "created settings True {'mode': 'fast'}", "read fast True", "patched {'mode': 'slow'}",
            "listed ['settings']", "unmatched []", "gone 404 Not Found",
        ], "\(result)")
    }

    @Test func pythonClientWatchesChangesAsTheyHappen() throws {
        let cluster = try KubeCluster()
        let result = try python(cluster, """
            start = api.list_namespaced_secret("default").metadata.resource_version
            def writer():
                time.sleep(0.5)
                api.create_namespaced_secret("default", client.V1Secret(metadata=client.V1ObjectMeta(name="token"), string_data={"k": "v"}))
                api.patch_namespaced_secret("token", "default", {"metadata": {"labels": {"rotated": "yes"}}})
                api.delete_namespaced_secret("token", "default")
            threading.Thread(target=writer).start()
            seen = []
            stream = watch.Watch()
            for event in stream.stream(api.list_namespaced_secret, "default", resource_version=start, timeout_seconds=30):
                seen.append(event["type"] + " " + event["object"].metadata.name + " " + str((event["object"].metadata.labels or {}).get("rotated")))
                if event["type"] == "DELETED":
                    stream.stop()
            print("\\n".join(seen))
            """)
        #expect(result.succeeded, "\(result)")
        #expect(result.lines == ["ADDED token None", "MODIFIED token yes", "DELETED token yes"], "\(result)")
    }

    @Test func pythonClientReadsTailsAndFollowsAPodsLog() throws {
        let cluster = try KubeCluster()
        _ = try cluster.sandbox.importBusybox()
        let result = try python(cluster, """
            pod = client.V1Pod(metadata=client.V1ObjectMeta(name="counter"), spec=client.V1PodSpec(termination_grace_period_seconds=1, containers=[
                client.V1Container(name="c", image="busybox:latest", image_pull_policy="IfNotPresent",
                                   command=["sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.3; done"])]))
            api.create_namespaced_pod("default", pod)
            while api.read_namespaced_pod("counter", "default").status.phase != "Running":
                time.sleep(0.25)
            while api.read_namespaced_pod_log("counter", "default").count("\\n") < 3:
                time.sleep(0.25)
            plain = api.read_namespaced_pod_log("counter", "default").splitlines()
            print("plain", plain[:3], all(line == "line %d" % (n + 1) for n, line in enumerate(plain)))
            tail = api.read_namespaced_pod_log("counter", "default", tail_lines=2).splitlines()
            print("tail", len(tail), int(tail[1].split()[1]) == int(tail[0].split()[1]) + 1)
            # The container never ends: lines arrive only if the log streams as it is written.
            response = api.read_namespaced_pod_log("counter", "default", follow=True, _preload_content=False)
            buffer = b""
            for chunk in response.stream(8):
                buffer += chunk
                if buffer.count(b"\\n") > len(plain) + 2:
                    break
            response.release_conn()
            followed = buffer.decode().splitlines()[:len(plain) + 2]
            print("followed", followed == ["line %d" % (n + 1) for n in range(len(plain) + 2)])
            api.delete_namespaced_pod("counter", "default", grace_period_seconds=1)
            """)
        #expect(result.succeeded, "\(result)")
        #expect(result.lines == ["plain ['line 1', 'line 2', 'line 3'] True", "tail 2 True", "followed True"], "\(result)")
    }

    @Test func pythonClientWatchesAPodStartRunAndGo() throws {
        let cluster = try KubeCluster()
        _ = try cluster.sandbox.importBusybox()
        let result = try python(cluster, """
            start = api.list_namespaced_pod("default").metadata.resource_version
            api.create_namespaced_pod("default", client.V1Pod(metadata=client.V1ObjectMeta(name="watched"), spec=client.V1PodSpec(
                termination_grace_period_seconds=1,
                containers=[client.V1Container(name="c", image="busybox:latest", image_pull_policy="IfNotPresent", command=["sleep", "3600"])])))
            phases = []
            types = []
            stream = watch.Watch()
            for event in stream.stream(api.list_namespaced_pod, "default", resource_version=start, timeout_seconds=100):
                types.append(event["type"])
                phase = event["object"].status.phase
                if not phases or phases[-1] != phase:
                    phases.append(phase)
                if phase == "Running" and event["object"].metadata.deletion_timestamp is None:
                    api.delete_namespaced_pod("watched", "default", grace_period_seconds=1)
                if event["type"] == "DELETED":
                    stream.stop()
            print("phases", [phase for phase in phases if phase != "Succeeded" and phase != "Failed"][:2])
            print("first", types[0], "last", types[-1])
            """)
        #expect(result.succeeded, "\(result)")
        #expect(result.lines == ["phases ['Pending', 'Running']", "first ADDED last DELETED"], "\(result)")
    }

    @Test func theVersionManifestsAreCheckedAgainstIsTheOneTheServerReports() throws {
        let cluster = try KubeCluster()
        let version = try JSONSerialization.jsonObject(with: Data(try cluster.ok("version", "-o", "json").utf8)) as? [String: Any]
        let server = try #require(version?["serverVersion"] as? [String: Any])
        #expect("\(server["major"] ?? "").\(server["minor"] ?? "").0" == KubeCluster.kubernetesVersion)
    }

    @Test func theExampleManifestsValidateAgainstTheReportedVersion() throws {
        let directory = Peers.packageRoot + "/examples/python-helloworld/k8s"
        let manifests = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(manifests == ["configmap.yaml", "deployment.yaml", "secret.yaml", "service.yaml"])
        let check = try Command.run("kubernetes-validate", ["--strict", "-k", KubeCluster.kubernetesVersion] + manifests.map { directory + "/" + $0 }, timeout: 120)
        #expect(check.succeeded, "\(check)")
        #expect(check.out.components(separatedBy: " passed for resource ").count == manifests.count + 1, "\(check)")
    }
}
