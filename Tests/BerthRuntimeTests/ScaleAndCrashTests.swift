import BerthNetwork
import Foundation
import Glibc
import Testing

/// Many containers on the bridge with published ports, and a CLI killed mid-`run` (root only):
/// what they leave on the host is listed, not assumed.
@Suite(.serialized)
struct ScaleAndCrashTests {
    static func skipped(_ test: String = #function) -> Bool {
        if RuntimeFixture.skipped(test) { return true }
        guard let reason = RuntimeFixture.bridgeSkipReason else { return false }
        print("SKIPPED \(test): \(reason)")
        return true
    }

    /// What the host holds for these containers: mounts under the root, veths on berth0,
    /// iptables rules naming them, cgroups, address leases, network records.
    private func hostState(_ fixture: RuntimeFixture, _ ids: [String]) throws -> [String] {
        var found: [String] = []
        let mounts = RuntimeFixture.mountTable()
        found += mounts.split(separator: "\n").filter { $0.contains(fixture.root) }.map { "mount: \($0)" }
        let rules = try commandOutput("iptables-save")
        for id in ids {
            if rules.contains(id) { found.append("iptables rule for \(id)") }
            for cgroup in fixture.runtime.layout.directories(for: id) where access(cgroup, F_OK) == 0 {
                found.append("cgroup \(cgroup)")
            }
        }
        let leaseDirectory = NetworkManager.ipamDirectory + "/berth"
        for lease in (try? FileManager.default.contentsOfDirectory(atPath: leaseDirectory)) ?? [] {
            let holder = (try? String(contentsOfFile: leaseDirectory + "/" + lease, encoding: .utf8)) ?? ""
            if ids.contains(where: { holder.contains($0) }) { found.append("lease \(lease)") }
        }
        let records = (try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/network")) ?? []
        found += records.filter { $0.contains("@") }.map { "network record \($0)" }
        return found
    }

    private func veths() throws -> Set<String> {
        Set(try commandOutput("ip", "-o", "link", "show", "master", "berth0").split(separator: "\n").compactMap { line in
            line.split(separator: " ").dropFirst().first.map { String($0.split(separator: "@")[0]) }
        })
    }

    @Test func fiftyContainersWithPublishedPortsLeaveNothingBehind() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        var ids: [String] = []
        for index in 0..<50 {
            let run = try fixture.berth("run", "-d", "--name", "scale-\(index)", "-p", "127.0.0.1::80", "busybox", "sleep", "300")
            #expect(run.status == 0, "\(run.stderr)")
            ids.append(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(try fixture.berth("ps", "-q").stdout.split(separator: "\n").count == 50)
        // The containers' own veths, as their attachment records name them (other tests running
        // meanwhile add and remove veths of their own on berth0).
        let containerVeths = Set(ids.compactMap { id -> String? in
            let record = fixture.root + "/network/\(id)@bridge.json"
            guard let data = FileManager.default.contents(atPath: record),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return object["hostVeth"] as? String
        })
        #expect(containerVeths.count == 50)
        #expect(containerVeths.isSubset(of: try veths()))
        let rules = try commandOutput("iptables-save")
        #expect(ids.filter { rules.contains($0) }.count == 50, "each container has its NAT rules")

        let remove = try fixture.berth(["rm", "-f"] + ids)
        #expect(remove.status == 0, "\(remove.stderr)")
        #expect(try hostState(fixture, ids) == [])
        #expect(try veths().intersection(containerVeths) == [])
        for id in ids { #expect(fixture.leftovers(id) == []) }
    }

    /// The exact iptables rules a container with two published ports has while it runs: one DNAT
    /// rule per port, in Berth's chain, named for the container (the bridge's rule masquerades the
    /// subnet); and none of them, nor anything with its address, after `rm -f`.
    @Test func publishedPortsAreExactlyTheContainersRulesAndGoWithIt() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        let run = try fixture.berth("run", "-d", "-p", "127.0.0.1:18191:80", "-p", "18192:81/udp", "busybox", "sleep", "300")
        #expect(run.status == 0, "\(run.stderr)")
        let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let ip = try fixture.berth("inspect", "--format", "{{.NetworkSettings.IPAddress}}", id).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!ip.isEmpty)
        let comment = "-m comment --comment \"berth net=berth id=\(id)\""
        let mentioning = { (rules: String) in
            rules.split(separator: "\n").map(String.init).filter {
                $0.contains(id) || $0.contains(" \(ip)/") || $0.contains(" \(ip):")
            }
        }
        #expect(Set(mentioning(try commandOutput("iptables-save"))) == [
            "-A BERTH-HOSTPORTS -d 127.0.0.1/32 -p tcp -m tcp --dport 18191 \(comment) -j DNAT --to-destination \(ip):80",
            "-A BERTH-HOSTPORTS -p udp -m udp --dport 18192 \(comment) -j DNAT --to-destination \(ip):81",
        ])
        let rules = try commandOutput("iptables-save")
        for bridgeRule in ["-A POSTROUTING -j BERTH-MASQ-berth0", "-A BERTH-MASQ-berth0 -s 10.77.0.0/16 ! -o berth0 -j MASQUERADE",
                           "-A FORWARD -j BERTH-FORWARD",
                           "-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-HOSTPORTS",
                           "-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH-HOSTPORTS",
                           "-A BERTH-FORWARD -i berth0 -j ACCEPT"] {
            #expect(rules.contains(bridgeRule + "\n"), "missing \(bridgeRule)")
        }

        let remove = try fixture.berth("rm", "-f", id)
        #expect(remove.status == 0, "\(remove.stderr)")
        #expect(mentioning(try commandOutput("iptables-save")) == [])
        #expect(try hostState(fixture, [id]) == [])
    }

    /// Killing the CLI of a foreground `run` leaves the container to its monitor, as killing
    /// `docker run` leaves it to the daemon: it keeps running, logs, and is removed cleanly.
    @Test func killingTheCLIDuringRunLeavesAConsistentContainer() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RuntimeFixture.berthBinary ?? "")
        process.arguments = ["--root", fixture.root, "run", "--name", "orphaned", "-p", "127.0.0.1::80", "busybox",
                             "sh", "-c", "echo started; exec sleep 300"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var status = ""
        for _ in 0..<200 where status != "running\n" {
            usleep(50_000)
            status = try fixture.berth("inspect", "--format", "{{.State.Status}}", "orphaned").stdout
        }
        #expect(status == "running\n")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        #expect(try fixture.berth("inspect", "--format", "{{.State.Status}}", "orphaned").stdout == "running\n")
        #expect(try fixture.berth("logs", "orphaned").stdout == "started\n")
        let id = try fixture.berth("inspect", "--format", "{{.Id}}", "orphaned").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try fixture.berth("rm", "-f", "orphaned").status == 0)
        #expect(try hostState(fixture, [id]) == [])
        #expect(fixture.leftovers(id) == [])
    }
}
