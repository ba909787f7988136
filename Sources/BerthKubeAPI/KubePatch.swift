import BerthTemplate

/// The patch formats the API accepts on an object: JSON merge patch (RFC 7386, what
/// `kubectl label`/`annotate` send) and JSON patch (RFC 6902, what `rollout undo` sends).
public enum KubePatch {
    /// RFC 7386: objects merge member by member, `null` removes a member, anything else
    /// (arrays included) replaces.
    public static func merge(_ target: OrderedJSON, _ patch: OrderedJSON) -> OrderedJSON {
        guard case .object(let changes) = patch else { return patch }
        var result: OrderedJSON = if case .object = target { target } else { .object([]) }
        for (key, value) in changes {
            if value == .null {
                result = result.setting([key], to: nil)
            } else {
                result = result.setting([key], to: merge(result[key] ?? .null, value))
            }
        }
        return result
    }

    /// RFC 6902: applies the operations in order; any failing operation fails the whole patch.
    public static func apply(jsonPatch operations: OrderedJSON, to target: OrderedJSON) throws(KubeAPIError) -> OrderedJSON {
        guard case .array(let list) = operations else {
            throw .badRequest("the JSON patch must be an array of operations")
        }
        var document = target
        for operation in list {
            guard let op = operation.string("op"), let path = operation.string("path") else {
                throw .badRequest("invalid JSON patch operation \(operation.compact): it needs \"op\" and \"path\"")
            }
            let pointer = try pointerTokens(path)
            switch op {
            case "add":
                document = try insert(operation["value"] ?? .null, at: pointer, in: document, replacing: false)
            case "replace":
                _ = try value(at: pointer, in: document, path: path)
                document = try insert(operation["value"] ?? .null, at: pointer, in: document, replacing: true)
            case "remove":
                document = try remove(pointer, from: document, path: path)
            case "move", "copy":
                guard let from = operation.string("from") else { throw .badRequest("\(op) operation does not have a from path") }
                let source = try pointerTokens(from)
                let moved = try value(at: source, in: document, path: from)
                if op == "move" { document = try remove(source, from: document, path: from) }
                document = try insert(moved, at: pointer, in: document, replacing: false)
            case "test":
                let actual = try value(at: pointer, in: document, path: path)
                guard KubeObjectStore.sameContent(actual, operation["value"] ?? .null) else {
                    throw .badRequest("testing value \(path) failed: test failed")
                }
            default:
                throw .badRequest("Unexpected kind: \(op)")
            }
        }
        return document
    }

    private static func pointerTokens(_ path: String) throws(KubeAPIError) -> [String] {
        guard path.isEmpty || path.hasPrefix("/") else { throw .badRequest("invalid JSON pointer \(path)") }
        return path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            .map { $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~") }
    }

    private static func value(at pointer: [String], in document: OrderedJSON, path: String) throws(KubeAPIError) -> OrderedJSON {
        var current = document
        for token in pointer {
            switch current {
            case .object:
                guard let next = current[token] else { throw missing(path) }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { throw missing(path) }
                current = items[index]
            default:
                throw missing(path)
            }
        }
        return current
    }

    private static func missing(_ path: String) -> KubeAPIError {
        .badRequest("the server rejected our request due to an error in our request: path \(path) does not exist")
    }

    private static func insert(_ value: OrderedJSON, at pointer: [String], in document: OrderedJSON, replacing: Bool) throws(KubeAPIError) -> OrderedJSON {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object:
            if rest.isEmpty { return document.setting([token], to: value) }
            guard let child = document[token] else { throw missing("/" + pointer.joined(separator: "/")) }
            return document.setting([token], to: try insert(value, at: rest, in: child, replacing: replacing))
        case .array(var items):
            if rest.isEmpty {
                if token == "-", !replacing { items.append(value); return .array(items) }
                guard let index = Int(token), index >= 0, replacing ? index < items.count : index <= items.count else {
                    throw missing("/" + pointer.joined(separator: "/"))
                }
                if replacing { items[index] = value } else { items.insert(value, at: index) }
                return .array(items)
            }
            guard let index = Int(token), items.indices.contains(index) else { throw missing("/" + pointer.joined(separator: "/")) }
            items[index] = try insert(value, at: rest, in: items[index], replacing: replacing)
            return .array(items)
        default:
            throw missing("/" + pointer.joined(separator: "/"))
        }
    }

    private static func remove(_ pointer: [String], from document: OrderedJSON, path: String) throws(KubeAPIError) -> OrderedJSON {
        guard let token = pointer.first else { throw missing(path) }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object:
            guard let child = document[token] else { throw missing(path) }
            return document.setting([token], to: rest.isEmpty ? nil : try remove(rest, from: child, path: path))
        case .array(var items):
            guard let index = Int(token), items.indices.contains(index) else { throw missing(path) }
            if rest.isEmpty { items.remove(at: index) } else { items[index] = try remove(rest, from: items[index], path: path) }
            return .array(items)
        default:
            throw missing(path)
        }
    }
}
