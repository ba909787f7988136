import Foundation
import Glibc
import Testing

/// A `berth serve` with its Kubernetes API on a free port, and the real kubectl pointed at it
/// through a kubeconfig and a discovery cache inside the sandbox (never the user's ~/.kube).
final class KubeCluster: @unchecked Sendable {
    let daemon: BerthDaemon
    let kubeconfig: String
    let cacheDirectory: String

    var sandbox: BerthSandbox { daemon.sandbox }
    var port: Int { daemon.kubePort }

    init() throws {
        daemon = try BerthDaemon(kubePort: try Self.freePort())
        kubeconfig = daemon.sandbox.scratch + "/kubeconfig"
        cacheDirectory = daemon.sandbox.scratch + "/kube-cache"
        let config = try daemon.sandbox.run(["kube", "config", "--kube-port", String(port)])
        try #require(config.succeeded, "\(config)")
        try Data(config.stdout).write(to: URL(fileURLWithPath: kubeconfig))
    }

    /// The pods' containers and network go before the sandbox: the daemon first, so its node
    /// starts nothing more, then the containers, then the pods' bridge (which no sandbox removes).
    deinit {
        daemon.stop()
        if let listed = try? sandbox.run(["ps", "-aq", "--no-trunc"], timeout: 60), listed.succeeded, !listed.lines.isEmpty {
            _ = try? sandbox.run(["rm", "-f", "-v"] + listed.lines, timeout: 120)
        }
        _ = try? sandbox.run(["network", "rm", "berth-pods"], timeout: 60)
    }

    /// Runs kubectl against this cluster.
    @discardableResult
    func kubectl(_ arguments: [String], stdin: StandardInput = .none, timeout: TimeInterval = 60) throws -> CommandResult {
        try Command.run("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory] + arguments, stdin: stdin, timeout: timeout)
    }

    @discardableResult
    func kubectl(_ arguments: String...) throws -> CommandResult {
        try kubectl(arguments)
    }

    /// Starts kubectl without waiting for it (watches).
    func startKubectl(_ arguments: String...) throws -> Command.Running {
        try Command.start("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory] + arguments)
    }

    /// Runs kubectl, records an issue unless it succeeded, and returns its standard output.
    @discardableResult
    func ok(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try kubectl(arguments)
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        return result.out
    }

    /// A port nothing listens on now: the kernel's pick for a socket bound to port 0.
    private static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw CommandError.notFound("a free TCP port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
