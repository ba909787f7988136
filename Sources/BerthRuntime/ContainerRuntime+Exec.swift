import BerthFiles
import BerthOCI
import BerthProcess
import Foundation
import Glibc

/// What `berth exec` asks for.
public struct ExecOptions: Sendable, Codable {
    public var command: [String]
    /// `-e` entries, `NAME=value`, added to the container's environment.
    public var env: [String]
    public var user: String?
    public var workingDir: String?
    /// Pass this process's standard input to the command (`-i`).
    public var interactive: Bool
    /// Start the command and return at once (`-d`).
    public var detach: Bool
    /// Run the command on a pseudo-terminal (`-t`) of this initial size (0×0: runc's default).
    public var tty: Bool
    public var consoleSize: TerminalSize?
    /// `--privileged`: the command gets every capability this process can grant, as dockerd's
    /// exec does; the container's seccomp and AppArmor confinement stay (runc applies the
    /// container's to every process it starts in it, as with Docker).
    public var privileged: Bool

    public init(command: [String], env: [String] = [], user: String? = nil, workingDir: String? = nil,
                interactive: Bool = false, detach: Bool = false, tty: Bool = false, consoleSize: TerminalSize? = nil,
                privileged: Bool = false) {
        self.command = command
        self.env = env
        self.user = user
        self.workingDir = workingDir
        self.interactive = interactive
        self.detach = detach
        self.tty = tty
        self.consoleSize = consoleSize
        self.privileged = privileged
    }
}

extension ContainerRuntime {
    /// Starts a command in a running container with the container's process settings
    /// (capabilities, rlimits, environment, user and working directory unless overridden), through
    /// `runc exec --detach`, without stdio: returns once it runs (`exec -d`), throws when it
    /// cannot start.
    public func execDetached(_ reference: String, _ options: ExecOptions) throws {
        let record = try container(reference)
        guard record.state.status == .running else { throw RuntimeError.notRunning(record.id) }
        var detached = options
        detached.detach = true
        detached.interactive = false
        _ = try runExec(record, detached, descriptors: [], timeout: nil)
    }

    /// Runs a command on a new pseudo-terminal in a running container (`exec -t`): `relay` gets
    /// the terminal's master and whether the command has exited, and copies between the master
    /// and the caller until the master reads its end, or the command has exited and its output is
    /// drained (a background process it started may keep the terminal open). Returns the
    /// command's exit status.
    ///
    /// runc hands the master over only when it detaches (`--console-socket` needs `--detach`), so
    /// this process becomes a child subreaper: the command, orphaned when runc exits, is
    /// reparented here and its exit status waited for.
    public func exec(_ reference: String, _ options: ExecOptions,
                     terminal relay: (_ master: Int32, _ hasExited: @escaping @Sendable () -> Bool) -> Void,
                     pidFile keptPidFile: String? = nil) throws -> Int32 {
        let record = try container(reference)
        guard record.state.status == .running else { throw RuntimeError.notRunning(record.id) }
        var process = try execProcess(record, options)
        process.terminal = true
        if let size = options.consoleSize, size.rows > 0, size.columns > 0 {
            process.consoleSize = RuntimeSpec.Box(height: UInt(size.rows), width: UInt(size.columns))
        }
        if !(process.env ?? []).contains(where: { $0.hasPrefix("TERM=") }) {
            process.env = BundleBuilder.mergeEnvironment(process.env ?? [], ["TERM=xterm"])
        }
        let directory = containers.path(of: record.id)
        let scratch = "exec-\(ContainerID.random().prefix(12))"
        let processFile = directory + "/" + scratch + ".json", logFile = directory + "/" + scratch + ".log"
        // A caller that reports the command's pid (the Engine API's exec inspect) names the file.
        let pidFile = keptPidFile ?? directory + "/" + scratch + ".pid"
        try Files.writeAtomically(CanonicalJSON.encode(process), to: processFile, mode: 0o600, durability: .atomicOnly)
        defer {
            unlink(processFile)
            unlink(logFile)
            if keptPidFile == nil { unlink(pidFile) }
        }
        let console = try UnixListener(directory: directory, name: scratch + ".sock")
        defer { console.close() }
        Monitor.setChildSubreaper()
        let argv = try ociRuntime(for: record).command(logFile: logFile) + [
            "exec", "--process", processFile, "--detach", "--tty", "--console-socket", console.pathForOtherProcesses,
            "--pid-file", pidFile, record.id,
        ]
        let status = Spawn.wait(try Spawn.start(argv))
        guard status == 0 else {
            throw RuntimeError.execFailed(Runc.lastError(inLog: logFile) ?? "runc exec exited with status \(status)")
        }
        let master = try ConsoleSocket.takeMaster(from: console)
        defer { close(master) }
        guard let pid: Int32 = Files.readNumber(pidFile) else {
            throw RuntimeError.runtime("runc exec did not write the process's pid")
        }
        let exit = ChildExit(pid)
        relay(master) { exit.hasExited }
        return exit.status()
    }

