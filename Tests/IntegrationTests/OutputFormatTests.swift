import Foundation
import Testing

/// Berth's `--format` templates and list output next to the peer Docker's (the docker 28 CLI over
/// dockerd 20.10), on containers, networks and images made the same way on both sides.
@Suite(.serialized, .enabled(if: Peers.docker, "needs root and dockerd"))
struct OutputFormatTests {
    /// Labels that exercise `json`'s escaping: HTML characters (left alone by the CLI's encoder),
    /// quotes, a backslash, a tab and U+2028 (escaped by every Go encoder).
    static let labels = ["a": "<b>&c", "q": "say \"hi\"\\", "t": "tab\there", "ls": "line\u{2028}sep",
                         "com.example.some-key_x": "v"]

    static func createArguments(_ name: String) -> [String] {
        var arguments = ["create", "--name", name, "--hostname", "h14", "-e", "X=1"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["-l", "\(key)=\(value)"] }
        return arguments + ["busybox", "sh", "-c", #"echo "a b" "it's"; sleep 1000"#]
    }

    /// Output, error text and status of one command, for comparing both sides whole.
    struct Outcome: Equatable, CustomStringConvertible {
        var out: String
        var err: String
        var status: Int32
        init(_ result: CommandResult) {
            out = result.out
            err = result.err
            status = result.status
        }
        var description: String { "status \(status), stdout \(out.debugDescription), stderr \(err.debugDescription)" }
    }

    static func docker(_ arguments: [String]) throws -> CommandResult {
        try PeerDocker.start()
        return try Command.run("docker", arguments, environment: PeerDocker.environment)
    }

    @Test func inspectTemplatesMatchDocker() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let name = "h14t-tmpl-\(getpid())"
        #expect(try sandbox.run(Self.createArguments(name)).succeeded)
        _ = try Self.docker(["rm", "-f", name])
        let created = try Self.docker(Self.createArguments(name))
        try #require(created.succeeded, "\(created)")
        defer { _ = try? Self.docker(["rm", "-f", name]) }

        let templates = [
            "{{json .Config.Labels}}",
            "{{json .Config.Cmd}}|{{json .Config.Env}}|{{json .Config.Entrypoint}}|{{json .Name}}|{{json .Config.Tty}}",
            #"{{range $k, $v := .Config.Labels}}{{$k}}={{printf "%q" $v}};{{end}}"#,
            #"{{index .Config.Labels "a"}}|{{index .Config.Labels "missing"}}|{{.Config.Labels.missing}}"#,
            #"{{if eq .State.Status "running"}}up{{else if eq .State.Status "created"}}new{{else}}other{{end}}"#,
            #"{{len .Config.Cmd}} {{slice .Config.Cmd 1}} {{join .Config.Cmd ","}} {{upper .Name}} {{title .Config.Hostname}}"#,
            #"{{with .Config.Labels}}{{len .}}{{end}} {{- /* a comment */ -}} {{.Config.Hostname | printf "%5.1f|%x|%-5s|" 2.5 255}}"#,
            "{{.Config.Tty}} {{not .Config.Tty}} {{and .Config.Tty 1}} {{or .Config.Tty \"x\"}} {{.HostConfig.Memory}}",
            #"{{range $i, $c := .Config.Cmd}}{{if $i}},{{end}}{{$i}}:{{$c}}{{end}} {{$.Config.Hostname}} {{pad .Config.Hostname 1 2}}|"#,
            #"{{split (index .Config.Env 0) "="}} {{truncate .Name 4}} {{lower "ABC"}} {{print 1 2 "a"}} {{println "x"}}"#,
            "{{.Config.Labels}} {{.Config.Cmd}} {{.State.Running}} {{.State.Pid}}",
            // Nil slices, maps and pointers of Docker's typed documents.
            "{{.Config.Entrypoint}}|{{.HostConfig.Binds}}|{{.Config.Volumes}}|{{.HostConfig.CapAdd}}|{{json .HostConfig.CapAdd}}|{{len .Config.Entrypoint}}|{{.HostConfig.LogConfig.Config}}|{{.Config.OnBuild}}|{{if .Config.Entrypoint}}x{{end}}",
            // Errors: a missing key in a document, an undefined function (exit 64), a bad call.
            "{{.Foo}}",
            "{{foo}}",
            "{{index .Config.Cmd 5}}",
            "{{if}}",
        ]
        for template in templates {
            let berth = Outcome(try sandbox.run(["inspect", "--format", template, name]))
            let docker = Outcome(try Self.docker(["inspect", "--format", template, name]))
            #expect(berth == docker, "\(template)")
        }
    }

    @Test func psFieldsTablesAndJSONMatchDocker() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let name = "h14t-ps-\(getpid())"
        var run = Self.createArguments(name)
        run[0] = "run"
        run.insert("-d", at: 1)
        #expect(try sandbox.run(run).succeeded)
        _ = try Self.docker(["rm", "-f", name])
        let started = try Self.docker(run)
        try #require(started.succeeded, "\(started)")
        defer { _ = try? Self.docker(["rm", "-f", name]) }

