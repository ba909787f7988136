import Foundation
import Glibc

/// A `docker-credential-<name>` program and Docker's credential-helper protocol: the action
/// (`get`, `store`, `erase`) as the argument, the server URL or a JSON payload on standard input,
/// and `{"ServerURL","Username","Secret"}` on standard output for `get`.
public struct CredentialHelper: Sendable {
    public let name: String
    let searchPath: String

    public init(name: String, searchPath: String) {
        self.name = name
        self.searchPath = searchPath
    }

    /// The program's path, when it is installed.
    public var executable: String? {
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let path = "\(directory)/docker-credential-\(name)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    private struct Payload: Codable {
        var ServerURL: String
        var Username: String
        var Secret: String
    }

    /// The credentials the helper holds for `serverURL`; nil when it has none.
    public func get(serverURL: String) throws -> Credentials? {
        let result = try run("get", input: Data(serverURL.utf8))
        guard result.status == 0 else {
            if result.output.contains("credentials not found") { return nil }
            throw RegistryClientError.credentialHelper(helper: name, reason: "get failed: \(result.output)")
        }
        guard let payload = try? JSONDecoder().decode(Payload.self, from: result.data) else {
            throw RegistryClientError.credentialHelper(helper: name, reason: "get printed something other than credentials JSON")
        }
        return Credentials(username: payload.Username, password: payload.Secret)
    }

    public func store(_ credentials: Credentials, serverURL: String) throws {
        let payload = Payload(ServerURL: serverURL, Username: credentials.username, Secret: credentials.password)
        let result = try run("store", input: try JSONEncoder().encode(payload))
        guard result.status == 0 else {
            throw RegistryClientError.credentialHelper(helper: name, reason: "store failed: \(result.output)")
        }
    }

    /// Deletes the helper's credentials for `serverURL`; false when it had none.
    public func erase(serverURL: String) throws -> Bool {
        let result = try run("erase", input: Data(serverURL.utf8))
        guard result.status == 0 else {
            if result.output.contains("credentials not found") { return false }
            throw RegistryClientError.credentialHelper(helper: name, reason: "erase failed: \(result.output)")
        }
        return true
    }

    private struct Result {
        var status: Int32
        var data: Data
        /// Standard output and error in one trimmed line, for messages.
        var output: String
    }

    private func run(_ action: String, input: Data) throws -> Result {
        guard let executable else {
            throw RegistryClientError.credentialHelper(helper: name, reason: "docker-credential-\(name) is not installed")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [action]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw RegistryClientError.credentialHelper(helper: name, reason: "cannot start: \(error)")
        }
        stdin.fileHandleForWriting.write(input)
        try? stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = (String(decoding: data, as: UTF8.self) + " " + String(decoding: errors, as: UTF8.self))
            .split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        return Result(status: process.terminationStatus, data: data, output: text)
    }
}
