import Foundation
import Glibc
import Testing

/// The real docker 28 CLI and docker-py against `berth serve` for images, builds and registry
/// transfers: the seed's workflow as written, dockerd's error shapes (compared with the peer
/// daemon), and clients that go away in the middle of a build or a pull.
@Suite(.enabled(if: Peers.engineAPI, "needs root, dockerd, the docker CLI and curl"))
struct EngineAPIImageTests {
    /// The docker CLI against `daemon`, with its config (credentials) in the sandbox.
    struct Client {
        let daemon: BerthDaemon

        var config: String { daemon.sandbox.scratch + "/docker-config" }

        @discardableResult
        func run(_ arguments: [String], stdin: StandardInput = .none, directory: String? = nil) throws -> CommandResult {
            try Command.run("docker", arguments, stdin: stdin, environment: daemon.environment.merging(["DOCKER_CONFIG": config]) { $1 },
                            directory: directory, timeout: 280)
        }

        @discardableResult
        func ok(_ arguments: String..., stdin: StandardInput = .none, directory: String? = nil,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
            let result = try run(arguments, stdin: stdin, directory: directory)
            #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
            return result
        }

        func start(_ arguments: [String], directory: String? = nil) throws -> Command.Running {
            try Command.start("docker", arguments, environment: daemon.environment.merging(["DOCKER_CONFIG": config]) { $1 },
                              directory: directory)
        }
    }

