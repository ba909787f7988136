import BerthNetwork
import Foundation
import Glibc
import Testing

/// Killed build: a RUN step goes when its `berth build` goes, kill -9 included, and what else it
/// took (mounts, network namespace, veth, address lease, iptables rules, runc state, cgroup, its
/// directory) is gone once the next `berth` command has run on the root. Normal, failing and
/// interrupted builds leave nothing either. Drives the real `berth` binary on a temporary root.
@Suite(.serialized) struct KilledBuildTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let berth = repository + "/.build/debug/berth"

    /// Why these tests cannot run here (printed as a skip), or nil.
    static func skipped(_ test: String = #function) -> Bool {
        let reason = BuildFixture.bridgeSkipReason ?? (access(berth, X_OK) == 0 ? nil : "no \(berth) (run swift build first)")
        guard let reason else { return false }
        print("SKIPPED \(test): \(reason)")
        return true
    }

    @Test(arguments: [["images"], ["builder", "prune", "-f"], ["ps", "-a"]])
    func killedBuildsStepDiesWithItAndTheNextCommandRemovesTheRest(nextCommand: [String]) throws {
        if Self.skipped() { return }
        let fixture = try BuildFixture()
        let step = try RunningStep(fixture)
        kill(step.buildPID, SIGKILL)
        // No other command runs meanwhile: the guard ends the step by itself.
        try step.expectProcessesGone()
        let next = BuildFixture.shell("\(Self.berth) --root \(fixture.root) \(nextCommand.joined(separator: " ")) 2>&1; echo exit=$?") ?? ""
        #expect(next.hasSuffix("exit=0\n"), "`berth \(nextCommand.joined(separator: " "))` failed: \(next)")
        try step.expectNothingLeft()
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func interruptedBuildEndsItsStepAndLeavesNothing(signal: Int32) throws {
        if Self.skipped() { return }
        let fixture = try BuildFixture()
        let step = try RunningStep(fixture)
        kill(step.buildPID, signal)
        // The build releases its step itself before it exits: no other command runs.
        try step.expectProcessesGone()
        try step.expectNothingLeft()
    }

    @Test func finishedAndFailedBuildsLeaveNothing() throws {
        if Self.skipped() { return }
        let fixture = try BuildFixture()
        try fixture.write("Dockerfile", "FROM busybox\nRUN echo done > /done.txt\n")
        let (builtPID, built) = Self.build(fixture, tag: "done")
        #expect(built.hasSuffix("exit=0\n"), "the build failed: \(built)")
        try fixture.write("Dockerfile", "FROM busybox\nRUN sleep 0.2 & exit 3\n")
        let (failedPID, failed) = Self.build(fixture, tag: "failed")
        #expect(failed.contains("exit code: 3") && failed.hasSuffix("exit=1\n"), "the build did not fail as it should: \(failed)")
        #expect(Self.processes(mentioning: fixture.root).isEmpty, "processes of the builds remain")
        for pid in [builtPID, failedPID] { Self.expectRootClean(fixture.root, stepID: "build-\(pid)-") }
    }

    /// Runs `berth build` in the fixture's context: its pid (which names its steps) and its output
    /// followed by `exit=STATUS`.
    static func build(_ fixture: BuildFixture, tag: String) -> (pid_t, String) {
        let output = BuildFixture.shell(
            "(echo $BASHPID; exec \(berth) --root \(fixture.root) build -t \(tag) \(fixture.contextDirectory)) 2>&1; echo exit=$?") ?? ""
        let lines = output.split(separator: "\n", maxSplits: 1)
        return (lines.first.flatMap { pid_t($0) } ?? 0, lines.count > 1 ? String(lines[1]) : output)
    }

    /// A `berth build` of `RUN sleep 300` on the default bridge, observed once its step runs: its
    /// processes, container ID and host veth.
    struct RunningStep {
        let fixture: BuildFixture
        let buildPID: pid_t
        let log: String
        let containerID: String
        let hostVeth: String
        /// The build, its descendants and the container's processes, each with its start time.
        let processes: [ProcessEntry]

        init(_ fixture: BuildFixture) throws {
            try fixture.write("Dockerfile", "FROM busybox\nRUN sleep 300\n")
            let log = (fixture.root as NSString).deletingLastPathComponent + "/build.log"
            let started = BuildFixture.shell(
                ". \(KilledBuildTests.repository)/scripts/detach.sh; detach \(log) \(KilledBuildTests.berth) --root \(fixture.root) build -t killed \(fixture.contextDirectory); echo $!")
            let pid = try #require(started.flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
                                   "cannot start berth build")
            let runcList = "runc --root \(fixture.root)/buildcache/runc list"
            var found: String?
            for _ in 0..<600 where found == nil {
                found = BuildFixture.shell(runcList)?.split(separator: "\n")
                    .first { $0.hasPrefix("build-\(pid)-") && $0.contains(" running ") }
                    .flatMap { $0.split(separator: " ").first.map(String.init) }
                if found == nil { usleep(100_000) }
            }
            guard let id = found else {
                kill(pid, SIGKILL)
                Issue.record("the RUN step never ran: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                throw CancellationError()
            }
            let record = try Data(contentsOf: URL(fileURLWithPath: fixture.root + "/network/\(id)@bridge.json"))
            let veth = try #require((try JSONSerialization.jsonObject(with: record) as? [String: Any])?["hostVeth"] as? String)
            let cgroupProcesses = (BuildFixture.shell("cat /sys/fs/cgroup/*/berth/\(id)/cgroup.procs /sys/fs/cgroup/berth/\(id)/cgroup.procs 2>/dev/null; true") ?? "")
                .split(separator: "\n").compactMap { pid_t($0) }.compactMap(ProcessEntry.init(pid:))
            // The build itself too: after SIGINT or SIGTERM it exits once it has released the step.
            let processes = ([ProcessEntry(pid: pid)].compactMap { $0 } + KilledBuildTests.descendants(of: pid) + cgroupProcesses)
                .reduce(into: [ProcessEntry]()) { list, entry in if !list.contains(where: { $0.pid == entry.pid }) { list.append(entry) } }
            // What is checked afterwards is there while the step runs.
            #expect(processes.contains { $0.command == "sleep" }, "the step's sleep is not among \(processes)")
            #expect(processes.contains { $0.command == "runc" }, "runc is not among \(processes)")
            #expect(BuildFixture.shell("ip -o link show \(veth)") != nil, "the step's veth is not there while it runs")
            #expect(BuildFixture.mountTable.contains(fixture.root + "/buildcache/tmp/"), "the step's mounts are not there while it runs")
            self.fixture = fixture
            self.buildPID = pid
            self.log = log
            self.containerID = id
            self.hostVeth = veth
            self.processes = processes
        }

        /// Every process of the step ends, with no other command run: polled for up to 20 s
        /// (`sleep 300` would outlast that), then checked.
        func expectProcessesGone() throws {
            for _ in 0..<200 where processes.contains(where: \.isRunning) { usleep(100_000) }
            let running = processes.filter(\.isRunning)
            #expect(running.isEmpty, "processes of the killed build's step remain: \(running)")
        }

        func expectNothingLeft() throws {
            #expect(BuildFixture.shell("ip -o link show \(hostVeth)") == nil, "the step's host veth \(hostVeth) is left")
            KilledBuildTests.expectRootClean(fixture.root, stepID: containerID)
        }
    }

    /// Nothing of a step whose container ID starts with `stepID` remains: mounts under the root
    /// (overlay, network namespace, RUN --mount overlays), attachment records, address leases,
    /// iptables rules, runc state, cgroups, step records and staging directories.
    static func expectRootClean(_ root: String, stepID: String) {
        let mounts = BuildFixture.mountTable.split(separator: "\n").filter { $0.contains(root + "/") }
        #expect(mounts.isEmpty, "mounts under the root are left: \(mounts)")
        let attachments = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/network")) ?? [])
            .filter { $0.hasPrefix(stepID) }
        #expect(attachments.isEmpty, "attachment records are left: \(attachments)")
        let ipam = NetworkManager.ipamDirectory
        for range in (try? FileManager.default.contentsOfDirectory(atPath: ipam)) ?? [] {
            let leases = ((try? FileManager.default.contentsOfDirectory(atPath: ipam + "/" + range)) ?? []).filter { lease in
                ((try? String(contentsOfFile: ipam + "/" + range + "/" + lease, encoding: .utf8)) ?? "").hasPrefix(stepID)
            }
            #expect(leases.isEmpty, "address leases are left in \(range): \(leases)")
        }
        let rules = (BuildFixture.shell("iptables-save") ?? "").split(separator: "\n").filter { $0.contains(stepID) }
        #expect(rules.isEmpty, "iptables rules are left: \(rules)")
        let runcState = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/buildcache/runc")) ?? [])
            .filter { $0.hasPrefix(stepID) }
        #expect(runcState.isEmpty, "runc state is left: \(runcState)")
        let cgroups = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).flatMap { hierarchy in
            ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/\(hierarchy)/berth")) ?? [])
                .filter { $0.hasPrefix(stepID) }.map { "\(hierarchy)/berth/\($0)" }
        }
        #expect(cgroups.isEmpty, "cgroups are left: \(cgroups)")
        let records = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/buildcache/steps")) ?? [])
            .filter { !$0.hasPrefix(".") }
        #expect(records.isEmpty, "step records are left: \(records)")
        let staging = (try? FileManager.default.contentsOfDirectory(atPath: root + "/buildcache/tmp")) ?? []
        #expect(staging.isEmpty, "staging directories are left: \(staging)")
    }

    /// A process named by pid and start time, so a reused pid is not mistaken for it.
    struct ProcessEntry: CustomStringConvertible {
        let pid: pid_t
        let startTime: String
        let command: String

        init?(pid: pid_t) {
            guard let (state, start, command, _) = KilledBuildTests.stat(pid), state != "Z" else { return nil }
            self.pid = pid
            self.startTime = start
            self.command = command
        }

        /// Still there and not a zombie.
        var isRunning: Bool {
            guard let (state, start, _, _) = KilledBuildTests.stat(pid) else { return false }
            return start == startTime && state != "Z"
        }

        var description: String { "\(pid) (\(command))" }
    }

    /// State, start time, command name and parent of a process, from /proc/<pid>/stat.
    static func stat(_ pid: pid_t) -> (state: Character, start: String, command: String, parent: pid_t)? {
        guard let text = BuildFixture.shell("cat /proc/\(pid)/stat 2>/dev/null"),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, String(fields[19]), String(text[text.index(after: open)..<close]), parent)
    }

    /// Live processes whose command line mentions `text`.
    static func processes(mentioning text: String) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }.filter { pid in
            guard pid != getpid(), let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/cmdline") else { return false }
            defer { try? handle.close() }
            return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self).contains(text)
        }
    }

    /// Live descendants of `root`.
    static func descendants(of root: pid_t) -> [ProcessEntry] {
        let table = BuildFixture.shell("ps -e -o pid=,ppid=") ?? ""
        var children: [pid_t: [pid_t]] = [:]
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let pid = pid_t(fields[0]), let parent = pid_t(fields[1]) { children[parent, default: []].append(pid) }
        }
        var result: [ProcessEntry] = []
        var pending = children[root] ?? []
        while let pid = pending.popLast() {
            if let entry = ProcessEntry(pid: pid) { result.append(entry) }
            pending += children[pid] ?? []
        }
        return result
    }
}
