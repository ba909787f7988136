import Foundation
import Testing

/// Users and groups against the peer Docker daemon: the process identity (`id`, whose groups are
/// the process's supplementary groups) in RUN, `run -u`, `exec -u` and a health check, with
/// `--group-add`; and `exec`'s own behaviours (`--privileged`, the exit code of a missing
/// command, its flags and help), with the berth CLI and with the docker CLI through `berth serve`.
@Suite(.serialized, .enabled(if: Peers.engineAPI, "needs root, dockerd, docker and curl"))
struct UserGroupTests {
    static let image = "berth-usergroups"

    /// A user `app` (1000) whose primary group 1000 lists nobody, member of `extra` (2000) and,
    /// with root, of `other` (3000); each RUN prints `id` for one form of USER.
    static let dockerfile = """
        FROM busybox
        RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group \\
            && echo 'extra:x:2000:app' >> /etc/group && echo 'other:x:3000:root,app' >> /etc/group
        USER app
        RUN id
        USER app:extra
        RUN id
        USER 1000
        RUN id
        USER 1000:1000
        RUN id
        USER 4242
        RUN id
        USER root
        RUN id
        USER app

        """

    /// The `-u` forms compared: names, numbers, a user and a group, a uid /etc/passwd lacks.
    static let userForms = ["", "app", "app:extra", "1000", "1000:1000", "4242", "4242:2000", "app:3000", "root", "0:0"]