    /// The seed's example app, copied into the sandbox, with the offline Python base imported as
    /// its Dockerfile names it.
    static func seedApp(_ daemon: BerthDaemon) throws -> String {
        let base = Peers.packageRoot + "/images-cache/python-flask-rootfs.tar"
        try #require(access(base, R_OK) == 0, "run scripts/make-base-images.sh for \(base)")
        try daemon.sandbox.ok("import", "--change", #"CMD ["python3"]"#, base, "python:3.11-flask")
        let app = daemon.sandbox.scratch + "/python-helloworld"
        try FileManager.default.copyItem(atPath: Peers.packageRoot + "/examples/python-helloworld", toPath: app)
        return app
    }

    /// A registry on 127.0.0.1 whose one user is alice.
    static func registry(_ sandbox: BerthSandbox) throws -> RegistryServerTests.Server {
        let htpasswd = sandbox.scratch + "/htpasswd"
        let made = try Command.shell("htpasswd -nbB alice alice-pw >\(htpasswd)")
        try #require(made.succeeded, "\(made)")
        return try RegistryServerTests.Server(sandbox: sandbox, arguments: ["--htpasswd", htpasswd])
    }

    @Test func theSeedWorkflowBuildsTagsLogsInPushesAndPullsIntoAnotherDaemon() throws {
        let daemon = try BerthDaemon()
        let docker = Client(daemon: daemon)
        let app = try Self.seedApp(daemon)

        let build = try docker.ok("build", "-t", "python-helloworld", ".", directory: app)
        // The first line follows the CLI's "Sending build context" line after a carriage return.
        #expect(build.lines.contains { $0.hasSuffix("Step 1/6 : FROM python:3.11-flask") }, "\(build)")
        #expect(build.lines.contains("Step 5/6 : RUN pip install -r requirements.txt"), "\(build)")
        #expect(build.lines.contains { $0.hasPrefix(" ---> Running in ") }, "\(build)")
        let built = try #require(build.lines.first { $0.hasPrefix("Successfully built ") }?.dropFirst("Successfully built ".count))
        #expect(build.lines.last == "Successfully tagged python-helloworld:latest", "\(build)")
        let id = try docker.ok("image", "inspect", "-f", "{{.Id}}", "python-helloworld").out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("sha256:" + built), "\(id)")
        #expect(try docker.ok("image", "inspect", "-f", "{{json .Config.Cmd}}", "python-helloworld").out == #"["python","app.py"]"# + "\n")

        // The same build again is served from the cache.
        let cached = try docker.ok("build", "-t", "python-helloworld", ".", directory: app)
        #expect(cached.lines.filter { $0 == " ---> Using cache" }.count == 3, "\(cached)")
        #expect(cached.lines.contains("Successfully built \(built)"), "\(cached)")

        // The seed's run, exactly as written: published on 5111, answering, its log read back.
        let container = try docker.ok("run", "-d", "-p", "5111:5000", "python-helloworld").out.trimmingCharacters(in: .whitespacesAndNewlines)
        var answer = ""
        _ = waitUntil {
            answer = (try? Command.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:5111/"], timeout: 10))?.out ?? ""
            return answer == "Hello World!"
        }
        #expect(answer == "Hello World!")
        // The app logs the request after answering it.
        var logs = try docker.run(["logs", container])
        _ = waitUntil {
            logs = (try? docker.run(["logs", container])) ?? logs
            return (logs.out + logs.err).contains(#""GET / HTTP/1.1" 200"#)
        }
        #expect(logs.succeeded && (logs.out + logs.err).contains("Running on"), "\(logs)")
        #expect((logs.out + logs.err).contains(#""GET / HTTP/1.1" 200"#), "\(logs)")
        try docker.ok("rm", "-f", container)

        let images = try docker.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").lines
        #expect(images.contains("python-helloworld:latest \(built)"), "\(images)")
        let history = try docker.ok("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "python-helloworld").lines
        #expect(history.first == "\(id)|CMD [\"python\" \"app.py\"]", "\(history)")
        #expect(history.dropFirst().allSatisfy { $0.hasPrefix("<missing>|") }, "\(history)")

        let registry = try Self.registry(daemon.sandbox)
        let name = "\(registry.address)/python-helloworld"
        try docker.ok("tag", "python-helloworld", name)
        let anonymous = try docker.run(["push", name])
        #expect(!anonymous.succeeded && anonymous.err.contains("unauthorized"), "\(anonymous)")
        let wrong = try docker.run(["login", "-u", "alice", "--password-stdin", registry.address], stdin: .bytes(Data("nope\n".utf8)))
        #expect(!wrong.succeeded && wrong.err.contains("Error response from daemon: unauthorized"), "\(wrong)")
        let login = try docker.ok("login", "-u", "alice", "--password-stdin", registry.address, stdin: .bytes(Data("alice-pw\n".utf8)))
        #expect(login.lines.last == "Login Succeeded", "\(login)")

        let push = try docker.ok("push", name)
        #expect(push.lines.contains("The push refers to repository [\(name)]"), "\(push)")
        #expect(push.lines.contains { $0.wholeMatch(of: #/[0-9a-f]{12}: Pushed/#) != nil }, "\(push)")
        let pushed = try #require(push.lines.last?.wholeMatch(of: #/latest: digest: (sha256:[0-9a-f]{64}) size: [0-9]+/#), "\(push)")

        let other = try BerthDaemon()
        let otherDocker = Client(daemon: other)
        try FileManager.default.createDirectory(atPath: otherDocker.config, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: docker.config + "/config.json", toPath: otherDocker.config + "/config.json")
        let pull = try otherDocker.ok("pull", name)
        #expect(pull.lines.contains("latest: Pulling from python-helloworld"), "\(pull)")
        #expect(pull.lines.contains { $0.wholeMatch(of: #/[0-9a-f]{12}: Pull complete/#) != nil }, "\(pull)")
        #expect(pull.lines.contains("Digest: \(pushed.1)"), "\(pull)")
        #expect(pull.lines.contains("Status: Downloaded newer image for \(name):latest"), "\(pull)")
        #expect(pull.lines.last == "\(name):latest", "\(pull)")
        #expect(try otherDocker.ok("image", "inspect", "-f", "{{.Id}}", name).out.hasPrefix(id))
        let again = try otherDocker.ok("pull", name)
        #expect(again.lines.contains("Status: Image is up to date for \(name):latest"), "\(again)")
        // The berth CLI on the same root sees what the daemon pulled.
        #expect(try other.sandbox.ok("images", "--format", "{{.Repository}}").contains(name))
    }

    @Test func rmiConflictsAndMissingImagesAnswerAsDockerdDoes() throws {
        let daemon = try BerthDaemon()
        let docker = Client(daemon: daemon)
        try PeerDocker.start()
        let unique = "rmi-\(UUID().uuidString.prefix(8).lowercased())"
        try daemon.sandbox.importBusybox(as: "\(unique):1")
        try PeerDocker.checked("import", try Fixtures.busyboxRootfs(), "\(unique):1")
        let peerContainer = try PeerDocker.checked("create", "\(unique):1", "true")
        defer {
            _ = try? PeerDocker.docker("rm", peerContainer)
            _ = try? PeerDocker.docker("rmi", "-f", "\(unique):1", "\(unique):2")
        }
        try daemon.sandbox.ok("create", "\(unique):1", "true")
        let peerID = String(try PeerDocker.checked("image", "inspect", "-f", "{{.Id}}", "\(unique):1").dropFirst(7).prefix(12))
        let ourID = try docker.ok("image", "inspect", "-f", "{{.Id}}", "\(unique):1").out.trimmingCharacters(in: .whitespacesAndNewlines)
        let ourShortID = String(ourID.dropFirst(7).prefix(12))

        /// Both answers fail with one message, IDs aside.
        func sameRefusal(_ ours: [String], _ peers: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let mine = try docker.run(ours)
            let theirs = try Command.run("docker", peers, environment: PeerDocker.environment)
            func shape(_ text: String) -> String {
                text.replacing(#/[0-9a-f]{12}/#, with: "ID").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(!mine.succeeded && !theirs.succeeded && mine.status == theirs.status, "\(mine) vs \(theirs)",
                    sourceLocation: sourceLocation)
            #expect(shape(mine.err) == shape(theirs.err), "\(mine.err) vs \(theirs.err)", sourceLocation: sourceLocation)
        }
        // The only name of an image a container uses, its ID, and an ID with two names.
        try sameRefusal(["rmi", "\(unique):1"], ["rmi", "\(unique):1"])
        try sameRefusal(["rmi", ourShortID], ["rmi", peerID])
        try docker.ok("tag", "\(unique):1", "\(unique):2")
        try PeerDocker.checked("tag", "\(unique):1", "\(unique):2")
        try sameRefusal(["rmi", ourShortID], ["rmi", peerID])

        let missing = try daemon.request("DELETE", "/v1.41/images/\(unique)-missing")
        let peerMissing = try Command.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "--unix-socket", "/tmp/peer-docker.sock",
                                                            "-X", "DELETE", "http://docker/v1.41/images/\(unique)-missing"])
        #expect(peerMissing.lines.last == "\(missing.status)", "\(peerMissing) vs \(missing)")
        #expect(missing.body.trimmingCharacters(in: .whitespacesAndNewlines) == peerMissing.lines.first, "\(missing.body)")

        // Requests about missing images, bad filters and references: dockerd's statuses.
        for (method, path) in [("POST", "/v1.41/images/\(unique)-missing/tag?repo=x&tag=y"), ("GET", "/v1.41/images/\(unique)-missing/json"),
                               ("GET", "/v1.41/images/\(unique)-missing/history"), ("GET", "/v1.41/images/get?names=\(unique)-missing"),
                               ("POST", "/v1.41/images/prune?filters=%7B%22nope%22%3A%7B%22x%22%3Atrue%7D%7D"),
                               ("GET", "/v1.41/images/json?filters=%7B%22nope%22%3A%7B%22x%22%3Atrue%7D%7D")] {
            let ours = try daemon.request(method, path)
            let theirs = try Command.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "--unix-socket",
                                                           "/tmp/peer-docker.sock", "-X", method, "http://docker" + path])
            #expect(ours.status == theirs.lines.last.flatMap { Int($0) }, "\(method) \(path): \(ours) vs \(theirs.out)")
            #expect(ours.body.hasPrefix(#"{"message":"#), "\(method) \(path): \(ours)")
        }

        // Forced, the image goes; the stopped container keeps what it runs on.
        let forced = try docker.ok("rmi", "-f", ourShortID)
        #expect(forced.lines == ["Untagged: \(unique):1", "Untagged: \(unique):2", "Deleted: \(ourID)"], "\(forced)")
    }

