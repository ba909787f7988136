import BerthDistribution
import BerthFiles
import Foundation
import Yams

/// Everything `berth registry serve` runs with.
public struct RegistryConfiguration: Sendable {
    /// The address to listen on; port 0 picks a free port.
    public var host: String
    public var port: Int
    /// The storage root.
    public var root: String
    public var access: AccessPolicy
    /// PEM certificate chain and private key; nil serves plain HTTP.
    public var tls: (certificate: String, key: String)?
    /// Upload sessions idle for longer than this are removed.
    public var uploadExpiration: TimeInterval
    /// The largest manifest accepted, as distribution's limit: 4 MiB.
    public var maximumManifestSize: Int = 4 << 20
    /// Whether blob GETs from a loopback address also go out with sendfile (remote ones always do
    /// on plain HTTP). Off by default: over loopback, clients took longer to pull from sendfile
    /// than from copied buffers (bench/HISTORY.md), though the server spent far less CPU; the
    /// client's receive side seems to pay for the page-cache pages.
    public var sendfileToLoopback = false

    public init(host: String = "127.0.0.1", port: Int = 5000, root: String, access: AccessPolicy = AccessPolicy(),
                tls: (certificate: String, key: String)? = nil, uploadExpiration: TimeInterval = 3600) {
        self.host = host
        self.port = port
        self.root = root
        self.access = access
        self.tls = tls
        self.uploadExpiration = uploadExpiration
    }

    /// Splits `HOST:PORT` (`[::1]:5000` for IPv6, `:5000` for every interface).
    public static func parseAddress(_ address: String) throws -> (host: String, port: Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65535).contains(port)
        else { throw RegistryServerError.invalidAddress(address) }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// The configuration file's documented format, for `--help`.
    public static let fileFormatHelp = """
        The configuration file (YAML; every key optional):
          auth:
            realm: Berth Registry        # realm of the Basic challenge
            # What anyone may do where no access rule matches
            # (default: [] with --htpasswd, everything without).
            anonymous: [pull]
            # What any htpasswd user may do where no rule matches
            # (default: [pull, push, delete]).
            authenticated: [pull, push]
            # Require bearer tokens from this server's /token.
            token:
              realm: https://HOST:PORT/token
              service: berth-registry
              expiration: 5m             # token lifetime (s, m, h)
              secret: LONG-RANDOM-TEXT   # default: ROOT/token-secret
          uploads:
            expiration: 1h               # idle uploads are removed after
          # The first rule whose glob matches the repository decides:
          # * matches within a path component, ** across components.
          access:
            - repository: "pixelpotato/*"
              anonymous: [pull]          # default: auth.anonymous
              users: { alice: [pull, push, delete], bob: [pull] }
        Actions are pull, push, delete and * (all three); the user "*"
        means any htpasswd user.
        """

    /// Reads `--config` and `--htpasswd` files into a configuration.
    public static func load(
        address: String, root: String, configFile: String?, htpasswdFile: String?,
        tlsCertificate: String?, tlsKey: String?
    ) throws -> RegistryConfiguration {
        let (host, port) = try parseAddress(address)
        let users = try htpasswdFile.map { try Htpasswd(contentsOf: $0) }
        var configuration = RegistryConfiguration(host: host, port: port, root: root, access: AccessPolicy(users: users))
        if let configFile {
            try configuration.apply(configFile: configFile, users: users)
        }
        switch (tlsCertificate, tlsKey) {
        case (let certificate?, let key?): configuration.tls = (certificate, key)
        case (nil, nil): break
        default: throw RegistryServerError.tls("--tls-cert and --tls-key must be given together")
        }
        return configuration
    }

