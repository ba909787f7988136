import BerthTemplate

/// A set of field paths of an object, as `metadata.managedFields` records who set what. A path's
/// elements are FieldsV1 keys: `f:<field>` for a named field or map key, `k:<keys as JSON>` for an
/// element of a list keyed by `x-kubernetes-list-map-keys`, `v:<value as JSON>` for an element of
/// a set.
public struct KubeFieldSet: Sendable, Equatable {
    public private(set) var paths: Set<[String]> = []

    public init(_ paths: Set<[String]> = []) {
        self.paths = paths
    }

    /// The fields `value` sets, walked along `schema`: every leaf, plus the maps and list
    /// elements that hold fields (structs only through their fields).
    public init(of value: OrderedJSON, schema: KubeSchema?) {
        collect(value, schema, path: [])
    }

    private mutating func collect(_ value: OrderedJSON, _ schema: KubeSchema?, path: [String]) {
        switch value {
        case .object(let members):
            guard let schema, !schema.preservesUnknownFields, schema.mapType != "atomic", !members.isEmpty else {
                if !path.isEmpty { paths.insert(path) }
                return
            }
            let isStruct = schema.schema["properties"] != nil
            if !isStruct, !path.isEmpty { paths.insert(path) }
            for (key, member) in members where !key.hasPrefix("$") {
                guard let inner = schema.property(key) else { continue }
                collect(member, inner, path: path + ["f:" + key])
            }
        case .array(let items):
            guard let schema, let element = schema.items, ["map", "set"].contains(schema.listType ?? "") else {
                paths.insert(path)
                return
            }
            for item in items {
                if schema.listType == "set" {
                    paths.insert(path + ["v:" + item.compact])
                } else if let identity = Self.identity(of: item, keys: schema.listMapKeys) {
                    paths.insert(path + [identity])
                    collect(item, element, path: path + [identity])
                }
            }
        default:
            paths.insert(path)
        }
    }

    /// `k:{"containerPort":80,"protocol":"TCP"}`: the element's map keys, defaulted ones included
    /// when the element leaves them out (a port's protocol is TCP unless given).
    static func identity(of item: OrderedJSON, keys: [String]) -> String? {
        var members: [(String, OrderedJSON)] = []
        for key in keys {
            if let value = item[key] {
                members.append((key, value))
            } else if key == "protocol" {
                members.append((key, .string("TCP")))
            } else {
                return nil
            }
        }
        return "k:" + OrderedJSON.object(members.sorted { $0.0 < $1.0 }).compact
    }

    public mutating func formUnion(_ other: KubeFieldSet) { paths.formUnion(other.paths) }
    public mutating func subtract(_ other: KubeFieldSet) { paths.subtract(other.paths) }
    public func contains(_ path: [String]) -> Bool { paths.contains(path) }
    public var isEmpty: Bool { paths.isEmpty }

    /// The paths that have no other path below them.
    public var leaves: [[String]] {
        paths.filter { path in !paths.contains { $0.count > path.count && Array($0.prefix(path.count)) == path } }
            .sorted { $0.lexicographicallyPrecedes($1) }
    }

    // MARK: FieldsV1

    /// The set as FieldsV1 JSON (`{"f:spec":{"f:replicas":{}}}`; `.` marks a member that has members).
    public var fieldsV1: OrderedJSON {
        Self.node(paths.map { $0[...] })
    }

    private static func node(_ suffixes: [ArraySlice<String>]) -> OrderedJSON {
        var children: [String: [ArraySlice<String>]] = [:]
        var isMember = false
        for suffix in suffixes {
            guard let first = suffix.first else {
                isMember = true
                continue
            }
            children[first, default: []].append(suffix.dropFirst())
        }
        var members: [(String, OrderedJSON)] = []
        if isMember, !children.isEmpty { members.append((".", .object([]))) }
        for key in children.keys.sorted() {
            members.append((key, node(children[key] ?? [])))
        }
        return .object(members)
    }

    /// Reads FieldsV1 JSON.
    public init(fieldsV1: OrderedJSON) {
        read(fieldsV1, path: [])
    }

    private mutating func read(_ node: OrderedJSON, path: [String]) {
        let members = node.members
        if members.isEmpty, !path.isEmpty { paths.insert(path) }
        for (key, child) in members {
            if key == "." { paths.insert(path) } else { read(child, path: path + [key]) }
        }
    }

    // MARK: Values at paths

    /// The value at `path` in `object`; nil when absent.
    public static func value(at path: [String], in object: OrderedJSON) -> OrderedJSON? {
        var current = object
        for element in path {
            guard let next = child(element, of: current) else { return nil }
            current = next
        }
        return current
    }

    private static func child(_ element: String, of value: OrderedJSON) -> OrderedJSON? {
        if element.hasPrefix("f:") { return value[String(element.dropFirst(2))] }
        guard case .array(let items) = value else { return nil }
        if element.hasPrefix("v:") {
            let wanted = try? OrderedJSON.parse(String(element.dropFirst(2)))
            return items.first { $0 == wanted }
        }
        if element.hasPrefix("k:"), let keys = try? OrderedJSON.parse(String(element.dropFirst(2))) {
            return items.first { item in keys.members.allSatisfy { key, value in item[key] == value || (item[key] == nil && key == "protocol" && value == .string("TCP")) } }
        }
        return nil
    }

    /// `object` without the value at `path`.
    public static func removing(_ path: [String], from object: OrderedJSON) -> OrderedJSON {
        guard let first = path.first else { return object }
        let rest = Array(path.dropFirst())
        if first.hasPrefix("f:") {
            let key = String(first.dropFirst(2))
            guard let member = object[key] else { return object }
            return object.setting([key], to: rest.isEmpty ? nil : removing(rest, from: member))
        }
        guard case .array(let items) = object, let target = child(first, of: object),
              let index = items.firstIndex(where: { $0 == target }) else { return object }
        var result = items
        if rest.isEmpty { result.remove(at: index) } else { result[index] = removing(rest, from: items[index]) }
        return .array(result)
    }

    /// How upstream prints a path in conflict messages: `.spec.containers[name="web"].image`.
    public static func describe(_ path: [String]) -> String {
        path.map { element -> String in
            if element.hasPrefix("f:") { return "." + element.dropFirst(2) }
            if element.hasPrefix("v:") { return "[=" + element.dropFirst(2) + "]" }
            if element.hasPrefix("k:"), let keys = try? OrderedJSON.parse(String(element.dropFirst(2))) {
                return "[" + keys.members.map { "\($0.0)=\($0.1.compact)" }.joined(separator: ",") + "]"
            }
            return element
        }.joined()
    }
}
