import Foundation
import Glibc

/// What a finished process left behind.
struct CommandResult: CustomStringConvertible {
    var arguments: [String]
    /// The exit status, or the signal number when `signaled`.
    var status: Int32
    var signaled: Bool
    var stdout: Data
    var stderr: Data

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
    var succeeded: Bool { !signaled && status == 0 }
    /// Standard output split into lines, without the empty one after the last newline.
    var lines: [String] { out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastIfEmpty }

    var description: String {
        "`\(arguments.joined(separator: " "))` \(signaled ? "killed by signal" : "exited") \(status)\n"
            + "stdout: \(out.prefix(2000))\nstderr: \(err.prefix(2000))"
    }
}

extension Array where Element == String {
    fileprivate var dropLastIfEmpty: [String] { last == "" ? Array(dropLast()) : self }
}

/// Where a child process reads its standard input from.
enum StandardInput {
    case none
    case file(String)
    case bytes(Data)
}

enum CommandError: Error, CustomStringConvertible {
    case notFound(String)
    case cannotOpen(String)

    var description: String {
        switch self {
        case .notFound(let name): return "\(name): not found in PATH"
        case .cannotOpen(let path): return "cannot open \(path)"
        }
    }
}

/// Runs real processes. Output goes to temporary files rather than pipes, so a child that writes
/// a lot (`berth save` to stdout) can never block on a full pipe.
enum Command {
    /// The absolute path of `name`, searched in PATH unless it already has a slash.
    static func resolve(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// A started process with its output files; `wait()` collects the result.
    final class Running: @unchecked Sendable {
        let process: Process
        let arguments: [String]
        private let stdoutPath: String
        private let stderrPath: String
        private let handles: [FileHandle]

        fileprivate init(process: Process, arguments: [String], stdoutPath: String, stderrPath: String,
                         handles: [FileHandle]) {
            self.process = process
            self.arguments = arguments
            self.stdoutPath = stdoutPath
            self.stderrPath = stderrPath
            self.handles = handles
        }

        var pid: Int32 { process.processIdentifier }

        /// What the process has written to its standard output so far.
        func peekOutput() -> String {
            String(decoding: FileManager.default.contents(atPath: stdoutPath) ?? Data(), as: UTF8.self)
        }
        /// What it wrote to standard error so far.
        func peekError() -> String {
            String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self)
        }
        var isRunning: Bool { process.isRunning }

        func kill(_ signal: Int32) { Glibc.kill(process.processIdentifier, signal) }

        /// Waits for the process, killing it after `timeout` seconds.
        func wait(timeout: TimeInterval = 300) -> CommandResult {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning {
                if Date() > deadline {
                    kill(SIGKILL)
                    FileHandle.standardError.write(Data("integration: killed after \(Int(timeout)) s: \(arguments.joined(separator: " "))\n".utf8))
                    break
                }
                usleep(5_000)
            }
            process.waitUntilExit()
            for handle in handles { try? handle.close() }
            defer {
                unlink(stdoutPath)
                unlink(stderrPath)
            }
            return CommandResult(
                arguments: arguments,
                status: process.terminationStatus,
                signaled: process.terminationReason == .uncaughtSignal,
                stdout: FileManager.default.contents(atPath: stdoutPath) ?? Data(),
                stderr: FileManager.default.contents(atPath: stderrPath) ?? Data())
        }
    }

    /// Starts `executable` (a path, or a name searched in PATH) with `arguments`.
    static func start(_ executable: String, _ arguments: [String], stdin: StandardInput = .none,
                      environment: [String: String] = [:], directory: String? = nil) throws -> Running {
        guard let path = resolve(executable) else { throw CommandError.notFound(executable) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let scratch = NSTemporaryDirectory() + "/berth-it-\(getpid())-\(UUID().uuidString)"
        let stdoutPath = scratch + ".out", stderrPath = scratch + ".err"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        guard let outHandle = FileHandle(forWritingAtPath: stdoutPath),
              let errHandle = FileHandle(forWritingAtPath: stderrPath) else { throw CommandError.cannotOpen(scratch) }
        var handles = [outHandle, errHandle]
        process.standardOutput = outHandle
        process.standardError = errHandle
        switch stdin {
        case .none:
            process.standardInput = FileHandle.nullDevice
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else { throw CommandError.cannotOpen(path) }
            handles.append(handle)
            process.standardInput = handle
        case .bytes(let data):
            let inputPath = scratch + ".in"
            FileManager.default.createFile(atPath: inputPath, contents: data)
            guard let handle = FileHandle(forReadingAtPath: inputPath) else { throw CommandError.cannotOpen(inputPath) }
            unlink(inputPath)
            handles.append(handle)
            process.standardInput = handle
        }
        try process.run()
        return Running(process: process, arguments: [executable] + arguments, stdoutPath: stdoutPath,
                       stderrPath: stderrPath, handles: handles)
    }

    /// Runs a process to its end.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], stdin: StandardInput = .none,
                    environment: [String: String] = [:], directory: String? = nil,
                    timeout: TimeInterval = 300) throws -> CommandResult {
        try start(executable, arguments, stdin: stdin, environment: environment, directory: directory)
            .wait(timeout: timeout)
    }

    /// Runs a bash script (with pipefail), for real pipelines between processes.
    @discardableResult
    static func shell(_ script: String, environment: [String: String] = [:], timeout: TimeInterval = 300) throws
        -> CommandResult {
        try run("/bin/bash", ["-euo", "pipefail", "-c", script], environment: environment, timeout: timeout)
    }
}
