import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs host tools (CNI plugins, iptables, ip) with posix_spawn and socket pairs for stdio. Foundation's
/// Process waits for exits through the run loop and a dispatch source, which starves when the
/// calling thread is itself a dispatch worker, and it hands children the worker's blocked signals.
struct Command {
    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: Data

        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// Runs `executable` to completion, feeding it `input` and capturing stdout and stderr.
    /// `environment` nil passes this process's environment on.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    input: Data? = nil) throws -> Output {
        let stdin = try makePipe(executable)
        let stdout = try makePipe(executable)
        let stderr = try makePipe(executable)
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments, environment: environment,
                            stdio: (stdin.read, stdout.write, stderr.write))
        } catch {
            for fd in [stdin.read, stdin.write, stdout.read, stdout.write, stderr.read, stderr.write] { close(fd) }
            throw error
        }
        close(stdin.read)
        close(stdout.write)
        close(stderr.write)
        let (out, err) = exchange(input: input ?? Data(), stdin: stdin.write, stdout: stdout.read, stderr: stderr.read)
        return Output(status: wait(for: pid), stdout: out, stderr: err)
    }

    /// Runs `executable` to completion with its stdout and stderr appended to `outputFile` and
    /// stdin from /dev/null: for a daemon that forks and keeps running, whose inherited output
    /// must not be a pipe this process waits on.
    static func run(_ executable: String, _ arguments: [String], outputFile: String) throws -> Int32 {
        let output = open(outputFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw NetworkError.io(path: outputFile, reason: String(cString: strerror(errno))) }
        defer { close(output) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else { throw NetworkError.io(path: "/dev/null", reason: String(cString: strerror(errno))) }
        defer { close(null) }
        return wait(for: try spawn(executable, arguments, environment: nil, stdio: (null, output, output)))
    }

    /// Runs a tool found on the usual sbin/bin paths; fails with its stderr on a non-zero exit.
    @discardableResult
    static func check(_ tool: String, _ arguments: [String]) throws -> Output {
        let output = try run(try locate(tool), arguments)
        guard output.status == 0 else {
            let message = output.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            throw NetworkError.commandFailed(command: ([tool] + arguments).joined(separator: " "),
                                             message: message.isEmpty ? "exit status \(output.status)" : message)
        }
        return output
    }

    static func locate(_ tool: String) throws -> String {
        let directories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"]
        for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)") {
            return "\(directory)/\(tool)"
        }
        throw NetworkError.commandFailed(command: tool, message: "not found in \(directories.joined(separator: ":"))")
    }

    /// Starts `executable` with the given descriptors as its stdin, stdout and stderr, default signal
    /// handling and nothing blocked; returns its pid. The caller reaps it with `wait(for:)`.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]?,
                      stdio: (Int32, Int32, Int32)) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdio.0, 0)
        posix_spawn_file_actions_adddup2(&actions, stdio.1, 1)
        posix_spawn_file_actions_adddup2(&actions, stdio.2, 2)
        // A daemon started here (dnsmasq) must not keep another thread's pipes open.
        _ = addCloseFrom?(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environmentStrings = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environmentStrings.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw NetworkError.commandFailed(command: executable, message: String(cString: strerror(status)))
        }
        return pid
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift cannot see because
    /// Glibc is imported without _GNU_SOURCE.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// The exit status (128 + signal number when killed by a signal).
    @discardableResult
    static func wait(for pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    private static func makePipe(_ executable: String) throws -> (read: Int32, write: Int32) {
        // A socket pair rather than pipe(): it is created close-on-exec atomically, so a child spawned
        // by another thread meanwhile cannot inherit an end and hold our reads open.
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw NetworkError.commandFailed(command: executable, message: "pipe: \(String(cString: strerror(errno)))")
        }
        return (fds[0], fds[1])
    }

    /// Writes `input` and drains both output pipes together, so a child blocked on one never stalls.
    private static func exchange(input: Data, stdin: Int32, stdout: Int32, stderr: Int32) -> (Data, Data) {
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
        var stdinOpen = true
        if input.isEmpty {
            close(stdin)
            stdinOpen = false
        } else {
            _ = fcntl(stdin, F_SETFL, fcntl(stdin, F_GETFL) | O_NONBLOCK)
        }
        var open: Set<Int32> = [stdout, stderr]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty || stdinOpen {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if stdinOpen { fds.append(pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 else {
                if errno == EINTR { continue }
                break
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == stdin {
                    let count = input.withUnsafeBytes { bytes -> Int in
                        guard let base = bytes.baseAddress else { return bytes.count }
                        return write(stdin, base + written, bytes.count - written)
                    }
                    if count > 0 { written += count }
                    if count < 0 && errno != EAGAIN && errno != EINTR || written == input.count {
                        close(stdin)
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
        return (out, err)
    }
}
