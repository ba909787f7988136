import BerthProcess
import Foundation

/// A host tool the proxy could not run, or that failed.
public struct KubeProxyError: Error, CustomStringConvertible, Sendable {
    public var command: String
    public var message: String

    public var description: String { "\(command): \(message)" }
}

/// The host tools the proxy drives: iptables-save/-restore (one transaction per change, so a
/// Service's rules appear and go at once) and conntrack.
enum ProxyHost {
    static func iptablesSave() throws -> String {
        let output = try run("iptables-save", [])
        guard output.status == 0 else { throw failure("iptables-save", output) }
        return output.stdoutText
    }

    static func iptablesRestore(_ text: String) throws {
        let output = try run("iptables-restore", ["--noflush", "-w"], input: Data(text.utf8))
        guard output.status == 0 else { throw failure("iptables-restore --noflush", output) }
    }

    /// Deletes connection tracking entries; none matching is no failure (conntrack then exits 1).
    static func conntrackDelete(_ arguments: [String]) throws {
        let output = try run("conntrack", ["-D"] + arguments)
        guard output.status == 0 || output.status == 1 else { throw failure((["conntrack", "-D"] + arguments).joined(separator: " "), output) }
    }

    private static func run(_ tool: String, _ arguments: [String], input: Data? = nil) throws -> Spawn.Output {
        let directories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        guard let path = directories.map({ "\($0)/\(tool)" }).first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw KubeProxyError(command: tool, message: "not found in \(directories.joined(separator: ":"))")
        }
        do {
            return try Spawn.run([path] + arguments, input: input)
        } catch {
            throw KubeProxyError(command: tool, message: "\(error)")
        }
    }

    private static func failure(_ command: String, _ output: Spawn.Output) -> KubeProxyError {
        let message = output.stderrText.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
        return KubeProxyError(command: command, message: message.isEmpty ? "exit status \(output.status)" : message)
    }
}