    /// The process `exec` runs: the container's process settings with the command and the
    /// options' user, environment, working directory and privileges. A command that is not there
    /// is refused here with runc's words: runc prints its refusal on the standard error it shares
    /// with the command, so the caller's own report would show it twice.
    private func execProcess(_ record: ContainerRecord, _ options: ExecOptions) throws -> RuntimeSpec.Process {
        guard !options.command.isEmpty else { throw RuntimeError.invalidOption("exec requires a command") }
        let files = containers.files(of: record.id)
        let spec = try JSONDecoder().decode(RuntimeSpec.self, from: Data(Files.read(files.bundleConfig)))
        guard var process = spec.process else { throw RuntimeError.runtime("container \(record.shortID) has no process") }
        process.args = options.command
        process.terminal = false
        var environment = process.env ?? []
        if let user = options.user {
            let (resolved, home) = try UserResolver(rootfs: files.rootfs).resolve(user, groupAdd: record.hostConfig.groupAdd)
            process.user = resolved
            environment = BundleBuilder.mergeEnvironment(environment, ["HOME=\(home)"])
        }
        process.env = BundleBuilder.mergeEnvironment(environment, options.env)
        if let workingDir = options.workingDir {
            guard workingDir.hasPrefix("/") else {
                throw RuntimeError.invalidOption("the working directory '\(workingDir)' is invalid, it needs to be an absolute path")
            }
            process.cwd = workingDir
        }
        if options.privileged {
            let all = BundleBuilder.allCapabilities
            process.capabilities = RuntimeSpec.Capabilities(bounding: all, effective: all, permitted: all)
        }
        let root = record.state.pid > 0 ? "/proc/\(record.state.pid)/root" : files.rootfs
        if let reason = Self.missingCommand(options.command[0], path: process.env ?? [], cwd: process.cwd, root: root) {
            throw RuntimeError.execFailed("exec failed: unable to start container process: " + reason)
        }
        return process
    }

