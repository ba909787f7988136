import Foundation
import Glibc
import Testing

/// `berth serve` answers the docker CLI's negotiation and refuses what dockerd refuses, with the
/// same status codes and message shapes.
@Suite(.enabled(if: Peers.engineAPI, "needs root, dockerd, the docker CLI and curl"))
struct EngineAPISystemTests {
    @Test func theDockerCLINegotiatesTheNewestVersionItSpeaks() throws {
        let daemon = try BerthDaemon()
        let version = try daemon.ok("version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}")
        #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == "1.50 1.50")
        let socket = try daemon.request("HEAD", "/_ping")
        #expect(socket.status == 200)
    }

    @Test func versionsAndPathsDockerdRefusesAreRefusedTheSameWay() throws {
        let daemon = try BerthDaemon()
        try PeerDocker.start()
        for (method, path) in [("GET", "/v1.10/version"), ("GET", "/v1.45/no/such/endpoint"), ("POST", "/_ping")] {
            let ours = try daemon.request(method, path)
            let theirs = try Command.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
                                                           "/tmp/peer-docker.sock", "-X", method, "http://docker" + path])
            #expect(ours.status == Int(theirs.out), "\(method) \(path): \(ours)")
        }
        let tooOld = try daemon.request("GET", "/v1.10/version")
        #expect(tooOld.body.contains(#"{"message":"client version 1.10 is too old. Minimum supported API version is 1.24"#))
    }

    @Test func aSecondDaemonOnTheSamePidFileRefusesToStart() throws {
        let daemon = try BerthDaemon()
        let second = try daemon.sandbox.run(["serve", "--host", "unix://" + daemon.sandbox.scratch + "/other.sock", "--pidfile", daemon.pidFile], timeout: 30)
        #expect(!second.succeeded)
        #expect(second.err.contains("another berth serve is running"))
    }

    @Test func tcpWithoutClientCertificatesIsRefused() throws {
        let sandbox = try BerthSandbox()
        let result = try sandbox.run(["serve", "--host", "tcp://127.0.0.1:23750", "--pidfile", sandbox.scratch + "/pid"], timeout: 30)
        #expect(!result.succeeded)
        #expect(result.err.contains("without --tlsverify"))
    }

    @Test func tcpServesOnlyClientsWithCertificatesItsCASigned() throws {
        let sandbox = try BerthSandbox()
        let tls = sandbox.scratch + "/tls"
        // A CA, the server's certificate for 127.0.0.1 and a client's, both signed by the CA, and
        // a client certificate the CA did not sign.
        let made = try Command.shell("""
            set -e; mkdir -p \(tls); cd \(tls)
            openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=berth-ca -keyout ca-key.pem -out ca.pem
            openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server-key.pem -out server.csr
            printf 'subjectAltName=IP:127.0.0.1\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 -extfile server.ext -out server.pem
            openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout key.pem -out client.csr
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 -extfile client.ext -out cert.pem
            mkdir rogue
            openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rogue -keyout rogue/key.pem -out rogue/cert.pem
            cp ca.pem rogue/ca.pem
            """)
        try #require(made.succeeded, "\(made)")
        let port = 23_000 + Int(getpid() % 1000)
        let daemon = try sandbox.start([
            "serve", "--host", "tcp://127.0.0.1:\(port)", "--pidfile", sandbox.scratch + "/pid", "--tlsverify",
            "--tlscacert", tls + "/ca.pem", "--tlscert", tls + "/server.pem", "--tlskey", tls + "/server-key.pem", "--kube-port", "0",
        ])
        defer {
            daemon.kill(SIGTERM)
            _ = daemon.wait(timeout: 30)
        }
        func version(certificates: String) throws -> CommandResult {
            try Command.run("docker", ["-H", "tcp://127.0.0.1:\(port)", "version", "--format", "{{.Server.APIVersion}}"],
                            environment: ["DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certificates], timeout: 30)
        }
        var trusted = try version(certificates: tls)
        for _ in 0..<100 where !trusted.succeeded {
            usleep(100_000)
            trusted = try version(certificates: tls)
        }
        #expect(trusted.out.trimmingCharacters(in: .whitespacesAndNewlines) == "1.50", "\(trusted)")
        let rogue = try version(certificates: tls + "/rogue")
        #expect(!rogue.succeeded, "\(rogue)")
        let anonymous = try Command.run("/usr/bin/curl", ["-s", "--cacert", tls + "/ca.pem", "https://127.0.0.1:\(port)/_ping"], timeout: 30)
        #expect(!anonymous.succeeded && anonymous.out != "OK", "\(anonymous)")
    }

    @Test func theSocketIsForRootAndTheBerthGroupOnly() throws {
        let daemon = try BerthDaemon()
        var status = stat()
        try #require(stat(daemon.socket, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o660)
        #expect(status.st_uid == 0)
        let group = getgrnam("berth")
        #expect(status.st_gid == (group.map { $0.pointee.gr_gid } ?? 0))
    }

    @Test func versionReportsBerthsOwnRelease() throws {
        let daemon = try BerthDaemon()
        let version = try daemon.ok("version", "--format", "{{.Server.Version}} {{(index .Server.Components 0).Name}}")
        #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0 Engine")
        let berth = try daemon.sandbox.ok("--version")
        #expect(berth.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test func infoCountsWhatTheRootHoldsAndDescribesTheHost() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        try daemon.sandbox.ok("create", "--name", "idle", "busybox", "true")
        let json = try daemon.ok("info", "--format", "{{json .}}")
        let info = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(info["Containers"] as? Int == 1)
        #expect(info["ContainersStopped"] as? Int == 1)
        #expect(info["ContainersRunning"] as? Int == 0)
        #expect(info["Images"] as? Int == 1)
        #expect(info["Driver"] as? String == "overlay2")
        #expect(info["CgroupDriver"] as? String == "cgroupfs")
        #expect(info["DockerRootDir"] as? String == daemon.sandbox.root)
        #expect(info["ServerVersion"] as? String == "0.1.0")
        #expect(info["OSType"] as? String == "linux")
        #expect(info["DefaultRuntime"] as? String == "runc")
        #expect((info["Runtimes"] as? [String: Any])?["runc"] != nil)
        #expect((info["Swarm"] as? [String: Any])?["LocalNodeState"] as? String == "inactive")
        #expect((info["SecurityOptions"] as? [String])?.contains("name=seccomp,profile=builtin") == true)
        #expect((info["NCPU"] as? Int ?? 0) >= 1)
        let id = try #require(info["ID"] as? String)
        #expect(!id.isEmpty)
        // The ID belongs to the root: a second request, and the restarted daemon, report the same one.
        try daemon.killAndRestart()
        #expect(try daemon.ok("info", "--format", "{{.ID}}").trimmingCharacters(in: .whitespacesAndNewlines) == id)

        let text = try daemon.ok("info")
        #expect(text.contains(" Server Version: 0.1.0"))
        #expect(text.contains(" Storage Driver: overlay2"))
        #expect(text.contains(" Swarm: inactive"))
    }

    @Test func systemDiskUsageCountsImagesContainersAndVolumes() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        try daemon.sandbox.ok("create", "--name", "idle", "-v", "data:/data", "busybox", "true")
        try daemon.sandbox.ok("volume", "create", "spare")
        let summary = try daemon.ok("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}")
        #expect(summary.split(separator: "\n").map(String.init) == [
            "Images 1 1", "Containers 1 0", "Local Volumes 2 1", "Build Cache 0 0",
        ])
        let verbose = try daemon.ok("system", "df", "-v")
        #expect(verbose.contains("busybox"))
        #expect(verbose.contains("idle"))
        #expect(verbose.range(of: #"data\s+1\s"#, options: .regularExpression) != nil, "\(verbose)")
        #expect(verbose.range(of: #"spare\s+0\s"#, options: .regularExpression) != nil, "\(verbose)")

        // API 1.42's `type`: only what is asked for is counted.
        let volumesOnly = try daemon.request("GET", "/v1.50/system/df?type=volume")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(volumesOnly.body.utf8)) as? [String: Any])
        #expect(document["Images"] is NSNull && document["Containers"] is NSNull && document["BuildCache"] is NSNull)
        #expect((document["Volumes"] as? [[String: Any]])?.count == 2)
        let unknown = try daemon.request("GET", "/v1.50/system/df?type=layers")
        #expect(unknown.status == 400)
        #expect(unknown.body.contains("unknown object type: layers"))
    }

    @Test func eventsShowWhatAnotherProcessDidWithinSinceAndUntil() throws {
        let daemon = try BerthDaemon()
        let since = String(Int(Date().timeIntervalSince1970) - 1)
        // The berth CLI, not the daemon, makes these: its events reach the daemon's followers.
        try daemon.sandbox.ok("volume", "create", "from-cli")
        try daemon.sandbox.ok("network", "create", "cli-net")
        try daemon.sandbox.ok("volume", "rm", "from-cli")
        // The CLI sends whole seconds: an `until` one second on covers the second just begun.
        let until = String(Int(Date().timeIntervalSince1970) + 1)
        let lines = try daemon.ok("events", "--since", since, "--until", until, "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")
            .split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "volume create from-cli")
        #expect(lines.dropFirst().first?.hasPrefix("network create ") == true)
        #expect(lines.last == "volume destroy from-cli")

        let volumes = try daemon.ok("events", "--since", since, "--until", until, "--filter", "type=volume", "--filter", "event=destroy",
                                    "--format", "{{json .}}")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(volumes.utf8)) as? [String: Any])
        #expect(event["Type"] as? String == "volume")
        #expect(event["Action"] as? String == "destroy")
        #expect(event["scope"] as? String == "local")
        #expect((event["Actor"] as? [String: Any])?["ID"] as? String == "from-cli")
        #expect((event["timeNano"] as? Int ?? 0) / 1_000_000_000 == event["time"] as? Int)
    }

    @Test func eventsFollowUntilTheirEnd() throws {
        let daemon = try BerthDaemon()
        // Room for a network create and a debug build's `network rm` on a loaded machine.
        let until = String(Int(Date().timeIntervalSince1970) + 20)
        let follower = try Command.start("docker", ["events", "--until", until, "--filter", "type=network", "--format", "{{.Action}} {{.Actor.Attributes.name}}"],
                                         environment: daemon.environment)
        let created = try daemon.request("POST", "/networks/create", body: #"{"Name":"followed"}"#)
        #expect(created.status == 201)
        try daemon.sandbox.ok("network", "rm", "followed")
        let result = follower.wait(timeout: 60)
        #expect(result.succeeded, "\(result)")
        #expect(result.lines == ["create followed", "destroy followed"])
    }

    @Test func eventsRequestsDockerdRefusesAreRefusedTheSameWay() throws {
        let daemon = try BerthDaemon()
        try PeerDocker.start()
        for path in ["/v1.41/events?since=10&until=5", "/v1.41/events?since=20&until=19.5"] {
            let ours = try daemon.request("GET", path)
            let theirs = try Command.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "--unix-socket", "/tmp/peer-docker.sock",
                                                           "http://docker" + path])
            #expect(ours.status == Int(theirs.lines.last ?? ""), "\(path): \(ours) vs \(theirs.out)")
        }
        let reversed = try daemon.request("GET", "/v1.41/events?since=10&until=5")
        #expect(reversed.body.contains("`since` time (10) cannot be after `until` time (5)"))
    }

    @Test func eventFollowersThatLeaveLeaveNothingBehind() throws {
        let daemon = try BerthDaemon()
        let pid = try String(contentsOfFile: daemon.pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        func descriptors() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count }
        // A first follower makes what the daemon makes once (an event loop's timer).
        _ = try Command.run("/usr/bin/curl", ["-s", "--max-time", "1", "--unix-socket", daemon.socket, "http://berth/events"])
        let before = try descriptors()
        // Each client goes away after a second of following, with no event in between.
        let followers = try (0..<5).map { _ in
            try Command.start("/usr/bin/curl", ["-s", "--max-time", "1", "--unix-socket", daemon.socket, "http://berth/events"])
        }
        for follower in followers { _ = follower.wait(timeout: 30) }
        var after = try descriptors()
        for _ in 0..<600 where after > before {
            usleep(100_000)
            after = try descriptors()
        }
        #expect(after <= before)
        try daemon.sandbox.ok("volume", "create", "still-served")
        #expect(try daemon.ok("volume", "ls", "-q") == "still-served\n")
    }
}
