import Foundation
import Glibc
import Testing

/// The commands Docker users and scripts reach for — version, info, system df/prune, events,
/// commit — and the way the CLI fails on a bad command line, compared with the docker CLI
/// against the peer daemon: same exit codes, same messages (with "docker" read as "berth").
@Suite(.serialized, .enabled(if: Peers.docker, "needs root and dockerd"))
struct CommandParityTests {
    private func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    /// The docker CLI's report of a command line, in berth's words.
    private func docker(_ arguments: [String], stdin: StandardInput = .none) throws -> CommandResult {
        try PeerDocker.start()
        return try Command.run("docker", arguments, stdin: stdin, environment: PeerDocker.environment)
    }

    private func lines(_ text: String) -> [String] {
        text.replacingOccurrences(of: "docker", with: "berth").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test(arguments: [
        ["ps", "--x"], ["images", "--x"], ["run", "--x", "busybox"], ["create", "--x", "busybox"],
        ["version", "--x"], ["info", "--x"], ["events", "--x"], ["system", "df", "--x"], ["system", "prune", "--x"],
        ["image", "ls", "--x"], ["ps", "--format"], ["foo"], ["image", "foo"], ["container", "foo"], ["system", "foo"],
        ["rm"], ["kill"], ["logs"], ["run"], ["commit"], ["ps", "a"], ["run", "--pull", "bogus", "busybox"],
    ])
    func badCommandLinesFailAsDockerFails(arguments: [String]) throws {
        let sandbox = try BerthSandbox()
        let ours = try sandbox.run(arguments)
        let theirs = try docker(arguments)
        #expect(ours.status == theirs.status, "\(arguments): \(ours) vs \(theirs)")
        #expect(ours.out.isEmpty)
        let (mine, expected) = (lines(ours.err), lines(theirs.err))
        // The message and the help pointer are Docker's; the usage line between them is berth's own.
        #expect(mine.first == expected.first, "\(arguments): \(ours.err)")
        #expect(mine.suffix(2) == expected.suffix(2), "\(arguments): \(ours.err)")
        #expect(mine.contains { $0.hasPrefix("Usage:  ") } == expected.contains { $0.hasPrefix("Usage:  ") }, "\(ours.err)")
    }

    /// The daemon's wording for the common refusals, IDs aside.
    @Test func commonRefusalsReadAsDockerdsDo() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try PeerDocker.checked("image", "inspect", "busybox")
        let (stopped, running) = (unique("stopped"), unique("running"))
        defer { _ = try? docker(["rm", "-f", stopped, running]) }
        for side in [{ (arguments: [String]) in try sandbox.run(arguments) }, { try self.docker($0) }] {
            #expect(try side(["create", "--name", stopped, "busybox", "true"]).succeeded)
            #expect(try side(["run", "-d", "--name", running, "busybox", "sleep", "100"]).succeeded)
        }
        let cases: [[String]] = [
            ["kill", "nosuch"], ["kill", stopped], ["pause", stopped], ["unpause", running], ["top", stopped],
            ["network", "rm", "nosuch"], ["network", "connect", "nosuch", running], ["rm", "nosuch"], ["stop", "nosuch"],
            ["restart", "nosuch"], ["wait", "nosuch"], ["diff", "nosuch"], ["update", "--cpus", "1", "nosuch"],
            ["volume", "rm", "nosuch"], ["commit", "nosuch"], ["rename", "nosuch", "other"],
            ["run", "--rm", "--network", "nosuch", "busybox", "true"],
            ["rmi", "nosuch"], ["tag", "nosuch", "other"], ["history", "nosuch"], ["logs", "nosuch"], ["port", "nosuch"],
            ["stats", "--no-stream", "nosuch"], ["network", "create", "bridge"],
        ]
        func firstLine(_ result: CommandResult) -> String {
            String(result.err.split(separator: "\n").first ?? "").replacingOccurrences(of: #"[0-9a-f]{64}"#, with: "ID", options: .regularExpression)
        }
        for arguments in cases {
            let (ours, theirs) = (try sandbox.run(arguments), try docker(arguments))
            #expect(ours.status == theirs.status, "\(arguments): \(ours) vs \(theirs)")
            #expect(firstLine(ours) == firstLine(theirs).replacingOccurrences(of: "docker:", with: "berth:"), "\(arguments)")
        }
    }

    @Test(arguments: [["info", "--format", "{{"], ["version", "--format", "{{.Client"], ["events", "--format", "{{", "--until", "0s"]])
    func templatesThatDoNotParseExit64(arguments: [String]) throws {
        let ours = try BerthSandbox().run(arguments)
        let theirs = try docker(arguments)
        #expect(ours.status == theirs.status && ours.status == 64, "\(ours) vs \(theirs)")
        #expect(ours.out.isEmpty)
        #expect(ours.err.hasPrefix(String(theirs.err.prefix { $0 != ":" })), "\(ours.err) vs \(theirs.err)")
    }

    @Test func versionHasDockersSectionsAndTemplateFields() throws {
        let sandbox = try BerthSandbox()
        let ours = try sandbox.ok("version")
        let theirs = try docker(["version"]).out
        func labels(_ text: String, section: String) -> [String] {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let start = lines.firstIndex(where: { $0.hasPrefix(section) }) else { return [] }
            return lines[(start + 1)...].prefix { !$0.isEmpty && !$0.hasPrefix(" runc") && !$0.hasPrefix(" containerd") }
                .map { String($0.prefix { $0 != ":" }) }
        }
        #expect(labels(ours, section: "Client:") == labels(theirs, section: "Client:"))
        #expect(labels(ours, section: "Server:") == labels(theirs, section: "Server:"))
        #expect(try sandbox.ok("version", "--format", "{{.Client.Version}} {{.Server.Version}}") == "0.1.0 0.1.0\n")
        #expect(try sandbox.ok("version", "--format", "{{.Server.APIVersion}}") == "1.50\n")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try sandbox.ok("version", "--format", "{{json .}}").utf8)) as? [String: Any])
        let theirsJSON = try #require(try JSONSerialization.jsonObject(with: Data(try docker(["version", "--format", "{{json .}}"]).stdout)) as? [String: Any])
        #expect(Set((json["Server"] as? [String: Any] ?? [:]).keys) == Set((theirsJSON["Server"] as? [String: Any] ?? [:]).keys))
        #expect(Set((json["Client"] as? [String: Any] ?? [:]).keys).isSuperset(of: ["Version", "ApiVersion", "Os", "Arch", "Context"]))
    }

    @Test func infoHasDockersLabelsAndCounts() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try sandbox.ok("create", "--name", "one", "busybox", "true")
        let ours = try sandbox.run("info")
        #expect(ours.succeeded, "\(ours)")
        let theirs = try docker(["info"]).out
        // The labels at the Server section's first level, in order.
        func labels(_ text: String) -> [String] {
            let lines = text.split(separator: "\n").map(String.init)
            guard let start = lines.firstIndex(of: "Server:") else { return [] }
            return lines[(start + 1)...].filter { $0.hasPrefix(" ") && !$0.hasPrefix("  ") }.map { String($0.prefix { $0 != ":" }) }
        }
        #expect(labels(ours.out) == labels(theirs), "\(ours.out)")
        #expect(ours.out.contains(" Containers: 1\n  Running: 0\n  Paused: 0\n  Stopped: 1\n Images: 1\n"), "\(ours.out)")
        #expect(ours.out.hasSuffix("\n\n"))
        #expect(try sandbox.ok("info", "--format", "{{.Containers}} {{.Images}} {{.Driver}}") == "1 1 overlay2\n")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try sandbox.ok("info", "--format", "{{json .}}").utf8)) as? [String: Any])
        #expect(Set(json.keys).isSuperset(of: ["ID", "Containers", "Images", "Driver", "Runtimes", "SecurityOptions", "RegistryConfig", "ClientInfo"]))
        #expect(try sandbox.ok("system", "info", "--format", "{{.ContainersStopped}}") == "1\n")
    }