    @Test func saveLoadTagHistoryPruneAndSearch() throws {
        let daemon = try BerthDaemon()
        let docker = Client(daemon: daemon)
        let id = try daemon.sandbox.importBusybox()
        try docker.ok("tag", "busybox", "saved/busybox:2")
        let archive = daemon.sandbox.scratch + "/saved.tar"
        try docker.ok("save", "-o", archive, "saved/busybox:2")
        try docker.ok("rmi", "saved/busybox:2", "busybox")
        #expect(try docker.ok("images", "-q").out.isEmpty)
        let load = try docker.ok("load", "-i", archive)
        #expect(load.out == "Loaded image: saved/busybox:2\n", "\(load)")
        #expect(try docker.ok("image", "inspect", "-f", "{{.Id}}", "saved/busybox:2").out == id + "\n")

        // docker save | docker load through the daemon, and into the peer dockerd.
        let piped = try Command.shell("docker save saved/busybox:2 | docker load",
                                      environment: daemon.environment.merging(["DOCKER_CONFIG": docker.config]) { $1 })
        #expect(piped.succeeded && piped.out.contains("Loaded image: saved/busybox:2"), "\(piped)")
        try PeerDocker.start()
        let intoPeer = try PeerDocker.docker("load", "-i", archive)
        #expect(intoPeer.succeeded && intoPeer.out.contains("saved/busybox:2"), "\(intoPeer)")
        _ = try? PeerDocker.docker("rmi", "saved/busybox:2")

        let history = try daemon.request("GET", "/images/saved/busybox:2/history")
        #expect(history.status == 200)
        let entries = try #require(JSONSerialization.jsonObject(with: Data(history.body.utf8)) as? [[String: Any]])
        #expect(entries.first?["Id"] as? String == id && entries.first?["Tags"] as? [String] == ["saved/busybox:2"], "\(history)")

        // An untagged image is dangling: image prune takes it, with dockerd's report.
        try daemon.sandbox.ok("import", "--change", #"CMD ["sh"]"#, "-m", "dangling", try Fixtures.busyboxRootfs())
        let prune = try daemon.request("POST", "/images/prune")
        let pruned = try #require(JSONSerialization.jsonObject(with: Data(prune.body.utf8)) as? [String: Any], "\(prune)")
        #expect(prune.status == 200 && (pruned["ImagesDeleted"] as? [[String: String]])?.first?["Deleted"]?.hasPrefix("sha256:") == true,
                "\(prune)")
        #expect(try docker.ok("image", "prune", "-f").out == "Total reclaimed space: 0B\n")
        let empty = try daemon.request("POST", "/images/prune?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D")
        #expect(canonicalJSON(try JSONSerialization.jsonObject(with: Data(empty.body.utf8)))
            == canonicalJSON(["ImagesDeleted": NSNull(), "SpaceReclaimed": 0]), "\(empty)")
        let badFilter = try daemon.request("POST", "/images/prune?filters=%7B%22nope%22%3A%7B%22x%22%3Atrue%7D%7D")
        #expect(badFilter.status == 400, "\(badFilter)")

