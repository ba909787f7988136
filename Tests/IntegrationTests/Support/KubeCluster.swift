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

    init(serveArguments: [String] = []) throws {
        daemon = try BerthDaemon(kubePort: try Self.freePort(), serveArguments: serveArguments)
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

    /// Runs kubectl against this cluster. The manifests it sends (`apply`, `create` or `replace`
    /// with `-f`) are checked with kubernetes-validate against the schemas of the version Berth
    /// reports: a manifest the real API's schema refuses must be refused by Berth too (unless the
    /// command asks for no strict validation), so every manifest a test applies successfully is one
    /// a real cluster would take.
    @discardableResult
    func kubectl(_ arguments: [String], stdin: StandardInput = .none, environment: [String: String] = [:], timeout: TimeInterval = 60,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let refusal = try manifestRefusal(arguments, stdin: stdin)
        let result = try Command.run("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory] + arguments, stdin: stdin,
                                     environment: environment, timeout: timeout)
        if let refusal {
            #expect(!result.succeeded, "kubernetes-validate refuses a manifest Berth took:\n\(refusal)", sourceLocation: sourceLocation)
        }
        return result
    }

    /// kubernetes-validate's complaint about the manifest a kubectl command sends; nil when it
    /// sends none or the manifest is valid.
    private func manifestRefusal(_ arguments: [String], stdin: StandardInput) throws -> String? {
        guard let verb = arguments.first(where: { !$0.hasPrefix("-") }), ["apply", "create", "replace"].contains(verb),
              let flag = arguments.firstIndex(where: { $0 == "-f" || $0 == "--filename" }), flag + 1 < arguments.count,
              !arguments.contains(where: { ["--validate=warn", "--validate=ignore", "--validate=false"].contains($0) }) else { return nil }
        var manifest = arguments[flag + 1]
        if manifest == "-" {
            switch stdin {
            case .bytes(let data):
                manifest = sandbox.scratch + "/manifest-\(UUID().uuidString).yaml"
                try data.write(to: URL(fileURLWithPath: manifest))
            case .file(let path): manifest = path
            case .none: return nil
            }
        }
        guard !manifest.contains("://") else { return nil }
        let check = try Command.run("kubernetes-validate", ["--strict", "--quiet", "-k", Self.kubernetesVersion, manifest], timeout: 120)
        return check.succeeded ? nil : check.out + check.err
    }

    /// The Kubernetes version whose schemas manifests are checked against: the one `/version` reports.
    static let kubernetesVersion = "1.32.0"

    @discardableResult
    func kubectl(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        try kubectl(arguments, sourceLocation: sourceLocation)
    }

    /// Starts kubectl without waiting for it (watches).
    func startKubectl(_ arguments: String...) throws -> Command.Running {
        try Command.start("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory] + arguments)
    }

    /// A cluster with busybox in its image store, for tests that run pods.
    static func withBusybox() throws -> KubeCluster {
        let cluster = try KubeCluster()
        _ = try cluster.sandbox.importBusybox()
        return cluster
    }

    /// `kubectl apply -f -` of `manifest`; the test stops unless it succeeds.
    func apply(_ manifest: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try kubectl(["apply", "-f", "-"], stdin: .bytes(Data(manifest.utf8)), sourceLocation: sourceLocation)
        try #require(result.succeeded, "\(result)", sourceLocation: sourceLocation)
    }

    /// Runs kubectl, records an issue unless it succeeded, and returns its standard output.
    @discardableResult
    func ok(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try kubectl(arguments, sourceLocation: sourceLocation)
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        return result.out
    }

    /// A port nothing listens on now: the kernel's pick for a socket bound to port 0.
    static func freePort() throws -> Int {
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

/// Polls `body` until it answers a value, for at most `timeout` (the controllers and the node
/// converge on their own time); throws naming `what` if it never does.
func eventually<T>(_ what: String, timeout: TimeInterval = 120, _ body: () throws -> T?) throws -> T {
    let deadline = Date.now.addingTimeInterval(timeout)
    while Date.now < deadline {
        if let value = try body() { return value }
        usleep(250_000)
    }
    throw CommandError.notFound(what)
}