    @Test func systemDiskUsageSumsAsDockerDoes() throws {
        let sandbox = try BerthSandbox()
        let empty = try sandbox.ok("system", "df")
        let theirs = try docker(["system", "df"]).out
        #expect(empty.split(separator: "\n").first == theirs.split(separator: "\n").first)
        #expect(empty.split(separator: "\n").map { $0.prefix(16) } == theirs.split(separator: "\n").map { $0.prefix(16) })
        #expect(empty.contains("Images          0         0         0B        0B\n"), "\(empty)")
        try sandbox.importBusybox()
        let rows = try sandbox.ok("system", "df", "--format", "{{.Type}}:{{.TotalCount}}:{{.Active}}:{{.Reclaimable}}")
        let images = try #require(rows.split(separator: "\n").first)
        // Nothing uses the image: all of it can be reclaimed.
        #expect(images.hasPrefix("Images:1:0:") && images.hasSuffix("(100%)"), "\(rows)")
        try sandbox.ok("create", "busybox", "true")
        let used = try sandbox.ok("system", "df", "--format", "{{.Type}}:{{.TotalCount}}:{{.Active}}")
        #expect(used.split(separator: "\n").prefix(2) == ["Images:1:1", "Containers:1:0"], "\(used)")
        let verbose = try sandbox.ok("system", "df", "-v")
        let titles = verbose.split(separator: "\n").filter { $0.hasSuffix("usage:") || $0.hasPrefix("Build cache usage:") }
        let theirTitles = try docker(["system", "df", "-v"]).out.split(separator: "\n")
            .filter { $0.hasSuffix("usage:") || $0.hasPrefix("Build cache usage:") }
        #expect(titles.map { $0.prefix(18) } == theirTitles.map { $0.prefix(18) }, "\(verbose)")
        #expect(verbose.contains("busybox      latest"), "\(verbose)")
    }

