import Foundation
import HummingbirdBcrypt

/// Users from an Apache htpasswd file, as Docker's registry reads it: `user:hash` lines whose
/// hashes are bcrypt (`$2y$`, `$2a$`, `$2b$`; `htpasswd -B`). Other hash kinds are refused
/// when the file is loaded rather than silently never matching.
public struct Htpasswd: Sendable {
    /// Bcrypt hash per user name.
    public let entries: [String: String]

    public init(entries: [String: String]) {
        self.entries = entries
    }

    /// Parses the file's text; `path` names it in errors.
    public init(parsing text: String, path: String) throws {
        var entries: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw RegistryServerError.invalidHtpasswd(path: path, line: index + 1, reason: "expected USER:HASH")
            }
            let user = String(line[..<colon])
            let hash = String(line[line.index(after: colon)...])
            guard ["$2y$", "$2a$", "$2b$"].contains(where: { hash.hasPrefix($0) }) else {
                throw RegistryServerError.invalidHtpasswd(
                    path: path, line: index + 1, reason: "user \(user) has a non-bcrypt hash; only bcrypt is supported")
            }
            entries[user] = hash
        }
        self.entries = entries
    }

    /// Loads an htpasswd file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistryServerError.unreadableFile(path: path, reason: "no such file or not readable")
        }
        try self.init(parsing: String(decoding: data, as: UTF8.self), path: path)
    }

    /// True when `password` is the user's password.
    public func verify(user: String, password: String) -> Bool {
        guard let hash = entries[user] else { return false }
        // Go's bcrypt (and htpasswd) write $2y$; the hash is the same algorithm as $2b$.
        let normalized = hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
        return Bcrypt.verify(password, hash: normalized)
    }
}
