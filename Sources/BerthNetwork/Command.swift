import BerthProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs host tools (iptables, ip, CNI plugins, dnsmasq), with their failures as `NetworkError`s.
struct Command {
    typealias Output = Spawn.Output

    /// Runs `executable` to completion, feeding it `input` and capturing stdout and stderr.
    /// `environment` nil passes this process's environment on.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    input: Data? = nil) throws -> Output {
        do {
            return try Spawn.run([executable] + arguments, environment: environment, input: input)
        } catch let error as SpawnError {
            throw NetworkError.commandFailed(command: executable, message: String(cString: strerror(error.errno)))
        }
    }

    /// Runs `executable` to completion with its stdout and stderr appended to `outputFile` and
    /// stdin from /dev/null: for a daemon that forks and keeps running, whose inherited output
    /// must not be a pipe this process waits on.
    static func run(_ executable: String, _ arguments: [String], outputFile: String) throws -> Int32 {
        let output = open(outputFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw NetworkError.io(path: outputFile, reason: String(cString: strerror(errno))) }
        defer { close(output) }
        do {
            return Spawn.wait(try Spawn.start([executable] + arguments, descriptors: [(output, 1), (output, 2)]))
        } catch let error as SpawnError {
            throw NetworkError.commandFailed(command: executable, message: String(cString: strerror(error.errno)))
        }
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
}