    @Test func systemPruneAsksAsDockerAsksThenRemoves() throws {
        let sandbox = try BerthSandbox()
        for flags in [[], ["-a", "--volumes", "--filter", "label=x"]] {
            let ours = try sandbox.run(["system", "prune"] + flags, stdin: .bytes(Data("n\n".utf8)))
            let theirs = try docker(["system", "prune"] + flags, stdin: .bytes(Data("n\n".utf8)))
            #expect(ours.out == theirs.out, "\(flags)")
            #expect(ours.status == theirs.status)
        }
        try sandbox.importBusybox()
        let id = try sandbox.ok("create", "busybox", "true").trimmingCharacters(in: .whitespacesAndNewlines)
        try sandbox.ok("volume", "create", "kept")
        let pruned = try sandbox.ok("system", "prune", "-f")
        #expect(pruned == "Deleted Containers:\n\(id)\n\nTotal reclaimed space: 0B\n", "\(pruned)")
        #expect(try sandbox.ok("ps", "-aq") == "")
        #expect(try sandbox.ok("images", "-q") != "", "dangling images only: busybox is tagged")
        #expect(try sandbox.ok("volume", "ls", "-q") == "kept\n", "named volumes stay")
        let all = try sandbox.ok("system", "prune", "-a", "-f")
        #expect(all.hasPrefix("Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:"), "\(all)")
        #expect(all.hasSuffix("\nTotal reclaimed space: " + (all.split(separator: "\n").last?.split(separator: " ").last ?? "") + "\n"))
        #expect(try sandbox.ok("images", "-q") == "")
    }

