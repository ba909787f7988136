import Foundation

/// Runs a host tool (a CNI plugin, iptables, ip) to completion and captures its output.
struct Command {
    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: Data

        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    input: Data? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        let stdinPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = stdinPipe
        do {
            try process.run()
        } catch {
            throw NetworkError.commandFailed(command: executable, message: "\(error)")
        }
        // Drain stderr on another thread so a chatty tool cannot fill one pipe while we wait on the other.
        let stderrBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            stderrBox.data = stderrPipe.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let input { stdinPipe.fileHandleForWriting.write(input) }
        try? stdinPipe.fileHandleForWriting.close()
        let stdout = stdoutPipe.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: stdout, stderr: stderrBox.data)
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

private final class DataBox: @unchecked Sendable {
    var data = Data()
}
