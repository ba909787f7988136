import BerthTemplate

/// Reading and editing members of the untyped JSON trees the API stores, so fields Berth does not
/// model survive every write.
extension OrderedJSON {
    /// The string at a member path (`["metadata", "name"]`); nil when absent or not a string.
    public func string(_ path: String...) -> String? { string(at: path) }

    public func string(at path: [String]) -> String? {
        guard case .string(let text) = value(at: path) else { return nil }
        return text
    }

    public func value(at path: [String]) -> OrderedJSON? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    /// An integral number's value; nil for anything else.
    public var int: Int? {
        guard case .number(let text) = self else { return nil }
        return Int(text)
    }

    /// The members of an object; empty for anything else.
    public var members: [(String, OrderedJSON)] {
        guard case .object(let members) = self else { return [] }
        return members
    }

    /// A string-to-string map member (labels, annotations, ConfigMap data); nil when absent.
    public func stringMap(at path: [String]) -> [String: String]? {
        guard case .object(let members)? = value(at: path) else { return nil }
        var map: [String: String] = [:]
        for (key, value) in members {
            if case .string(let text) = value { map[key] = text }
        }
        return map
    }

    /// This object with the member at `path` set (created with its parents when missing, appended
    /// after the existing members), or removed when `value` is nil.
    public func setting(_ path: [String], to value: OrderedJSON?) -> OrderedJSON {
        guard let key = path.first else { return value ?? .null }
        var members = self.members
        let index = members.firstIndex { $0.0 == key }
        if path.count == 1 {
            if let value {
                if let index { members[index].1 = value } else { members.append((key, value)) }
            } else if let index {
                members.remove(at: index)
            }
        } else {
            let child = index.map { members[$0].1 } ?? .object([])
            if value == nil, index == nil { return self }
            let updated = child.setting(Array(path.dropFirst()), to: value)
            if let index { members[index].1 = updated } else { members.append((key, updated)) }
        }
        return .object(members)
    }

    /// A JSON object of string values in the map's key order (sorted, as Go encodes maps).
    public static func stringMap(_ map: [String: String]) -> OrderedJSON {
        .object(map.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }

    /// Parses stored or received JSON text.
    public static func parse(_ text: String) throws -> OrderedJSON {
        try parse(Array(text.utf8))
    }
}
