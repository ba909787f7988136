import BerthNetwork
import BerthRuntime
import Foundation
import Glibc
import Testing

/// The container commands through the built `berth` binary (root only).
@Suite(.serialized)
struct CommandLineTests {
    typealias Result = CommandResult

    func berth(_ fixture: RuntimeFixture, _ arguments: String...) throws -> Result {
        try berth(fixture, arguments)
    }

    /// Polls `inspect --format` for up to ten seconds until it prints `expected`; returns the last output.
    func inspectUntil(_ fixture: RuntimeFixture, _ name: String, format: String, is expected: String) throws -> String {
        var current = ""
        for _ in 0..<200 where current != expected {
            current = try berth(fixture, "inspect", "--format", format, name).stdout
            usleep(50_000)
        }
        return current
    }

    func berth(_ fixture: RuntimeFixture, _ arguments: [String]) throws -> Result {
        try fixture.berth(arguments)
    }

    @Test func foregroundRunStreamsOutputAndExitsWithTheContainersCode() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let result = try berth(fixture, "run", "--rm", "--network", "none", "-e", "WHO=world", "busybox",
                               "sh", "-c", "echo hello $WHO; echo oops >&2; exit 4")
        #expect(result.status == 4)
        #expect(result.stdout == "hello world\n")
        #expect(result.stderr == "oops\n")
        #expect(try berth(fixture, "ps", "-aq").stdout == "")
    }

    @Test func detachedLifecycle() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let run = try berth(fixture, "run", "-d", "--name", "ticker", "--network", "none", "busybox",
                            "sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done")
        #expect(run.status == 0)
        let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 64)
        #expect(try berth(fixture, "ps", "-q").stdout == String(id.prefix(12)) + "\n")
        let table = try berth(fixture, "ps").stdout.split(separator: "\n")
        #expect(table.first?.hasPrefix("CONTAINER ID   IMAGE     COMMAND") == true)
        #expect(table.count == 2 && table[1].contains("Up ") && table[1].hasSuffix("ticker"))

        var logs = ""
        for _ in 0..<50 where logs.isEmpty {
            logs = try berth(fixture, "logs", "ticker").stdout
            usleep(20_000)
        }
        #expect(logs == "ready\n")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}} {{.Name}}", "ticker").stdout == "running /ticker\n")
        #expect(try berth(fixture, "stop", "ticker").status == 0)
        #expect(try berth(fixture, "ps", "-a", "--format", "{{.Status}}").stdout.hasPrefix("Exited (0) "))
        #expect(try berth(fixture, "wait", "ticker").stdout == "0\n")
        #expect(try berth(fixture, "rm", "ticker").stdout == "ticker\n")
        #expect(fixture.leftovers(id) == [])
        let missing = try berth(fixture, "rm", "ticker")
        #expect(missing.status == 1 && missing.stderr.contains("No such container: ticker"))
    }

    @Test func renameRestartAndPrune() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let loop = ["sh", "-c", "trap 'exit 0' TERM; echo started; while true; do sleep 0.1; done"]
        #expect(try berth(fixture, ["run", "-d", "--name", "first", "--network", "none", "busybox"] + loop).status == 0)
        #expect(try berth(fixture, "create", "--name", "idle", "--network", "none", "busybox", "true").status == 0)

        #expect(try berth(fixture, "rename", "first", "renamed").status == 0)
        #expect(try berth(fixture, "inspect", "--format", "{{.Name}}", "renamed").stdout == "/renamed\n")
        let clash = try berth(fixture, "rename", "renamed", "idle")
        #expect(clash.status == 1)
        #expect(clash.stderr.contains("The container name \"/idle\" is already in use"))
        #expect(try berth(fixture, "rename", "renamed", "bad name!").status != 0)

        let startedAt = try berth(fixture, "inspect", "--format", "{{.State.StartedAt}}", "renamed").stdout
        #expect(try berth(fixture, "restart", "-t", "5", "renamed").stdout == "renamed\n")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.Status}}", "renamed").stdout == "running\n")
        #expect(try berth(fixture, "inspect", "--format", "{{.State.StartedAt}}", "renamed").stdout != startedAt)
        var logs = ""
        for _ in 0..<100 where logs != "started\nstarted\n" {
            logs = try berth(fixture, "logs", "renamed").stdout
            usleep(20_000)
        }
        #expect(logs == "started\nstarted\n")

        // Prune takes the created container and leaves the running one.
        let idleID = try berth(fixture, "inspect", "--format", "{{.Id}}", "idle").stdout
        let prune = try berth(fixture, "container", "prune", "-f")
        #expect(prune.stdout.hasPrefix("Deleted Containers:\n" + idleID + "\nTotal reclaimed space: "))
        #expect(try berth(fixture, "ps", "-a", "--format", "{{.Names}}").stdout == "renamed\n")
        #expect(try berth(fixture, "rm", "-f", "renamed").status == 0)
        #expect(try berth(fixture, "container", "prune", "-f").stdout == "Total reclaimed space: 0B\n")
    }

    @Test func psFiltersAsDockerDoes() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "--name", "ok", "--label", "tier=web", "--network", "none", "busybox", "true").status == 0)
        #expect(try berth(fixture, "run", "--name", "failed", "--label", "tier=db", "--network", "none", "busybox", "sh", "-c", "exit 3").status == 3)
        #expect(try berth(fixture, "create", "--name", "fresh", "--network", "none", "busybox", "true").status == 0)
        func names(_ filters: String...) throws -> String {
            try berth(fixture, ["ps", "-a", "--format", "{{.Names}}"] + filters.flatMap { ["--filter", $0] }).stdout
        }
        #expect(try names("status=exited") == "failed\nok\n")
        #expect(try names("status=created") == "fresh\n")
        #expect(try names("exited=3") == "failed\n")
        #expect(try names("label=tier") == "failed\nok\n")
        #expect(try names("label=tier=web") == "ok\n")
        #expect(try names("name=^/f") == "fresh\nfailed\n")
        #expect(try names("name=ok", "name=fresh") == "fresh\nok\n")
        #expect(try names("name=^/f", "status=exited") == "failed\n")
        #expect(try names("ancestor=busybox") == "fresh\nfailed\nok\n")
        #expect(try names("before=fresh") == "failed\nok\n")
        #expect(try names("since=ok") == "fresh\nfailed\n")
        // A status filter lists stopped containers without -a, as Docker does.
        #expect(try berth(fixture, "ps", "--filter", "status=exited", "-q").stdout.split(separator: "\n").count == 2)
        let bad = try berth(fixture, "ps", "--filter", "status=sleeping")
        #expect(bad.status != 0 && bad.stderr.contains("invalid filter 'status=sleeping'"))
        #expect(try berth(fixture, "ps", "--filter", "colour=red").stderr.contains("invalid filter 'colour'"))
    }

    @Test func logsSinceAndUntil() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "--name", "talker", "--network", "none", "busybox",
                          "sh", "-c", "echo early; sleep 1.2; echo late").status == 0)
        let stamped = try berth(fixture, "logs", "-t", "talker").stdout.split(separator: "\n")
        #expect(stamped.count == 2)
        let lateTime = String(stamped[1].split(separator: " ")[0])
        #expect(try berth(fixture, "logs", "--since", lateTime, "talker").stdout == "late\n")
        #expect(try berth(fixture, "logs", "--until", lateTime, "talker").stdout == "early\nlate\n")
        #expect(try berth(fixture, "logs", "--since", "1h", "talker").stdout == "early\nlate\n")
        #expect(try berth(fixture, "logs", "--until", "1h", "talker").stdout == "")
        #expect(try berth(fixture, "logs", "--since", "2000-01-01", "--tail", "1", "talker").stdout == "late\n")
        let bad = try berth(fixture, "logs", "--since", "yesterday", "talker")
        #expect(bad.status != 0 && bad.stderr.contains("failed to parse value as time or duration"))
    }

    @Test func portListsPublishedBindings() throws {
        if RuntimeFixture.skipped() { return }
        if let reason = RuntimeFixture.bridgeSkipReason {
            FileHandle.standardError.write(Data("SKIPPING portListsPublishedBindings: \(reason)\n".utf8))
            return
        }
        let fixture = try RuntimeFixture()
        let run = try berth(fixture, "run", "-d", "--name", "web", "-p", "127.0.0.1:18181:80", "-p", "18182:81/udp",
                            "busybox", "sleep", "30")
        #expect(run.status == 0, "\(run.stderr)")
        // As Docker: a port published on every address is on [::] too where the host has IPv6.
        let ipv6 = PortProxy.hostHasIPv6
        #expect(try berth(fixture, "port", "web").stdout
            == "80/tcp -> 127.0.0.1:18181\n81/udp -> 0.0.0.0:18182\n" + (ipv6 ? "81/udp -> [::]:18182\n" : ""))
        #expect(try berth(fixture, "port", "web", "81/udp").stdout == "0.0.0.0:18182\n" + (ipv6 ? "[::]:18182\n" : ""))
        let missing = try berth(fixture, "port", "web", "82")
        #expect(missing.status == 1 && missing.stderr == "Error: No public port '82' published for web\n")
        #expect(try berth(fixture, "rm", "-f", "web").status == 0)

        // -P publishes each exposed port on a random host port, except one -p maps already.
        #expect(try berth(fixture, "import", "--change", "EXPOSE 7070 7071/udp", "--change", "CMD [\"sleep\", \"30\"]",
                          RuntimeFixture.busyboxRootfs ?? "", "exposing:1").status == 0)
        #expect(try berth(fixture, "run", "-d", "--name", "all", "-P", "-p", "18183:7070", "exposing:1").status == 0)
        let ports = try berth(fixture, "port", "all").stdout.split(separator: "\n").filter { !$0.contains("[::]") }
        #expect(ports.count == 2)
        #expect(ports.first == "7070/tcp -> 0.0.0.0:18183")
        #expect(ports.last?.hasPrefix("7071/udp -> 0.0.0.0:") == true && ports.last?.hasSuffix(":0") == false)
        #expect(try berth(fixture, "rm", "-f", "all").status == 0)
    }

    @Test func volumesBindsAndTmpfs() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let host = fixture.root + "/host-dir"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try Data("from the host\n".utf8).write(to: URL(fileURLWithPath: host + "/greeting"))

        // A named volume keeps data between containers; a bind shows the host's files, read-only
        // when asked; --tmpfs and --mount type=tmpfs are empty tmpfs mounts.
        #expect(try berth(fixture, "volume", "create", "--label", "team=a", "store").stdout == "store\n")
        let write = try berth(fixture, "run", "--rm", "--network", "none", "-v", "store:/store", "-v", host + ":/host:ro",
                              "--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,target=/other",
                              "busybox", "sh", "-c",
                              "cat /host/greeting; echo kept > /store/file; touch /host/x 2>/dev/null || echo read-only;"
                              + " grep -E ' /(scratch|other) ' /proc/mounts | cut -d' ' -f2,3")
        #expect(write.status == 0, "\(write.stderr)")
        #expect(write.stdout == "from the host\nread-only\n/other tmpfs\n/scratch tmpfs\n")
        let read = try berth(fixture, "run", "--rm", "--network", "none", "--mount", "type=volume,source=store,target=/data",
                             "busybox", "cat", "/data/file")
        #expect(read.stdout == "kept\n")

        // A new volume is filled from the image's directory at its mount point.
        let copied = try berth(fixture, "run", "--rm", "--network", "none", "-v", "etc-copy:/etc", "busybox", "cat", "/etc/passwd")
        #expect(copied.status == 0 && copied.stdout.hasPrefix("root:"))

        // Mounts in inspect, as Docker shows them.
        #expect(try berth(fixture, "create", "--name", "holder", "--network", "none", "-v", "store:/store",
                          "-v", "/anon", "-v", host + ":/host:ro", "busybox", "true").status == 0)
        let mounts = try berth(fixture, "inspect", "--format",
                               "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Mode}} {{.Propagation}};{{end}}", "holder")
        #expect(mounts.stdout == "volume /store true z ;volume /anon true z ;bind /host false ro rprivate;\n")
        // `-v /anon` is an anonymous volume: Config.Volumes, not a bind, as the docker CLI sends it.
        #expect(try berth(fixture, "inspect", "--format", "{{json .HostConfig.Binds}} {{json .Config.Volumes}}", "holder").stdout
            == "[\"store:/store\",\"\(host):/host:ro\"] {\"/anon\":{}}\n")
        #expect(try berth(fixture, "ps", "-a", "--filter", "volume=store", "--format", "{{.Names}}").stdout == "holder\n")
        let mountsJSON = try berth(fixture, "inspect", "--format", "{{json .Mounts}}", "holder").stdout
        let entries = try JSONSerialization.jsonObject(with: Data(mountsJSON.utf8)) as? [[String: Any]]
        let anonymous = entries?.first { $0["Destination"] as? String == "/anon" }?["Name"] as? String ?? ""
        #expect(anonymous.count == 64)
        #expect(entries?.first?["Source"] as? String == fixture.root + "/volumes/store/_data")

        // A volume in use cannot be removed; rm -v takes the anonymous volume but not the named one.
        let busy = try berth(fixture, "volume", "rm", "store")
        #expect(busy.status == 1 && busy.stderr.contains("remove store: volume is in use - ["))
        #expect(try berth(fixture, "rm", "-v", "holder").status == 0)
        let names = try berth(fixture, "volume", "ls", "-q").stdout
        #expect(names == "etc-copy\nstore\n")
        #expect(try berth(fixture, "volume", "ls").stdout == "DRIVER    VOLUME NAME\nlocal     etc-copy\nlocal     store\n")
        #expect(try berth(fixture, "volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Labels.team}} {{.Scope}}",
                          "store").stdout == "store local a local\n")
        #expect(try berth(fixture, "volume", "ls", "-q", "--filter", "label=team=a").stdout == "store\n")
        #expect(try berth(fixture, "volume", "rm", "store").stdout == "store\n")
        #expect(try berth(fixture, "volume", "inspect", "store").stderr == "Error: No such volume: store\n")
        #expect(try berth(fixture, "volume", "prune", "-f", "-a").stdout.hasPrefix("Deleted Volumes:\netc-copy\n"))

        // --rm takes the container's anonymous volumes with it.
        #expect(try berth(fixture, "run", "--rm", "--network", "none", "-v", "/anon", "busybox", "true").status == 0)
        #expect(try berth(fixture, "volume", "ls", "-q").stdout == "")

        // Bad specifications fail before anything is made.
        let bad = try berth(fixture, "run", "--rm", "-v", "data:relative", "busybox", "true")
        #expect(bad.status != 0 && bad.stderr.contains("mount path must be absolute"))
        let missing = try berth(fixture, "run", "--rm", "--mount", "type=bind,source=/nonexistent/x,target=/x", "busybox", "true")
        #expect(missing.status != 0 && missing.stderr.contains("bind source path does not exist: /nonexistent/x"))
        #expect(try berth(fixture, "ps", "-aq").stdout == "")
        #expect(try berth(fixture, "volume", "ls", "-q").stdout == "")
    }

    @Test func execRunsInTheRunningContainer() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "-d", "--name", "box", "--network", "none", "-e", "FROM_RUN=1", "-w", "/tmp",
                          "busybox", "sleep", "60").status == 0)
        let plain = try berth(fixture, "exec", "box", "sh", "-c", "echo $FROM_RUN $(pwd) $(id -u); echo err >&2; exit 3")
        #expect(plain.status == 3)
        #expect(plain.stdout == "1 /tmp 0\n")
        #expect(plain.stderr == "err\n")
        let options = try berth(fixture, "exec", "-e", "EXTRA=x", "-u", "nobody", "-w", "/", "box",
                                "sh", "-c", "echo $EXTRA $(pwd) $(id -un) $HOME")
        #expect(options.stdout == "x / nobody /nonexistent\n", "\(options.stderr)")
        // Without -i the command gets no input; with -i it reads ours.
        #expect(try berth(fixture, "exec", "box", "cat").stdout == "")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RuntimeFixture.berthBinary ?? "")
        process.arguments = ["--root", fixture.root, "exec", "-i", "box", "tr", "a-z", "A-Z"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data("piped\n".utf8))
        try input.fileHandleForWriting.close()
        let echoed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: echoed, as: UTF8.self) == "PIPED\n")
        // -d returns at once; the command runs on in the container.
        #expect(try berth(fixture, "exec", "-d", "box", "sh", "-c", "sleep 0.2; touch /tmp/detached").status == 0)
        var found = false
        for _ in 0..<50 where !found {
            found = try berth(fixture, "exec", "box", "test", "-e", "/tmp/detached").status == 0
            usleep(50_000)
        }
        #expect(found)
        // Docker 20.10's code and words, once, on stdout (UserGroupTests compares them with the peer's).
        let missing = try berth(fixture, "exec", "box", "no-such-command")
        #expect(missing.status == 126)
        #expect(missing.stdout.contains("OCI runtime exec failed") && missing.stdout.contains("no-such-command") && missing.stderr.isEmpty)
        #expect(try berth(fixture, "stop", "-t", "0", "box").status == 0)
        let stopped = try berth(fixture, "exec", "box", "true")
        #expect(stopped.status == 1 && stopped.stderr.contains("is not running"))
        #expect(try berth(fixture, "rm", "box").status == 0)
    }

    @Test func restartPolicies() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let stateFormat = "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}"
        func state(_ name: String) throws -> String {
            try berth(fixture, "inspect", "--format", stateFormat, name).stdout
        }
        func waitFor(_ name: String, _ expected: String) throws -> String {
            try inspectUntil(fixture, name, format: stateFormat, is: expected)
        }
        // on-failure:2 runs the failing command three times, then leaves it exited.
        #expect(try berth(fixture, "run", "-d", "--name", "flaky", "--restart", "on-failure:2", "--network", "none",
                          "busybox", "sh", "-c", "echo run; exit 3").status == 0)
        #expect(try waitFor("flaky", "exited 2 3\n") == "exited 2 3\n")
        #expect(try berth(fixture, "logs", "flaky").stdout == "run\nrun\nrun\n")
        #expect(try berth(fixture, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
                          "flaky").stdout == "on-failure:2\n")
        // on-failure does not restart a success.
        #expect(try berth(fixture, "run", "-d", "--name", "fine", "--restart", "on-failure", "--network", "none",
                          "busybox", "true").status == 0)
        #expect(try waitFor("fine", "exited 0 0\n") == "exited 0 0\n")
        // always restarts a clean exit too, until stopped; stop keeps it stopped.
        #expect(try berth(fixture, "run", "-d", "--name", "looper", "--restart", "always", "--network", "none",
                          "busybox", "sh", "-c", "sleep 0.2").status == 0)
        var count = 0
        for _ in 0..<100 where count < 2 {
            count = Int(try berth(fixture, "inspect", "--format", "{{.RestartCount}}", "looper").stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            usleep(50_000)
        }
        #expect(count >= 2)
        #expect(try berth(fixture, "stop", "-t", "1", "looper").status == 0)
        let stopped = try state("looper")
        #expect(stopped.hasPrefix("exited "))
        usleep(600_000)
        #expect(try state("looper") == stopped)
        #expect(try berth(fixture, "rm", "looper").status == 0)
        // Bad values and --rm conflict as in Docker.
        #expect(try berth(fixture, "run", "--restart", "sometimes", "busybox", "true").stderr.contains("invalid restart policy 'sometimes'"))
        #expect(try berth(fixture, "run", "--rm", "--restart", "always", "busybox", "true").stderr
            .contains("Conflicting options: --restart and --rm"))
    }

    @Test func healthChecksReportInPsAndInspect() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        func waitFor(_ name: String, _ expected: String) throws -> String {
            try inspectUntil(fixture, name, format: "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", is: expected)
        }
        // Healthy once /tmp/ready exists; unhealthy after two failures.
        #expect(try berth(fixture, "run", "-d", "--name", "checked", "--network", "none", "--health-cmd", "test -e /tmp/ready && echo ok",
                          "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60").status == 0)
        #expect(try waitFor("checked", "unhealthy 2\n") == "unhealthy 2\n")
        #expect(try berth(fixture, "ps", "--format", "{{.Status}}").stdout.hasSuffix("(unhealthy)\n"))
        #expect(try berth(fixture, "ps", "-q", "--filter", "health=unhealthy").stdout.split(separator: "\n").count == 1)
        #expect(try berth(fixture, "exec", "checked", "touch", "/tmp/ready").status == 0)
        #expect(try waitFor("checked", "healthy 0\n") == "healthy 0\n")
        let log = try berth(fixture, "inspect", "--format", "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}{{end}}", "checked").stdout
        #expect(log.hasSuffix("0:ok\n\n"))
        #expect(try berth(fixture, "inspect", "--format", "{{json .Config.Healthcheck}}", "checked").stdout
            == "{\"Test\":[\"CMD-SHELL\",\"test -e /tmp/ready && echo ok\"],\"Interval\":200000000,\"Retries\":2}\n")
        #expect(try berth(fixture, "rm", "-f", "checked").status == 0)

        // The image's HEALTHCHECK applies unless --no-healthcheck; a time-out counts as a failure.
        #expect(try berth(fixture, "import", "--change", "HEALTHCHECK --interval=200ms --timeout=300ms --retries=1 CMD sleep 5",
                          "--change", "CMD [\"sleep\", \"60\"]", RuntimeFixture.busyboxRootfs ?? "", "slow-check:1").status == 0)
        #expect(try berth(fixture, "run", "-d", "--name", "slow", "--network", "none", "slow-check:1").status == 0)
        #expect(try waitFor("slow", "unhealthy 1\n") == "unhealthy 1\n")
        #expect(try berth(fixture, "inspect", "--format", "{{range .State.Health.Log}}{{.Output}}{{end}}", "slow").stdout
            .contains("Health check exceeded timeout"))
        #expect(try berth(fixture, "run", "-d", "--name", "unchecked", "--network", "none", "--no-healthcheck", "slow-check:1").status == 0)
        #expect(try berth(fixture, "ps", "--filter", "health=none", "--format", "{{.Names}}").stdout == "unchecked\n")
        #expect(try berth(fixture, "rm", "-f", "slow", "unchecked").status == 0)
    }

    @Test func initAndTop() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        // --init makes tini PID 1 and the command its child; without it the command is PID 1.
        let withInit = try berth(fixture, "run", "--rm", "--init", "--network", "none", "busybox", "sh", "-c", "cat /proc/1/comm; echo $$")
        #expect(withInit.status == 0, "\(withInit.stderr)")
        let lines = withInit.stdout.split(separator: "\n")
        #expect(lines.first == "docker-init")
        #expect(lines.last != "1")
        #expect(try berth(fixture, "run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo $$").stdout == "1\n")
        #expect(try berth(fixture, "create", "--init", "--name", "inited", "busybox", "true").status == 0)
        #expect(try berth(fixture, "inspect", "--format", "{{.HostConfig.Init}}", "inited").stdout == "true\n")

        #expect(try berth(fixture, "run", "-d", "--name", "sleeper", "--network", "none", "busybox", "sh", "-c", "sleep 61 & sleep 62").status == 0)
        let top = try berth(fixture, "top", "sleeper").stdout.split(separator: "\n").map(String.init)
        #expect(top.first?.hasPrefix("UID                 PID                 PPID") == true, "\(top)")
        // sh runs its last command in its own place, so two processes remain: both sleeps.
        #expect(top.count == 3, "\(top)")
        #expect(top.contains { $0.hasSuffix("sleep 61") } && top.contains { $0.hasSuffix("sleep 62") })
        let custom = try berth(fixture, "top", "sleeper", "-o", "pid,comm").stdout.split(separator: "\n")
        #expect(custom.count == 3 && custom.first?.hasPrefix("PID") == true)
        #expect(try berth(fixture, "rm", "-f", "sleeper").status == 0)
        #expect(try berth(fixture, "top", "inited").stderr.contains("is not running"))
    }

    @Test func statsReadTheCgroups() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        // A busy loop under a 64 MiB limit with three processes, and an idle container.
        #expect(try berth(fixture, "run", "-d", "--name", "busy", "--network", "none", "--memory", "64m", "busybox",
                          "sh", "-c", "sleep 60 & sleep 61 & while true; do :; done").status == 0)
        #expect(try berth(fixture, "run", "-d", "--name", "idle", "--network", "none", "busybox", "sleep", "60").status == 0)
        let stats = try berth(fixture, "stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", "busy", "idle")
        let lines = stats.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        try #require(lines.count == 2, "\(stats)")
        #expect(lines[0][0] == "busy" && lines[0][4] == "64MiB" && lines[0][5] == "3", "\(lines)")
        let busyCPU = Double(lines[0][1].dropLast()) ?? 0
        // Only a share of a CPU is certain on a loaded machine, but a busy loop never reads as idle.
        #expect(busyCPU > 2, "a busy loop should use a share of a CPU: \(lines[0])")
        #expect(lines[1][0] == "idle" && (Double(lines[1][1].dropLast()) ?? 100) < 5 && lines[1][5] == "1", "\(lines)")
        let table = try berth(fixture, "stats", "--no-stream", "idle").stdout
        #expect(table.hasPrefix("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"), "\(table)")
        #expect(try berth(fixture, "rm", "-f", "busy", "idle").status == 0)
    }
}