    /// The actions each command records, compared with the docker daemon's for the same commands.
    @Test func everyStateChangeIsAnEventAsDockerRecordsIt() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try PeerDocker.start()
        let name = unique("ev")
        let script: [[String]] = [
            ["run", "--rm", "--label", "parity=\(name)", "busybox", "true"],
            ["create", "--name", name, "--label", "parity=\(name)", "busybox", "sleep", "100"], ["start", name],
            ["cp", "/etc/hostname", name + ":/copied"], ["top", name], ["export", name], ["pause", name], ["unpause", name],
            ["update", "--cpu-shares", "512", name], ["rename", name, name + "x"], ["commit", name + "x", name + "-img:v1"],
            ["kill", name + "x"], ["rm", name + "x"], ["rmi", name + "-img:v1"],
        ]
        func actions(_ run: ([String]) throws -> CommandResult, since: String) throws -> [String] {
            for step in script { _ = try run(step) }
            let until = String(Int(Date().timeIntervalSince1970) + 1)
            let listed = try run(["events", "--since", since, "--until", until, "--filter", "type=container",
                                  "--filter", "label=parity=\(name)", "--format", "{{.Action}}"])
            return listed.out.split(separator: "\n").map(String.init)
        }
        let since = String(Int(Date().timeIntervalSince1970) - 1)
        let ours = try actions({ try sandbox.run($0) }, since: since)
        let theirs = try actions({ try self.docker($0) }, since: since)
        #expect(ours == theirs)
        #expect(ours.contains("commit") && ours.contains("destroy"), "\(ours)")
        let images = try sandbox.ok("events", "--since", since, "--until", String(Int(Date().timeIntervalSince1970) + 1),
                                    "--filter", "type=image", "--filter", "image=\(name)-img:v1",
                                    "--format", "{{.Action}} {{.Actor.Attributes.name}}")
        #expect(images.contains("tag \(name)-img:v1\n"), "\(images)")
    }

    /// A container's start joins its network and its exit leaves it: dockerd's `network connect`
    /// and `disconnect` events, in its order among the container's own.
    @Test func aRunConnectsAndDisconnectsItsNetworkAsDockerRecordsIt() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try PeerDocker.start()
        func sequence(_ run: ([String]) throws -> CommandResult, network: String) throws -> [String] {
            let since = String(Int(Date().timeIntervalSince1970) - 1)
            let created = try run(["create", "--network", network, "busybox", "true"])
            try #require(created.succeeded, "\(created)")
            let id = created.out.trimmingCharacters(in: .whitespacesAndNewlines)
            let started = try run(["start", "-a", id])
            try #require(started.succeeded, "\(started)")
            _ = try run(["rm", id])
            let until = String(Int(Date().timeIntervalSince1970) + 1)
            let listed = try run(["events", "--since", since, "--until", until,
                                  "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.container}}"])
            return listed.out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
                .filter { $0.count == 4 && ($0[2] == id || $0[3] == id) }
                .map { "\($0[0]) \($0[1])" }
        }
        for network in ["bridge", "none"] {
            let ours = try sequence({ try sandbox.run($0) }, network: network)
            let theirs = try sequence({ try self.docker($0) }, network: network)
            #expect(ours == theirs, "\(network)")
            #expect(ours.contains("network connect") && ours.contains("network disconnect"), "\(ours)")
        }
    }

    @Test func aWatchingEventsSeesAnotherProcesssRun() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let watcher = try sandbox.start(["events", "--filter", "event=die"])
        defer { watcher.kill(SIGKILL); _ = watcher.wait(timeout: 10) }
        // The watcher follows from where the log ends when it opens it: once it has printed a
        // first run's end, it is surely following.
        _ = try eventually("the watcher following") { () -> Bool? in
            try sandbox.ok("run", "--rm", "busybox", "true")
            return watcher.peekOutput().contains("container die") ? true : nil
        }
        let name = unique("seen")
        try sandbox.ok("run", "--name", name, "busybox", "true")
        let deadline = Date().addingTimeInterval(30)
        while !watcher.peekOutput().contains("name=\(name)"), Date() < deadline { usleep(50_000) }
        let line = try #require(watcher.peekOutput().split(separator: "\n").first { $0.contains("name=\(name)") })
        #expect(line.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die [0-9a-f]{64} \(exitCode=0, image=busybox, name=seen-[0-9a-f]{8}\)/#) != nil, "\(line)")
    }

    @Test func commitMakesTheImageDockerMakes() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        try PeerDocker.checked("image", "inspect", "busybox")
        let name = unique("commit")
        let changes = ["-c", #"CMD ["cat", "/hello"]"#, "-c", "ENV GREETING=hi", "-c", "LABEL stage=one", "-m", "a note", "-a", "Ann"]
        try sandbox.ok("run", "--name", name, "busybox", "sh", "-c", "echo hi > /hello")
        let committed = try sandbox.run(["commit"] + changes + [name, name + ":v1"])
        #expect(committed.succeeded, "\(committed)")
        let id = committed.out
        #expect(id.wholeMatch(of: #/sha256:[0-9a-f]{64}\n/#) != nil, "\(id)")
        _ = try PeerDocker.docker("run", "--name", name, "busybox", "sh", "-c", "echo hi > /hello")
        defer { _ = try? PeerDocker.docker("rm", "-f", name); _ = try? PeerDocker.docker("rmi", name + ":v1") }
        let dockerCommit = try docker(["commit"] + changes + [name, name + ":v1"])
        try #require(dockerCommit.succeeded, "\(dockerCommit)")
        let ours = try sandbox.inspect(name + ":v1")
        let theirs = try DockerInteropTests.dockerInspect(name + ":v1")
        for key in ["Author", "Comment"] { #expect(ours[key] as? String == theirs[key] as? String, "\(key)") }
        let ourConfig = ours["Config"] as? [String: Any] ?? [:]
        let theirConfig = theirs["Config"] as? [String: Any] ?? [:]
        for key in ["Cmd", "Env", "Labels", "Entrypoint", "WorkingDir", "User"] {
            #expect(canonicalJSON(ourConfig[key]) == canonicalJSON(theirConfig[key]), "Config.\(key)")
        }
        let base = try sandbox.inspect("busybox")
        func layers(_ document: [String: Any]) -> Int { ((document["RootFS"] as? [String: Any])?["Layers"] as? [Any])?.count ?? 0 }
        #expect(layers(ours) == layers(base) + 1)
        #expect(try sandbox.ok("run", "--rm", name + ":v1") == "hi\n")
        // Only the container's own change is in the layer: no runtime-made file (/etc/hosts).
        try sandbox.ok("rm", name)
        let unchanged = unique("same")
        try sandbox.ok("create", "--name", unchanged, "busybox")
        try sandbox.ok("commit", unchanged, unchanged + ":v1")
        #expect(layers(try sandbox.inspect(unchanged + ":v1")) == layers(base), "nothing changed: no layer")
        // -p is a Go bool flag: given bare it is true, and a value must be attached.
        try sandbox.ok("commit", "-p", unchanged, unchanged + ":v2")
        try sandbox.ok("commit", "-p=false", unchanged, unchanged + ":v3")
        try sandbox.ok("commit", "--pause=false", unchanged, unchanged + ":v4")
        #expect(try sandbox.ok("images", "--format", "{{.Tag}}", unchanged).split(separator: "\n").sorted() == ["v1", "v2", "v3", "v4"])
        let missing = try sandbox.run("commit", "nosuch")
        #expect(missing.status == 1 && missing.err == "Error response from daemon: No such container: nosuch\n", "\(missing)")
        let bad = try sandbox.run("commit", "-c", "RUN true", unchanged)
        #expect(bad.status == 1 && bad.err.contains("RUN is not a valid change command"), "\(bad)")
    }

    /// The docker CLI reads the daemon's documents as berth's own commands do: the same sums,
    /// the same events, on the same root.
    @Test func theDockerCLIsSystemCommandsAgreeWithBerths() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        let since = String(Int(Date().timeIntervalSince1970) - 1)
        let id = try daemon.ok("create", "busybox", "true").trimmingCharacters(in: .whitespacesAndNewlines)
        try daemon.sandbox.ok("run", "--rm", "busybox", "true")
        #expect(try daemon.ok("system", "df") == (try daemon.sandbox.ok("system", "df")))
        #expect(try daemon.ok("info", "--format", "{{.Containers}} {{.Images}}") == "1 1\n")
        let until = String(Int(Date().timeIntervalSince1970) + 1)
        let query = ["events", "--since", since, "--until", until, "--filter", "type=container", "--format", "{{.Action}} {{.Actor.ID}}"]
        let theirs = try daemon.docker(query)
        let ours = try daemon.sandbox.run(query)
        #expect(theirs.succeeded && ours.succeeded && theirs.out == ours.out, "\(theirs) vs \(ours)")
        #expect(ours.out.hasPrefix("create \(id)\n"), "\(ours.out)")
        #expect(try daemon.ok("system", "prune", "-f") == "Deleted Containers:\n\(id)\n\nTotal reclaimed space: 0B\n")
    }

    @Test func theDockerCLICommitsThroughTheDaemon() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        try daemon.ok("run", "--name", "c", "busybox", "sh", "-c", "echo api > /made")
        let id = try daemon.ok("commit", "-c", "CMD cat /made", "-m", "via api", "c", "fromapi:v1")
        #expect(id.hasPrefix("sha256:"), "\(id)")
        #expect(try daemon.ok("run", "--rm", "fromapi:v1") == "api\n")
        #expect(try daemon.ok("image", "inspect", "-f", "{{.Comment}}", "fromapi:v1") == "via api\n")
    }
}

