import Foundation
import Glibc
import Testing

/// A container's streams through `berth serve`, driven by the real docker 28 CLI and docker-py:
/// foreground `run` (create, attach, wait, start), logs, exec, cp, stats, and clients that go
/// away in the middle of a stream.
@Suite(.enabled(if: Peers.engineAPI, "needs root, dockerd, the docker CLI and curl"))
struct EngineAPIContainerIOTests {
    /// A daemon whose root has busybox.
    private func daemonWithBusybox() throws -> BerthDaemon {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        return daemon
    }

    /// Runs `command` under `script`, so the docker CLI has a terminal; `script -e` exits with its status.
    private func onTerminal(_ daemon: BerthDaemon, _ command: String) throws -> CommandResult {
        try Command.run("script", ["-qec", command, daemon.sandbox.scratch + "/typescript"], environment: daemon.environment,
                        timeout: 120)
    }

    @Test func aForegroundRunPrintsTheOutputAndExitsWithTheContainersCode() throws {
        let daemon = try daemonWithBusybox()
        let hi = try daemon.docker("run", "--rm", "busybox", "echo", "hi")
        #expect(hi.succeeded, "\(hi)")
        #expect(hi.out == "hi\n")
        let failing = try daemon.docker("run", "--name", "failing", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
        #expect(failing.status == 3, "\(failing)")
        #expect(failing.out == "out\n")
        #expect(failing.err == "err\n")
        // The container removes itself at once; the wait answers from its monitor's `die` event.
        for _ in 0..<5 {
            let removed = try daemon.docker("run", "--rm", "busybox", "sh", "-c", "exit 3")
            #expect(removed.status == 3, "\(removed)")
        }
        // What the run printed is the container's log.
        #expect(try daemon.ok("logs", "failing") == "out\n")
    }

    @Test func aRunWithPipedStdinGetsItAndItsEnd() throws {
        let daemon = try daemonWithBusybox()
        let result = try daemon.docker(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"],
                                       stdin: .bytes(Data("piped\nlines\n".utf8)))
        #expect(result.succeeded, "\(result)")
        #expect(result.out == "piped\nlines\ndone\n")
    }

    @Test func aRunWithATerminalAndStartAttached() throws {
        let daemon = try daemonWithBusybox()
        let run = try onTerminal(daemon, "docker run --name terminal -it busybox sh -c 'tty; exit 4'")
        #expect(run.status == 4, "\(run)")
        #expect(run.out.contains("/dev/pts/0"), "\(run)")
        try daemon.ok("create", "--name", "later", "busybox", "sh", "-c", "echo started; exit 2")
        let start = try daemon.docker("start", "-a", "later")
        #expect(start.status == 2, "\(start)")
        #expect(start.out == "started\n")
    }

    @Test func logsWithTailTimestampsSinceAndFollow() throws {
        let daemon = try daemonWithBusybox()
        try daemon.ok("run", "--name", "lines", "busybox", "sh", "-c", "echo one; echo two >&2; echo three")
        let all = try daemon.docker("logs", "lines")
        #expect(all.out == "one\nthree\n" && all.err == "two\n", "\(all)")
        // Entries of stdout and stderr are ordered by when the monitor read them: the tail is taken of one stream.
        try daemon.ok("run", "--name", "counted", "busybox", "sh", "-c", "echo one; echo two; echo three")
        #expect(try daemon.ok("logs", "--tail", "1", "counted") == "three\n")
        #expect(try daemon.ok("logs", "--tail", "2", "counted") == "two\nthree\n")
        let stamped = try daemon.ok("logs", "-t", "--tail", "1", "counted")
        #expect(stamped.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$"#, options: .regularExpression) != nil, "\(stamped)")
        #expect(try daemon.ok("logs", "--since", "2100-01-01T00:00:00Z", "lines").isEmpty)
        #expect(try daemon.ok("logs", "--until", "2000-01-01T00:00:00Z", "lines").isEmpty)
        // Following a running container ends when it stops, with everything it wrote.
        try daemon.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.2; done")
        let followed = try daemon.docker("logs", "-f", "ticker")
        #expect(followed.succeeded, "\(followed)")
        #expect(followed.out == "tick1\ntick2\ntick3\n")
    }

    @Test func execRunsWithItsOptionsAndExitCodes() throws {
        let daemon = try daemonWithBusybox()
        try daemon.ok("run", "-d", "--name", "box", "busybox", "sleep", "1000")
        let failing = try daemon.docker("exec", "box", "sh", "-c", "echo out; echo err >&2; exit 7")
        #expect(failing.status == 7, "\(failing)")
        #expect(failing.out == "out\n" && failing.err == "err\n")
        let settings = try daemon.ok("exec", "-e", "GREETING=hello", "-u", "nobody", "-w", "/tmp", "box",
                                     "sh", "-c", "echo $GREETING $(id -u) $(pwd)")
        #expect(settings == "hello 65534 /tmp\n")
        let piped = try daemon.docker(["exec", "-i", "box", "sh", "-c", "cat; echo end"], stdin: .bytes(Data("input\n".utf8)))
        #expect(piped.out == "input\nend\n", "\(piped)")
        let missing = try daemon.docker("exec", "box", "no-such-command")
        // Docker 20.10's code (newer ones exit 127 here), its message once, on stdout.
        #expect(missing.status == 126, "\(missing)")
        #expect(missing.out.contains("executable file not found") && missing.err.isEmpty, "\(missing)")
        let terminal = try onTerminal(daemon, "docker exec -it box sh -c 'tty; exit 5'")
        #expect(terminal.status == 5, "\(terminal)")
        #expect(terminal.out.contains("/dev/pts/"), "\(terminal)")
        #expect(try daemon.docker("exec", "-d", "box", "sh", "-c", "echo detached > /tmp/mark").succeeded)
    }

    @Test func execAndStreamErrorsMatchDockerd() throws {
        let daemon = try daemonWithBusybox()
        try PeerDocker.start()
        try daemon.ok("create", "--name", "idle", "busybox", "true")
        let stopped = try daemon.request("POST", "/v1.47/containers/idle/exec", body: #"{"Cmd":["true"]}"#)
        #expect(stopped.status == 409, "\(stopped)")
        #expect(stopped.body.contains("is not running"))
        let noCommand = try daemon.request("POST", "/v1.47/containers/idle/exec", body: #"{"Cmd":[]}"#)
        #expect(noCommand.status == 400, "\(noCommand)")
        let unknown = try daemon.request("GET", "/v1.47/exec/0123456789abcdef/json")
        #expect(unknown.status == 404 && unknown.body.contains("No such exec instance: 0123456789abcdef"), "\(unknown)")
        let noStream = try daemon.request("GET", "/v1.47/containers/idle/logs")
        let peerNoStream = try Command.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "--unix-socket", "/tmp/peer-docker.sock",
                                                             "http://docker/v1.41/containers/no-such/logs"])
        #expect(noStream.status == 400 && peerNoStream.out.hasSuffix("400"), "\(noStream) \(peerNoStream)")
        #expect(noStream.body.contains("Bad parameters: you must choose at least one stream"))
        let missingPath = try daemon.request("HEAD", "/v1.47/containers/idle/archive?path=/no/such/file")
        #expect(missingPath.status == 404, "\(missingPath)")
    }

    @Test func copyBothWaysWithRunningAndStoppedContainers() throws {
        let daemon = try daemonWithBusybox()
        let host = daemon.sandbox.scratch + "/host"
        try FileManager.default.createDirectory(atPath: host + "/tree/sub", withIntermediateDirectories: true)
        try Data("content\n".utf8).write(to: URL(fileURLWithPath: host + "/tree/sub/file.txt"))
        try daemon.ok("run", "-d", "--name", "running", "busybox", "sleep", "1000")
        try daemon.ok("cp", host + "/tree", "running:/tmp/")
        #expect(try daemon.ok("exec", "running", "cat", "/tmp/tree/sub/file.txt") == "content\n")
        try daemon.ok("cp", "running:/etc/hostname", host + "/hostname")
        let hostname = try String(contentsOfFile: host + "/hostname", encoding: .utf8)
        let inContainer = try daemon.ok("exec", "running", "cat", "/etc/hostname")
        #expect(!hostname.isEmpty && hostname == inContainer)
        try daemon.ok("create", "--name", "stopped", "busybox", "true")
        try daemon.ok("cp", host + "/tree/sub/file.txt", "stopped:/root/copied.txt")
        try daemon.ok("cp", "stopped:/root/copied.txt", host + "/back.txt")
        #expect(try String(contentsOfFile: host + "/back.txt", encoding: .utf8) == "content\n")
        try daemon.ok("cp", "running:/tmp/tree", host + "/out")
        #expect(try String(contentsOfFile: host + "/out/sub/file.txt", encoding: .utf8) == "content\n")
        let missing = try daemon.docker("cp", "running:/no/such/file", host + "/nothing")
        #expect(!missing.succeeded && missing.err.contains("Could not find the file /no/such/file in container running"), "\(missing)")
    }

    @Test func statsWithoutStreamingShowsTheContainersUse() throws {
        let daemon = try daemonWithBusybox()
        try daemon.ok("run", "-d", "--name", "busy", "busybox", "sleep", "1000")
        let table = try daemon.ok("stats", "--no-stream", "busy")
        let lines = table.split(separator: "\n")
        #expect(lines.count == 2, "\(table)")
        #expect(lines.first?.contains("MEM USAGE / LIMIT") == true)
        let row = lines.last.map(String.init) ?? ""
        #expect(row.contains("busy") && row.contains("%") && row.contains(" / "), "\(row)")
        let pids = try daemon.ok("stats", "--no-stream", "--format", "{{.PIDs}} {{.MemUsage}}", "busy")
        let fields = pids.split(separator: " ")
        #expect(Int(fields.first ?? "") ?? 0 >= 1, "\(pids)")
        #expect(!pids.hasPrefix("0 0B"), "\(pids)")
    }

    /// The daemon's open descriptors, to see what a stream held is released.
    private func openDescriptors(_ daemon: BerthDaemon) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.process.pid)/fd").count) ?? 0
    }

    /// Waits (up to a minute) for the daemon to hold no more descriptors than `baseline`.
    private func descriptorsReturn(to baseline: Int, _ daemon: BerthDaemon) -> Bool {
        for _ in 0..<600 {
            if openDescriptors(daemon) <= baseline { return true }
            usleep(100_000)
        }
        return false
    }

    /// Waits (up to a minute) for `running` to have printed `text`.
    private func waitForOutput(_ text: String, in running: Command.Running) -> Bool {
        for _ in 0..<600 {
            if running.peekOutput().contains(text) { return true }
            usleep(100_000)
        }
        return false
    }

    @Test func clientsKilledMidLogsAndMidAttachLeaveNothingBehind() throws {
        let daemon = try daemonWithBusybox()
        try daemon.ok("run", "-d", "--name", "talker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done")
        _ = try eventually("talker's first line logged") { try daemon.ok("logs", "--tail", "1", "talker").isEmpty ? nil : true }
        let baseline = openDescriptors(daemon)
        let follower = try Command.start("docker", ["logs", "-f", "talker"], environment: daemon.environment)
        #expect(waitForOutput("tick", in: follower))
        follower.kill(SIGKILL)
        _ = follower.wait()
        #expect(descriptorsReturn(to: baseline, daemon), "the daemon still holds \(openDescriptors(daemon)) descriptors, \(baseline) before")
        let attached = try Command.start("docker", ["run", "--name", "foreground", "busybox", "sh", "-c",
                                                    "while true; do echo beat; sleep 0.2; done"], environment: daemon.environment)
        #expect(waitForOutput("beat", in: attached))
        attached.kill(SIGKILL)
        _ = attached.wait()
        // The container runs on, as with dockerd; the daemon lets go of the attachment and serves on.
        #expect(try daemon.ok("inspect", "--format", "{{.State.Running}}", "foreground") == "true\n")
        try daemon.ok("rm", "-f", "foreground", "talker")
        #expect(descriptorsReturn(to: baseline, daemon), "the daemon still holds \(openDescriptors(daemon)) descriptors, \(baseline) before")
        #expect(try daemon.ok("run", "--rm", "busybox", "echo", "still serving") == "still serving\n")
    }

    @Test func dockerPyRunsInTheForegroundAndExecs() throws {
        let daemon = try daemonWithBusybox()
        try daemon.ok("run", "-d", "--name", "target", "busybox", "sleep", "1000")
        let script = """
            import docker
            client = docker.from_env()
            print(repr(client.containers.run("busybox", ["sh", "-c", "echo hi; echo err >&2"], remove=True)))
            try:
                client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
            except docker.errors.ContainerError as error:
                print("failed", error.exit_status, repr(error.stderr))
            target = client.containers.get("target")
            result = target.exec_run(["sh", "-c", "echo out; echo err >&2; exit 2"], demux=True)
            print(result.exit_code, repr(result.output))
            print(repr(target.exec_run("tty", tty=True).output))
            """
        let result = try Command.run("python3", ["-c", script], environment: daemon.environment, timeout: 120)
        #expect(result.succeeded, "\(result)")
        #expect(result.lines == [
            "b'hi\\n'", "failed 3 b'bad\\n'", "2 (b'out\\n', b'err\\n')", "b'/dev/pts/0\\r\\n'",
        ], "\(result)")
    }
}
