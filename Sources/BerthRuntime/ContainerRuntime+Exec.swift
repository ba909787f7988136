import BerthFiles
import BerthOCI
import BerthProcess
import Foundation
import Glibc

/// What `berth exec` asks for.
public struct ExecOptions: Sendable {
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

    public init(command: [String], env: [String] = [], user: String? = nil, workingDir: String? = nil,
                interactive: Bool = false, detach: Bool = false, tty: Bool = false, consoleSize: TerminalSize? = nil) {
        self.command = command
        self.env = env
        self.user = user
        self.workingDir = workingDir
        self.interactive = interactive
        self.detach = detach
        self.tty = tty
        self.consoleSize = consoleSize
    }
}

extension ContainerRuntime {
    /// Runs a command in a running container with the container's process settings (capabilities,
    /// rlimits, environment, user and working directory unless overridden), through `runc exec`.
    /// Returns the command's exit status (0 once started, with `detach`).
    public func exec(_ reference: String, _ options: ExecOptions) throws -> Int32 {
        let record = try container(reference)
        guard record.state.status == .running else { throw RuntimeError.notRunning(record.id) }
        var descriptors: [(Int32, Int32)] = [(1, 1), (2, 2)]
        if options.interactive && !options.detach { descriptors.append((0, 0)) }
        if options.detach { descriptors = [] }
        return try runExec(record, options, descriptors: descriptors, timeout: nil) ?? -1
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
                     terminal relay: (_ master: Int32, _ hasExited: @escaping @Sendable () -> Bool) -> Void) throws -> Int32 {
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
        let pidFile = directory + "/" + scratch + ".pid"
        try Files.writeAtomically(CanonicalJSON.encode(process), to: processFile, mode: 0o600, durability: .atomicOnly)
        defer {
            unlink(processFile)
            unlink(logFile)
            unlink(pidFile)
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
    /// options' user, environment and working directory.
    private func execProcess(_ record: ContainerRecord, _ options: ExecOptions) throws -> RuntimeSpec.Process {
        guard !options.command.isEmpty else { throw RuntimeError.invalidOption("exec requires a command") }
        let files = containers.files(of: record.id)
        let spec = try JSONDecoder().decode(RuntimeSpec.self, from: Data(Files.read(files.bundleConfig)))
        guard var process = spec.process else { throw RuntimeError.runtime("container \(record.shortID) has no process") }
        process.args = options.command
        process.terminal = false
        var environment = process.env ?? []
        if let user = options.user {
            let (resolved, home) = try UserResolver(rootfs: files.rootfs).resolve(user)
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
        return process
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
