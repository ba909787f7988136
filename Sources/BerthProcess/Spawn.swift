import CBerth
import Foundation
import Glibc
import Synchronization

/// Starting helper processes (runc, CNI plugins, iptables, the monitor) with posix_spawn: exact
/// control over which descriptors the child gets, its signal state and its session. Foundation's
/// Process waits for exits through the run loop and a dispatch source, which starves when the
/// calling thread is itself a dispatch worker, and it hands children the caller's blocked signals.
public enum Spawn {
    /// What `run` collected from a child.
    public struct Output: Sendable {
        /// The exit status as a shell reports it (128 + signal number when killed by a signal).
        public var status: Int32
        public var stdout: Data
        public var stderr: Data

        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Starts `argv[0]` (looked up in PATH) with `descriptors` mapped as (source fd in this
    /// process, target fd in the child); fds 0–2 not mapped get /dev/null. The child has default
    /// signal handling and nothing blocked; `environment` nil passes this process's on.
    ///
    /// A `guarded` child runs under a guard process, whose pid is returned and which exits with
    /// the child's status: once this process is gone, killed or not, the guard kills the child and
    /// every process the child left behind (for runc, the container's init, which outlives runc).
    /// The guard and the child stay in this process's session (`newSession` does not apply).
    public static func start(_ argv: [String], descriptors: [(Int32, Int32)] = [], environment: [String: String]? = nil,
                             newSession: Bool = false, guarded: Bool = false) throws -> pid_t {
        if guarded { return try startGuarded(argv, descriptors: descriptors, environment: environment) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= Int16(0x80) }  // POSIX_SPAWN_SETSID
        posix_spawnattr_setflags(&attributes, flags)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let mappedTargets = Set(descriptors.map(\.1))
        for target in Int32(0)...2 where !mappedTargets.contains(target) {
            posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        for (source, target) in descriptors {
            if source == target {
                // dup2 onto itself keeps FD_CLOEXEC; go through a spare descriptor to clear it.
                posix_spawn_file_actions_adddup2(&actions, source, 100 + target)
                posix_spawn_file_actions_adddup2(&actions, 100 + target, target)
                posix_spawn_file_actions_addclose(&actions, 100 + target)
            } else {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            }
        }
        // Nothing else this process holds open reaches the child, close-on-exec or not: a monitor
        // that inherited, say, its caller's pipe would keep that pipe open for the container's life.
        let firstUnmapped = (mappedTargets.union([0, 1, 2]).max() ?? 2) + 1
        _ = berth_spawn_file_actions_addclosefrom(&actions, firstUnmapped)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var cEnvironment = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in cEnvironment ?? [] { free(pointer) } }
        var pid = pid_t()
        // Recorded under the lock the child is started in, so `reapOrphans` never takes it.
        return try awaited.withLock { awaited in
            let status = cEnvironment == nil
                ? posix_spawnp(&pid, argv[0], &actions, &attributes, &cArguments, environ)
                : posix_spawnp(&pid, argv[0], &actions, &attributes, &cArguments, &cEnvironment!)
            if status != 0 { throw SpawnError(operation: "start", path: argv[0], errno: status) }
            awaited.insert(pid)
            return pid
        }
    }

    private static func startGuarded(_ argv: [String], descriptors: [(Int32, Int32)],
                                     environment: [String: String]?) throws -> pid_t {
        guard let path = executablePath(argv[0], environment: environment) else {
            throw SpawnError(operation: "start", path: argv[0], errno: ENOENT)
        }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var cEnvironment = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in cEnvironment ?? [] { free(pointer) } }
        let sources = descriptors.map(\.0)
        let targets = descriptors.map(\.1)
        return try awaited.withLock { awaited in
            let pid = cEnvironment == nil
                ? berth_spawn_guarded(path, &cArguments, environ, sources, targets, Int32(descriptors.count))
                : berth_spawn_guarded(path, &cArguments, &cEnvironment!, sources, targets, Int32(descriptors.count))
            if pid < 0 { throw SpawnError(operation: "start", path: argv[0], errno: errno) }
            awaited.insert(pid)
            return pid
        }
    }

