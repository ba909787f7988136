import Foundation
import Testing

/// `kubectl exec`, `attach` and `cp` and the Python client's `stream` against `berth serve`,
/// over the WebSocket channel protocols (kubectl 1.32 with KUBECTL_REMOTE_COMMAND_WEBSOCKETS at
/// its default offers v5.channel.k8s.io; the Python client v5 and v4). Messages and exit codes
/// are what kubectl prints against a real cluster.
@Suite(.enabled(if: Peers.kubectl, "needs root, kubectl, curl and openssl"))
struct KubeExecTests {
    private static let shell = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: shell
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sleep", "100000"]

    """

    private func running(_ cluster: KubeCluster, _ pods: String...) throws {
        for pod in pods {
            _ = try eventually("\(pod) running") {
                try cluster.kubectl("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[*].state.running}").out.isEmpty ? nil : true
            }
        }
    }

    @Test func execReturnsOutputStreamsAndExitCodes() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(Self.shell + """
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: two
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - {name: main, image: busybox:latest, imagePullPolicy: IfNotPresent, command: ["sleep", "100000"]}
          - {name: quick, image: busybox:latest, imagePullPolicy: IfNotPresent, command: ["true"]}

        """)
        try running(cluster, "shell")

        // -v=4 logs the negotiated subprotocol: WebSockets, not the SPDY fallback.
        let failed = try cluster.kubectl(["exec", "-v=4", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(failed.status == 3, "\(failed)")
        #expect(failed.out == "out\n")
        #expect(failed.err.contains("The subprotocol is v5.channel.k8s.io"), "\(failed)")
        #expect(failed.err.hasSuffix("err\ncommand terminated with exit code 3\n"), "\(failed)")

        let words = try cluster.kubectl(["exec", "shell", "--", "echo", "two words", "a+b"])
        #expect(words.succeeded && words.out == "two words a+b\n", "\(words)")

        let piped = try cluster.kubectl(["exec", "-i", "shell", "--", "sh", "-c", "wc -c; cat"], stdin: .bytes(Data("hello\n".utf8)))
        #expect(piped.succeeded, "\(piped)")
        #expect(piped.out.split(separator: "\n").first?.trimmingCharacters(in: .whitespaces) == "6")

        let missing = try cluster.kubectl(["exec", "shell", "--", "no-such-command"])
        #expect(!missing.succeeded)
        #expect((missing.out + missing.err).contains("no-such-command"), "\(missing)")

        let badContainer = try cluster.kubectl(["exec", "shell", "-c", "nope", "--", "true"])
        #expect(badContainer.status == 1)
        #expect(badContainer.err == "Error from server (BadRequest): container nope is not valid for pod shell\n", "\(badContainer)")
        let noPod = try cluster.kubectl(["exec", "ghost", "--", "true"])
        #expect(noPod.err == "Error from server (NotFound): pods \"ghost\" not found\n", "\(noPod)")

        // A container that is not running: the kubelet's refusal, in the text kubectl prints.
        _ = try eventually("quick ended") {
            try cluster.kubectl("get", "pod", "two", "-o", "jsonpath={.status.containerStatuses[?(@.name==\"quick\")].state.terminated.reason}").out.isEmpty ? nil : true
        }
        let stopped = try cluster.kubectl(["exec", "two", "-c", "quick", "--", "true"])
        #expect(stopped.status == 1)
        #expect(stopped.err == "error: unable to upgrade connection: container not found (\"quick\")\n", "\(stopped)")
        // No -c: kubectl picks the default container itself and says so.
        let defaulted = try cluster.kubectl(["exec", "two", "--", "true"])
        #expect(defaulted.succeeded, "\(defaulted)")
        #expect(defaulted.err.contains("Defaulted container \"main\" out of: main, quick"))
    }

    /// With WebSockets turned off kubectl speaks SPDY/3.1 (stream-spdy's front end) to the same
    /// node side: the same output, exit codes and refusals.
    @Test func execOverSPDYWhenKubectlIsToldNotToUseWebSockets() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(Self.shell)
        try running(cluster, "shell")
        let spdy = ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"]
        let failed = try cluster.kubectl(["exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], environment: spdy)
        #expect(failed.status == 3, "\(failed)")
        #expect(failed.out == "out\n")
        #expect(failed.err == "err\ncommand terminated with exit code 3\n", "\(failed)")
        let piped = try cluster.kubectl(["exec", "-i", "shell", "--", "cat"], stdin: .bytes(Data("over spdy\n".utf8)), environment: spdy)
        #expect(piped.succeeded && piped.out == "over spdy\n", "\(piped)")
        let badContainer = try cluster.kubectl(["exec", "shell", "-c", "nope", "--", "true"], environment: spdy)
        #expect(badContainer.err == "Error from server (BadRequest): container nope is not valid for pod shell\n", "\(badContainer)")
    }

    /// Over WebSocket (kubectl's default) and over SPDY, its fallback.
    @Test(arguments: [false, true]) func execOnATerminalSeesItsSizeAndResizes(overSPDY: Bool) throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(Self.shell)
        try running(cluster, "shell")
        let environment = overSPDY ? ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"] : [:]
        let session = try cluster.kubectlOnTerminal(["exec", "-it", "shell", "--", "sh"], rows: 33, columns: 91, environment: environment, steps: [
            // A size and the keys typed after it travel on different streams: the shell waits
            // for the size (the echoed command line has `" ]` after the size, never `\r\n`).
            .expect("# "), .send("until [ \"$(stty size)\" = \"33 91\" ]; do sleep 0.1; done; stty size; tty\r"), .expect("33 91\r\n/dev/pts/"),
            .resize(rows: 40, columns: 100), .send("until [ \"$(stty size)\" = \"40 100\" ]; do sleep 0.1; done; stty size\r"),
            .expect("40 100\r\n"),
            // Ctrl-P Ctrl-Q, Docker's detach keys, are only keys here: cat sees them (and echoes them).
            .send("stty -ixon; echo ready; cat -v\r"), .expect("\r\nready\r\n"),
            .send("\u{10}\u{11}\r"), .expect("\\^P\\^Q\r\n\\^P\\^Q\r\n"), .send("\u{04}"),
            .send("exit 5\r"),
        ])
        #expect(session.status == 5, "\(session)")
        #expect(session.out.contains("command terminated with exit code 5"), "\(session)")
    }

    @Test func droppedClientLeavesNoProcessInTheContainer() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(Self.shell)
        try running(cluster, "shell")
        func processes() throws -> String { try cluster.kubectl(["exec", "shell", "--", "ps", "-o", "args"]).out }

        let plain = try cluster.startKubectl("exec", "shell", "--", "sh", "-c", "sleep 4321 & sleep 4322")
        _ = try eventually("the exec's processes") { try processes().contains("sleep 4321") ? true : nil }
        plain.kill(SIGKILL)
        _ = plain.wait()
        _ = try eventually("no process left of the dropped exec") {
            let left = try processes()
            return left.contains("sleep 432") ? nil : true
        }

        // With a terminal too (the command is then under a terminal helper).
        let terminal = try Command.start("python3", ["-c", "import pty, sys; pty.spawn(sys.argv[1:])", "kubectl", "--kubeconfig",
                                                    cluster.kubeconfig, "exec", "-it", "shell", "--", "sleep", "4323"])
        _ = try eventually("the terminal exec's process") { try processes().contains("sleep 4323") ? true : nil }
        terminal.kill(SIGKILL)
        _ = terminal.wait()
        // pty.spawn's kubectl loses its terminal and goes; the server sees the connection end.
        _ = try eventually("no process left of the dropped terminal exec") { try processes().contains("sleep 4323") ? nil : true }
    }

    @Test func cpCopiesFilesBothWaysByteForByte() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(Self.shell)
        try running(cluster, "shell")
        let source = cluster.sandbox.scratch + "/cp-source"
        try FileManager.default.createDirectory(atPath: source + "/sub", withIntermediateDirectories: true)
        try Data("alpha\n".utf8).write(to: URL(fileURLWithPath: source + "/a.txt"))
        try Data("beta\n".utf8).write(to: URL(fileURLWithPath: source + "/sub/b.txt"))
        var generator = SystemRandomNumberGenerator()
        let binary = Data((0..<(6 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try binary.write(to: URL(fileURLWithPath: source + "/blob.bin"))

        let upload = try cluster.kubectl(["cp", source, "shell:/tmp/copied"], timeout: 120)
        #expect(upload.succeeded, "\(upload)")
        let sums = try cluster.kubectl(["exec", "shell", "--", "sh", "-c", "cd /tmp/copied && md5sum a.txt sub/b.txt blob.bin"])
        #expect(sums.succeeded, "\(sums)")

        let back = cluster.sandbox.scratch + "/cp-back"
        let download = try cluster.kubectl(["cp", "shell:/tmp/copied", back], timeout: 120)
        #expect(download.succeeded, "\(download)")
        for file in ["a.txt", "sub/b.txt", "blob.bin"] {
            #expect(FileManager.default.contents(atPath: back + "/" + file) == FileManager.default.contents(atPath: source + "/" + file), "\(file)")
        }
        let single = cluster.sandbox.scratch + "/blob-again.bin"
        #expect(try cluster.kubectl(["cp", "shell:/tmp/copied/blob.bin", single], timeout: 120).succeeded)
        #expect(FileManager.default.contents(atPath: single) == binary)
    }

    @Test func attachToATerminalAndToPlainOutput() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: console
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: busybox:latest
            imagePullPolicy: IfNotPresent
            command: ["sh"]
            stdin: true
            tty: true
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: ticker
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: busybox:latest
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; echo tock $i >&2; sleep 0.2; done"]

        """)
        try running(cluster, "console", "ticker")

        let ticker = try cluster.startKubectl("attach", "ticker")
        // Standard output and error reach kubectl on channels of their own: both are waited for.
        _ = try eventually("attached output") { ticker.peekOutput().contains("tick") && ticker.peekError().contains("tock") ? true : nil }
        ticker.kill(SIGTERM)
        let followed = ticker.wait()
        #expect(followed.out.contains("tick"), "\(followed)")
        #expect(followed.err.contains("tock"), "\(followed)")

        let session = try cluster.kubectlOnTerminal(["attach", "-it", "console"], rows: 30, columns: 70, steps: [
            .expect("If you don't see a command prompt, try pressing enter."),
            .send("echo attached $((6*7))\r"), .expect("attached 42"),
            .send("stty size\r"), .expect("30 70"),
            // The shell's end is the container's (it restarts), and the end of the attach.
            .send("exit\r"), .expect("Session ended"),
        ])
        #expect(session.status == 0, "\(session)")
    }

    @Test func pythonClientStreamSeparatesOutputAndReportsReturnCodes() throws {
        let cluster = try KubeCluster.withBusybox()
        try cluster.apply(Self.shell)
        try running(cluster, "shell")
        let result = try cluster.python("""
        plain = stream(api.connect_get_namespaced_pod_exec, "shell", "default", command=["echo", "plain words"],
                       stderr=True, stdin=False, stdout=True, tty=False)
        r = stream(api.connect_get_namespaced_pod_exec, "shell", "default", command=["sh", "-c", "echo out; echo err >&2; exit 4"],
                   stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        r.run_forever(timeout=30)
        separated = {"stdout": r.read_stdout(timeout=1), "stderr": r.read_stderr(timeout=1), "code": r.returncode}
        r = stream(api.connect_get_namespaced_pod_exec, "shell", "default", command=["sh"],
                   stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
        r.write_stdin("echo sum $((40+2))\\n")
        seen, deadline = "", time.time() + 30
        while r.is_open() and "sum 42" not in seen and time.time() < deadline:
            r.update(timeout=1)
            seen += r.read_stdout(timeout=0)
        r.write_stdin("exit 9\\n")
        r.run_forever(timeout=30)
        print(json.dumps({"plain": plain, "separated": separated, "interactive": seen, "interactiveCode": r.returncode,
                          "protocol": r.subprotocol}))
        """)
        #expect(result.succeeded, "\(result)")
        let report = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any], "\(result)")
        #expect(report["plain"] as? String == "plain words\n")
        let separated = try #require(report["separated"] as? [String: Any])
        #expect(separated["stdout"] as? String == "out\n")
        #expect(separated["stderr"] as? String == "err\n")
        #expect(separated["code"] as? Int == 4)
        #expect(report["interactive"] as? String == "sum 42\n")
        #expect(report["interactiveCode"] as? Int == 9)
        #expect(report["protocol"] as? String == "v5.channel.k8s.io")
    }
}
