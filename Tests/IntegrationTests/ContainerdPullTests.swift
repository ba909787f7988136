import Foundation
import Glibc
import Testing

/// containerd, the runtime under a real cluster's kubelet, pulls and unpacks images that
/// `berth push` put into `berth registry serve`: over plain HTTP, over TLS with the registry's
/// certificate trusted through a hosts directory (as /etc/containerd/certs.d on a node), and with
/// basic auth and bearer tokens (what an imagePullSecret gives the kubelet).
@Suite(.serialized, .enabled(if: Peers.containerd, "needs root, containerd, ctr, openssl and htpasswd"))
struct ContainerdPullTests {
    /// A private containerd: its own root, state and socket under the sandbox, never the system's.
    final class Containerd {
        let directory: String
        let socket: String
        private var running: Command.Running?

        init(sandbox: BerthSandbox) throws {
            directory = sandbox.scratch + "/containerd"
            socket = directory + "/containerd.sock"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // Only the content store, the overlay snapshotter and the image service are needed; the
            // CRI plugin would start a kubelet's runtime service and the other snapshotters probe
            // the host. `opt` would default to the host's /opt/containerd.
            let config = directory + "/config.toml"
            try """
                version = 2
                disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
                [plugins."io.containerd.internal.v1.opt"]
                  path = "\(directory)/opt"
                """.write(toFile: config, atomically: true, encoding: .utf8)
            running = try Command.start("containerd", [
                "--config", config, "--root", directory + "/root", "--state", directory + "/state", "--address", socket,
            ])
            _ = try eventually("containerd answering on \(socket)", timeout: 30) {
                try ctr(["version"]).succeeded ? true : nil
            }
        }

        func ctr(_ arguments: [String], namespace: String = "berth-it") throws -> CommandResult {
            try Command.run("ctr", ["--address", socket, "--namespace", namespace] + arguments, timeout: 280)
        }

        /// Runs `body` with the directory where the pulled image's unpacked snapshot is mounted;
        /// the mount is undone afterwards.
        func mounted<T>(_ image: String, namespace: String = "berth-it", _ body: (String) throws -> T) throws -> T {
            let target = directory + "/mnt-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let mount = try ctr(["images", "mount", image, target], namespace: namespace)
            try #require(mount.succeeded, "\(mount)")
            defer { _ = try? ctr(["images", "unmount", "--rm", target], namespace: namespace) }
            return try body(target)
        }

        /// The text of `file` in the pulled image's unpacked layers.
        func read(_ file: String, in image: String, namespace: String = "berth-it") throws -> String? {
            try mounted(image, namespace: namespace) { try? String(contentsOfFile: $0 + file, encoding: .utf8) }
        }

        deinit {
            guard let running else { return }
            running.kill(SIGTERM)
            _ = running.wait(timeout: 30)
        }
    }

    /// An image with two gzip layers built by Berth (busybox and one file), tagged for `registry`.
    static func buildImage(_ sandbox: BerthSandbox, as name: String) throws {
        _ = try sandbox.importBusybox()
        let context = sandbox.scratch + "/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM busybox:latest\nRUN echo pulled by containerd > /hello.txt\n"
            .write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
        try sandbox.ok("build", "-q", "-t", name, context)
    }

    /// `ctr images check` lists the image as complete and unpacked.
    static func expectComplete(_ containerd: Containerd, _ image: String, namespace: String = "berth-it",
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let check = try containerd.ctr(["images", "check", "name==" + image], namespace: namespace)
        try #require(check.succeeded, "\(check)", sourceLocation: sourceLocation)
        let row = check.lines.first { $0.hasPrefix(image + " ") } ?? ""
        #expect(row.contains("complete (3/3)") && row.hasSuffix("true"), "\(check.out)", sourceLocation: sourceLocation)
    }

    @Test func containerdPullsOverPlainHTTPAndUnpacksTheLayers() throws {
        let sandbox = try BerthSandbox()
        let server = try RegistryServerTests.Server(sandbox: sandbox)
        defer { server.stop() }
        let image = "\(server.address)/berth-it/hello:1"
        try Self.buildImage(sandbox, as: image)
        let pushed = try sandbox.ok("push", image)

        let containerd = try Containerd(sandbox: sandbox)
        let pull = try containerd.ctr(["images", "pull", "--plain-http", image])
        try #require(pull.succeeded, "\(pull)")
        try Self.expectComplete(containerd, image)
        #expect(try containerd.read("/hello.txt", in: image) == "pulled by containerd\n")
        // The lower layer unpacked too: busybox with its mode, and the applets' symlinks.
        try containerd.mounted(image) { root in
            #expect(FileManager.default.isExecutableFile(atPath: root + "/bin/busybox"))
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/bin/sh")) != nil)
        }
        // containerd resolved the manifest Berth pushed (`1: digest: sha256:… size: N`).
        let listed = try containerd.ctr(["images", "ls", "name==" + image])
        let digest = listed.lines.dropFirst().first?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first
        #expect(digest != nil && pushed.contains("1: digest: \(digest ?? "") size: "), "\(pushed)\n\(listed.out)")
    }

