import BerthBuild
import BerthNetwork
import Foundation
import Glibc
import Testing

/// RUN on Docker's default build network, the bridge: the step reaches the host through the
/// bridge's gateway, and nothing of its attachment outlives it.
@Suite(.serialized) struct RunNetworkTests {
    @Test func runOnTheDefaultNetworkReachesTheHostAndLeavesNothingBehind() throws {
        if BuildFixture.skippedWithoutBridge() { return }
        let server = try HTTPServer(files: ["hello.txt": "hello from the host\n"])
        defer { server.stop() }
        let fixture = try BuildFixture()
        // The host answers on the bridge's gateway, the step's default route.
        try fixture.build("""
            FROM busybox
            RUN wget -q -O /fetched.txt "http://$(ip route | awk '/^default/ {print $3}'):\(server.port)/hello.txt" \
                && cat /sys/class/net/eth0/iflink > /host-veth-index && ip -o -4 addr show eth0 > /address
            """, network: "default")
        #expect(try fixture.layerFile("fetched.txt") == "hello from the host\n")
        #expect(try fixture.layerFile("address")?.contains("inet 10.77.") == true)
        try expectNothingLeftBehind(fixture, hostVethIndex: fixture.layerFile("host-veth-index"))
    }

    @Test func runNetworkFlagOverridesTheBuildsDefault() throws {
        if BuildFixture.skippedWithoutBridge() { return }
        let fixture = try BuildFixture()
        // The build says none; RUN --network=default still gets the bridge, and a failing step detaches too.
        try fixture.build("""
            FROM busybox
            RUN --network=default ip -o link show eth0 > /eth0
            RUN ip -o link > /links
            """, network: "none")
        #expect(try fixture.layerFile("eth0", fromTop: 1)?.contains("eth0") == true)
        #expect(try fixture.layerFile("links")?.contains("eth0") == false)
        #expect(throws: BuildError.self) {
            try fixture.build("FROM busybox\nRUN cat /sys/class/net/eth0/iflink > /index; exit 3\n", network: "default")
        }
        try expectNothingLeftBehind(fixture, hostVethIndex: nil)
    }

    /// No attachment record, address lease, iptables rule, network namespace or host veth remains.
    private func expectNothingLeftBehind(_ fixture: BuildFixture, hostVethIndex: String?) throws {
        let network = fixture.root + "/network"
        let records = try FileManager.default.contentsOfDirectory(atPath: network).filter { $0.hasSuffix(".json") }
        #expect(records.isEmpty, "attachment records left: \(records)")
        // Leases are machine-wide; this process's build steps are `build-<pid>-…`.
        let ipam = NetworkManager.ipamDirectory
        for range in (try? FileManager.default.contentsOfDirectory(atPath: ipam)) ?? [] {
            let leases = try FileManager.default.contentsOfDirectory(atPath: ipam + "/" + range).filter { lease in
                let holder = (try? String(contentsOfFile: ipam + "/" + range + "/" + lease, encoding: .utf8)) ?? ""
                return holder.contains("build-\(getpid())-")
            }
            #expect(leases.isEmpty, "address leases left: \(leases)")
        }
        let rules = BuildFixture.shell("iptables-save") ?? ""
        #expect(!rules.contains("build-\(getpid())-"), "iptables rules of a build step are left")
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains(fixture.root + "/buildcache/tmp/"), "mounts of a build step are left")
        if let index = hostVethIndex?.trimmingCharacters(in: .whitespacesAndNewlines), !index.isEmpty {
            let links = BuildFixture.shell("ip -o link") ?? ""
            #expect(!links.split(separator: "\n").contains { $0.hasPrefix("\(index): ") }, "the step's host veth is left")
        }
    }
}
