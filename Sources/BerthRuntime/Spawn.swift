import Foundation
import Glibc

/// Starting helper processes with posix_spawn: exact control over which descriptors the child
/// gets (everything else Berth opens is close-on-exec) and over the session.
enum Spawn {
    /// Starts `argv[0]` (looked up in PATH) with `descriptors` mapped as (source fd in this
    /// process, target fd in the child); fds 0–2 not mapped get /dev/null.
    static func start(_ argv: [String], descriptors: [(Int32, Int32)] = [], newSession: Bool = false) throws -> pid_t {
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
        if let closeFrom = Self.addCloseFrom {
            _ = closeFrom(&actions, firstUnmapped)
        }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid = pid_t()
        awaitedLock.lock()
        defer { awaitedLock.unlock() }
        let status = posix_spawnp(&pid, argv[0], &actions, &attributes, &cArguments, environ)
        if status != 0 { throw RuntimeError.io(operation: "start", path: argv[0], errno: status) }
        awaited.insert(pid)
        return pid
    }

    /// Children started here and not yet waited for: `reapOrphans` leaves them to their waiter.
    nonisolated(unsafe) private static var awaited = Set<pid_t>()
    private static let awaitedLock = NSLock()

    private static func finishedWaiting(_ pid: pid_t) {
        awaitedLock.lock()
        awaited.remove(pid)
        awaitedLock.unlock()
    }

    /// Reaps this process's zombie children that nobody waits for (orphans a subreaper inherits),
    /// except `sparing` and the children `start` made.
    static func reapOrphans(sparing: Set<pid_t>) {
        awaitedLock.lock()
        let protected = awaited.union(sparing)
        awaitedLock.unlock()
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return }
        for task in tasks {
            guard let children = try? Files.read("/proc/self/task/\(task)/children") else { continue }
            for word in String(decoding: children, as: UTF8.self).split(separator: " ") {
                guard let child = pid_t(word), !protected.contains(child),
                      let stat = try? Files.read("/proc/\(child)/stat"),
                      let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count,
                      stat[close + 2] == UInt8(ascii: "Z") else { continue }
                var status: Int32 = 0
                _ = waitpid(child, &status, WNOHANG)
            }
        }
    }

    /// A descriptor that polls readable once `pid` (a child) has exited, or nil where the kernel
    /// (before 5.3) or glibc (before 2.36) has no pidfd_open.
    static func exitDescriptor(of pid: pid_t) -> Int32? {
        guard let pidfdOpen else { return nil }
        let descriptor = pidfdOpen(pid, 0)
        return descriptor >= 0 ? descriptor : nil
    }

    /// glibc's pidfd_open, looked up at run time so that an older glibc still runs Berth.
    private static let pidfdOpen: (@convention(c) (pid_t, UInt32) -> Int32)? = {
        guard let symbol = dlsym(nil, "pidfd_open") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pid_t, UInt32) -> Int32).self)
    }()

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift cannot see because
    /// Glibc is imported without _GNU_SOURCE.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Waits for `pid` and returns its exit status as a shell reports it (128+signal if killed).
    static func wait(_ pid: pid_t) -> Int32 {
        defer { finishedWaiting(pid) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return decode(status)
    }

    /// Waits at most `timeout` seconds (nil: for ever); on time-out kills `pid`, reaps it and returns nil.
    static func wait(_ pid: pid_t, timeout: TimeInterval?) -> Int32? {
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

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// Runs a command to completion, capturing its standard output and error.
    static func run(_ argv: [String]) throws -> (status: Int32, output: String, error: String) {
        let out = try Pipe.make()
        let err = try Pipe.make()
        let pid: pid_t
        do {
            pid = try start(argv, descriptors: [(out.write, 1), (err.write, 2)])
        } catch {
            out.closeBoth()
            err.closeBoth()
            throw error
        }
        close(out.write)
        close(err.write)
        let (output, error) = drain(out.read, err.read)
        close(out.read)
        close(err.read)
        let status = wait(pid)
        return (status, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }

    /// Reads two descriptors to end of file at once, so neither pipe fills while the other is read.
    private static func drain(_ first: Int32, _ second: Int32) -> ([UInt8], [UInt8]) {
        var results: [[UInt8]] = [[], []]
        var open = [true, true]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open[0] || open[1] {
            var fds = [pollfd(fd: open[0] ? first : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open[1] ? second : -1, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in 0..<2 where open[index] && fds[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    results[index].append(contentsOf: buffer[0..<count])
                } else if count == 0 || errno != EINTR {
                    open[index] = false
                }
            }
        }
        return (results[0], results[1])
    }
}

/// A pipe whose ends are close-on-exec until handed to a child.
struct Pipe {
    let read: Int32
    let write: Int32

    static func make() throws -> Pipe {
        var fds: [Int32] = [-1, -1]
        // pipe2 is not visible to Swift; the close-on-exec flag follows at once.
        if pipe(&fds) != 0 { throw RuntimeError.lastIO("pipe", "") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return Pipe(read: fds[0], write: fds[1])
    }

    func closeBoth() {
        close(read)
        close(write)
    }
}