    @Test func containerdPullsOverTLSWithBasicAuthAndBearerTokens() throws {
        let sandbox = try BerthSandbox()
        let tls = sandbox.scratch + "/tls"
        try FileManager.default.createDirectory(atPath: tls, withIntermediateDirectories: true)
        let certificate = try Command.run("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", tls + "/key.pem", "-out", tls + "/cert.pem",
        ])
        try #require(certificate.succeeded, "\(certificate)")
        let htpasswd = sandbox.scratch + "/htpasswd"
        let made = try Command.shell("htpasswd -nbB alice alice-pw >\(htpasswd)")
        try #require(made.succeeded, "\(made)")

        // A loopback registry is insecure to Berth, as to Docker: HTTPS without verifying the
        // certificate, so `berth login` and `berth push` reach this one with TLS.
        let storage = sandbox.scratch + "/registry"
        let port = try RegistryServerTests.Server.freePort()
        let image = "127.0.0.1:\(port)/berth-it/hello:1"
        try Self.buildImage(sandbox, as: image)
        let secure = try RegistryServerTests.Server(sandbox: sandbox, port: port, arguments: [
            "--tls-cert", tls + "/cert.pem", "--tls-key", tls + "/key.pem", "--htpasswd", htpasswd,
        ], storage: storage)
        defer { secure.stop() }
        let anonymousPush = try sandbox.run(["push", image])
        #expect(!anonymousPush.succeeded && anonymousPush.err == "Error: unauthorized to access 127.0.0.1:\(port): no basic auth credentials\n", "\(anonymousPush)")
        try sandbox.ok("login", "-u", "alice", "--password-stdin", "127.0.0.1:\(port)", stdin: .bytes(Data("alice-pw\n".utf8)))
        try sandbox.ok("push", image)
        // containerd trusts the registry's certificate through a hosts directory, as a node does
        // with /etc/containerd/certs.d/HOST:PORT/hosts.toml.
        let hosts = sandbox.scratch + "/certs.d"
        try FileManager.default.createDirectory(atPath: hosts + "/127.0.0.1:\(port)", withIntermediateDirectories: true)
        try """
            server = "https://127.0.0.1:\(port)"
            [host."https://127.0.0.1:\(port)"]
              capabilities = ["pull", "resolve"]
              ca = "\(tls)/cert.pem"
            """.write(toFile: hosts + "/127.0.0.1:\(port)/hosts.toml", atomically: true, encoding: .utf8)

        let containerd = try Containerd(sandbox: sandbox)
        let anonymous = try containerd.ctr(["images", "pull", "--hosts-dir", hosts, image], namespace: "anonymous")
        #expect(!anonymous.succeeded && anonymous.err.contains("401 Unauthorized"), "\(anonymous)")
        let wrong = try containerd.ctr(["images", "pull", "--hosts-dir", hosts, "--user", "alice:wrong", image], namespace: "wrong")
        #expect(!wrong.succeeded, "\(wrong)")
        let basic = try containerd.ctr(["images", "pull", "--hosts-dir", hosts, "--user", "alice:alice-pw", image], namespace: "basic")
        try #require(basic.succeeded, "\(basic)")
        try Self.expectComplete(containerd, image, namespace: "basic")
        #expect(try containerd.read("/hello.txt", in: image, namespace: "basic") == "pulled by containerd\n")
        secure.stop()

        // Bearer tokens: containerd asks the realm for a token with the user's password.
        let config = sandbox.scratch + "/token.yml"
        try """
            auth:
              anonymous: []
              token:
                realm: https://127.0.0.1:\(port)/token
                service: berth-it
            access:
              - repository: "berth-it/*"
                users: { alice: [pull] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let tokens = try RegistryServerTests.Server(sandbox: sandbox, port: port, arguments: [
            "--tls-cert", tls + "/cert.pem", "--tls-key", tls + "/key.pem", "--htpasswd", htpasswd, "--config", config,
        ], storage: storage)
        defer { tokens.stop() }
        let refused = try containerd.ctr(["images", "pull", "--hosts-dir", hosts, image], namespace: "token-anonymous")
        #expect(!refused.succeeded, "\(refused)")
        let token = try containerd.ctr(["images", "pull", "--hosts-dir", hosts, "--user", "alice:alice-pw", image], namespace: "token")
        try #require(token.succeeded, "\(token)")
        try Self.expectComplete(containerd, image, namespace: "token")
        #expect(try containerd.read("/hello.txt", in: image, namespace: "token") == "pulled by containerd\n")
        let log = tokens.stop().err
        // containerd asks with the token specification's OAuth2 form first (a POST of the password
        // grant); the GET with Basic credentials is only its fallback.
        #expect(log.contains("method=POST path=/token status=200 user=alice"), "access log: \(log.suffix(2000))")
        #expect(!log.contains("status=405"), "access log: \(log.suffix(2000))")
    }
}
