import BerthOCI
import BerthRuntime
import Foundation
import Glibc
import Testing

/// Real containers on runc (root only): exit codes, logs, process settings, stop, kill -9 of the
/// monitor, and that removal leaves no directory, mount, runtime state or cgroup behind.
@Suite(.serialized)
struct ContainerLifecycleTests {
    @Test func exitCodesOfTrueAndFalse() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let (succeeded, zero) = try fixture.run(["true"])
        let (failed, one) = try fixture.run(["false"])
        let (custom, three) = try fixture.run(["sh", "-c", "exit 3"])
        #expect(zero == 0)
        #expect(one == 1)
        #expect(three == 3)
        let states = try [succeeded, failed, custom].map { try fixture.runtime.container($0.id).state }
        #expect(states.map(\.status) == [.exited, .exited, .exited])
        #expect(states.map(\.exitCode) == [0, 1, 3])
        #expect(states.allSatisfy { $0.startedAt != nil && $0.finishedAt != nil && $0.pid == 0 })
    }

    @Test func outputGoesToTheJSONLog() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let (record, code) = try fixture.run(["sh", "-c", "echo one; echo two >&2; printf 'no newline'"])
        #expect(code == 0)
        let entries = try fixture.log(record.id)
        #expect(entries.filter { $0.0 == "stdout" }.map(\.1) == ["one\n", "no newline"])
        #expect(entries.filter { $0.0 == "stderr" }.map(\.1) == ["two\n"])
        let raw = try String(contentsOfFile: fixture.runtime.containers.logPath(of: record.id), encoding: .utf8)
        let first = raw.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix(#"{"log":"one\n","stream":"stdout","time":""#))
        #expect(first.hasSuffix(#"Z"}"#))
    }

    @Test func environmentWorkingDirectoryAndUserApply() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let (record, code) = try fixture.run(["sh", "-c", "echo \"$GREETING|$PWD|$(id -u):$(id -g)|$HOSTNAME|$(hostname)\""]) {
            $0.env = ["GREETING=hello there"]
            $0.workingDir = "/srv/app"
            $0.user = "nobody"
        }
        #expect(code == 0)
        let short = record.shortID
        #expect(try fixture.log(record.id).map(\.1) == ["hello there|/srv/app|65534:65534|\(short)|\(short)\n"])
    }

    @Test func unknownUserFailsToStartWithAClearError() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let record = try fixture.create(fixture.options(["true"]) { $0.user = "nosuchuser" })
        #expect(throws: RuntimeError.startFailed(RuntimeError.unknownUser("nosuchuser").description)) {
            try fixture.runtime.start(record.id)
        }
        #expect(try fixture.runtime.container(record.id).state.status == .created)
        try fixture.runtime.remove(record.id, force: false)
        #expect(fixture.leftovers(record.id).isEmpty)
    }

    @Test func autoRemoveLeavesNothingBehind() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let (record, code) = try fixture.run(["sh", "-c", "echo bye"]) { $0.hostConfig.autoRemove = true }
        #expect(code == 0)
        #expect(fixture.leftovers(record.id) == [])
        #expect(throws: RuntimeError.noSuchContainer(record.id)) { try fixture.runtime.container(record.id) }
    }

    @Test func stopSendsTheStopSignalThenKills() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        // A shell that exits cleanly on SIGTERM.
        let polite = try fixture.create(
            fixture.options(["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]))
        try fixture.runtime.start(polite.id).finish()
        // sleep as PID 1 has no SIGTERM handler, so the kernel ignores it: only SIGKILL ends it.
        let stubborn = try fixture.create(fixture.options(["sleep", "100"]))
        try fixture.runtime.start(stubborn.id).finish()
        #expect(try fixture.runtime.container(stubborn.id).state.running)

        try fixture.runtime.stop(polite.id, timeout: 10)
        let began = Date()
        try fixture.runtime.stop(stubborn.id, timeout: 1)
        let took = Date().timeIntervalSince(began)
        #expect(took >= 1 && took < 5)
        #expect(try fixture.runtime.container(polite.id).state.exitCode == 0)
        let stopped = try fixture.runtime.container(stubborn.id).state
        #expect(stopped.status == .exited && stopped.exitCode == 137)
        for id in [polite.id, stubborn.id] {
            try fixture.runtime.remove(id, force: false)
            #expect(fixture.leftovers(id) == [])
        }
    }

    @Test func removingARunningContainerNeedsForce() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let record = try fixture.create(fixture.options(["sleep", "100"]))
        try fixture.runtime.start(record.id).finish()
        #expect(throws: RuntimeError.containerRunning(record.id)) { try fixture.runtime.remove(record.id, force: false) }
        try fixture.runtime.remove(record.name, force: true)
        #expect(fixture.leftovers(record.id) == [])
    }

    @Test func killedMonitorShowsTheContainerExitedAndRemoveCleansUp() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let record = try fixture.create(fixture.options(["sleep", "100"]))
        let connection = try fixture.runtime.start(record.id)
        let running = try fixture.runtime.container(record.id)
        #expect(running.state.running && running.state.monitorPID == connection.monitorPID)
        Glibc.kill(connection.monitorPID, SIGKILL)
        #expect(connection.waitForExit() == nil)

        let after = try fixture.runtime.container(record.id)
        #expect(after.state.status == .exited)
        #expect(after.state.exitCode == 137)
        #expect(Glibc.kill(running.state.pid, 0) != 0 || isZombie(running.state.pid))
        try fixture.runtime.remove(record.id, force: false)
        #expect(fixture.leftovers(record.id) == [])
    }

    @Test func twentyRunRemoveCyclesLeaveNoMounts() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        for _ in 0..<20 {
            let (record, code) = try fixture.run(["true"]) { $0.hostConfig.autoRemove = true }
            #expect(code == 0)
            #expect(fixture.leftovers(record.id) == [])
        }
        let mounts = RuntimeFixture.mountTable()
        #expect(!mounts.contains(fixture.root + "/containers"))
        #expect(try fixture.runtime.list().isEmpty)
    }

    @Test func limitsReachTheCgroup() throws {
        if RuntimeFixture.skipped() { return }
        let fixture = try RuntimeFixture()
        let path = fixture.runtime.layout == .v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/pids"
        let (record, code) = try fixture.run(["cat", path + "/pids.max"]) {
            $0.hostConfig.pidsLimit = 42
            $0.hostConfig.memory = 64 << 20
        }
        #expect(code == 0)
        #expect(try fixture.log(record.id).map(\.1) == ["42\n"])
    }

    private func isZombie(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return true }
        return status.contains("State:\tZ")
    }
}
