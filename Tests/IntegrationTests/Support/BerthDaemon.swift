import Foundation
import Glibc
import Testing

/// A `berth serve` on a sandbox's root, listening on a socket in the sandbox, for the real docker
/// CLI, docker-py and Compose to drive; stopped (SIGTERM) when the test lets go of it.
final class BerthDaemon: @unchecked Sendable {
    let sandbox: BerthSandbox
    let socket: String
    let pidFile: String
    /// The Kubernetes API's port on 127.0.0.1; 0 when the daemon does not serve it.
    let kubePort: Int
    /// More `berth serve` options (`--ingress-http-port …`).
    let serveArguments: [String]
    private(set) var process: Command.Running

    /// `DOCKER_HOST` for this daemon, and the classic builder (the docker 28 CLI here has no buildx).
    var environment: [String: String] { ["DOCKER_HOST": "unix://" + socket, "DOCKER_BUILDKIT": "0"] }

    /// The Kubernetes API is off unless `kubePort` is given: daemons of parallel tests would all
    /// want the default port.
    init(sandbox: BerthSandbox? = nil, kubePort: Int = 0, serveArguments: [String] = []) throws {
        let sandbox = try sandbox ?? BerthSandbox()
        self.sandbox = sandbox
        self.kubePort = kubePort
        self.serveArguments = serveArguments
        socket = sandbox.scratch + "/docker.sock"
        pidFile = sandbox.scratch + "/berth.pid"
        process = try Self.start(sandbox, socket: socket, pidFile: pidFile, kubePort: kubePort, arguments: serveArguments)
    }

    deinit {
        process.kill(SIGTERM)
        _ = process.wait(timeout: 30)
    }

    /// Stops the daemon (SIGTERM) ahead of the test's end.
    func stop() {
        process.kill(SIGTERM)
        _ = process.wait(timeout: 30)
    }

    /// Kills the daemon with SIGKILL and starts a new one on the same root and socket.
    func killAndRestart() throws {
        process.kill(SIGKILL)
        _ = process.wait(timeout: 30)
        process = try Self.start(sandbox, socket: socket, pidFile: pidFile, kubePort: kubePort, arguments: serveArguments)
    }

    private static func start(_ sandbox: BerthSandbox, socket: String, pidFile: String, kubePort: Int, arguments: [String]) throws -> Command.Running {
        let running = try sandbox.start(["serve", "--host", "unix://" + socket, "--pidfile", pidFile, "--kube-port", String(kubePort)] + arguments)
        // Ready once the socket answers a ping.
        for _ in 0..<200 {
            if let result = try? Command.run("/usr/bin/curl", ["-sf", "--unix-socket", socket, "http://berth/_ping"], timeout: 5),
               result.succeeded { return running }
            usleep(50_000)
        }
        running.kill(SIGKILL)
        throw CommandError.notFound("a berth serve answering on \(socket): \(running.wait(timeout: 10))")
    }

    /// Runs the docker CLI against this daemon.
    @discardableResult
    func docker(_ arguments: [String], stdin: StandardInput = .none, timeout: TimeInterval = 300) throws -> CommandResult {
        try Command.run("docker", arguments, stdin: stdin, environment: environment, timeout: timeout)
    }

    @discardableResult
    func docker(_ arguments: String..., stdin: StandardInput = .none) throws -> CommandResult {
        try docker(arguments, stdin: stdin)
    }

    /// Runs the docker CLI, records an issue unless it succeeded, and returns its standard output.
    @discardableResult
    func ok(_ arguments: String..., stdin: StandardInput = .none, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try docker(arguments, stdin: stdin)
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        return result.out
    }

    /// A request with curl straight to the socket: the status code and the body.
    func request(_ method: String, _ path: String, body: String? = nil) throws -> (status: Int, body: String) {
        var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", socket, "-X", method, "http://berth" + path]
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let result = try Command.run("/usr/bin/curl", arguments, timeout: 60)
        var lines = result.out.components(separatedBy: "\n")
        let status = Int(lines.removeLast()) ?? 0
        return (status, lines.joined(separator: "\n"))
    }
}
