import Foundation
import Glibc
import Testing

/// What happens to containers across a machine restart (root only): the power loss is simulated
/// by killing every monitor and container process at once with SIGKILL, so nothing records the
/// exit; then the boot service's command (scripts/systemd/berth-restart.service) runs.
@Suite(.serialized)
struct BootRestartTests {
    @Test func restartPoliciesBringContainersBackAfterAMachineRestart() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let policies = ["always": "always", "unless": "unless-stopped", "stopped-unless": "unless-stopped",
                        "stopped-always": "always", "retries": "on-failure:3", "plain": "no"]
        var ids: [String: String] = [:]
        for (name, policy) in policies.sorted(by: { $0.key < $1.key }) {
            let run = try fixture.berth("run", "-d", "--name", name, "--restart", policy, "--network", "none",
                                        "busybox", "sleep", "300")
            #expect(run.status == 0, "\(run.stderr)")
            ids[name] = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try fixture.berth("stop", "-t", "0", "stopped-unless", "stopped-always").status == 0)

        for name in ["always", "unless", "retries", "plain"] {
            let id = try #require(ids[name])
            let record = try #require(try fixture.runtime.containers.record(id))
            #expect(kill(record.state.monitorPID, SIGKILL) == 0)
            #expect(kill(record.state.pid, SIGKILL) == 0)
        }
        // After the "reboot" every container reads as exited, and holds nothing.
        var statuses = ""
        for _ in 0..<100 {
            statuses = try fixture.berth("ps", "-a", "--format", "{{.Names}} {{.State}}").stdout
            if !statuses.contains("running") { break }
            usleep(50_000)
        }
        #expect(!statuses.contains("running"), "\(statuses)")
        for id in ids.values { #expect(fixture.leftovers(id).filter { !$0.hasPrefix("directory") } == []) }

        let boot = try fixture.berth("start", "--all", "--filter", "restart-policy=always", "--filter", "restart-policy=unless-stopped")
        #expect(boot.status == 0, "\(boot.stderr)")
        // Docker's daemon restarts `always` containers even when the user stopped them, and
        // `unless-stopped` ones only when the user did not.
        #expect(Set(boot.stdout.split(separator: "\n").map(String.init)) == ["always", "unless", "stopped-always"])
        let running = try fixture.berth("ps", "--format", "{{.Names}}").stdout.split(separator: "\n").map(String.init)
        #expect(Set(running) == ["always", "unless", "stopped-always"])

        let bad = try fixture.berth("start", "--all", "--filter", "restart-policy=sometimes")
        #expect(bad.status != 0 && bad.stderr.contains("invalid filter 'restart-policy=sometimes'"))
        #expect(try fixture.berth("start", "--all", "web").status != 0)
        #expect(try fixture.berth(["rm", "-f"] + Array(policies.keys)).status == 0)
    }
}
