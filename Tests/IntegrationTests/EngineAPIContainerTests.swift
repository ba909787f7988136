import Foundation
import Testing

/// Containers through `berth serve` with the real docker CLI: their lifecycle, configuration and
/// listing, and the errors dockerd gives for the same requests (the peer daemon answers them too).
@Suite(.enabled(if: Peers.engineAPI, "needs root, dockerd, the docker CLI and curl"))
struct EngineAPIContainerTests {
    private static func daemon() throws -> BerthDaemon {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        return daemon
    }

    private static func trimmed(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func createStartInspectPauseUpdateStopAndRemove() throws {
        let daemon = try Self.daemon()
        let id = Self.trimmed(try daemon.ok("create", "--name", "life", "-l", "tier=web", "-e", "GREETING=hi", "busybox", "sleep", "300"))
        #expect(id.count == 64)
        #expect(try daemon.ok("inspect", "-f", "{{.State.Status}} {{.Name}} {{.Config.Labels.tier}} {{index .Config.Env 0}}", "life")
            .hasPrefix("created /life web "))
        try daemon.ok("start", "life")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f", "{{.State.Status}} {{.State.Running}}", "life")) == "running true")
        let top = try daemon.ok("top", "life")
        #expect(top.contains("PID") && top.contains("sleep 300"), "\(top)")

        try daemon.ok("pause", "life")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "life")) == "paused true")
        #expect(try daemon.ok("ps", "--format", "{{.Names}} {{.Status}}").contains("(Paused)"))
        try daemon.ok("unpause", "life")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f", "{{.State.Status}}", "life")) == "running")

        try daemon.ok("update", "--memory", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "40", "--restart", "on-failure:2", "life")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "life")) == "67108864 500000000 512 40 on-failure:2")
        // The running container's cgroup has the new limit.
        let limit = try String(contentsOfFile: "/sys/fs/cgroup/memory/berth/\(id)/memory.limit_in_bytes", encoding: .utf8)
        #expect(Self.trimmed(limit) == "67108864")

        try daemon.ok("rename", "life", "renamed")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f", "{{.Name}}", id)) == "/renamed")
        try daemon.ok("stop", "-t", "1", "renamed")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "renamed")) == "exited 137")
        // Stopping a stopped container succeeds, as dockerd's 304 makes it.
        try daemon.ok("stop", "renamed")
        try daemon.ok("rm", "renamed")
        #expect(try daemon.ok("ps", "-aq").isEmpty)
    }

    @Test func detachedRunsPublishPortsAndRmForceEndsThem() throws {
        let daemon = try Self.daemon()
        try FileManager.default.createDirectory(atPath: daemon.sandbox.scratch + "/www", withIntermediateDirectories: true)
        try "hello from berth\n".write(toFile: daemon.sandbox.scratch + "/www/index.html", atomically: true, encoding: .utf8)
        let id = Self.trimmed(try daemon.ok("run", "-d", "--name", "web", "-p", "25111:5000", "-v", daemon.sandbox.scratch + "/www:/www:ro",
                                            "busybox", "httpd", "-f", "-p", "5000", "-h", "/www"))
        #expect(id.count == 64)
        var body = ""
        for _ in 0..<50 where !body.contains("hello") {
            body = (try? Command.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:25111/"], timeout: 10))?.out ?? ""
            if !body.contains("hello") { usleep(100_000) }
        }
        #expect(body == "hello from berth\n")
        let ps = try daemon.ok("ps", "--no-trunc", "--format", "{{.Names}}|{{.Ports}}|{{.Command}}")
        // Where the host has IPv6, Docker publishes on [::] too.
        let ports = "0.0.0.0:25111->5000/tcp" + (OutputFormatTests.hostHasIPv6 ? ", [::]:25111->5000/tcp" : "")
        #expect(ps.contains("web|\(ports)|\"httpd -f -p 5000 -h /www\""), "\(ps)")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f", "{{json .HostConfig.PortBindings}}", "web")) == #"{"5000/tcp":[{"HostIp":"","HostPort":"25111"}]}"#)
        try daemon.ok("rm", "-f", "web")
        #expect(try daemon.ok("ps", "-aq").isEmpty)
        #expect((try? Command.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:25111/"], timeout: 10))?.succeeded != true)
    }

    @Test func killRestartAndWaitReportExitCodes() throws {
        let daemon = try Self.daemon()
        try daemon.ok("run", "-d", "--name", "three", "busybox", "sh", "-c", "sleep 0.3; exit 3")
        #expect(Self.trimmed(try daemon.ok("wait", "three")) == "3")
        // PID 1 gets only the signals it handles.
        // It says when its trap is set: a signal sent before then would be lost.
        try daemon.ok("run", "-d", "--name", "sleeper", "busybox", "sh", "-c", "trap 'exit 7' USR1; touch /trapped; while true; do sleep 0.1; done")
        _ = try eventually("the trap set") { try daemon.docker("exec", "sleeper", "test", "-f", "/trapped").succeeded ? true : nil }
        try daemon.ok("kill", "-s", "USR1", "sleeper")
        #expect(Self.trimmed(try daemon.ok("wait", "sleeper")) == "7")
        try daemon.ok("restart", "-t", "1", "sleeper")
        #expect(Self.trimmed(try daemon.ok("inspect", "-f", "{{.State.Status}}", "sleeper")) == "running")
        try daemon.ok("kill", "sleeper")
        #expect(Self.trimmed(try daemon.ok("wait", "sleeper")) == "137")
        // The API's conditions: `next-exit` waits for a run that has not begun yet.
        // Each is started or removed once the wait's headers have come, as docker run does.
        let waiter = try Command.start("/usr/bin/curl", ["-sN", "-D", "-", "--unix-socket", daemon.socket, "-X", "POST",
                                                         "http://berth/containers/three/wait?condition=next-exit"])
        _ = try eventually("the next-exit wait answering") { waiter.peekOutput().contains("HTTP/1.1 200") ? true : nil }
        try daemon.ok("start", "three")
        let result = waiter.wait(timeout: 60)
        #expect(result.out.contains(#""StatusCode":3"#), "\(result)")
        let removed = try Command.start("/usr/bin/curl", ["-sN", "-D", "-", "--unix-socket", daemon.socket, "-X", "POST",
                                                          "http://berth/containers/sleeper/wait?condition=removed"])
        _ = try eventually("the removed wait answering") { removed.peekOutput().contains("HTTP/1.1 200") ? true : nil }
        try daemon.ok("rm", "sleeper")
        #expect(removed.wait(timeout: 60).out.contains(#""StatusCode":137"#))
    }

    @Test func psFiltersAndTheCLIsPsSeeTheSameContainers() throws {
        let daemon = try Self.daemon()
        try daemon.ok("create", "--name", "created", "-l", "tier=back", "busybox", "true")
        try daemon.ok("run", "-d", "--name", "up", "-l", "tier=front", "busybox", "sleep", "300")
        try daemon.ok("run", "-d", "--name", "done", "busybox", "sh", "-c", "exit 2")
        try daemon.ok("wait", "done")
        // Containers the CLI makes on the same root are the daemon's too.
        try daemon.sandbox.ok("run", "-d", "--name", "fromcli", "-l", "tier=front", "busybox", "sleep", "300")
        func names(_ arguments: String...) throws -> Set<String> {
            let result = try daemon.docker(["ps", "--format", "{{.Names}}"] + arguments)
            #expect(result.succeeded, "\(result)")
            return Set(result.out.split(separator: "\n").map(String.init))
        }
        #expect(try names() == ["up", "fromcli"])
        #expect(try names("-a") == ["created", "up", "done", "fromcli"])
        #expect(try names("-a", "--filter", "status=exited") == ["done"])
        #expect(try names("--filter", "exited=2", "-a") == ["done"])
        #expect(try names("--filter", "label=tier=front") == ["up", "fromcli"])
        #expect(try names("-a", "--filter", "label=tier", "--filter", "status=created") == ["created"])
        #expect(try names("-a", "--filter", "name=^/d") == ["done"])
        #expect(try names("-a", "--filter", "ancestor=busybox").count == 4)
        #expect(try names("-a", "--filter", "since=created") == ["up", "done", "fromcli"])
        #expect(Self.trimmed(try daemon.ok("ps", "-a", "-n", "1", "--format", "{{.Names}}")) == "fromcli")
        let bad = try daemon.docker("ps", "--filter", "bogus=1")
        #expect(!bad.succeeded && bad.err.contains("invalid filter 'bogus'"), "\(bad)")

        let format = "{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.State}} {{.Labels}}"
        let docker = try daemon.ok("ps", "-a", "--no-trunc", "--format", format)
        let berth = try daemon.sandbox.ok("ps", "-a", "--no-trunc", "--format", format)
        #expect(docker == berth)
        try daemon.ok("rm", "-f", "up", "fromcli")
    }

    @Test func lifecycleChangesAreRecordedAsDockersEvents() throws {
        let daemon = try Self.daemon()
        let id = Self.trimmed(try daemon.ok("run", "-d", "--name", "evented", "-l", "team=a", "busybox", "sleep", "300"))
        try daemon.ok("pause", "evented")
        try daemon.ok("unpause", "evented")
        try daemon.ok("update", "--cpu-shares", "256", "evented")
        try daemon.ok("rename", "evented", "renamed")
        // The CLI's actions land in the same log as the daemon's.
        try daemon.sandbox.ok("restart", "-t", "0", "renamed")
        try daemon.ok("stop", "-t", "0", "renamed")
        try daemon.ok("rm", "renamed")
        let text = try String(contentsOfFile: daemon.sandbox.root + "/events.jsonl", encoding: .utf8)
        let events = text.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }.filter { ($0["Actor"] as? [String: Any])?["ID"] as? String == id }
        let actions = events.compactMap { $0["Action"] as? String }
        #expect(actions == ["create", "start", "pause", "unpause", "update", "rename", "kill", "die", "stop", "start", "restart",
                            "kill", "die", "stop", "destroy"], "\(actions)")
        let attributes = events.compactMap { ($0["Actor"] as? [String: Any])?["Attributes"] as? [String: String] }
        #expect(attributes.first == ["name": "evented", "image": "busybox", "team": "a"])
        #expect(attributes.contains { $0["oldName"] == "/evented" && $0["name"] == "renamed" })
        #expect(attributes.contains { $0["exitCode"] == "137" })
        #expect(attributes.contains { $0["signal"] == "9" })
    }

    @Test func diffExportAndPruneSeeTheContainersFiles() throws {
        let daemon = try Self.daemon()
        try daemon.ok("run", "-d", "--name", "changer", "-l", "keep=no", "busybox", "sh", "-c", "touch /tmp/new; rm /bin/ls; echo x >> /etc/passwd")
        try daemon.ok("wait", "changer")
        let diff = try daemon.ok("diff", "changer").split(separator: "\n").map(String.init)
        #expect(diff == ["C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "C /tmp", "A /tmp/new"], "\(diff)")

        let archive = daemon.sandbox.scratch + "/changer.tar"
        try daemon.ok("export", "-o", archive, "changer")
        let entries = Set(try Command.run("/bin/tar", ["-tf", archive]).lines)
        #expect(entries.contains("tmp/new") && entries.contains("bin/sh") && !entries.contains("bin/ls"))

        try daemon.ok("create", "--name", "kept", "-l", "keep=yes", "busybox", "true")
        let pruned = try daemon.ok("container", "prune", "-f", "--filter", "label=keep=no")
        #expect(pruned.contains("Deleted Containers:"), "\(pruned)")
        #expect(Self.trimmed(try daemon.ok("ps", "-a", "--format", "{{.Names}}")) == "kept")
        let response = try daemon.request("POST", "/containers/prune")
        #expect(response.status == 200 && response.body.contains(#""ContainersDeleted":["#) && response.body.contains(#""SpaceReclaimed":"#))
        #expect(try daemon.ok("ps", "-aq").isEmpty)
    }

    @Test func unsupportedSettingsAreRefusedByName() throws {
        let daemon = try Self.daemon()
        let parent = try daemon.docker("create", "--cgroup-parent", "elsewhere", "busybox", "true")
        #expect(!parent.succeeded && parent.err.contains("HostConfig.CgroupParent is not supported by berth"), "\(parent)")
        let rule = try daemon.docker("run", "-d", "--device-cgroup-rule", "c 1:3 mr", "busybox", "true")
        #expect(!rule.succeeded && rule.err.contains("HostConfig.DeviceCgroupRules"), "\(rule)")
        let response = try daemon.request("POST", "/containers/create", body: #"{"Image":"busybox","HostConfig":{"UsernsMode":"host"}}"#)
        #expect(response.status == 400 && response.body.contains(#"HostConfig.UsernsMode is not supported by berth (got \"host\")"#),
                "\(response)")
        #expect(try daemon.ok("ps", "-aq").isEmpty)
    }

    @Test func errorsHaveDockerdsStatusesAndMessages() throws {
        let daemon = try Self.daemon()
        try PeerDocker.start()
        let suffix = String(UUID().uuidString.prefix(8)).lowercased()
        let (running, stopped) = ("cmp-run-" + suffix, "cmp-stop-" + suffix)
        func request(_ socket: String, _ method: String, _ path: String, _ body: String? = nil) throws -> (status: Int, message: String) {
            var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", socket, "-X", method, "http://docker/v1.41" + path]
            if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
            var lines = try Command.run("/usr/bin/curl", arguments, timeout: 60).out.components(separatedBy: "\n")
            let status = Int(lines.removeLast()) ?? 0
            let object = try? JSONSerialization.jsonObject(with: Data(lines.joined(separator: "\n").utf8)) as? [String: Any]
            // Container IDs differ between the daemons; the messages must agree around them.
            let message = (object?["message"] as? String ?? "").replacingOccurrences(of: #"[0-9a-f]{64}"#, with: "ID", options: .regularExpression)
            return (status, message)
        }
        for socket in [daemon.socket, "/tmp/peer-docker.sock"] {
            _ = try request(socket, "POST", "/containers/create?name=\(running)", #"{"Image":"busybox","Cmd":["sleep","300"]}"#)
            _ = try request(socket, "POST", "/containers/\(running)/start")
            _ = try request(socket, "POST", "/containers/create?name=\(stopped)", #"{"Image":"busybox","Cmd":["true"]}"#)
        }
        defer {
            for name in [running, stopped] { _ = try? PeerDocker.docker("rm", "-f", name) }
        }
        let cases: [(String, String, String?)] = [
            ("GET", "/containers/nothing-\(suffix)/json", nil),
            ("POST", "/containers/create", #"{"Image":"nothing-\#(suffix)","Cmd":["true"]}"#),
            ("POST", "/containers/create?name=\(running)", #"{"Image":"busybox","Cmd":["true"]}"#),
            ("POST", "/containers/create?name=bad%20name", #"{"Image":"busybox"}"#),
            ("POST", "/containers/create", #"{"Image":"busybox","HostConfig":{"Memory":1000}}"#),
            ("POST", "/containers/\(running)/start", nil),
            ("POST", "/containers/\(stopped)/stop", nil),
            ("POST", "/containers/\(stopped)/kill", nil),
            ("POST", "/containers/\(stopped)/pause", nil),
            ("POST", "/containers/\(running)/kill?signal=NOPE", nil),
            ("POST", "/containers/\(running)/rename?name=\(running)", nil),
            ("GET", "/containers/\(stopped)/top", nil),
            ("DELETE", "/containers/\(running)", nil),
            ("DELETE", "/containers/nothing-\(suffix)", nil),
        ]
        for (method, path, body) in cases {
            let ours = try request(daemon.socket, method, path, body)
            let theirs = try request("/tmp/peer-docker.sock", method, path, body)
            #expect(ours.status == theirs.status, "\(method) \(path): berth \(ours), dockerd \(theirs)")
            if method == "DELETE", ours.status == 409 {
                // dockerd's wording of this one changed between versions; both name the container and the remedy.
                #expect(ours.message.contains("container is running") && ours.message.contains("force remove"), "\(ours)")
            } else {
                #expect(ours.message == theirs.message, "\(method) \(path)")
            }
        }
    }
}
