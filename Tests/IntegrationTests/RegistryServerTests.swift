import BerthOCI
import Foundation
import Glibc
import Testing

/// `berth registry serve` as a separate process, driven by skopeo, curl and the Docker daemon.
@Suite(.serialized, .enabled(if: Peers.skopeo, "needs root, skopeo and dockerd"))
struct RegistryServerTests {
    /// A running `berth registry serve` on a free port of 127.0.0.1.
    final class Server {
        let sandbox: BerthSandbox
        let storage: String
        let port: Int
        let extraArguments: [String]
        private var running: Command.Running?

        /// The address clients use; the server listens on `listenHost` (0.0.0.0 to be reached there).
        let host: String
        let listenHost: String

        init(sandbox: BerthSandbox, port: Int? = nil, arguments: [String] = [], host: String = "127.0.0.1",
             listenHost: String = "127.0.0.1", storage: String? = nil) throws {
            self.sandbox = sandbox
            self.storage = storage ?? sandbox.scratch + "/registry"
            self.port = try port ?? Self.freePort()
            self.host = host
            self.listenHost = listenHost
            extraArguments = arguments
            try start()
        }

        var address: String { "\(host):\(port)" }

        func start() throws {
            running = try Command.start(
                BerthSandbox.binary, ["registry", "serve", "--addr", "\(listenHost):\(port)", "--root", storage] + extraArguments)
            let scheme = extraArguments.contains("--tls-cert") ? "https" : "http"
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let probe = try Command.run("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "\(scheme)://\(address)/v2/"])
                if ["200", "401"].contains(probe.out) { return }
                usleep(50_000)
            }
            throw PeerError.failed("berth registry serve did not answer", stop(signal: SIGKILL))
        }