        let formats = [
            #"{{.Command}}|{{.Label "a"}}|{{.Label "nope"}}|{{.Labels}}|{{.Names}}|{{.Image}}|{{.State}}|{{.Networks}}"#,
            "{{.Size}}|{{.LocalVolumes}}|{{.Mounts}}|{{.Platform}}|{{.Ports}}",
            #"table {{.Names}}\t{{.Label "com.example.some-key_x"}}\t{{.Command}}\t{{json .Labels}}"#,
            #"table {{.Image}}\t{{pad .State 1 1}}|{{upper .State}}|{{.Foo}}"#,
            "{{.Label}}",
            "{{foo}}",
        ]
        for format in formats {
            for truncation in [[], ["--no-trunc"]] {
                let arguments = ["ps", "--filter", "name=\(name)"] + truncation + ["--format", format]
                let berth = Outcome(try sandbox.run(arguments))
                let docker = Outcome(try Self.docker(arguments))
                #expect(berth == docker, "\(arguments)")
            }
        }

        // `--format json`: the same object, but for what depends on the daemon and the clock.
        func object(_ text: String) throws -> [String: String] {
            var object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            for key in ["ID", "CreatedAt", "RunningFor", "Status"] { object[key] = nil }
            return object.mapValues { "\($0)" }
        }
        let berthJSON = try sandbox.ok("ps", "--filter", "name=\(name)", "--format", "json")
        let dockerJSON = try PeerDocker.checked("ps", "--filter", "name=\(name)", "--format", "json")
        #expect(try object(berthJSON) == object(dockerJSON))
        // The escaping of the list context's JSON too (json.Marshal's HTML escapes).
        #expect(berthJSON.contains(#"a=\u003cb\u003e\u0026c"#), "\(berthJSON)")
        #expect(dockerJSON.contains(#"a=\u003cb\u003e\u0026c"#))
    }

    @Test func psPortsAndPortMatchDocker() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let name = "h14t-port-\(getpid())"
        let run = ["run", "-d", "--name", name, "-p", "18290:80", "-p", "18291:81/udp", "-p", "127.0.0.1:18292:82",
                   "-p", "18293-18294:83-84", "busybox", "sleep", "1000"]
        let queries = [
            ["ps", "--filter", "name=\(name)", "--format", "{{.Ports}}"],
            ["port", name], ["port", name, "80"], ["port", name, "80/tcp"], ["port", name, "81/udp"],
            ["port", name, "81"], ["port", name, "7777"], ["port", name, "7777/tcp"], ["port", name, "abc"],
        ]
        // One side at a time: both would publish the same host ports.
        _ = try Self.docker(["rm", "-f", name])
        let started = try Self.docker(run)
        try #require(started.succeeded, "\(started)")
        let docker = try queries.map { Outcome(try Self.docker($0)) }
        _ = try Self.docker(["rm", "-f", name])

        #expect(try sandbox.run(run).succeeded)
        let berth = try queries.map { Outcome(try sandbox.run($0)) }
        if !Self.hostHasIPv6 {
            FileHandle.standardError.write(Data("OutputFormatTests: SKIPPING the [::] bindings: no ::1 on lo\n".utf8))
        }
        for (query, (berth, docker)) in zip(queries, zip(berth, docker)) {
            #expect(berth == docker, "\(query)")
        }
    }

    /// The [::] binding serves: a connection to [::1] reaches the container, through Berth's
    /// proxy, and the proxy goes with the container.
    @Test func publishedPortAnswersOnIPv6Loopback() throws {
        guard Self.hostHasIPv6 else {
            FileHandle.standardError.write(Data("OutputFormatTests: SKIPPING IPv6 publishing: no ::1 on lo\n".utf8))
            return
        }
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let name = "h14t-v6-\(getpid())"
        #expect(try sandbox.run("run", "-d", "--name", name, "-p", "18295:80", "busybox", "sh", "-c",
                                "while true; do echo hello | nc -l -p 80; done").succeeded)
        let client = """
            import socket, time
            for attempt in range(50):
                try:
                    s = socket.create_connection(("::1", 18295), timeout=5)
                    data = s.recv(100)
                    if data:
                        print(data.decode(), end="")
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            """
        let answer = try Command.run("python3", ["-c", client])
        #expect(answer.out == "hello\n", "\(answer)")
        #expect(try sandbox.run("rm", "-f", name).succeeded)
        let proxies = try Command.shell("ps -eo args | grep -c '^/proc/self/exe --port-proxy tcp 18295 ' || true")
        #expect(proxies.out.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    /// Docker publishes on [::] too where the host has IPv6 (as `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp`).
    static let hostHasIPv6: Bool = {
        (try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8))?
            .split(separator: "\n").contains { $0.hasPrefix("00000000000000000000000000000001 ") } ?? false
    }()

    @Test func networkListIsSortedByName() throws {
        let sandbox = try BerthSandbox()
        let names = ["h14t-zeta", "h14t-net10", "h14t-Alpha", "h14t-net9", "h14t-alpha"]
        for name in names { _ = try Self.docker(["network", "rm", name]) }
        defer { for name in names { _ = try? Self.docker(["network", "rm", name]) } }
        for name in names {
            try PeerDocker.checked("network", "create", name)
            #expect(try sandbox.run("network", "create", name).succeeded)
        }
        let arguments = ["network", "ls", "--filter", "name=h14t-", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"]
        let berth = try sandbox.ok(arguments[0], arguments[1], arguments[2], arguments[3], arguments[4], arguments[5])
        let docker = try Self.docker(arguments)
        #expect(berth == docker.out)
        // Docker's natural order: digits as numbers, upper case before lower case.
        let all = try sandbox.ok("network", "ls", "--format", "{{.Name}}").split(separator: "\n").map(String.init)
        #expect(all == ["bridge", "h14t-Alpha", "h14t-alpha", "h14t-net9", "h14t-net10", "h14t-zeta", "host", "none"])
    }

    @Test func statsOfAStoppedContainerAreZeros() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let name = "h14t-stats-\(getpid())"
        #expect(try sandbox.run("create", "--name", name, "busybox", "true").succeeded)
        _ = try Self.docker(["rm", "-f", name])
        try PeerDocker.checked("create", "--name", name, "busybox", "true")
        defer { _ = try? Self.docker(["rm", "-f", name]) }
        let columns = "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}"
        let berth = try sandbox.ok("stats", "--no-stream", "--format", columns, name)
        let docker = try Self.docker(["stats", "--no-stream", "--format", columns, name])
        #expect(berth == docker.out)
        // The default table, IDs aside.
        func table(_ text: String) -> [String] {
            text.split(separator: "\n").map { $0.replacingOccurrences(of: #"^[0-9a-f]{12}"#, with: "ID", options: .regularExpression) }
        }
        let berthTable = try sandbox.ok("stats", "--no-stream", name)
        let dockerTable = try Self.docker(["stats", "--no-stream", name])
        #expect(table(berthTable) == table(dockerTable.out))
    }

    /// On a terminal, `load` draws each layer's "Loading layer" line under the layer's chain ID,
    /// as Docker does; through a pipe only the final lines remain.
    @Test func loadShowsLayerProgressOnATerminal() throws {
        guard Command.resolve("script") != nil else {
            FileHandle.standardError.write(Data("OutputFormatTests: SKIPPING load on a terminal: no script(1)\n".utf8))
            return
        }
        let sandbox = try BerthSandbox()
        let image = "h14t-load:\(getpid())"
        let rootfs = sandbox.scratch + "/rootfs"
        try FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 3_000_000).write(to: URL(fileURLWithPath: rootfs + "/blob"))
        try Command.run("/bin/tar", ["-C", rootfs, "-cf", sandbox.scratch + "/rootfs.tar", "."])
        try PeerDocker.checked("import", sandbox.scratch + "/rootfs.tar", image)
        let archive = sandbox.scratch + "/image.tar"
        try PeerDocker.checked("save", "-o", archive, image)
        try PeerDocker.checked("rmi", image)
        defer { _ = try? Self.docker(["rmi", image]) }

        let terminal = { (command: String) throws -> String in
            try Command.run("script", ["-qc", command, "/dev/null"], environment: PeerDocker.environment).out
        }
        let docker = try terminal("docker load -i \(archive)")
        let berth = try terminal("\(BerthSandbox.binary) --root \(sandbox.root) load -i \(archive)")
        func captures(_ pattern: String, in text: String) throws -> Set<String> {
            Set(text.matches(of: try Regex(pattern)).compactMap { $0.output[1].substring.map(String.init) })
        }
        let layerID = #"([0-9a-f]{12}): Loading layer"#
        #expect(try !captures(layerID, in: docker).isEmpty, "\(docker.debugDescription)")
        #expect(try captures(layerID, in: berth) == captures(layerID, in: docker), "\(berth.debugDescription)")
        // The layer's size in the archive, counted to its end, in jsonmessage's units.
        let totals = try captures(#"/([0-9.]+[kMG]?B)\r"#, in: docker)
        #expect(totals.count == 1, "\(docker.debugDescription)")
        for total in totals { #expect(berth.contains("\(total)/\(total)"), "\(berth.debugDescription)") }
        #expect(berth.hasSuffix("Loaded image: \(image)\r\n"), "\(berth.debugDescription)")

        #expect(try sandbox.ok("rmi", image).contains("Untagged"))
        #expect(try sandbox.ok("load", "-i", archive) == "Loaded image: \(image)\n")
    }
}
