import BerthFiles
import Foundation
import Glibc

/// A user name and secret for one registry, as `docker login` saves them.
public struct Credentials: Equatable, Sendable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// The value of a Basic `Authorization` header (RFC 7617).
    public var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// Docker's client configuration file (`$BERTH_CONFIG`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`):
/// `auths` keyed by server with base64 `user:password`, and `credHelpers`/`credsStore` naming
/// `docker-credential-<name>` programs that hold secrets instead. Keys Berth does not know are
/// kept as they are when the file is rewritten.
public struct CredentialStore: Sendable {
    /// The file read and written.
    public let configPath: String
    /// Where `docker-credential-*` programs are looked up (a `PATH`-style list).
    public let searchPath: String

    /// The key Docker uses for Docker Hub in `auths`.
    public static let dockerHubKey = "https://index.docker.io/v1/"

    public init(configPath: String, searchPath: String? = nil) {
        self.configPath = configPath
        self.searchPath = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    }

    /// The store at `$BERTH_CONFIG`, else in Docker's `$DOCKER_CONFIG` directory, else `$HOME/.docker/config.json`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> CredentialStore {
        if let path = environment["BERTH_CONFIG"], !path.isEmpty { return CredentialStore(configPath: path) }
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty {
            return CredentialStore(configPath: directory + "/config.json")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return CredentialStore(configPath: home + "/.docker/config.json")
    }

    /// The key a registry host is saved under: Docker Hub's legacy URL for docker.io, else the host.
    public static func serverKey(forRegistry registry: String) -> String {
        switch registry {
        case "docker.io", "index.docker.io", "registry-1.docker.io", dockerHubKey: return dockerHubKey
        default: return normalizedHost(registry)
        }
    }

    /// `https://host:port/path` → `host:port`, as Docker compares `auths` keys.
    static func normalizedHost(_ key: String) -> String {
        var host = Substring(key)
        if let scheme = host.range(of: "://") { host = host[scheme.upperBound...] }
        if let slash = host.firstIndex(of: "/") { host = host[..<slash] }
        return String(host)
    }

    // MARK: Reading

    /// The saved credentials for a registry host, from its helper or from `auths`; nil when none.
    public func credentials(forRegistry registry: String) throws -> Credentials? {
        let key = Self.serverKey(forRegistry: registry)
        let config = try readConfig()
        if let helper = helperName(for: key, in: config) {
            return try CredentialHelper(name: helper, searchPath: searchPath).get(serverURL: key)
        }
        guard let auths = config["auths"] as? [String: Any] else { return nil }
        let entry = auths[key] ?? auths.first { Self.serverKey(forRegistry: Self.normalizedHost($0.key)) == key }?.value
        guard let fields = entry as? [String: Any] else { return nil }
        if let encoded = fields["auth"] as? String, !encoded.isEmpty {
            guard let decoded = Data(base64Encoded: encoded).flatMap({ String(data: $0, encoding: .utf8) }),
                  let colon = decoded.firstIndex(of: ":") else {
                throw RegistryClientError.configFile(path: configPath, reason: "invalid auth entry for \(key): not base64 of user:password")
            }
            return Credentials(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
        }
        if let username = fields["username"] as? String, let password = fields["password"] as? String {
            return Credentials(username: username, password: password)
        }
        return nil
    }

    // MARK: Writing

    /// Saves credentials for a registry host, in its helper when one is configured (as Docker does,
    /// one that is not installed is an error, not a reason to write the secret into the file).
    public func store(_ credentials: Credentials, forRegistry registry: String) throws {
        let key = Self.serverKey(forRegistry: registry)
        var config = try readConfig()
        var auths = config["auths"] as? [String: Any] ?? [:]
        if let helper = configuredHelper(for: key, in: config) {
            try CredentialHelper(name: helper, searchPath: searchPath).store(credentials, serverURL: key)
            // Docker leaves an empty entry so `auths` still lists the registry.
            auths[key] = [String: Any]()
        } else {
            auths[key] = ["auth": Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()]
        }
        config["auths"] = auths
        try writeConfig(config)
    }

    /// Removes the credentials for a registry host; false when there were none.
    @discardableResult
    public func erase(forRegistry registry: String) throws -> Bool {
        let key = Self.serverKey(forRegistry: registry)
        var config = try readConfig()
        var found = false
        if let helper = helperName(for: key, in: config) {
            found = try CredentialHelper(name: helper, searchPath: searchPath).erase(serverURL: key)
        }
        if var auths = config["auths"] as? [String: Any] {
            for entryKey in auths.keys where entryKey == key || Self.serverKey(forRegistry: Self.normalizedHost(entryKey)) == key {
                auths[entryKey] = nil
                found = true
            }
            config["auths"] = auths
            try writeConfig(config)
        }
        return found
    }

    // MARK: The file

    /// `credHelpers[key]` or `credsStore`, when that program is installed.
    private func helperName(for key: String, in config: [String: Any]) -> String? {
        guard let name = configuredHelper(for: key, in: config),
              CredentialHelper(name: name, searchPath: searchPath).executable != nil else { return nil }
        return name
    }

    /// `credHelpers[key]` or `credsStore`, installed or not.
    private func configuredHelper(for key: String, in config: [String: Any]) -> String? {
        let helpers = config["credHelpers"] as? [String: String] ?? [:]
        let name = helpers[key] ?? helpers[Self.normalizedHost(key)] ?? (config["credsStore"] as? String)
        guard let name, !name.isEmpty else { return nil }
        return name
    }

    /// Whether `store` would write the secret into the file itself (no credential helper configured).
    public func storesInFile(forRegistry registry: String) throws -> Bool {
        configuredHelper(for: Self.serverKey(forRegistry: registry), in: try readConfig()) == nil
    }

    private func readConfig() throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: configPath) else {
            if access(configPath, F_OK) == 0 {
                throw RegistryClientError.configFile(path: configPath, reason: "cannot read the file")
            }
            return [:]
        }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RegistryClientError.configFile(path: configPath, reason: "not a JSON object")
        }
        return object
    }

    /// Writes the whole file atomically, readable only by its owner (it holds secrets). A symbolic
    /// link (a config kept with one's dotfiles) is followed, so its target is what changes.
    private func writeConfig(_ config: [String: Any]) throws {
        let configPath = URL(fileURLWithPath: self.configPath).resolvingSymlinksInPath().path
        let directory = (configPath as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            }
            let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try AtomicFile.write(data + Data("\n".utf8), to: configPath, mode: 0o600, durability: .durable)
        } catch let error as FileError {
            throw RegistryClientError.configFile(path: error.path, reason: "\(error.operation): \(String(cString: strerror(error.code)))")
        } catch let error as RegistryClientError {
            throw error
        } catch {
            throw RegistryClientError.configFile(path: configPath, reason: "\(error)")
        }
    }
}
