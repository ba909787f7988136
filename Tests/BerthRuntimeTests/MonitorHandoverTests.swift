import Foundation
import Glibc
import Testing

@testable import BerthRuntime

/// The handover's command line reads back as what was written.
@Suite struct MonitorHandoverArgumentTests {
    @Test func argumentsReadBack() {
        let streams = ContainerIO.Handover(stdout: 5, stderr: -1, input: 5, attach: 6, clients: [7, 8], tty: true, stdinOnce: true)
        let log = LogWriter.Settings(path: "/var/lib/a b/log", rotation: LogConfig.Rotation(maxSize: 2000, maxFiles: 3), transient: false)
        let handover = MonitorHandover(id: "c0ffee", lock: 4, sync: 3,
                                       run: MonitorHandover.Run(pid: 42, backoff: 0.4, streams: streams, log: log, healthCheck: true))
        #expect(MonitorHandover(arguments: handover.arguments) == handover)
        var plain = handover
        plain.run.log = LogWriter.Settings(path: "/l", rotation: LogConfig.Rotation(maxSize: nil, maxFiles: 1), transient: true)
        plain.run.streams = ContainerIO.Handover(stdout: 5, stderr: 7, input: -1, attach: -1, clients: [], tty: false, stdinOnce: false)
        #expect(MonitorHandover(arguments: plain.arguments) == plain)
        plain.run.log = nil
        #expect(MonitorHandover(arguments: plain.arguments) == plain)
        #expect(MonitorHandover(arguments: ["--resume", "c0ffee"]) == nil)
        #expect(MonitorHandover(arguments: Array(handover.arguments.dropLast())) == nil)
    }
}

/// A container's monitor re-executes itself once the container runs (`--resume`, so the idle
/// process is small); these check that the re-executed monitor does everything the first one
/// did: the log and its rotation, stop and kill, restarts, `--rm`, health checks and attaching.
/// Through the built `berth` binary with real runc (root only). The containers wait for a file
/// the test makes with `exec` once it has seen the monitor re-executed, so what they do after
/// that is handled by the re-executed monitor.
@Suite(.serialized)
struct MonitorHandoverTests {
    func berth(_ fixture: RuntimeFixture, _ arguments: String...) throws -> CommandResult {
        try fixture.berth(arguments)
    }

    func id(_ fixture: RuntimeFixture, _ name: String) throws -> String {
        try berth(fixture, "inspect", "--format", "{{.Id}}", name).stdout.trimmingCharacters(in: .newlines)
    }

    /// Waits in a container until the test says go (`go(_:_:)`).
    static let waitForGo = "while [ ! -e /tmp/go ]; do sleep 0.1; done"

    func go(_ fixture: RuntimeFixture, _ name: String) throws {
        let touched = try berth(fixture, "exec", name, "touch", "/tmp/go")
        #expect(touched.status == 0, "\(touched.stderr)")
    }

