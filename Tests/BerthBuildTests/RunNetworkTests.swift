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

    /// kill -9 of `berth build` while a RUN on the bridge runs: the next build on the root removes
    /// the step's container, mounts, veth, rules and lease, and succeeds.
    @Test func killedBuildMidRunOnTheBridgeLeavesNothingForTheNextBuild() throws {
        if BuildFixture.skippedWithoutBridge() { return }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let berth = repository + "/.build/debug/berth"
        guard access(berth, X_OK) == 0 else {
            print("SKIPPED \(#function): no \(berth) (run swift build first)")
            return
        }
        let fixture = try BuildFixture()
        try fixture.write("Dockerfile", "FROM busybox\nRUN sleep 30\n")
        let log = (fixture.root as NSString).deletingLastPathComponent + "/killed-build.log"
        guard let started = BuildFixture.shell(
            ". \(repository)/scripts/detach.sh; detach \(log) \(berth) --root \(fixture.root) build -t killed \(fixture.contextDirectory); echo $!"),
            let pid = pid_t(started.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            Issue.record("cannot start berth build")
            return
        }
        // The step's container is running once runc lists it as running; its attachment is made by then.
        let stepID = "build-\(pid)-"
        let runcList = "runc --root \(fixture.root)/buildcache/runc list"
        var running = false
        for _ in 0..<600 where !running {
            running = BuildFixture.shell(runcList)?.split(separator: "\n")
                .contains { $0.hasPrefix(stepID) && $0.contains(" running ") } == true
            if !running { usleep(100_000) }
        }
        let records = (try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/network")) ?? []
        let record = records.first { $0.hasPrefix(stepID) }
        let hostVeth = try record.flatMap { name -> String? in
            let data = try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/network/" + name))
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["hostVeth"] as? String
        }
        kill(pid, SIGKILL)
        try #require(running, "the RUN step never ran: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let veth = try #require(hostVeth, "no attachment record with a host veth for \(stepID) in \(records)")
        #expect(BuildFixture.shell("ip -o link show \(veth)") != nil, "the step's veth is not there while it runs")
        while kill(pid, 0) == 0 { usleep(50_000) }

        try fixture.write("Dockerfile", "FROM busybox\nRUN echo next > /next.txt\n")
        let next = BuildFixture.shell("\(berth) --root \(fixture.root) build -t next \(fixture.contextDirectory) 2>&1; echo exit=$?") ?? ""
        #expect(next.hasSuffix("exit=0\n"), "the next build failed: \(next)")
        #expect(try fixture.layerFile("next.txt", "next") == "next\n")

        #expect(BuildFixture.shell("ip -o link show \(veth)") == nil, "the killed step's host veth \(veth) is left")
        let rules = BuildFixture.shell("iptables-save") ?? ""
        #expect(!rules.contains(stepID), "iptables rules of the killed step are left")
        let ipam = NetworkManager.ipamDirectory
        for range in (try? FileManager.default.contentsOfDirectory(atPath: ipam)) ?? [] {
            let leases = try FileManager.default.contentsOfDirectory(atPath: ipam + "/" + range).filter { lease in
                let holder = (try? String(contentsOfFile: ipam + "/" + range + "/" + lease, encoding: .utf8)) ?? ""
                return holder.contains(stepID)
            }
            #expect(leases.isEmpty, "address leases of the killed step are left: \(leases)")
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/network")) ?? []
        #expect(!left.contains { $0.hasPrefix(stepID) }, "attachment records of the killed step are left")
        #expect(!(BuildFixture.shell(runcList) ?? "").contains(stepID), "the killed step's runc container is left")
        #expect(!BuildFixture.mountTable.contains(fixture.root + "/"), "mounts under the root are left")
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/buildcache/tmp")) ?? []
        #expect(staging.isEmpty, "staging directories left: \(staging)")
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
        let mounts = BuildFixture.mountTable
        #expect(!mounts.contains(fixture.root + "/buildcache/tmp/"), "mounts of a build step are left")
        if let index = hostVethIndex?.trimmingCharacters(in: .whitespacesAndNewlines), !index.isEmpty {
            let links = BuildFixture.shell("ip -o link") ?? ""
            #expect(!links.split(separator: "\n").contains { $0.hasPrefix("\(index): ") }, "the step's host veth is left")
        }
    }
}
