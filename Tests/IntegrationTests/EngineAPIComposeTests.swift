import Foundation
import Testing

/// docker-compose 1.29.2 (through docker-py) and Testcontainers for Python against `berth serve`.
@Suite(.enabled(if: Peers.composeAndTestcontainers, "needs root, docker-compose, python3 with testcontainers, and curl"))
struct EngineAPIComposeTests {
    /// A web service (busybox httpd serving a page from a named volume, on a published port) and a
    /// client that fetches the page by the web service's name on the project's network.
    static let project = """
        version: "3.7"
        services:
          web:
            image: busybox:latest
            command: ["sh", "-c", "echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
            volumes:
              - site:/www
            ports:
              - "8080"
          client:
            image: busybox:latest
            command: ["sh", "-c", "while true; do wget -q -O - http://web:8080/ || echo fetch-failed; sleep 1; done"]
            depends_on:
              - web
        volumes:
          site:

        """

    @Test func composeUpPsLogsExecDown() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        let directory = daemon.sandbox.scratch + "/proj"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.project.write(toFile: directory + "/docker-compose.yml", atomically: true, encoding: .utf8)
        func compose(_ arguments: String...) throws -> CommandResult {
            try Command.run("docker-compose", ["--no-ansi", "-p", "proj"] + arguments, environment: daemon.environment,
                            directory: directory, timeout: 180)
        }
        defer { _ = try? compose("down", "-v") }

        let up = try compose("up", "-d")
        try #require(up.succeeded, "\(up)")
        let ps = try compose("ps")
        #expect(ps.succeeded, "\(ps)")
        for service in ["proj_web_1", "proj_client_1"] {
            let line = ps.lines.first { $0.hasPrefix(service) }
            #expect(line?.contains("Up") == true, "\(ps.out)")
        }

        // The published port answers on the host.
        let port = try compose("port", "web", "8080")
        try #require(port.succeeded, "\(port)")
        let hostPort = try #require(port.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").last)
        let page = try Command.run("/usr/bin/curl", ["-s", "--max-time", "10", "http://127.0.0.1:\(hostPort)/"])
        #expect(page.out == "hello-from-web\n", "\(page)")

        // The client reaches the web service by its name: in an exec, and in its own logs.
        let exec = try compose("exec", "-T", "client", "wget", "-q", "-O", "-", "http://web:8080/")
        #expect(exec.succeeded, "\(exec)")
        #expect(exec.out == "hello-from-web\n")
        var logs = try compose("logs", "--no-color", "client")
        for _ in 0..<30 where !logs.out.contains("hello-from-web") {
            usleep(500_000)
            logs = try compose("logs", "--no-color", "client")
        }
        #expect(logs.succeeded, "\(logs)")
        #expect(logs.out.contains("client_1  | hello-from-web"), "\(logs.out)")

        let down = try compose("down", "-v")
        #expect(down.succeeded, "\(down)")
        #expect(try daemon.ok("ps", "-aq") == "")
        #expect(!(try daemon.ok("volume", "ls", "-q")).contains("proj_site"))
        #expect(!(try daemon.ok("network", "ls", "--format", "{{.Name}}")).contains("proj_default"))
    }

    @Test func testcontainersStartsAContainerAndWaitsForItsLogLine() throws {
        let daemon = try BerthDaemon()
        try daemon.sandbox.importBusybox()
        let script = daemon.sandbox.scratch + "/testcontainers_probe.py"
        try """
            from testcontainers.core.container import DockerContainer
            from testcontainers.core.waiting_utils import wait_for_logs

            command = ["sh", "-c", "echo starting; sleep 1; echo ready-to-serve; sleep 300"]
            with DockerContainer("busybox:latest").with_command(command) as container:
                wait_for_logs(container, "ready-to-serve", timeout=60)
                wrapped = container.get_wrapped_container()
                wrapped.reload()
                print("ready", wrapped.status)

            """.write(toFile: script, atomically: true, encoding: .utf8)
        // Ryuk, Testcontainers' reaper, is an image from Docker Hub: this machine has no way to it,
        // and the `with` block removes the container itself.
        var environment = daemon.environment
        environment["TESTCONTAINERS_RYUK_DISABLED"] = "true"
        let result = try Command.run("python3", [script], environment: environment, timeout: 180)
        #expect(result.succeeded, "\(result)")
        #expect(result.out == "ready running\n")
        #expect(try daemon.ok("ps", "-aq") == "")
    }
}
