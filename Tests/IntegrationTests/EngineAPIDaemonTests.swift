import Foundation
import Glibc
import Testing

/// `berth serve` as a long-lived process beside the CLI: killing it loses nothing, and the CLI and
/// the daemon share one state root without corrupting it.
@Suite(.enabled(if: Peers.engineAPI, "needs root, dockerd, the docker CLI and curl"))
struct EngineAPIDaemonTests {
    @Test func aDaemonKilledWithSIGKILLLosesNothingAndItsContainersKeepRunning() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        try daemon.ok("volume", "create", "kept")
        let id = try daemon.ok("run", "-d", "--name", "survivor", "-v", "kept:/data", "busybox", "sleep", "600")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let pid = try daemon.ok("inspect", "-f", "{{.State.Pid}}", "survivor").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int32(pid).map { kill($0, 0) == 0 } == true)

        try daemon.killAndRestart()

        #expect(Int32(pid).map { kill($0, 0) == 0 } == true, "the container's process died with the daemon")
        let running = try daemon.ok("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}")
        #expect(running.contains(String(id.prefix(12)) + " survivor Up"))
        #expect(try daemon.ok("images", "--format", "{{.Repository}}:{{.Tag}}").contains("busybox:latest"))
        #expect(try daemon.ok("volume", "ls", "--format", "{{.Name}}").contains("kept"))
        // The restarted daemon drives what the killed one started.
        try daemon.ok("stop", "-t", "1", "survivor")
        #expect(try daemon.ok("inspect", "-f", "{{.State.Running}}", "survivor").hasPrefix("false"))
        try daemon.ok("rm", "survivor")
    }

    @Test func theCLIAndTheDaemonChangeOneRootAtTheSameTime() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        let count = 8
        let viaDaemon = try (0..<count).map { index in
            try Command.start("docker", ["create", "--name", "api-\(index)", "busybox", "true"], environment: daemon.environment)
        }
        let viaCLI = try (0..<count).map { index in try daemon.sandbox.start(["create", "--name", "cli-\(index)", "busybox", "true"]) }
        for running in viaDaemon + viaCLI {
            let result = running.wait(timeout: 120)
            #expect(result.succeeded, "\(result)")
        }
        let expected = Set((0..<count).flatMap { ["api-\($0)", "cli-\($0)"] })
        let throughDaemon = Set(try daemon.ok("ps", "-a", "--format", "{{.Names}}").split(separator: "\n").map(String.init))
        let throughCLI = Set(try daemon.sandbox.ok("ps", "-a", "--format", "{{.Names}}").split(separator: "\n").map(String.init))
        #expect(throughDaemon == expected)
        #expect(throughCLI == expected)
        #expect(try daemon.sandbox.ok("system", "check").contains(": 0 problems"))
    }
}