    /// The `id` lines of a build's output, without the builder's prefixes.
    private static func idLines(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in line.range(of: "uid=").map { String(line[$0.lowerBound...]) } }
    }

    private func context(_ sandbox: BerthSandbox) throws -> String {
        let directory = sandbox.scratch + "/usergroups"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.dockerfile.write(toFile: directory + "/Dockerfile", atomically: true, encoding: .utf8)
        return directory
    }

    /// The image built by the peer (without its cache, so each RUN prints) and its RUN output.
    private func peerImage(_ context: String) throws -> [String] {
        let build = try PeerDocker.docker("build", "--no-cache", "-t", Self.image, context)
        try #require(build.succeeded, "\(build)")
        return Self.idLines(build.out)
    }

    /// Runs `arguments` on the peer and with the berth CLI; both results.
    private func both(_ sandbox: BerthSandbox, _ arguments: String...) throws -> (docker: CommandResult, berth: CommandResult) {
        (try Command.run("docker", arguments, environment: PeerDocker.environment), try sandbox.run(arguments))
    }

    /// Waits until the container's health log has an entry; its first entry's output.
    private func firstHealthOutput(_ inspect: () throws -> CommandResult) throws -> String {
        for _ in 0..<600 {
            let result = try inspect()
            if result.succeeded, !result.out.hasPrefix("[]") {
                let log = try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]]
                if let output = log?.first?["Output"] as? String { return output }
            }
            usleep(100_000)
        }
        Issue.record("no health check ran")
        return ""
    }

    @Test func theGroupsOfRunRunUExecUAndHealthChecksAreDockers() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        let context = try context(sandbox)
        let peerRuns = try peerImage(context)
        defer {
            _ = try? PeerDocker.docker("rm", "-f", "berth-usergroups-exec", "berth-usergroups-health")
            _ = try? PeerDocker.docker("rmi", Self.image)
        }
        // RUN: the builder's process has the same identity as Docker's for each USER form.
        let build = try sandbox.run("build", "-t", Self.image, context)
        try #require(build.succeeded, "\(build)")
        #expect(peerRuns.count == 6)
        #expect(Self.idLines(build.out + build.err) == peerRuns)
        #expect(peerRuns.first == "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),3000(other)")

        // run -u, each form.
        for user in Self.userForms {
            let user = user.isEmpty ? [] : ["-u", user]
            let docker = try Command.run("docker", ["run", "--rm"] + user + [Self.image, "id"], environment: PeerDocker.environment)
            let berth = try sandbox.run(["run", "--rm"] + user + [Self.image, "id"])
            #expect(docker.succeeded && berth.succeeded, "\(docker) \(berth)")
            #expect(berth.out == docker.out, "-u \(user)")
        }

        // exec -u in a container with --group-add (a name resolved in the container, a number kept).
        let started = try both(sandbox, "run", "-d", "--name", "berth-usergroups-exec", "--group-add", "extra",
                               "--group-add", "555", "-u", "app", Self.image, "sleep", "1000")
        try #require(started.docker.succeeded && started.berth.succeeded, "\(started)")
        for user in [[], ["-u", "root"], ["-u", "1000:1000"], ["-u", "4242"], ["-u", "app:other"]] {
            let arguments = ["exec"] + user + ["berth-usergroups-exec", "id"]
            let docker = try Command.run("docker", arguments, environment: PeerDocker.environment)
            let berth = try sandbox.run(arguments)
            #expect(docker.succeeded && berth.succeeded, "\(docker) \(berth)")
            #expect(berth.out == docker.out, "exec \(user)")
        }
        let (dockerGroups, berthGroups) = try both(sandbox, "inspect", "-f", "{{json .HostConfig.GroupAdd}}", "berth-usergroups-exec")
        #expect(berthGroups.out == dockerGroups.out && berthGroups.out == "[\"extra\",\"555\"]\n", "\(berthGroups)")

        // A health check runs as the container's user, with its groups.
        let health = ["run", "-d", "--name", "berth-usergroups-health", "-u", "app", "--group-add", "555",
                      "--health-cmd", "id", "--health-interval", "1s", Self.image, "sleep", "1000"]
        #expect(try Command.run("docker", health, environment: PeerDocker.environment).succeeded)
        #expect(try sandbox.run(health).succeeded)
        let logFormat = "{{json .State.Health.Log}}"
        let dockerHealth = try firstHealthOutput {
            try PeerDocker.docker("inspect", "-f", logFormat, "berth-usergroups-health")
        }
        let berthHealth = try firstHealthOutput { try sandbox.run("inspect", "-f", logFormat, "berth-usergroups-health") }
        #expect(berthHealth == dockerHealth && dockerHealth == "uid=1000(app) gid=1000(app) groups=555,1000(app),2000(extra),3000(other)\n")
    }

    @Test func groupAddErrorsAreDockers() throws {
        let sandbox = try BerthSandbox()
        try sandbox.importBusybox()
        // Resolved at start, in the container's /etc/group: create takes any name.
        for group in ["no-such-group", "99999999999"] {
            let (docker, berth) = try both(sandbox, "run", "--rm", "--group-add", group, "busybox", "id")
            #expect(docker.status == 125 && berth.status == 125, "\(docker) \(berth)")
            let message = group == "no-such-group" ? "Unable to find group no-such-group: no matching entries in group file"
                                                   : "uids and gids must be in range 0-2147483647"
            #expect(docker.err.contains(message) && berth.err.contains(message), "\(docker) \(berth)")
        }
        let (docker, berth) = try both(sandbox, "run", "--rm", "--group-add", "root", "--group-add", "0", "--group-add", "7",
                                       "busybox", "id")
        #expect(berth.out == docker.out && docker.out == "uid=0(root) gid=0(root) groups=0(root),7\n", "\(docker) \(berth)")
    }

    @Test func theDockerCLIThroughBerthServeGetsTheSameGroups() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        let context = try context(daemon.sandbox)
        let peerRuns = try peerImage(context)
        defer { _ = try? PeerDocker.docker("rmi", Self.image) }
        let build = try daemon.docker("build", "-t", Self.image, context)
        try #require(build.succeeded, "\(build)")
        #expect(Self.idLines(build.out) == peerRuns)
        #expect(try daemon.ok("run", "--rm", "-u", "app", "--group-add", "555", Self.image, "id")
            == "uid=1000(app) gid=1000(app) groups=555,1000(app),2000(extra),3000(other)\n")
        try daemon.ok("run", "-d", "--name", "box", "--group-add", "extra", Self.image, "sleep", "1000")
        #expect(try daemon.ok("exec", "-u", "root", "box", "id") == "uid=0(root) gid=0(root) groups=0(root),2000(extra),3000(other)\n")
        #expect(try daemon.ok("inspect", "-f", "{{json .HostConfig.GroupAdd}}", "box") == "[\"extra\"]\n")
        let unknown = try daemon.docker("run", "--rm", "--group-add", "no-such-group", Self.image, "id")
        #expect(unknown.status == 125 && unknown.err.contains("Unable to find group no-such-group"), "\(unknown)")
    }

    /// The capability sets of /proc/self/status in `output`.
    private static func capabilities(_ output: String) -> [String: String] {
        var sets: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("Cap") {
            let fields = line.split(separator: "\t")
            if fields.count == 2 { sets[String(fields[0].dropLast())] = String(fields[1]) }
        }
        return sets
    }

    /// Docker's `exec --privileged` gives every capability; the container's seccomp filter stays
    /// (runc applies it to each process it starts in the container). The peer cannot be compared
    /// here: this machine's bounding set lacks CAP_SYS_RESOURCE and its runc refuses the full set
    /// ("unable to apply caps"); Berth grants every capability this process holds.
    @Test func execPrivilegedHasEveryCapability() throws {
        let daemon = try BerthDaemon()
        let sandbox = daemon.sandbox
        try sandbox.importBusybox()
        try sandbox.ok("run", "-d", "--name", "box", "busybox", "sleep", "1000")
        let ours = Self.capabilities(try String(contentsOfFile: "/proc/self/status", encoding: .utf8))
        let plain = Self.capabilities(try sandbox.ok("exec", "box", "cat", "/proc/self/status"))
        let privileged = try sandbox.ok("exec", "--privileged", "box", "cat", "/proc/self/status")
        #expect(plain["CapEff"] != ours["CapBnd"])
        for set in ["CapBnd", "CapPrm", "CapEff"] { #expect(Self.capabilities(privileged)[set] == ours["CapBnd"], "\(set)") }
        #expect(privileged.contains("Seccomp:\t2"))
        let throughDocker = Self.capabilities(try daemon.ok("exec", "--privileged", "box", "cat", "/proc/self/status"))
        #expect(throughDocker["CapEff"] == ours["CapBnd"])
        // The exec instance says it is privileged.
        let created = try daemon.request("POST", "/containers/box/exec", body: #"{"Cmd":["true"],"Privileged":true}"#)
        #expect(created.status == 201, "\(created)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["Id"] as? String)
        let inspected = try daemon.request("GET", "/exec/\(id)/json")
        let process = (try JSONSerialization.jsonObject(with: Data(inspected.body.utf8)) as? [String: Any])?["ProcessConfig"]
        #expect((process as? [String: Any])?["privileged"] as? Bool == true, "\(inspected)")
    }

    /// `exec` and `cp` of the berth CLI run on the engine, as the daemon's endpoints do: they
    /// leave dockerd's events, which `berth serve` on the same root reports.
    @Test func theCLIsExecAndCpLeaveDockerdsEvents() throws {
        let daemon = try BerthDaemon()
        let sandbox = daemon.sandbox
        try sandbox.importBusybox()
        try sandbox.ok("run", "-d", "--name", "box", "busybox", "sleep", "1000")
        try sandbox.ok("exec", "box", "true")
        try Data("copied\n".utf8).write(to: URL(fileURLWithPath: sandbox.scratch + "/file"))
        try sandbox.ok("cp", sandbox.scratch + "/file", "box:/tmp/")
        try sandbox.ok("cp", "box:/tmp/file", sandbox.scratch + "/back")
        #expect(try String(contentsOfFile: sandbox.scratch + "/back", encoding: .utf8) == "copied\n")
        let until = Int(Date().timeIntervalSince1970) + 1
        let events = try daemon.request("GET", "/events?since=0&until=\(until)&filters=%7B%22container%22%3A%5B%22box%22%5D%7D")
        let actions = events.body.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["Action"] as? String
        }
        #expect(actions == ["create", "start", "exec_create: true", "exec_start: true", "exec_die", "extract-to-dir", "archive-path"],
                "\(events)")
    }

    /// Whether berth's report of a command-line error says what docker's does: the same error
    /// and help pointer under berth's name, around a usage line of the same command (whose
    /// options berth lists where docker says `[OPTIONS]`).
    private static func sameReport(_ berth: String, _ docker: String) -> Bool {
        let ours = berth.split(separator: "\n", omittingEmptySubsequences: false)
        let theirs = docker.replacingOccurrences(of: "docker", with: "berth").split(separator: "\n", omittingEmptySubsequences: false)
        guard ours.count == theirs.count, ours.count > 2 else { return false }
        let usage = theirs[2].split(separator: " ", omittingEmptySubsequences: false).prefix { $0 != "[OPTIONS]" }.joined(separator: " ")
        return ours.first == theirs.first && ours.dropFirst(3) == theirs.dropFirst(3) && ours[2].hasPrefix(usage + " ")
    }

    /// Docker 20.10 (the peer) exits 126 when exec's command cannot start, found or not (Docker
    /// 23 and later exit 127 for a command not found): Berth follows the peer, with its one line.
    @Test func execErrorsExitCodesAndHelpAreDockers() throws {
        let daemon = try BerthDaemon()
        let sandbox = daemon.sandbox
        try sandbox.importBusybox()
        defer { _ = try? PeerDocker.docker("rm", "-f", "berth-usergroups-errors") }
        // One container on each side; `berth serve` works on the sandbox's root, so it sees the CLI's.
        let started = try both(sandbox, "run", "-d", "--name", "berth-usergroups-errors", "busybox", "sleep", "1000")
        try #require(started.docker.succeeded && started.berth.succeeded, "\(started)")
        for command in ["no-such-command", "/no/such/path", "/etc/passwd"] {
            let (docker, berth) = try both(sandbox, "exec", "berth-usergroups-errors", command)
            let served = try daemon.docker("exec", "berth-usergroups-errors", command)
            #expect(docker.status == 126 && berth.status == 126 && served.status == 126, "\(docker) \(berth) \(served)")
            if command == "/etc/passwd" { continue }
            #expect(berth.out == docker.out && served.out == docker.out, "\(docker) \(berth) \(served)")
            #expect(docker.err.isEmpty && berth.err.isEmpty && served.err.isEmpty, "\(docker) \(berth) \(served)")
        }
        for user in ["no-such-user", "0:no-such-group"] {
            let (docker, berth) = try both(sandbox, "exec", "-u", user, "berth-usergroups-errors", "true")
            #expect(docker.status == 126 && berth.status == 126, "\(docker) \(berth)")
            #expect(berth.out == docker.out && berth.err == docker.err, "\(docker) \(berth)")
        }
        let (dockerDetached, berthDetached) = try both(sandbox, "exec", "-d", "berth-usergroups-errors", "no-such-command")
        let servedDetached = try daemon.docker("exec", "-d", "berth-usergroups-errors", "no-such-command")
        #expect(dockerDetached.status == 1 && berthDetached.status == 1 && servedDetached.status == 1)
        #expect(berthDetached.err == dockerDetached.err && servedDetached.err == dockerDetached.err,
                "\(dockerDetached) \(berthDetached) \(servedDetached)")
        // The API's exec inspect reports the same code.
        let created = try daemon.request("POST", "/containers/berth-usergroups-errors/exec",
                                         body: #"{"Cmd":["no-such-command"],"AttachStdout":true}"#)
        let id = try #require((try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["Id"] as? String)
        _ = try daemon.request("POST", "/exec/\(id)/start", body: "{}")
        let inspected = try daemon.request("GET", "/exec/\(id)/json")
        #expect((try JSONSerialization.jsonObject(with: Data(inspected.body.utf8)) as? [String: Any])?["ExitCode"] as? Int == 126)

        for words in [["exec"], ["container", "exec"]] {
            let help = try sandbox.run(words + ["--help"])
            #expect(help.status == 0 && help.out.contains("Execute a command in a running container"), "\(help)")
            for flag in ["--no-such-flag", "-y"] {
                let docker = try Command.run("docker", words + [flag, "berth-usergroups-errors", "true"], environment: PeerDocker.environment)
                let berth = try sandbox.run(words + [flag, "berth-usergroups-errors", "true"])
                #expect(docker.status == 125 && berth.status == 125, "\(docker) \(berth)")
                #expect(Self.sameReport(berth.err, docker.err), "\(docker) \(berth)")
            }
            let docker = try Command.run("docker", words + ["berth-usergroups-errors"], environment: PeerDocker.environment)
            let berth = try sandbox.run(words + ["berth-usergroups-errors"])
            #expect(docker.status == 1 && berth.status == 1, "\(docker) \(berth)")
            #expect(Self.sameReport(berth.err, docker.err), "\(docker) \(berth)")
        }
    }
}