    /// Why runc would not find `command` in the container whose filesystem is at `root` (Go's
    /// exec.LookPath: a name with a `/` is a path, others are looked for in $PATH), in its words;
    /// nil when a file of that name is there, for runc to judge.
    static func missingCommand(_ command: String, path environment: [String], cwd: String, root: String) -> String? {
        func exists(_ path: String) -> Bool {
            var info = stat()
            let absolute = path.hasPrefix("/") ? path : cwd + "/" + path
            return stat(SecurePath.join(root, absolute), &info) == 0 || errno != ENOENT
        }
        if command.contains("/") {
            return exists(command) ? nil : "exec: \"\(command)\": stat \(command): no such file or directory"
        }
        let search = environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) } ?? ""
        let directories = search.isEmpty ? [] : search.split(separator: ":", omittingEmptySubsequences: false)
        if directories.contains(where: { exists(($0.isEmpty ? "." : String($0)) + "/" + command) }) { return nil }
        return "exec: \"\(command)\": executable file not found in $PATH"
    }

    /// `runc exec` of `options.command` in `record`'s container with `descriptors` as its stdio;
    /// the exit status, or nil when `timeout` passed first (runc is then killed).
    func runExec(_ record: ContainerRecord, _ options: ExecOptions, descriptors: [(Int32, Int32)],
                 timeout: TimeInterval?) throws -> Int32? {
        let process = try execProcess(record, options)
        let directory = containers.path(of: record.id)
        let scratch = directory + "/exec-\(ContainerID.random().prefix(12))"
        let processFile = scratch + ".json", logFile = scratch + ".log"
        try Files.writeAtomically(CanonicalJSON.encode(process), to: processFile, mode: 0o600, durability: .atomicOnly)
        defer {
            unlink(processFile)
            unlink(logFile)
        }
        let argv = try ociRuntime(for: record).command(logFile: logFile)
            + ["exec", "--process", processFile] + (options.detach ? ["--detach"] : []) + [record.id]
        let pid = try Spawn.start(argv, descriptors: descriptors)
        guard let status = Spawn.wait(pid, timeout: timeout) else { return nil }
        // runc reports its own failure (the command could not be started) in its log.
        if status == 255, let message = Runc.lastError(inLog: logFile) { throw RuntimeError.execFailed(message) }
        return status
    }
}

/// Waits for a child process on a thread of its own, so that others can ask whether it exited.
/// `exitStatus` is guarded by `condition` (hence unchecked): a condition variable, because
/// `status()` sleeps until the waiting thread reports, which a Mutex cannot do.
private final class ChildExit: @unchecked Sendable {
    private let condition = NSCondition()
    private var exitStatus: Int32?

    init(_ pid: pid_t) {
        Thread { [self] in
            var raw: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &raw, 0) } while result < 0 && errno == EINTR
            condition.lock()
            // Not reparented here (no subreaper): the status is unknown.
            exitStatus = result == pid ? Spawn.decode(raw) : 255
            condition.broadcast()
            condition.unlock()
        }.start()
    }

    var hasExited: Bool {
        condition.lock()
        defer { condition.unlock() }
        return exitStatus != nil
    }

    /// Waits for the exit; the status as a shell reports it.
    func status() -> Int32 {
        condition.lock()
        defer { condition.unlock() }
        while exitStatus == nil { condition.wait() }
        return exitStatus ?? 255
    }
}

/// A command `startExec` started in a container, until `finish` reads how it ended.
public struct ExecProcess: Sendable {
    /// runc (without a terminal) or the terminal helper (with one): this process's child.
    public let pid: pid_t
    /// The file runc writes the command's pid to, once it runs in the container.
    let pidFile: String
    let scratch: [String]

    /// The command's pid (in the host's namespace), once runc has written it; 0 before.
    public var commandPID: Int32 { Files.readNumber(pidFile) ?? 0 }

    /// Reads how the command ended from the raw wait status of `pid`, and removes the scratch
    /// files: the command's exit status, or `RuntimeError.execFailed` when runc could not start it.
    public func finish(waitStatus: Int32) throws -> Int32 {
        try finish(status: Spawn.decode(waitStatus))
    }

    /// Waits for `pid` (blocking) and reads how the command ended, as `finish(waitStatus:)`.
    public func wait() throws -> Int32 {
        try finish(status: Spawn.wait(pid))
    }

    private func finish(status: Int32) throws -> Int32 {
        defer { scratch.forEach { unlink($0) } }
        if status == 255, let logFile = scratch.first(where: { $0.hasSuffix(".log") }), let message = Runc.lastError(inLog: logFile) {
            throw RuntimeError.execFailed(message)
        }
        return status
    }
}

