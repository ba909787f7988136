import Foundation
import Glibc
import Testing

/// `--runtime crun` through the built `berth` binary (root only). On a hybrid cgroup host crun
/// runs in a mount namespace that hides the v2 hierarchy; the limits must still apply.
@Suite(.serialized)
struct RuntimeSelectionTests {
    static func skipped(_ test: String = #function) -> Bool {
        if RuntimeFixture.skipped(test) { return true }
        guard (try? runCommand("crun", "--version")) != 0 else { return false }
        print("SKIPPED \(test): crun is not installed (apt-get install crun)")
        return true
    }

    @Test func crunRunsContainersWithLimitsExecAndPublishedPorts() throws {
        if Self.skipped() { return }
        let fixture = try RuntimeFixture()
        let limited = try fixture.berth("run", "--rm", "--runtime", "crun", "--network", "none", "-m", "64m", "--pids-limit", "50",
                                        "busybox", "sh", "-c",
                                        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; exit 3")
        #expect(limited.status == 3, "\(limited.stderr)")
        #expect(limited.stdout == "67108864\n", "\(limited.stdout)")

        let run = try fixture.berth("run", "-d", "--name", "web", "--runtime", "crun", "-p", "127.0.0.1::80", "busybox",
                                    "sh", "-c", "echo crun > /tmp/index.html; exec httpd -f -p 80 -h /tmp")
        #expect(run.status == 0, "\(run.stderr)")
        let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try fixture.berth("inspect", "--format", "{{.HostConfig.Runtime}} {{.State.Status}}", "web").stdout == "crun running\n")
        #expect(access(fixture.root + "/crun/" + id, F_OK) == 0, "crun keeps its state apart from runc's")
        let port = try fixture.berth("port", "web", "80").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try commandOutput("curl", "-s", "--max-time", "10", "http://\(port)/") == "crun\n")
        #expect(try fixture.berth("exec", "web", "cat", "/tmp/index.html").stdout == "crun\n")
        #expect(try fixture.berth("top", "web").stdout.contains("httpd -f -p 80"))
        #expect(try fixture.berth("stop", "-t", "1", "web").status == 0)
        #expect(try fixture.berth("start", "web").status == 0)
        #expect(try fixture.berth("rm", "-f", "web").status == 0)
        #expect(fixture.leftovers(id) == [])
        #expect(access(fixture.root + "/crun/" + id, F_OK) != 0)
    }

    @Test func unknownRuntimeIsRefusedAndLeavesNothing() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let result = try fixture.berth("run", "--rm", "--runtime", "kata", "busybox", "true")
        #expect(result.status == 125)
        #expect(result.stderr == "berth: Error response from daemon: unknown or invalid runtime name: kata (Berth knows runc, crun)\n\nRun 'berth run --help' for more information\n")
        #expect(try fixture.berth("ps", "-aq").stdout == "")
    }
}
