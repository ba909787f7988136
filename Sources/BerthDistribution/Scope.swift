/// What a token grants or a request needs: `repository:NAME:pull,push` (Docker's token
/// specification), or `registry:catalog:*`.
public struct Scope: Hashable, Sendable, CustomStringConvertible {
    public enum Action: String, Hashable, Sendable, CaseIterable, Comparable {
        case pull
        case push
        case delete
        case all = "*"

        public static func < (lhs: Action, rhs: Action) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// `repository` or `registry`.
    public var type: String
    public var name: String
    public var actions: Set<Action>

    public init(type: String = "repository", name: String, actions: Set<Action>) {
        self.type = type
        self.name = name
        self.actions = actions
    }

    public static func repository(_ name: String, _ actions: Action...) -> Scope {
        Scope(name: name, actions: Set(actions))
    }

    public var description: String {
        "\(type):\(name):\(actions.sorted().map(\.rawValue).joined(separator: ","))"
    }

    /// Parses one scope; a name may itself contain `:` (a registry with a port never appears in
    /// a scope, but be lenient), so the type is before the first colon and the actions after the last.
    public init?(parsing text: String) {
        guard let first = text.firstIndex(of: ":"), let last = text.lastIndex(of: ":"), first < last else { return nil }
        type = String(text[..<first])
        name = String(text[text.index(after: first)..<last])
        var actions: Set<Action> = []
        for word in text[text.index(after: last)...].split(separator: ",") {
            guard let action = Action(rawValue: String(word)) else { continue }
            actions.insert(action)
        }
        guard !type.isEmpty, !name.isEmpty else { return nil }
        self.actions = actions
    }

    /// Every scope in a space-separated `scope` parameter.
    public static func parseList(_ text: String) -> [Scope] {
        text.split(separator: " ").compactMap { Scope(parsing: String($0)) }
    }
}

/// The headers the distribution-spec and Docker's registry API name.
public enum RegistryHeader {
    public static let apiVersion = "Docker-Distribution-API-Version"
    public static let apiVersionValue = "registry/2.0"
    public static let contentDigest = "Docker-Content-Digest"
    public static let uploadUUID = "Docker-Upload-UUID"
    public static let subject = "OCI-Subject"
    public static let filtersApplied = "OCI-Filters-Applied"
}