        // Search has no index to ask: dockerd's shape for an unreachable index.
        let search = try daemon.request("GET", "/images/search?term=busybox")
        #expect(search.status == 500 && search.body.hasPrefix(#"{"message":"Get \"https://index.docker.io/v1/search?q=busybox"#), "\(search)")
        let result = try docker.run(["search", "busybox"])
        #expect(!result.succeeded && result.err.contains("Error response from daemon:"), "\(result)")

        // A push of a name with no local image, and a load of what is no archive, fail inside
        // their streams as dockerd's do.
        let notLocal = try docker.run(["push", "127.0.0.1:9/berth-not-local:1"])
        let peerNotLocal = try Command.run("docker", ["push", "127.0.0.1:9/berth-not-local:1"], environment: PeerDocker.environment)
        #expect(notLocal.status == peerNotLocal.status && notLocal.out == peerNotLocal.out && notLocal.err == peerNotLocal.err,
                "\(notLocal) vs \(peerNotLocal)")
        let garbage = try daemon.request("POST", "/images/load", body: "garbage")
        let failure = try JSONSerialization.jsonObject(with: Data(garbage.body.utf8)) as? [String: Any]
        #expect(garbage.status == 200 && (failure?["errorDetail"] as? [String: Any])?["message"] is String
                && failure?["error"] is String, "\(garbage)")

        let tagged = try daemon.request("POST", "/images/saved/busybox:2/tag?repo=again/busybox&tag=3")
        #expect(tagged.status == 201, "\(tagged)")
        #expect(try docker.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "again/busybox").out == "again/busybox:3\n")
    }

    @Test func aFailedBuildNamesTheDockerfileLineAndExitsWithTheStepsCode() throws {
        let daemon = try BerthDaemon()
        let docker = Client(daemon: daemon)
        try daemon.sandbox.importBusybox()
        let context = daemon.sandbox.scratch + "/failing"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM busybox\nRUN echo before\nRUN exit 3\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let build = try docker.run(["build", "-t", "failing", "."], directory: context)
        #expect(build.status == 3, "\(build)")
        #expect(build.out.contains("Step 3/3 : RUN exit 3"), "\(build)")
        #expect(build.err.contains("Dockerfile:3: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3"), "\(build)")
        #expect(try docker.run(["image", "inspect", "failing"]).status == 1)

        // What the steps before the failure made is cached; builder prune empties the cache.
        #expect(!daemon.sandbox.entries("buildcache/keys").isEmpty)
        let prune = try docker.ok("builder", "prune", "-f")
        #expect(prune.lines.last?.hasPrefix("Total reclaimed space: ") == true, "\(prune)")
        #expect(daemon.sandbox.entries("buildcache/keys").isEmpty)

        let unknown = try docker.run(["build", "-t", "x", "-f", "Nope", "."], directory: context)
        #expect(!unknown.succeeded && unknown.err.contains("Nope"), "\(unknown)")
        #expect(daemon.sandbox.entries("tmp").isEmpty)
    }

    @Test func aBuildPullsTheBaseImagesTheStoreLacksAndAllOfThemWithPull() throws {
        let daemon = try BerthDaemon()
        let docker = Client(daemon: daemon)
        try daemon.sandbox.importBusybox()
        let registry = try RegistryServerTests.Server(sandbox: daemon.sandbox)
        let base = "\(registry.address)/base:1"
        try docker.ok("tag", "busybox", base)
        try docker.ok("push", base)
        try docker.ok("rmi", "busybox", base)
        let context = daemon.sandbox.scratch + "/pulling"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM \(base)\nRUN echo built on the pulled base\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)

        let build = try docker.ok("build", "-t", "on-pulled", ".", directory: context)
        #expect(build.out.contains("1: Pulling from base"), "\(build)")
        #expect(build.out.contains("Status: Downloaded newer image for \(base)"), "\(build)")
        #expect(build.lines.contains("built on the pulled base"), "\(build)")
        #expect(build.lines.last == "Successfully tagged on-pulled:latest", "\(build)")

        let again = try docker.ok("build", "--pull", "-t", "on-pulled", ".", directory: context)
        #expect(again.out.contains("Status: Image is up to date for \(base)"), "\(again)")
        let quiet = try docker.ok("build", "-q", "--pull", "-t", "on-pulled", ".", directory: context)
        #expect(quiet.out.wholeMatch(of: #/sha256:[0-9a-f]{64}\n/#) != nil, "\(quiet)")
        // The berth CLI's --pull pulls too.
        #expect(try daemon.sandbox.run("build", "--pull", "-q", "-t", "cli-on-pulled", context).succeeded)
    }

    @Test func aClientKilledMidBuildLeavesNoStepProcessOrContextBehind() throws {
        let daemon = try BerthDaemon()
        let docker = Client(daemon: daemon)
        try daemon.sandbox.importBusybox()
        let marker = "berth-killed-build-\(UUID().uuidString.prefix(8).lowercased())"
        let context = daemon.sandbox.scratch + "/slow"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM busybox\nRUN sleep 600; echo \(marker)\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let client = try docker.start(["build", "-t", "slow", "."], directory: context)
        try #require(waitUntil { !processes(matching: marker).isEmpty }, "the RUN step never started")
        #expect(!daemon.sandbox.entries("tmp").isEmpty, "the context is extracted under the root")
        client.kill(SIGKILL)
        _ = client.wait()
        #expect(waitUntil { processes(matching: marker).isEmpty }, "the step's processes outlived the client")
        #expect(waitUntil { daemon.sandbox.entries("tmp").isEmpty }, "the context was left behind")
        #expect(waitUntil { daemon.sandbox.entries("buildcache/steps").isEmpty })
        // The daemon goes on serving, and the next build runs.
        try "FROM busybox\nRUN echo next\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        try docker.ok("build", "-t", "next", ".", directory: context)
    }

    @Test func aClientKilledMidPullLeavesNothingAndTheNextPullWorks() throws {
        let daemon = try BerthDaemon()
        let docker = Client(daemon: daemon)
        let registry = try RegistryServerTests.Server(sandbox: daemon.sandbox)
        let name = "\(registry.address)/big:1"
        // docker import sends the tarball to /images/create?fromSrc=-.
        let imported = try docker.ok("import", try Fixtures.randomRootfs(sizeMB: 300), name)
        #expect(imported.out.hasPrefix("sha256:"), "\(imported)")
        try docker.ok("push", name)

        let other = try BerthDaemon()
        let otherDocker = Client(daemon: other)
        let client = try otherDocker.start(["pull", name])
        let ingest = "ingest"
        try #require(waitUntil { !other.sandbox.entries(ingest).filter { !$0.hasPrefix(".") }.isEmpty }, "the pull never wrote a blob")
        client.kill(SIGKILL)
        _ = client.wait()
        #expect(waitUntil { other.sandbox.entries(ingest).filter { !$0.hasPrefix(".") }.isEmpty }, "\(other.sandbox.entries(ingest))")
        #expect(try otherDocker.ok("images", "-q").out.isEmpty)
        let pull = try otherDocker.ok("pull", name)
        #expect(pull.lines.last == name, "\(pull)")
    }

    @Test func dockerPyBuildsAndPulls() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        let registry = try RegistryServerTests.Server(sandbox: daemon.sandbox)
        let context = daemon.sandbox.scratch + "/py"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM busybox\nARG GREETING\nRUN echo $GREETING > /greeting\nLABEL made=docker-py\n"
            .write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        let script = """
            import docker, sys
            client = docker.from_env()
            image, logs = client.images.build(path=sys.argv[1], tag=sys.argv[2] + "/py:1", buildargs={"GREETING": "hi"})
            print("built", image.id, image.labels["made"])
            print("stream", any("Successfully built" in entry.get("stream", "") for entry in logs))
            for line in client.images.push(sys.argv[2] + "/py", tag="1", stream=True, decode=True):
                if "error" in line:
                    sys.exit(line["error"])
            client.images.remove(sys.argv[2] + "/py:1")
            pulled = client.images.pull(sys.argv[2] + "/py", tag="1")
            print("pulled", pulled.id, pulled.tags)
            """
        let result = try Command.run("python3", ["-c", script, context, registry.address],
                                     environment: ["DOCKER_HOST": daemon.environment["DOCKER_HOST"] ?? ""], timeout: 280)
        #expect(result.succeeded, "\(result)")
        let built = try #require(result.lines.first { $0.hasPrefix("built ") }?.split(separator: " "))
        #expect(built.count == 3 && built[2] == "docker-py", "\(result)")
        #expect(result.lines.contains("stream True"), "\(result)")
        #expect(result.lines.contains("pulled \(built[1]) ['\(registry.address)/py:1']"), "\(result)")
    }
}

/// Polls `condition` until it holds, for at most a minute (work that ends on its own: a killed
/// client's build or pull winding down).
private func waitUntil(_ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// The pids of the processes whose command line contains `text`.
private func processes(matching text: String) -> [String] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return pids.filter { pid in
        guard pid.allSatisfy(\.isNumber), pid != String(getpid()),
              let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }
}