    /// The arguments of the container's monitor once it runs as re-executed (`--resume ID`);
    /// nil if it does not within ten seconds.
    func resumedMonitor(_ fixture: RuntimeFixture, _ name: String) throws -> [String]? {
        let id = try id(fixture, name)
        for _ in 0..<200 {
            if let pid = try fixture.runtime.containers.record(id)?.state.monitorPID, pid > 0,
               let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") {
                let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if let resume = arguments.firstIndex(of: "--resume"), arguments.dropFirst(resume + 1).first == id {
                    return arguments
                }
            }
            usleep(50_000)
        }
        return nil
    }

    func state(_ fixture: RuntimeFixture, _ name: String, is expected: String) throws -> String {
        var current = ""
        for _ in 0..<200 where current != expected {
            current = try berth(fixture, "inspect", "--format", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", name).stdout
            usleep(50_000)
        }
        return current
    }

    @Test func outputAfterTheHandoverReachesTheLogAndKillAndStopGiveTheExitCode() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "-d", "--name", "late", "--network", "none", "busybox", "sh", "-c",
                          "echo early; \(Self.waitForGo); echo late; echo oops >&2; sleep 600").status == 0)
        let arguments = try #require(try resumedMonitor(fixture, "late"))
        #expect(arguments.first.map { $0.hasSuffix("berth-monitor") } == true)
        try go(fixture, "late")
        var logs = CommandResult(status: 0, stdout: "", stderr: "")
        for _ in 0..<200 where logs.stderr.isEmpty {
            logs = try berth(fixture, "logs", "late")
            usleep(50_000)
        }
        #expect(logs.stdout == "early\nlate\n")
        #expect(logs.stderr == "oops\n")
        #expect(try berth(fixture, "kill", "late").status == 0)
        #expect(try berth(fixture, "wait", "late").stdout == "137\n")
        #expect(try state(fixture, "late", is: "exited 0 137\n") == "exited 0 137\n")
        let id = try id(fixture, "late")
        #expect(!fixture.runtime.isMonitored(id))
        #expect(try berth(fixture, "rm", "late").status == 0)
        #expect(fixture.leftovers(id) == [])

        #expect(try berth(fixture, "run", "-d", "--name", "polite", "--network", "none", "busybox", "sh", "-c",
                          "trap 'exit 0' TERM; while true; do sleep 0.1; done").status == 0)
        #expect(try resumedMonitor(fixture, "polite") != nil)
        #expect(try berth(fixture, "stop", "polite").status == 0)
        #expect(try berth(fixture, "wait", "polite").stdout == "0\n")
        #expect(try state(fixture, "polite", is: "exited 0 0\n") == "exited 0 0\n")
        #expect(try berth(fixture, "rm", "polite").status == 0)
    }

    @Test func rotationGoesOnAfterTheHandover() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let lines = "i=0; while [ $i -lt 600 ]; do echo line-$i; i=$((i+1)); done"
        #expect(try berth(fixture, "run", "-d", "--name", "rot", "--network", "none", "--log-opt", "max-size=2k",
                          "--log-opt", "max-file=3", "busybox", "sh", "-c", "echo first; \(Self.waitForGo); \(lines)").status == 0)
        #expect(try resumedMonitor(fixture, "rot") != nil)
        try go(fixture, "rot")
        #expect(try berth(fixture, "wait", "rot").stdout == "0\n")
        let id = try id(fixture, "rot")
        let directory = fixture.runtime.containers.path(of: id)
        var sizes: [String: Int64] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.contains("-json.log") {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            sizes[name] = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        }
        #expect(Set(sizes.keys) == ["\(id)-json.log", "\(id)-json.log.1", "\(id)-json.log.2"])
        // Docker rotates before the entry that finds the file at max-size: one entry over at most.
        #expect(sizes.values.allSatisfy { $0 <= 2000 + 100 })
        let logs = try berth(fixture, "logs", "rot").stdout.split(separator: "\n").map(String.init)
        let all = (0..<600).map { "line-\($0)" }
        #expect(logs.count > 40 && logs == Array(all.suffix(logs.count)))
        #expect(try berth(fixture, "rm", "rot").status == 0)
    }

    @Test func restartsGoOnUnderTheReexecutedMonitor() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "-d", "--name", "flaky", "--restart", "on-failure:3", "--network", "none",
                          "busybox", "sh", "-c", "echo run; sleep 1; exit 3").status == 0)
        #expect(try resumedMonitor(fixture, "flaky") != nil)
        var final = ""
        for _ in 0..<400 where final != "exited 3 3\n" {
            final = try berth(fixture, "inspect", "--format", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", "flaky").stdout
            usleep(50_000)
        }
        #expect(final == "exited 3 3\n")
        #expect(try berth(fixture, "logs", "flaky").stdout == "run\nrun\nrun\nrun\n")
        #expect(!fixture.runtime.isMonitored(try id(fixture, "flaky")))
        #expect(try berth(fixture, "rm", "flaky").status == 0)
    }

    @Test func removeOnExitStillRemoves() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "-d", "--rm", "--name", "brief", "--network", "none", "busybox", "sh", "-c",
                          "\(Self.waitForGo); echo bye").status == 0)
        let id = try id(fixture, "brief")
        #expect(try resumedMonitor(fixture, "brief") != nil)
        try go(fixture, "brief")
        var listed = "?"
        for _ in 0..<200 where !listed.isEmpty {
            listed = try berth(fixture, "ps", "-aq").stdout
            usleep(50_000)
        }
        #expect(listed == "")
        #expect(fixture.leftovers(id) == [])
    }

    @Test func healthChecksGoOnAfterTheHandover() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "-d", "--name", "checked", "--network", "none", "--health-cmd", "test -e /tmp/go",
                          "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60").status == 0)
        #expect(try resumedMonitor(fixture, "checked") != nil)
        func health(is expected: String) throws -> String {
            var current = ""
            for _ in 0..<200 where current != expected {
                current = try berth(fixture, "inspect", "--format", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}",
                                    "checked").stdout
                usleep(50_000)
            }
            return current
        }
        #expect(try health(is: "unhealthy 2\n") == "unhealthy 2\n")
        try go(fixture, "checked")
        #expect(try health(is: "healthy 0\n") == "healthy 0\n")
        #expect(try berth(fixture, "rm", "-f", "checked").status == 0)
    }

    @Test func aTerminalsMasterIsHandedOver() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        #expect(try berth(fixture, "run", "-dt", "--name", "teletype", "--network", "none", "busybox", "sh", "-c",
                          "\(Self.waitForGo); echo on the terminal; exit 6").status == 0)
        let arguments = try #require(try resumedMonitor(fixture, "teletype"))
        #expect(arguments.contains("--tty") && arguments[arguments.firstIndex(of: "--tty")! + 1] == "1")
        try go(fixture, "teletype")
        #expect(try berth(fixture, "wait", "teletype").stdout == "6\n")
        // The terminal turns \n into \r\n.
        #expect(try berth(fixture, "logs", "teletype").stdout == "on the terminal\r\n")
        #expect(try berth(fixture, "rm", "teletype").status == 0)
    }

    @Test func attachingReachesTheReexecutedMonitor() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let script = "echo before; while read line; do echo got-$line; [ \"$line\" = quit ] && exit 4; done"
        #expect(try berth(fixture, "run", "-di", "--name", "reader", "--network", "none", "busybox", "sh", "-c", script).status == 0)
        let arguments = try #require(try resumedMonitor(fixture, "reader"))
        // The stdin pipe and the attach socket were handed over.
        #expect(arguments.contains("--input") && arguments.contains("--attach"))
        let attached = try berthCommand(fixture, ["attach", "reader"], stdin: Array("a\nquit\n".utf8))
        #expect(attached.status == 4)
        #expect(attached.text == "got-a\ngot-quit\n", "\(attached.stderr)")
        #expect(try berth(fixture, "rm", "reader").status == 0)
    }
}