        /// The server's peak resident set (VmHWM) in bytes.
        func peakResidentBytes() throws -> Int {
            let pid = try #require(running?.pid, "the registry is not running")
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
            return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])) * 1024
        }

        @discardableResult
        func stop(signal: Int32 = SIGTERM) -> CommandResult {
            guard let running else {
                return CommandResult(arguments: [], status: 0, signaled: false, stdout: Data(), stderr: Data())
            }
            running.kill(signal)
            self.running = nil
            return running.wait(timeout: 30)
        }

        deinit { stop(signal: SIGKILL) }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
                }
            }
            guard bound else { throw CommandError.cannotOpen("a free port on 127.0.0.1") }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }

    static func skopeo(_ arguments: [String]) throws -> CommandResult {
        try Command.run("skopeo", ["--insecure-policy"] + arguments, timeout: 280)
    }

    /// The layer digests skopeo reports for an image.
    static func layers(_ reference: String, _ extra: [String] = []) throws -> [String] {
        let inspect = try skopeo(["inspect"] + extra + [reference])
        try #require(inspect.succeeded, "\(inspect)")
        let document = try #require(try JSONSerialization.jsonObject(with: inspect.stdout) as? [String: Any])
        return try #require(document["Layers"] as? [String])
    }

    @Test func skopeoCopiesInAndOutWithoutAuth() throws {
        let sandbox = try BerthSandbox()
        let server = try Server(sandbox: sandbox)
        defer { server.stop() }
        let archive = try Fixtures.dockerArchive(sizeMB: 8, layers: 3)
        let destination = "docker://\(server.address)/berth-it/skopeo:1"
        let push = try Self.skopeo(["copy", "--dest-tls-verify=false", "docker-archive:" + archive, destination])
        try #require(push.succeeded, "\(push)")
        // skopeo compresses the archive's layers on the way in; the registry serves what it got.
        let expected = try Self.layers(destination, ["--tls-verify=false"])
        #expect(expected.count == (try Self.layers("docker-archive:" + archive)).count)

        let directory = sandbox.scratch + "/pulled"
        let pull = try Self.skopeo(["copy", "--src-tls-verify=false", destination, "dir:" + directory])
        try #require(pull.succeeded, "\(pull)")
        for layer in expected {
            let path = directory + "/" + layer.replacingOccurrences(of: "sha256:", with: "")
            let data = try #require(FileManager.default.contents(atPath: path), "missing \(layer)")
            #expect(Digest.sha256(of: data).description == layer)
        }

        // A second push is deduplicated: every blob already exists.
        let again = try Self.skopeo(["copy", "--dest-tls-verify=false", "docker-archive:" + archive, "docker://\(server.address)/berth-it/copy2:1"])
        try #require(again.succeeded, "\(again)")
        let tags = try Command.run("curl", ["-s", "http://\(server.address)/v2/berth-it/skopeo/tags/list"])
        #expect(tags.out == #"{"name":"berth-it\/skopeo","tags":["1"]}"#)
    }

    @Test func skopeoWithCredentialsAndAccessRules() throws {
        let sandbox = try BerthSandbox()
        let htpasswd = sandbox.scratch + "/htpasswd"
        let made = try Command.shell("htpasswd -nbB alice alice-pw >\(htpasswd) && htpasswd -nbB bob bob-pw >>\(htpasswd)")
        try #require(made.succeeded, "\(made)")
        let config = sandbox.scratch + "/config.yml"
        try """
            auth:
              anonymous: []
            access:
              - repository: "pixelpotato/*"
                anonymous: [pull]
                users: { alice: [pull, push, delete], bob: [pull] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try Server(sandbox: sandbox, arguments: ["--htpasswd", htpasswd, "--config", config])
        defer { server.stop() }
        let archive = try Fixtures.dockerArchive(sizeMB: 4, layers: 2)
        let destination = "docker://\(server.address)/pixelpotato/app:v1"

        let anonymous = try Self.skopeo(["copy", "--dest-tls-verify=false", "docker-archive:" + archive, destination])
        #expect(!anonymous.succeeded)
        let bob = try Self.skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "bob:bob-pw", "docker-archive:" + archive, destination])
        #expect(!bob.succeeded)
        #expect(bob.err.lowercased().contains("denied"), "\(bob)")
        let wrong = try Self.skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "alice:nope", "docker-archive:" + archive, destination])
        #expect(!wrong.succeeded)
        let alice = try Self.skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw", "docker-archive:" + archive, destination])
        try #require(alice.succeeded, "\(alice)")

        // Anonymous pull is allowed on pixelpotato/*.
        let pulled = try Self.skopeo(["copy", "--src-tls-verify=false", destination, "dir:" + sandbox.scratch + "/anon"])
        #expect(pulled.succeeded, "\(pulled)")
        let withCreds = try Self.skopeo(["copy", "--src-tls-verify=false", "--src-creds", "bob:bob-pw", destination, "dir:" + sandbox.scratch + "/bob"])
        #expect(withCreds.succeeded, "\(withCreds)")

        let log = server.stop().err
        #expect(log.contains("user=alice"), "access log: \(log.suffix(2000))")
        #expect(log.contains("status=403"))
    }

    /// The seed's workflow with both of Berth's sides and bearer tokens: login, tag, push, pull into
    /// a clean store, run; a user without push right is refused.
    @Test func berthClientPushesAndPullsWithBearerTokens() throws {
        let sandbox = try BerthSandbox()
        let htpasswd = sandbox.scratch + "/htpasswd"
        let made = try Command.shell("htpasswd -nbB alice alice-pw >\(htpasswd) && htpasswd -nbB bob bob-pw >>\(htpasswd)")
        try #require(made.succeeded, "\(made)")
        let port = try Server.freePort()
        let config = sandbox.scratch + "/config.yml"
        try """
            auth:
              anonymous: []
              token:
                realm: http://127.0.0.1:\(port)/token
                service: berth-it
            access:
              - repository: "pixelpotato/*"
                users: { alice: [pull, push], bob: [pull] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let server = try Server(sandbox: sandbox, port: port, arguments: ["--htpasswd", htpasswd, "--config", config])
        defer { server.stop() }
        let environment = ["BERTH_CONFIG": sandbox.scratch + "/config.json"]
        func berth(_ root: String, _ arguments: [String], stdin: StandardInput = .none) throws -> CommandResult {
            try Command.run(BerthSandbox.binary, ["--root", root] + arguments, stdin: stdin, environment: environment)
        }
        let name = "\(server.address)/pixelpotato/python-helloworld:v1.0.0"
        _ = try sandbox.importBusybox(changes: [#"CMD ["echo", "hello from the registry"]"#])
        #expect(try berth(sandbox.root, ["tag", "busybox:latest", name]).succeeded)

        let anonymous = try berth(sandbox.root, ["push", name])
        #expect(!anonymous.succeeded)
        let bob = try berth(sandbox.root, ["login", server.address, "-u", "bob", "--password-stdin"], stdin: .bytes(Data("bob-pw\n".utf8)))
        #expect(bob.out == "Login Succeeded\n", "\(bob)")
        // Bob's token carries only pull, so the push is refused (401 insufficient_scope, as distribution answers).
        let denied = try berth(sandbox.root, ["push", name])
        #expect(!denied.succeeded && denied.err.contains("UNAUTHORIZED"), "\(denied)")

        let alice = try berth(sandbox.root, ["login", server.address, "-u", "alice", "--password-stdin"], stdin: .bytes(Data("alice-pw\n".utf8)))
        #expect(alice.succeeded, "\(alice)")
        let push = try berth(sandbox.root, ["push", name])
        try #require(push.succeeded, "\(push)")
        #expect(push.out.hasPrefix("The push refers to repository [\(server.address)/pixelpotato/python-helloworld]\n"))
        let digest = try #require(push.out.split(separator: "\n").last?.split(separator: " ").dropFirst(2).first)
        let clean = sandbox.scratch + "/clean-root"
        let pull = try berth(clean, ["pull", name])
        try #require(pull.succeeded, "\(pull)")
        #expect(pull.out.contains("Digest: \(digest)\n"))
        #expect(try berth(clean, ["image", "inspect", "--format", "{{.Id}}", name]).out
            == (try berth(sandbox.root, ["image", "inspect", "--format", "{{.Id}}", name])).out)
        let run = try berth(clean, ["run", "--rm", "--network", "none", name])
        #expect(run.out == "hello from the registry\n", "\(run)")
        let log = server.stop().err
        #expect(log.contains("/token"), "access log: \(log.suffix(2000))")
    }

    @Test(.enabled(if: Peers.docker, "needs dockerd"))
    func dockerPullsAndRunsAnImageFromBerthsRegistry() throws {
        let sandbox = try BerthSandbox()
        let server = try Server(sandbox: sandbox)
        defer { server.stop() }
        let reference = "\(server.address)/berth-it/busybox:1"
        let push = try Self.skopeo(["copy", "--dest-tls-verify=false", "docker-archive:" + (try Fixtures.dockerSavedBusybox()), "docker://" + reference])
        try #require(push.succeeded, "\(push)")
        _ = try PeerDocker.docker("rmi", "-f", reference)
        let pull = try PeerDocker.docker("pull", reference)
        try #require(pull.succeeded, "\(pull)")
        let run = try PeerDocker.docker("run", "--rm", reference, "echo", "hello from berth registry")
        #expect(run.out == "hello from berth registry\n", "\(run)")
        _ = try PeerDocker.docker("rmi", "-f", reference)
    }

    @Test func killDuringAnUploadLosesNothingCommitted() throws {
        let sandbox = try BerthSandbox()
        let server = try Server(sandbox: sandbox)
        let archive = try Fixtures.dockerArchive(sizeMB: 4, layers: 2)
        let destination = "docker://\(server.address)/berth-it/durable:1"
        let push = try Self.skopeo(["copy", "--dest-tls-verify=false", "docker-archive:" + archive, destination])
        try #require(push.succeeded, "\(push)")

        // An upload in flight: a 64 MiB body trickling in when the server is killed.
        let base = "http://\(server.address)/v2/berth-it/durable/blobs/uploads/"
        let started = try Command.run("curl", ["-s", "-D", "-", "-o", "/dev/null", "-X", "POST", base])
        let location = try #require(started.out.components(separatedBy: "\r\n")
            .first { $0.lowercased().hasPrefix("location:") }?.dropFirst("location:".count).trimmingCharacters(in: .whitespaces))
        let big = sandbox.scratch + "/big"
        try #require(try Command.shell("head -c 64M /dev/urandom >\(big)").succeeded)
        let upload = try Command.start("curl", ["-s", "--limit-rate", "4M", "-X", "PATCH", "-H", "Expect:",
                                                "--data-binary", "@" + big, "http://\(server.address)\(location)"])
        usleep(1_500_000)
        server.stop(signal: SIGKILL)
        _ = upload.wait(timeout: 30)
        let blobsBefore = Set((try? FileManager.default.contentsOfDirectory(atPath: server.storage + "/blobs/sha256")) ?? [])

        try server.start()
        defer { server.stop() }
        let bigDigest = Digest.sha256(of: try #require(FileManager.default.contents(atPath: big)))
        let head = try Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I",
                                            "http://\(server.address)/v2/berth-it/durable/blobs/\(bigDigest)"])
        #expect(head.out == "404")
        #expect(Set((try? FileManager.default.contentsOfDirectory(atPath: server.storage + "/blobs/sha256")) ?? []) == blobsBefore)
        let pull = try Self.skopeo(["copy", "--src-tls-verify=false", destination, "dir:" + sandbox.scratch + "/after"])
        #expect(pull.succeeded, "\(pull)")
    }

    /// A 2 GiB blob streamed in one chunked PATCH never sits in the server's memory: its peak
    /// RSS stays under 100 MB, and the blob arrives whole (verified by digest on commit).
    @Test func twoGigabyteUploadKeepsServerMemorySmall() throws {
        let sandbox = try BerthSandbox()
        let server = try Server(sandbox: sandbox)
        defer { server.stop() }
        let base = "http://\(server.address)/v2/berth-it/big/blobs/uploads/"
        let started = try Command.run("curl", ["-sS", "-D", "-", "-o", "/dev/null", "-X", "POST", base])
        let location = try #require(started.out.components(separatedBy: "\r\n")
            .first { $0.lowercased().hasPrefix("location:") }?.dropFirst("location:".count).trimmingCharacters(in: .whitespaces))
        let digestFile = sandbox.scratch + "/digest", fifo = sandbox.scratch + "/fifo"
        let patch = try Command.shell("""
            mkfifo \(fifo)
            sha256sum <\(fifo) | cut -d' ' -f1 >\(digestFile) & hasher=$!
            head -c 2G /dev/zero | tee \(fifo) |
                curl -sS -o /dev/null -w '%{http_code}' -X PATCH -H Expect: -H 'Content-Type: application/octet-stream' \
                -T - 'http://\(server.address)\(location)'
            wait $hasher
            """, timeout: 600)
        try #require(patch.succeeded && patch.out == "202", "\(patch)")
        let digest = try #require(String(contentsOfFile: digestFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        let put = try Command.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Content-Length: 0",
                                           "http://\(server.address)\(location)?digest=sha256:\(digest)"])
        #expect(put.out == "201", "\(put)")
        #expect(FileManager.default.fileExists(atPath: server.storage + "/blobs/sha256/\(digest)"))
        let peak = try server.peakResidentBytes()
        #expect(peak < 100 << 20, "peak RSS \(peak >> 20) MiB")
    }

    /// Off loopback, Berth's client wants verified HTTPS; `--tls-verify=false` accepts a self-signed
    /// certificate and, when the registry does not speak TLS, falls back to plain HTTP (as Docker's
    /// insecure registries do).
    @Test func tlsVerifyFalseAcceptsSelfSignedCertificatesAndPlainHTTP() throws {
        guard let hostAddress = try Self.nonLoopbackAddress() else {
            print("SKIPPED tlsVerifyFalseAcceptsSelfSignedCertificatesAndPlainHTTP: this host has no non-loopback IPv4 address")
            return
        }
        let sandbox = try BerthSandbox()
        _ = try sandbox.importBusybox()
        let tls = sandbox.scratch + "/tls"
        try FileManager.default.createDirectory(atPath: tls, withIntermediateDirectories: true)
        let certificate = try Command.run("openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=\(hostAddress)",
            "-addext", "subjectAltName=IP:\(hostAddress)", "-keyout", tls + "/key.pem", "-out", tls + "/cert.pem",
        ])
        try #require(certificate.succeeded, "\(certificate)")
        let secure = try Server(sandbox: sandbox, arguments: ["--tls-cert", tls + "/cert.pem", "--tls-key", tls + "/key.pem"],
                                host: hostAddress, listenHost: "0.0.0.0", storage: sandbox.scratch + "/secure")
        let plain = try Server(sandbox: sandbox, host: hostAddress, listenHost: "0.0.0.0", storage: sandbox.scratch + "/plain")
        defer {
            secure.stop()
            plain.stop()
        }
        for (server, what) in [(secure, "self-signed"), (plain, "plain-http")] {
            let name = "\(server.address)/berth-it/\(what):1"
            try sandbox.ok("tag", "busybox:latest", name)
            let verified = try sandbox.run("push", name)
            #expect(!verified.succeeded && verified.err.split(separator: "\n").count == 1, "\(verified)")
            let unverified = try sandbox.run("push", "--tls-verify=false", name)
            #expect(unverified.succeeded, "\(unverified)")
            let clean = try BerthSandbox()
            let pulled = try clean.run("pull", "--tls-verify=false", name)
            #expect(pulled.succeeded, "\(pulled)")
        }
        let untrusted = try sandbox.run("push", "\(secure.address)/berth-it/self-signed:1")
        #expect(untrusted.err.contains("certificate"), "\(untrusted)")
    }

    /// A global IPv4 address of this host, for reaching a registry off loopback.
    static func nonLoopbackAddress() throws -> String? {
        let listing = try Command.run("ip", ["-o", "-4", "addr", "show", "scope", "global"]).out
        for line in listing.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 4, !words[1].hasPrefix("berth"), !words[1].hasPrefix("br-"), !words[1].hasPrefix("docker"),
                  let slash = words[3].firstIndex(of: "/") else { continue }
            return String(words[3][..<slash])
        }
        return nil
    }

    @Test func gcRemovesUnreferencedBlobs() throws {
        let sandbox = try BerthSandbox()
        let server = try Server(sandbox: sandbox)
        let archive = try Fixtures.dockerArchive(sizeMB: 4, layers: 2)
        let push = try Self.skopeo(["copy", "--dest-tls-verify=false", "docker-archive:" + archive, "docker://\(server.address)/berth-it/gc:1"])
        try #require(push.succeeded, "\(push)")
        let orphan = Data("orphan blob".utf8)
        let digest = Digest.sha256(of: orphan)
        let upload = try Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary", "orphan blob",
                                              "http://\(server.address)/v2/berth-it/gc/blobs/uploads/?digest=\(digest)"])
        #expect(upload.out == "201")
        // While the server runs, a collection could take an upload in progress: refused; a dry run only reads.
        let whileServing = try Command.run(BerthSandbox.binary, ["registry", "gc", "--root", server.storage])
        #expect(!whileServing.succeeded && whileServing.err.contains("a registry is serving"), "\(whileServing)")
        #expect(FileManager.default.fileExists(atPath: server.storage + "/blobs/sha256/" + digest.encoded))
        let dryRun = try Command.run(BerthSandbox.binary, ["registry", "gc", "--root", server.storage, "--dry-run"])
        #expect(dryRun.succeeded, "\(dryRun)")
        #expect(dryRun.out.contains("would delete blob \(digest)"))
        _ = server.stop()

        let gc = try Command.run(BerthSandbox.binary, ["registry", "gc", "--root", server.storage])
        #expect(gc.out.contains("deleted blob \(digest)"), "\(gc)")
        #expect(gc.out.contains("removed 1 blobs"), "\(gc)")

        try server.start()
        defer { server.stop() }
        let pull = try Self.skopeo(["copy", "--src-tls-verify=false", "docker://\(server.address)/berth-it/gc:1", "dir:" + sandbox.scratch + "/gc"])
        #expect(pull.succeeded, "\(pull)")
    }
}
