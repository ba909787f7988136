import BerthKubeAPI
import BerthTemplate
import Foundation
import Testing

@testable import BerthKubeDNS

/// The server over a real store, asked by the real `dig` over UDP and TCP: records follow the
/// store's changes, and other names go to an upstream resolver (a dnsmasq on 127.0.0.77:53).
@Suite(.serialized, .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/dig")
    && FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq"), "needs root, dig and dnsmasq"))
struct ClusterDNSServerTests {
    static let upstream = "127.0.0.77"

    final class Fixture {
        let directory: String
        let store: KubeObjectStore
        let port: Int
        var server: Task<Void, Never>?
        let dnsmasq: Process

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("kubedns-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            store = try KubeObjectStore(path: directory + "/kube.db", clusterNetwork: KubeClusterNetwork(index: 7))
            try "nameserver \(ClusterDNSServerTests.upstream)\n".write(toFile: directory + "/resolv.conf", atomically: true, encoding: .utf8)
            // Four 250-byte strings: more than a 512-byte UDP answer holds.
            let long = String(repeating: "x", count: 250)
            dnsmasq = Process()
            dnsmasq.executableURL = URL(fileURLWithPath: "/usr/sbin/dnsmasq")
            dnsmasq.arguments = ["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
                                 "--listen-address=\(ClusterDNSServerTests.upstream)", "--user=root", "--group=root",
                                 "--address=/upstream.test/192.0.2.7", "--txt-record=big.test,\(long),\(long),\(long),\(long)",
                                 "--pid-file=\(directory)/dnsmasq.pid"]
            try dnsmasq.run()
            port = Self.freeUDPPort()
            let server = ClusterDNSServer(store: store, resolvConf: directory + "/resolv.conf")
            self.server = Task { [port] in try? await server.run(host: "127.0.0.1", port: port) }
        }

        /// A port no socket holds now (the kernel's pick for an ephemeral bind).
        static func freeUDPPort() -> Int {
            let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(descriptor) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(descriptor, pointer, length)
                    return getsockname(descriptor, pointer, &length)
                }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        func dig(_ arguments: String...) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/dig")
            process.arguments = ["@127.0.0.1", "-p", String(port), "+time=2", "+tries=3"] + arguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }

        func create(_ resource: KubeResource, _ json: String) throws {
            _ = try store.create(resource, namespace: "default", object: OrderedJSON.parse(Array(json.utf8)))
        }

        func eventually(_ condition: () throws -> Bool) async -> Bool {
            for _ in 0..<200 {
                if (try? condition()) == true { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        /// Ends the server and dnsmasq and removes the directory (each test calls it when it ends).
        func stop() {
            server?.cancel()
            if dnsmasq.isRunning {
                dnsmasq.terminate()
                dnsmasq.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func answersFollowTheStoreOverUDPAndTCP() async throws {
        let fixture = try Fixture()
        defer { fixture.stop() }
        try fixture.create(KubeResourceRegistry.services, #"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"api"},"spec":{"clusterIP":"10.96.7.20","ports":[{"name":"http","port":80}]}}
            """#)
        #expect(await fixture.eventually { try fixture.dig("+short", "api.default.svc.cluster.local") == "10.96.7.20\n" })
        #expect(try fixture.dig("+short", "+tcp", "api.default.svc.cluster.local") == "10.96.7.20\n")
        #expect(try fixture.dig("+short", "+noedns", "SRV", "_http._tcp.api.default.svc.cluster.local")
                == "0 100 80 api.default.svc.cluster.local.\n")
        _ = try fixture.store.delete(KubeResourceRegistry.services, namespace: "default", name: "api")
        #expect(await fixture.eventually { try fixture.dig("+noall", "+comments", "api.default.svc.cluster.local").contains("status: NXDOMAIN") })
    }

    @Test func forwardsOtherNamesAndRetriesTruncatedAnswersOverTCP() async throws {
        let fixture = try Fixture()
        defer { fixture.stop() }
        #expect(await fixture.eventually { try fixture.dig("+short", "upstream.test") == "192.0.2.7\n" })
        #expect(try fixture.dig("+short", "+tcp", "upstream.test") == "192.0.2.7\n")
        // dnsmasq, without upstreams of its own, refuses: that answer is relayed as it is.
        #expect(try fixture.dig("+noall", "+comments", "missing.test").contains("status: REFUSED"))
        // Too big for 512 bytes: dig gets TC over UDP and asks again over TCP; with EDNS room it fits at once.
        let udp = try fixture.dig("+noedns", "+noall", "+answer", "+comments", "+ignore", "TXT", "big.test")
        #expect(udp.contains(" tc"), "\(udp)")
        let whole = try fixture.dig("+noedns", "+short", "TXT", "big.test")
        #expect(whole.count > 1000)
        let edns = try fixture.dig("+bufsize=1232", "+ignore", "+short", "TXT", "big.test")
        #expect(edns.count > 1000, "\(edns)")
    }
}