extension ContainerRuntime {
    /// Starts `options.command` in the running container without waiting for it, for a caller
    /// that relays its streams itself (the Engine API): without a terminal, `runc exec` with
    /// `stdin` (or nothing), `stdout` and `stderr`; with one (`options.tty`), the monitor
    /// executable as `--exec` helper (which holds the terminal's master, as runc hands it over
    /// only to a child subreaper) with `stdin` as the terminal's input, `stdout` as its output and
    /// `resize` carrying `AttachFrame.resize` frames. The caller reaps `pid` and calls `finish`.
    public func startExec(_ reference: String, _ options: ExecOptions, stdin: Int32?, stdout: Int32, stderr: Int32,
                          resize: Int32?) throws -> ExecProcess {
        let record = try container(reference)
        guard record.state.status == .running else { throw RuntimeError.notRunning(record.id) }
        let directory = containers.path(of: record.id)
        let scratch = directory + "/exec-\(ContainerID.random().prefix(12))"
        if options.tty {
            var descriptors: [(Int32, Int32)] = [(stdout, 1), (stdout, 2)]
            if let stdin { descriptors.append((stdin, 0)) }
            if let resize { descriptors.append((resize, 3)) }
            let json = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
            let pid = try Spawn.start([monitorExecutable, "--root", root, "--exec", record.id, json, scratch + ".pid"],
                                      descriptors: descriptors)
            return ExecProcess(pid: pid, pidFile: scratch + ".pid", scratch: [scratch + ".pid"])
        }
        let process = try execProcess(record, options)
        let processFile = scratch + ".json", logFile = scratch + ".log", pidFile = scratch + ".pid"
        try Files.writeAtomically(CanonicalJSON.encode(process), to: processFile, mode: 0o600, durability: .atomicOnly)
        var descriptors: [(Int32, Int32)] = [(stdout, 1), (stderr, 2)]
        if let stdin { descriptors.append((stdin, 0)) }
        let argv = try ociRuntime(for: record).command(logFile: logFile)
            + ["exec", "--process", processFile, "--pid-file", pidFile, record.id]
        do {
            let pid = try Spawn.start(argv, descriptors: descriptors)
            return ExecProcess(pid: pid, pidFile: pidFile, scratch: [processFile, logFile, pidFile])
        } catch {
            unlink(processFile)
            throw error
        }
    }
}

/// The terminal side of an Engine API exec with `-t` (`berth-monitor --root ROOT --exec ID
/// OPTIONS PIDFILE`): runs the command on a new terminal and copies between the terminal and its
/// own stdin and stdout; window sizes arrive on descriptor 3 as `AttachFrame.resize` frames.
/// Exits with the command's status; when the command cannot start, says why on stdout (the
/// client's stream) and exits 126, as dockerd 20.10 does (newer ones exit 127 when it was not found).
public enum ExecTerminalHelper {
    public static func main(root: String, id: String, optionsJSON: String, pidFile: String) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        do {
            let options = try JSONDecoder().decode(ExecOptions.self, from: Data(optionsJSON.utf8))
            let runtime = try ContainerRuntime(root: root, monitorExecutable: "")
            return try runtime.exec(id, options, terminal: { master, hasExited in
                relay(master: master, hasExited: hasExited)
            }, pidFile: pidFile)
        } catch {
            writeAll(1, Array("\(error)\r\n".utf8)[...])
            return 126
        }
    }

    /// Copies until the terminal closes, or the command has exited and nothing more is to be read.
    private static func relay(master: Int32, hasExited: () -> Bool) {
        var inputOpen = true
        var resizeOpen = fcntl(3, F_GETFD) >= 0
        var frames = AttachFrame.Decoder()
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: inputOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: resizeOpen ? 3 : -1, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 3, 100)
            if ready < 0, errno == EINTR { continue }
            if ready == 0 {
                if hasExited() { return }
                continue
            }
            if fds[0].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                // EIO once the command's side of the terminal is closed.
                if count <= 0 { return }
                writeAll(1, buffer[0..<count])
            }
            if fds[1].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count > 0 { writeAll(master, buffer[0..<count]) } else if count == 0 || errno != EINTR { inputOpen = false }
            }
            if fds[2].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(3, $0.baseAddress, $0.count) }
                if count > 0 {
                    frames.append(buffer[0..<count])
                    while let frame = frames.next() {
                        if case .resize(let size) = frame, size.rows > 0, size.columns > 0 { size.apply(to: master) }
                    }
                } else if count == 0 || errno != EINTR {
                    resizeOpen = false
                }
            }
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}
