/// A parsed `labelSelector`: requirements that must all hold (`a=b,c!=d,e in (f,g),h,!i`).
public struct LabelSelector: Sendable, Equatable {
    public enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, [String])
        case notIn(String, [String])
        case exists(String)
        case doesNotExist(String)
    }

    public var requirements: [Requirement]

    /// The empty selector matches everything.
    public static let everything = LabelSelector(requirements: [])

    public init(requirements: [Requirement]) {
        self.requirements = requirements
    }

    public init(parsing text: String) throws(KubeAPIError) {
        var requirements: [Requirement] = []
        for term in Self.splitTerms(text) {
            let trimmed = term.trimmingSpaces
            guard !trimmed.isEmpty else { continue }
            requirements.append(try Self.requirement(trimmed, in: text))
        }
        self.requirements = requirements
    }

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): return labels[key] == value
            case .notEquals(let key, let value): return labels[key] != value
            case .in(let key, let values): return labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): return labels[key].map { !values.contains($0) } ?? true
            case .exists(let key): return labels[key] != nil
            case .doesNotExist(let key): return labels[key] == nil
            }
        }
    }

    /// Commas separate terms except inside the parentheses of `in`/`notin`.
    private static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1; current.append(character)
            case ")": depth -= 1; current.append(character)
            case "," where depth == 0: terms.append(current); current = ""
            default: current.append(character)
            }
        }
        terms.append(current)
        return terms
    }

    private static func requirement(_ term: String, in selector: String) throws(KubeAPIError) -> Requirement {
        func invalid() -> KubeAPIError {
            .badRequest("unable to parse requirement: found '\(term)', expected: '=', '!=', '==', 'in', notin' in selector \"\(selector)\"")
        }
        if term.hasPrefix("!") {
            let key = String(term.dropFirst()).trimmingSpaces
            guard isValidKey(key) else { throw invalid() }
            return .doesNotExist(key)
        }
        for (symbol, make) in [("!=", Requirement.notEquals), ("==", Requirement.equals), ("=", Requirement.equals)] {
            if let range = term.range(of: symbol) {
                let key = String(term[..<range.lowerBound]).trimmingSpaces
                let value = String(term[range.upperBound...]).trimmingSpaces
                guard isValidKey(key), isValidValue(value) else { throw invalid() }
                return make(key, value)
            }
        }
        let words = term.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true).map(String.init)
        if words.count == 1 {
            guard isValidKey(words[0]) else { throw invalid() }
            return .exists(words[0])
        }
        guard words.count == 3, words[2].hasPrefix("("), words[2].hasSuffix(")"), isValidKey(words[0]) else { throw invalid() }
        let values = words[2].dropFirst().dropLast().split(separator: ",", omittingEmptySubsequences: false)
            .map { String($0).trimmingSpaces }
        guard values.allSatisfy(isValidValue) else { throw invalid() }
        switch words[1] {
        case "in": return .in(words[0], values)
        case "notin": return .notIn(words[0], values)
        default: throw invalid()
        }
    }

    /// A label key: an optional DNS-subdomain prefix and a name of at most 63 characters.
    static func isValidKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last else { return false }
        if parts.count == 2 && (parts[0].isEmpty || parts[0].count > 253) { return false }
        return !name.isEmpty && isValidValue(String(name))
    }

    /// A label value: at most 63 of `[A-Za-z0-9_.-]`, starting and ending alphanumeric, or empty.
    static func isValidValue(_ value: String) -> Bool {
        guard !value.isEmpty else { return true }
        guard value.count <= 63, let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else { return false }
        let alphanumeric: (Unicode.Scalar) -> Bool = { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
        return alphanumeric(first) && alphanumeric(last)
            && value.unicodeScalars.allSatisfy { alphanumeric($0) || "-_.".unicodeScalars.contains($0) }
    }
}

/// A parsed `fieldSelector`: `field=value`, `field==value`, `field!=value`, comma-separated, all must hold.
public struct FieldSelector: Sendable, Equatable {
    public struct Requirement: Sendable, Equatable {
        public var field: String
        public var value: String
        public var negated: Bool
    }

    public var requirements: [Requirement]

    public static let everything = FieldSelector(requirements: [])

    public init(requirements: [Requirement]) {
        self.requirements = requirements
    }

    /// Parses `text`, refusing fields the resource cannot be selected by.
    public init(parsing text: String, supported: Set<String>) throws(KubeAPIError) {
        var requirements: [Requirement] = []
        for term in text.split(separator: ",").map({ String($0).trimmingSpaces }) where !term.isEmpty {
            var parsed: Requirement?
            for (symbol, negated) in [("!=", true), ("==", false), ("=", false)] {
                if let range = term.range(of: symbol) {
                    parsed = Requirement(field: String(term[..<range.lowerBound]).trimmingSpaces,
                                         value: String(term[range.upperBound...]).trimmingSpaces, negated: negated)
                    break
                }
            }
            guard let parsed else { throw .badRequest("invalid selector: '\(text)'; can't understand '\(term)'") }
            guard supported.contains(parsed.field) else { throw .badRequest("field label not supported: \(parsed.field)") }
            requirements.append(parsed)
        }
        self.requirements = requirements
    }

    /// Whether the fields (as `fields(of:)` gives them for the object's kind) satisfy the selector.
    public func matches(_ fields: [String: String]) -> Bool {
        requirements.allSatisfy { ($0.negated) != (fields[$0.field] == $0.value) }
    }
}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}
