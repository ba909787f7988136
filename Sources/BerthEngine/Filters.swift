import BerthTemplate
import Foundation

/// Docker's filter arguments (`--filter key=value` on the CLI, `filters` in the API): a set of
/// values per key. Values of one key are alternatives; different keys must all match. One parser
/// for both front ends, with dockerd's error messages.
public struct Filters: Sendable, Equatable {
    private var fields: [String: Set<String>]

    /// No filters.
    public init() {
        fields = [:]
    }

    /// The CLI's `--filter` arguments, each `key=value` (the key is lower-cased and both halves
    /// trimmed, as the docker CLI does).
    public init(cli arguments: [String]) throws {
        fields = [:]
        for argument in arguments where !argument.isEmpty {
            guard let equals = argument.firstIndex(of: "=") else {
                throw EngineError.invalidParameter("bad format of filter (expected name=value)")
            }
            let key = argument[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = argument[argument.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            add(key, value)
        }
    }

    /// The API's `filters` parameter: `{"key":{"value":true}}`, or the legacy `{"key":["value"]}`
    /// older clients send. An absent or empty parameter means no filters.
    public init(json: String?) throws {
        fields = [:]
        guard let json, !json.isEmpty else { return }
        let data = Data(json.utf8)
        if let sets = try? JSONDecoder().decode([String: [String: Bool]].self, from: data) {
            // dockerd keeps every listed value, whatever its boolean says.
            for (key, values) in sets { fields[key] = Set(values.keys) }
        } else if let lists = try? JSONDecoder().decode([String: [String]].self, from: data) {
            for (key, values) in lists { fields[key] = Set(values) }
        } else {
            throw EngineError.invalidParameter("invalid filter")
        }
    }

    /// Adds `value` to `key`'s alternatives.
    public mutating func add(_ key: String, _ value: String) {
        fields[key, default: []].insert(value)
    }

    /// dockerd's refusal of a key the endpoint does not know: `invalid filter 'x'`.
    public func validate(_ allowed: Set<String>) throws {
        if let key = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw EngineError.invalidParameter("invalid filter '\(key)'")
        }
    }

    /// The keys present, sorted.
    public var keys: [String] { fields.keys.sorted() }

    /// `key`'s values, sorted (empty when the key is absent).
    public func values(_ key: String) -> [String] {
        fields[key].map { $0.sorted() } ?? []
    }

    public func contains(_ key: String) -> Bool {
        fields[key] != nil
    }

    public var isEmpty: Bool { fields.isEmpty }

    /// True when `key` is absent or `value` is one of its values (dockerd's ExactMatch).
    public func matches(_ key: String, _ value: String) -> Bool {
        guard let values = fields[key], !values.isEmpty else { return true }
        return values.contains(value)
    }

    /// `label=k` (the key is present), `label=k=v` (with that value): every one must hold;
    /// `label!=k` and `label!=k=v`: none may hold.
    public func matchesLabels(_ labels: [String: String]) -> Bool {
        func holds(_ filter: String) -> Bool {
            let parts = filter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let value = labels[parts[0]] else { return false }
            return parts.count == 1 || value == parts[1]
        }
        return values("label").allSatisfy(holds) && !values("label!").contains(where: holds)
    }

    /// A boolean filter (`dangling=true`): nil when absent; dockerd's `invalid filter 'k=[v]'`
    /// unless its values say one thing (`true`/`1` or `false`/`0`).
    public func bool(_ key: String) throws -> Bool? {
        guard let values = fields[key] else { return nil }
        let isTrue = values.contains("true") || values.contains("1")
        let isFalse = values.contains("false") || values.contains("0")
        guard isTrue != isFalse else {
            throw EngineError.invalidParameter("invalid filter '\(key)=[\(self.values(key).joined(separator: " "))]'")
        }
        return isTrue
    }

    /// A time filter (`until`, `since` where they are times): RFC 3339, Unix seconds, or a Go
    /// duration counted back from now. Nil when absent; only one value is allowed.
    public func time(_ key: String, now: Date = Date()) throws -> Date? {
        let values = values(key)
        guard let value = values.first else { return nil }
        guard values.count == 1 else {
            throw EngineError.invalidParameter("more than one \(key) filter specified")
        }
        guard let date = DockerTime.parse(value, now: now) else {
            throw EngineError.invalidParameter("failed to parse value as time or duration: \(goQuoted(value))")
        }
        return date
    }

    /// The API's encoding, `{"key":{"value":true}}`, with keys and values sorted ("{}" when empty).
    public var jsonString: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let sets = fields.mapValues { values in Dictionary(uniqueKeysWithValues: values.map { ($0, true) }) }
        guard let data = try? encoder.encode(sets) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