    /// `name` looked up in PATH (of `environment` if it sets one) as execvp would, or nil.
    private static func executablePath(_ name: String, environment: [String: String]?) -> String? {
        if name.contains("/") { return name }
        let search = environment?["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return search.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    /// Children started here and not yet waited for: `reapOrphans` leaves them to their waiter.
    private static let awaited = Mutex<Set<pid_t>>([])

    private static func finishedWaiting(_ pid: pid_t) {
        _ = awaited.withLock { $0.remove(pid) }
    }

    /// Reaps this process's zombie children that nobody waits for (orphans a subreaper inherits),
    /// except `sparing` and the children `start` made.
    public static func reapOrphans(sparing: Set<pid_t>) {
        let protected = awaited.withLock { $0.union(sparing) }
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return }
        for task in tasks {
            guard let children = readProcFile("/proc/self/task/\(task)/children") else { continue }
            for word in String(decoding: children, as: UTF8.self).split(separator: " ") {
                guard let child = pid_t(word), !protected.contains(child),
                      let stat = readProcFile("/proc/\(child)/stat"),
                      let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count,
                      stat[close + 2] == UInt8(ascii: "Z") else { continue }
                var status: Int32 = 0
                _ = waitpid(child, &status, WNOHANG)
            }
        }
    }

    /// A descriptor that polls readable once `pid` (a child) has exited, or nil where the kernel
    /// (before 5.3) has no pidfd_open.
    public static func exitDescriptor(of pid: pid_t) -> Int32? {
        let descriptor = berth_pidfd_open(pid, 0)
        return descriptor >= 0 ? descriptor : nil
    }

    /// Waits for `pid` and returns its exit status as a shell reports it (128+signal if killed).
    public static func wait(_ pid: pid_t) -> Int32 {
        defer { finishedWaiting(pid) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return decode(status)
    }

    /// Waits at most `timeout` seconds (nil: for ever); on time-out kills `pid`, reaps it and returns nil.
    public static func wait(_ pid: pid_t, timeout: TimeInterval?) -> Int32? {
        guard let timeout else { return wait(pid) }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                finishedWaiting(pid)
                return decode(status)
            }
            if result < 0, errno != EINTR {
                finishedWaiting(pid)
                return -1
            }
            if Date() >= deadline {
                Glibc.kill(pid, SIGKILL)
                _ = wait(pid)
                return nil
            }
            usleep(10_000)
        }
    }

    public static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// Runs a command to completion, feeding it `input` (else stdin is /dev/null) and capturing its
    /// standard output and error.
    public static func run(_ argv: [String], environment: [String: String]? = nil, input: Data? = nil) throws -> Output {
        let stdin = try input.map { _ in try Pipe.make() }
        let out = try Pipe.make()
        let err = try Pipe.make()
        let pid: pid_t
        do {
            pid = try start(argv, descriptors: (stdin.map { [($0.read, Int32(0))] } ?? []) + [(out.write, 1), (err.write, 2)],
                            environment: environment)
        } catch {
            for pipe in [stdin, out, err].compactMap({ $0 }) { pipe.closeBoth() }
            throw error
        }
        if let stdin { close(stdin.read) }
        close(out.write)
        close(err.write)
        let (output, error) = exchange(input: input ?? Data(), stdin: stdin?.write, stdout: out.read, stderr: err.read)
        return Output(status: wait(pid), stdout: output, stderr: error)
    }

    /// Writes `input` and drains both output pipes together, so a child blocked on one never
    /// stalls; closes all three.
    private static func exchange(input: Data, stdin: Int32?, stdout: Int32, stderr: Int32) -> (Data, Data) {
        // A child that exits without reading its input must not kill this process with SIGPIPE:
        // block it on this thread for the exchange and discard one raised meanwhile.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previousMask)
        defer {
            var pending = sigset_t()
            if sigpending(&pending) == 0, sigismember(&pending, SIGPIPE) == 1, sigismember(&previousMask, SIGPIPE) == 0 {
                var immediately = timespec(tv_sec: 0, tv_nsec: 0)
                sigtimedwait(&pipeSignal, nil, &immediately)
            }
            pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        }
        var out = Data()
        var err = Data()
        var written = 0
        var stdinOpen = stdin != nil
        if let stdin {
            if input.isEmpty {
                close(stdin)
                stdinOpen = false
            } else {
                _ = fcntl(stdin, F_SETFL, fcntl(stdin, F_GETFL) | O_NONBLOCK)
            }
        }
        var open: Set<Int32> = [stdout, stderr]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty || stdinOpen {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if stdinOpen, let stdin { fds.append(pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 else {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == stdin {
                    let count = input.withUnsafeBytes { bytes -> Int in
                        guard let base = bytes.baseAddress else { return bytes.count }
                        return write(entry.fd, base + written, bytes.count - written)
                    }
                    if count > 0 { written += count }
                    if count < 0 && errno != EAGAIN && errno != EINTR || written == input.count {
                        close(entry.fd)
                        stdinOpen = false
                    }
                    continue
                }
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    if entry.fd == stdout { out.append(contentsOf: buffer[0..<count]) } else { err.append(contentsOf: buffer[0..<count]) }
                } else if count == 0 || errno != EINTR && errno != EAGAIN {
                    close(entry.fd)
                    open.remove(entry.fd)
                }
            }
        }
        for fd in open { close(fd) }
        if stdinOpen, let stdin { close(stdin) }
        return (out, err)
    }

    /// A small /proc file's bytes (its size reads as 0, so read to the end); nil if it is gone.
    private static func readProcFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? result : nil }
            result.append(contentsOf: buffer[0..<count])
        }
    }
}

/// A pipe whose ends are close-on-exec until handed to a child.
public struct Pipe: Sendable {
    public let read: Int32
    public let write: Int32

    public static func make() throws -> Pipe {
        var fds: [Int32] = [-1, -1]
        // pipe2 is not visible to Swift; the close-on-exec flag follows at once (a child another
        // thread spawns meanwhile still gets neither end: `Spawn.start` closes all it did not map).
        if pipe(&fds) != 0 { throw SpawnError(operation: "create", path: "pipe", errno: errno) }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return Pipe(read: fds[0], write: fds[1])
    }

    public func closeBoth() {
        close(read)
        close(write)
    }
}

/// Starting a process (or making its pipes) failed.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String
    public var errno: Int32

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
}
