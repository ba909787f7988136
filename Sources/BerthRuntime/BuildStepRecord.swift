import BerthFiles
import BerthProcess
import Foundation
import Glibc
import Synchronization

/// What a RUN step takes on the host, recorded with its build's identity before it takes any of
/// it: the runc container (its state and cgroup), the mounts under the step's directory (the
/// overlay root, the network namespace's bind mount, RUN --mount overlays), the network
/// attachment (veth, address lease, rules) and the directory itself. A step that finishes
/// releases all of it and then its record; when the build is killed instead, the next `berth`
/// command on the root finds the record of a holder that no longer runs and releases what it
/// names (`releaseAbandoned`).
public struct BuildStepRecord: Codable, Sendable {
    /// The build process that runs the step.
    public var holder: ProcessIdentity
    /// The step's directory: bundle, overlay, network namespace, RUN --mount overlays.
    public var directory: String
    public var containerID: String
    public var runcBinary: String
    /// runc's `--root`.
    public var stateRoot: String
    /// Berth's root, where the step's network attachment is recorded.
    public var berthRoot: String

    /// Where the records of a root's running steps are kept.
    public static func recordsDirectory(berthRoot: String) -> String { StateRoot(berthRoot).buildStepRecords }

    /// This process, named once: every record it writes carries it.
    private static let currentProcess = ProcessIdentity.current

    private var path: String { Self.recordsDirectory(berthRoot: berthRoot) + "/" + containerID + ".json" }

    /// Taken from a record's write until the step's process has started (`started`), and for the
    /// record's removal: a signal's `releaseOwn` waits for it, so it never misses what a step takes
    /// after it looked, and the build cannot exit halfway through the release. A semaphore, not a
    /// lock: it is taken in one call and given back in another, perhaps on another thread.
    private static let gate = DispatchSemaphore(value: 1)

    /// The steps (by container ID) that hold the gate, and the root of the last step recorded here,
    /// where an interrupt looks for this process's steps.
    private struct GateState {
        var holders: Set<String> = []
        var lastRoot: String?
    }
    private static let gateState = Mutex(GateState())

    /// Records that this process is about to run a step in `directory`; nothing of the step may be
    /// taken before this returns.
    public static func write(directory: String, runcBinary: String, stateRoot: String, berthRoot: String) throws -> BuildStepRecord {
        let record = BuildStepRecord(holder: currentProcess, directory: directory,
                                     containerID: BuildStepRunner.containerID(directory: directory), runcBinary: runcBinary,
                                     stateRoot: stateRoot, berthRoot: berthRoot)
        if releaseOnInterrupt { _ = interruptSources }
        gate.wait()
        do {
            try Files.makeDirectories(recordsDirectory(berthRoot: berthRoot), mode: 0o700)
            try Files.writeAtomically(Array(try JSONEncoder().encode(record)), to: record.path, mode: 0o600,
                                      durability: .atomicOnly)
        } catch {
            gate.signal()
            throw error
        }
        gateState.withLock {
            $0.holders.insert(record.containerID)
            $0.lastRoot = berthRoot
        }
        return record
    }

    /// The step's process runs: everything the record names has been taken.
    static func started(containerID: String) {
        if gateState.withLock({ $0.holders.remove(containerID) }) != nil { gate.signal() }
    }

    /// Drops the record once the step has released what it took.
    public func remove() {
        if Self.gateState.withLock({ $0.holders.remove(containerID) }) == nil { Self.gate.wait() }
        unlink(path)
        Self.gate.signal()
    }

    /// Releases what steps of builds that no longer run left on the root, then their records.
    /// With none left (the usual case) this costs one directory listing.
    public static func releaseAbandoned(berthRoot: String) {
        release(berthRoot: berthRoot) { !$0.holder.isAlive }
    }

    /// Whether SIGINT and SIGTERM end this process once its running step is released (for
    /// `berth build`; the exit status is 128 + the signal's number, as a shell reports a process
    /// the signal killed). The handlers are installed when the first step is recorded, so a build
    /// without RUN steps starts no signal thread.
    public static var releaseOnInterrupt: Bool {
        get { releasesOnInterrupt.load(ordering: .relaxed) }
        set { releasesOnInterrupt.store(newValue, ordering: .relaxed) }
    }
    private static let releasesOnInterrupt = Atomic(false)

    /// Kept for the process's life; made once and never changed (Dispatch does not mark its
    /// sources Sendable, though they are safe to share).
    nonisolated(unsafe) private static let interruptSources: [DispatchSourceSignal] = [SIGINT, SIGTERM].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler {
            // What the build would report about its step's end is noise after an interrupt.
            let null = open("/dev/null", O_WRONLY)
            dup2(null, STDOUT_FILENO)
            dup2(null, STDERR_FILENO)
            releaseOwn()
            _exit(128 + signalNumber)
        }
        source.resume()
        return source
    }

    /// Releases the steps this process runs, which must exit afterwards: once the gate is taken,
    /// no step starts or finishes here.
    private static func releaseOwn() {
        gate.wait()
        if let root = gateState.withLock({ $0.lastRoot }) { release(berthRoot: root) { $0.holder == currentProcess } }
    }

    private static func release(berthRoot: String, where selected: (BuildStepRecord) -> Bool) {
        let directory = recordsDirectory(berthRoot: berthRoot)
        guard let stream = opendir(directory) else { return }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasSuffix(".json") { names.append(name) }
        }
        closedir(stream)
        guard !names.isEmpty else { return }
        // Two commands that find the same record take turns; the second finds it gone.
        let lock = FileLock(directory + "/.lock")
        for name in names {
            let path = directory + "/" + name
            guard let bytes = try? Files.read(path),
                  let record = try? JSONDecoder().decode(BuildStepRecord.self, from: Data(bytes)), selected(record)
            else { continue }
            try? lock.withLock {
                if Files.exists(path) { record.release() }
            }
        }
    }

    /// Releases whatever of the step still exists, in the order that lets each part go: its
    /// processes and runc state, its network attachment and namespace, its mounts, its cgroup, its
    /// directory; then the record.
    func release() {
        BuildStepRunner.cleanUp(directory: directory, runcBinary: runcBinary, stateRoot: stateRoot, berthRoot: berthRoot)
        // runc's delete removes the cgroup; not when runc was killed before it saved its state.
        let layout = CgroupLayout.detect()
        var attempts = 0
        while attempts < 100, !layout.removeDirectories(for: containerID).isEmpty {
            if attempts == 0 { killProcesses(in: layout.directories(for: containerID)) }
            attempts += 1
            usleep(10_000)
        }
        try? Files.removeTree(stateRoot + "/" + containerID)
        try? Files.removeTree(directory)
        unlink(path)
    }

    /// Kills every process left in the step's cgroups: through `cgroup.kill` where the kernel has
    /// it (v2), else one by one.
    private func killProcesses(in cgroups: [String]) {
        for cgroup in cgroups where Files.exists(cgroup) {
            if Files.exists(cgroup + "/cgroup.kill"), (try? Files.write(Array("1".utf8), to: cgroup + "/cgroup.kill")) != nil {
                continue
            }
            let pids = (try? Files.read(cgroup + "/cgroup.procs")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            for pid in pids.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
        }
    }
}
