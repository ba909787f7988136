import BerthKubeAPI
import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeDNS

/// The server over a real store, asked by the real `dig` over UDP and TCP: records follow the
/// store's changes, and other names go to an upstream resolver (a dnsmasq on port 53 of a loopback address).
@Suite(.serialized, .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/dig")
    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq"), "needs root, dig and dnsmasq"))
struct ClusterDNSServerTests {
        /// Runs a program to its end on a thread of its own (never blocking the concurrency pool the
    /// server runs on), with no signal blocked, and answers its standard output.
    static func run(_ program: String, _ arguments: [String]) async -> String {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: runBlocking(program, arguments)) }.start()
        }
    }

    private static func runBlocking(_ program: String, _ arguments: [String]) -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("kubedns-out-\(UUID().uuidString)").path
        defer { unlink(output) }
        guard let pid = spawn(program, arguments, stdout: output) else { return "" }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    static func spawn(_ program: String, _ arguments: [String], stdout: String = "/dev/null") -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        return posix_spawn(&pid, program, &actions, &attributes, argv, environ) == 0 ? pid : nil
    }

    final class Fixture: Sendable {
        let directory: String
        let store: KubeObjectStore
        let port: Int
        let server: Task<Void, Never>
        let dnsmasq: pid_t

        init(upstream: String) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubedns-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            store = try KubeObjectStore(path: directory + "/kube.db", clusterNetwork: KubeClusterNetwork(index: 7))
            try "nameserver \(upstream)\n".write(toFile: directory + "/resolv.conf", atomically: true, encoding: .utf8)
            // Four 250-byte strings: more than a 512-byte UDP answer holds.
            let long = String(repeating: "x", count: 250)
            guard let dnsmasq = ClusterDNSServerTests.spawn("/usr/sbin/dnsmasq", [
                "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                "--listen-address=\(upstream)", "--user=root", "--group=root",
                "--address=/upstream.test/192.0.2.7", "--txt-record=big.test,\(long),\(long),\(long),\(long)",
                "--pid-file=\(directory)/dnsmasq.pid"]) else { throw CocoaError(.executableLoad) }
            self.dnsmasq = dnsmasq
            port = Self.freePort()
            let server = ClusterDNSServer(store: store, resolvConf: directory + "/resolv.conf", tcpIdleTimeout: .seconds(1))
            self.server = Task { [port] in try? await server.run(host: "127.0.0.1", port: port) }
        }

        /// An address of 127/8 for the upstream's port 53, another for each fixture so test runs
        /// side by side never meet.
        static func loopbackAddress() -> String { "127.\(Int.random(in: 1...254)).\(Int.random(in: 0...255)).\(Int.random(in: 2...254))" }

        /// A port no UDP and no TCP socket holds now: the server listens on both, and a port the
        /// kernel picks free for one may be another test's connection on the other.
        static func freePort() -> Int {
            while true {
                let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
                defer {
                    close(tcp)
                    close(udp)
                }
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let bound = withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                        guard bind(tcp, pointer, length) == 0, getsockname(tcp, pointer, &length) == 0 else { return false }
                        return bind(udp, pointer, length) == 0
                    }
                }
                if bound { return Int(UInt16(bigEndian: address.sin_port)) }
            }
        }

        func dig(_ arguments: String...) async -> String {
            await ClusterDNSServerTests.run("/usr/bin/dig", ["@127.0.0.1", "-p", String(port), "+time=2", "+tries=3"] + arguments)
        }

        func create(_ resource: KubeResource, _ json: String) throws {
            _ = try store.create(resource, namespace: "default", object: OrderedJSON.parse(Array(json.utf8)))
        }

        func eventually(_ condition: () async throws -> Bool) async -> Bool {
            for _ in 0..<200 {
                if (try? await condition()) == true { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        /// Ends the server and dnsmasq and removes the directory (each test calls it when it ends).
        func stop() {
            server.cancel()
            kill(dnsmasq, SIGKILL)
            var status: Int32 = 0
            waitpid(dnsmasq, &status, 0)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func answersFollowTheStoreOverUDPAndTCP() async throws {
        let fixture = try Fixture(upstream: Fixture.loopbackAddress())
        defer { fixture.stop() }
        try fixture.create(KubeResourceRegistry.services, #"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"api"},"spec":{"clusterIP":"10.96.7.20","ports":[{"name":"http","port":80}]}}
            """#)
        #expect(await fixture.eventually { await fixture.dig("+short", "api.default.svc.cluster.local") == "10.96.7.20\n" })
        // Each query may be retried: in a full test run the server's tasks can wait behind other
        // tests' long enough for one dig to give up.
        #expect(await fixture.eventually { await fixture.dig("+short", "+tcp", "api.default.svc.cluster.local") == "10.96.7.20\n" })
        #expect(await fixture.eventually {
            await fixture.dig("+short", "+noedns", "SRV", "_http._tcp.api.default.svc.cluster.local") == "0 100 80 api.default.svc.cluster.local.\n"
        })
        _ = try fixture.store.delete(KubeResourceRegistry.services, namespace: "default", name: "api")
        #expect(await fixture.eventually { await fixture.dig("+noall", "+comments", "api.default.svc.cluster.local").contains("status: NXDOMAIN") })
    }

    /// A TCP client that sends nothing is let go once the idle timeout passes (1 s here).
    @Test func closesSilentTCPConnections() async throws {
        let fixture = try Fixture(upstream: Fixture.loopbackAddress())
        defer { fixture.stop() }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(fixture.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var client: Int32 = -1
        defer { close(client) }
        // The server binds in the background: connect once it listens.
        let connected = await fixture.eventually {
            close(client)
            client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
        }
        try #require(connected)
        // Waits at most a minute for the server's close: end of stream, not a timeout.
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        #expect(recv(client, &byte, 1, 0) == 0, "errno \(errno)")
    }

    @Test func forwardsOtherNamesAndRetriesTruncatedAnswersOverTCP() async throws {
        let fixture = try Fixture(upstream: Fixture.loopbackAddress())
        defer { fixture.stop() }
        #expect(await fixture.eventually { await fixture.dig("+short", "upstream.test") == "192.0.2.7\n" })
        // Retried as in the test above.
        #expect(await fixture.eventually { await fixture.dig("+short", "+tcp", "upstream.test") == "192.0.2.7\n" })
        // dnsmasq, without upstreams of its own, refuses: that answer is relayed as it is.
        #expect(await fixture.eventually { await fixture.dig("+noall", "+comments", "missing.test").contains("status: REFUSED") })
        // Too big for 512 bytes: dig gets TC over UDP and asks again over TCP; with EDNS room it fits at once.
        #expect(await fixture.eventually {
            await fixture.dig("+noedns", "+noall", "+answer", "+comments", "+ignore", "TXT", "big.test").contains(" tc")
        })
        #expect(await fixture.eventually { await fixture.dig("+noedns", "+short", "TXT", "big.test").count > 1000 })
        #expect(await fixture.eventually { await fixture.dig("+bufsize=1232", "+ignore", "+short", "TXT", "big.test").count > 1000 })
    }
}