    private struct File: Decodable {
        struct Auth: Decodable {
            var realm: String?
            var anonymous: [String]?
            var authenticated: [String]?
            var token: Token?
        }
        struct Token: Decodable {
            var realm: String
            var service: String?
            var issuer: String?
            var expiration: String?
            var secret: String?
        }
        struct Uploads: Decodable {
            var expiration: String?
        }
        struct Rule: Decodable {
            var repository: String
            var anonymous: [String]?
            var users: [String: [String]]?
        }
        var auth: Auth?
        var uploads: Uploads?
        var access: [Rule]?
    }

    private mutating func apply(configFile path: String, users: Htpasswd?) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RegistryServerError.unreadableFile(path: path, reason: "no such file or not readable")
        }
        let file: File
        do {
            file = try YAMLDecoder().decode(File.self, from: String(decoding: data, as: UTF8.self))
        } catch {
            throw RegistryServerError.invalidConfiguration(path: path, reason: "\(error)".replacingOccurrences(of: "\n", with: " "))
        }
        let auth = file.auth
        let anonymous = try auth?.anonymous.map { try AccessPolicy.parseActions($0, context: "auth.anonymous", path: path) }
        let authenticated = try auth?.authenticated.map {
            try AccessPolicy.parseActions($0, context: "auth.authenticated", path: path)
        } ?? AccessPolicy.allActions
        var rules: [AccessPolicy.Rule] = []
        for (index, rule) in (file.access ?? []).enumerated() {
            let context = "access[\(index)]"
            var ruleUsers: [String: Set<Scope.Action>] = [:]
            for (user, actions) in rule.users ?? [:] {
                ruleUsers[user] = try AccessPolicy.parseActions(actions, context: "\(context).users.\(user)", path: path)
            }
            rules.append(AccessPolicy.Rule(
                repository: rule.repository,
                anonymous: try rule.anonymous.map { try AccessPolicy.parseActions($0, context: "\(context).anonymous", path: path) },
                users: ruleUsers))
        }
        var token: TokenSettings?
        if let settings = auth?.token {
            let lifetime = try settings.expiration.map { try Self.parseDuration($0, context: "auth.token.expiration", path: path) } ?? 300
            let secret = try settings.secret.map { Array($0.utf8) } ?? Self.persistentSecret(root: root)
            token = TokenSettings(
                realm: settings.realm, service: settings.service ?? "berth-registry",
                issuer: settings.issuer ?? "berth-registry", lifetime: lifetime, secret: secret)
        }
        access = AccessPolicy(
            users: users, realm: auth?.realm ?? "Berth Registry", anonymous: anonymous, authenticated: authenticated,
            rules: rules, token: token)
        if let expiration = file.uploads?.expiration {
            uploadExpiration = try Self.parseDuration(expiration, context: "uploads.expiration", path: path)
        }
    }

    /// `90`, `90s`, `5m`, `1h`.
    static func parseDuration(_ text: String, context: String, path: String) throws -> TimeInterval {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600]
        var number = Substring(text.trimmingCharacters(in: .whitespaces))
        var unit: TimeInterval = 1
        if let last = number.last, let scale = units[last] {
            unit = scale
            number = number.dropLast()
        }
        guard let value = Double(number), value > 0 else {
            throw RegistryServerError.invalidConfiguration(
                path: path, reason: "\(context): invalid duration \"\(text)\" (use e.g. 90s, 5m or 1h)")
        }
        return value * unit
    }

    /// The token signing key kept in ROOT/token-secret, so tokens survive a restart.
    static func persistentSecret(root: String) throws -> [UInt8] {
        let path = "\((root as NSString).standardizingPath)/token-secret"
        if let data = FileManager.default.contents(atPath: path), data.count >= 32 { return Array(data) }
        var key = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in key.indices { key[index] = UInt8.random(in: .min ... .max, using: &generator) }
        try FileIO.makeDirectories((path as NSString).deletingLastPathComponent)
        do {
            try AtomicFile.write(key, to: path, mode: 0o600, durability: .durable)
        } catch {
            throw RegistryServerError.storage(path: error.path, operation: error.operation, errno: error.code)
        }
        return key
    }
}
