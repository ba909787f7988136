import BerthDistribution
import BerthOCI
import Foundation

/// Who may do what to which repository.
///
/// Rules are tried in order; the first whose glob matches the repository decides. A matching
/// rule grants its `anonymous` actions to everyone (or, when it names none, the default
/// anonymous actions), plus to an authenticated user the actions listed for that user (or for
/// `"*"`, any authenticated user). Where no rule matches, the defaults apply.
public struct AccessPolicy: Sendable {
    /// One `access` entry of the configuration file.
    public struct Rule: Sendable, Equatable {
        /// A glob over repository names: `*` matches within one path component, `**` across them.
        public var repository: String
        public var anonymous: Set<Scope.Action>?
        public var users: [String: Set<Scope.Action>]

        public init(repository: String, anonymous: Set<Scope.Action>? = nil, users: [String: Set<Scope.Action>] = [:]) {
            self.repository = repository
            self.anonymous = anonymous
            self.users = users
        }
    }

    /// Everything a client can be granted on a repository.
    public static let allActions: Set<Scope.Action> = [.pull, .push, .delete]

    /// The htpasswd users; nil when the registry authenticates no one.
    public var users: Htpasswd?
    /// The realm of the Basic challenge.
    public var realm: String
    /// What anyone may do where no rule says otherwise.
    public var anonymous: Set<Scope.Action>
    /// What any authenticated user may do where no rule says otherwise.
    public var authenticated: Set<Scope.Action>
    public var rules: [Rule]
    /// Set when clients must present bearer tokens from the token service.
    public var token: TokenSettings?

    public init(
        users: Htpasswd? = nil, realm: String = "Berth Registry", anonymous: Set<Scope.Action>? = nil,
        authenticated: Set<Scope.Action> = AccessPolicy.allActions, rules: [Rule] = [], token: TokenSettings? = nil
    ) {
        self.users = users
        self.realm = realm
        // Without users nobody can authenticate, so by default everyone may do everything.
        self.anonymous = anonymous ?? (users == nil ? Self.allActions : [])
        self.authenticated = authenticated
        self.rules = rules
        self.token = token
    }

    /// True when every request is allowed without credentials.
    var isOpen: Bool {
        users == nil && token == nil && anonymous == Self.allActions
            && rules.allSatisfy { ($0.anonymous ?? anonymous) == Self.allActions }
    }

    /// The actions `user` (nil: anonymous) may perform on `repository`.
    public func actions(for user: String?, repository: String) -> Set<Scope.Action> {
        if let rule = rules.first(where: { Self.glob($0.repository, matches: repository) }) {
            var granted = rule.anonymous ?? anonymous
            if let user {
                granted.formUnion(rule.users[user] ?? rule.users["*"] ?? [])
            }
            return granted
        }
        return user == nil ? anonymous : anonymous.union(authenticated)
    }

    /// Glob matching over repository names: `*` stops at `/`, `**` does not.
    static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern.utf8), n = Array(name.utf8)
        func match(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == n.count }
            if p[i] == UInt8(ascii: "*") {
                let crossesSlash = i + 1 < p.count && p[i + 1] == UInt8(ascii: "*")
                let next = crossesSlash ? i + 2 : i + 1
                var k = j
                while true {
                    if match(next, k) { return true }
                    guard k < n.count, crossesSlash || n[k] != UInt8(ascii: "/") else { return false }
                    k += 1
                }
            }
            guard j < n.count, p[i] == UInt8(ascii: "?") || p[i] == n[j] else { return false }
            return match(i + 1, j + 1)
        }
        return match(0, 0)
    }

    /// Parses an action list from the configuration file (`pull`, `push`, `delete`, `*`).
    static func parseActions(_ words: [String], context: String, path: String) throws -> Set<Scope.Action> {
        var actions: Set<Scope.Action> = []
        for word in words {
            guard let action = Scope.Action(rawValue: word.lowercased()) else {
                throw RegistryServerError.invalidConfiguration(
                    path: path, reason: "\(context): unknown action \"\(word)\" (use pull, push, delete or *)")
            }
            if action == .all { actions.formUnion(allActions) } else { actions.insert(action) }
        }
        return actions
    }
}

/// The bearer token service's settings (`auth.token` in the configuration file).
public struct TokenSettings: Sendable {
    /// Where clients get tokens: the `realm` of the Bearer challenge (this server's `/token`).
    public var realm: String
    /// The `service` of the challenge and the tokens' audience.
    public var service: String
    /// The tokens' issuer.
    public var issuer: String
    /// How long a token is valid.
    public var lifetime: TimeInterval
    /// The HMAC-SHA256 key that signs tokens.
    public var secret: [UInt8]

    public init(realm: String, service: String = "berth-registry", issuer: String = "berth-registry",
                lifetime: TimeInterval = 300, secret: [UInt8]) {
        self.realm = realm
        self.service = service
        self.issuer = issuer
        self.lifetime = lifetime
        self.secret = secret
    }
}
