import Foundation
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
}