/// `run` and `create` pull a missing image as the docker CLI does, from Berth's own registry
/// server on 127.0.0.1; `--pull` says when.
@Suite(.serialized, .enabled(if: Peers.docker, "needs root and dockerd"))
struct PullOnRunTests {
    @Test func runPullsAMissingImageAndPullPolicyDecides() throws {
        let pusher = try BerthSandbox()
        try pusher.importBusybox()
        let registry = try RegistryServerTests.Server(sandbox: pusher)
        let image = "\(registry.address)/parity/busybox:v1"
        try pusher.ok("tag", "busybox:latest", image)
        try pusher.ok("push", image)

        let sandbox = try BerthSandbox()
        let never = try sandbox.run("run", "--rm", "--pull", "never", image, "true")
        #expect(never.status == 125 && never.err.contains("No such image: \(image)"), "\(never)")
        let theirs = try PeerDocker.docker("run", "--rm", "--pull", "never", "no-such-image-here", "true")
        #expect(theirs.status == 125 && theirs.err.contains("No such image: no-such-image-here:latest"))

        let run = try sandbox.run("run", "--rm", image, "echo", "ran")
        #expect(run.succeeded, "\(run)")
        #expect(run.out == "ran\n")
        let messages = run.err.split(separator: "\n").map(String.init)
        #expect(messages.first == "Unable to find image '\(image)' locally", "\(run.err)")
        #expect(messages.dropFirst().first == "v1: Pulling from parity/busybox", "\(run.err)")
        #expect(messages.last == "Status: Downloaded newer image for \(image)", "\(run.err)")

        let again = try sandbox.run("create", "--pull", "always", image)
        #expect(again.succeeded && again.out.count == 65, "\(again)")
        #expect(!again.err.contains("Unable to find") && again.err.contains("Status: Image is up to date for \(image)"), "\(again.err)")

        try sandbox.ok("rmi", "-f", image)
        let quiet = try sandbox.run("create", "-q", image)
        #expect(quiet.succeeded && quiet.err.isEmpty && quiet.out.count == 65, "\(quiet)")

        // The docker CLI pulls on the daemon's 404, through the daemon.
        let daemon = try BerthDaemon()
        let viaAPI = try daemon.docker("run", "--rm", image, "echo", "api")
        #expect(viaAPI.succeeded && viaAPI.out == "api\n", "\(viaAPI)")
        #expect(viaAPI.err.hasPrefix("Unable to find image '\(image)' locally\n"), "\(viaAPI.err)")
        let created = try daemon.request("POST", "/containers/create", body: #"{"Image":"\#(registry.address)/parity/none"}"#)
        #expect(created.status == 404 && created.body.contains("No such image: \(registry.address)/parity/none:latest"), "\(created)")
    }
}
