import BerthTemplate
import Foundation

/// Server-side apply (`PATCH` with `application/apply-patch+yaml`) and the field ownership it
/// rests on: each write records in `metadata.managedFields` which manager set which fields
/// (`Apply` entries for applies, `Update` entries for other writes). An apply merges the
/// configuration into the object along the schema's list types and map keys, removes the fields
/// the manager applied before and no longer applies (unless another manager also owns them), and
/// refuses (409) to change a field another manager owns unless forced, which takes it over.
public enum KubeServerSideApply {
    /// One `metadata.managedFields` entry.
    struct Entry {
        var manager: String
        var operation: String
        var apiVersion: String
        var time: String
        var subresource: String?
        var fields: KubeFieldSet

        init(manager: String, operation: String, apiVersion: String, time: String, subresource: String? = nil, fields: KubeFieldSet) {
            self.manager = manager
            self.operation = operation
            self.apiVersion = apiVersion
            self.time = time
            self.subresource = subresource
            self.fields = fields
        }

        init?(_ json: OrderedJSON) {
            guard let manager = json.string("manager"), let operation = json.string("operation") else { return nil }
            self.init(manager: manager, operation: operation, apiVersion: json.string("apiVersion") ?? "", time: json.string("time") ?? "",
                      subresource: json.string("subresource"), fields: KubeFieldSet(fieldsV1: json["fieldsV1"] ?? .object([])))
        }

        var json: OrderedJSON {
            var members: [(String, OrderedJSON)] = [("manager", .string(manager)), ("operation", .string(operation)),
                                                    ("apiVersion", .string(apiVersion)), ("time", .string(time)),
                                                    ("fieldsType", .string("FieldsV1")), ("fieldsV1", fields.fieldsV1)]
            if let subresource { members.append(("subresource", .string(subresource))) }
            return .object(members)
        }

        /// How upstream names the manager in conflict messages.
        var printed: String {
            let name = OrderedJSON.string(manager).compact
            return operation == "Update" ? "\(name) using \(apiVersion)" : name
        }
    }

    /// The metadata the server owns, which no manager does.
    static let serverOwned: [[String]] = [
        ["apiVersion"], ["kind"], ["metadata", "name"], ["metadata", "namespace"], ["metadata", "uid"], ["metadata", "resourceVersion"],
        ["metadata", "generation"], ["metadata", "creationTimestamp"], ["metadata", "deletionTimestamp"],
        ["metadata", "deletionGracePeriodSeconds"], ["metadata", "managedFields"], ["metadata", "selfLink"], ["status"],
    ]

    /// The fields of `object` that managers can own: all but the server's metadata and the
    /// status, or only the status for writes to `/status`.
    static func ownedFields(_ object: OrderedJSON, _ schema: KubeSchema?, subresource: String? = nil) -> KubeFieldSet {
        if subresource == "status" {
            return KubeFieldSet(of: .object(object["status"].map { [("status", $0)] } ?? []), schema: schema)
        }
        var stripped = object
        for path in serverOwned { stripped = stripped.setting(path, to: nil) }
        if case .object(let members)? = stripped["metadata"], members.isEmpty { stripped = stripped.setting(["metadata"], to: nil) }
        return KubeFieldSet(of: stripped, schema: schema)
    }

    static func entries(of object: OrderedJSON) -> [Entry] {
        (object.value(at: ["metadata", "managedFields"])?.items ?? []).compactMap(Entry.init)
    }

    static func setting(_ entries: [Entry], on object: OrderedJSON) -> OrderedJSON {
        let kept = entries.filter { !$0.fields.isEmpty }
        return object.setting(["metadata", "managedFields"], to: kept.isEmpty ? nil : .array(kept.map(\.json)))
    }

    static func now() -> String {
        Date(timeIntervalSince1970: Date.now.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    /// Applies `configuration` for `manager` to `live` (nil: the object does not exist yet) and
    /// answers the object to store, with its managed fields.
    /// `subresource` "status" applies only the configuration's status (`PATCH …/status`).
    public static func apply(_ configuration: OrderedJSON, to live: OrderedJSON?, manager: String, force: Bool,
                             resource: KubeResource, subresource: String? = nil) throws(KubeAPIError) -> OrderedJSON {
        guard !manager.isEmpty else {
            throw .badRequest("PATCH, application/apply-patch+yaml requests must specify a fieldManager")
        }
        let schema = KubeSchema.of(resource)
        let base = live ?? .object([])
        var entries = entries(of: base)
        let applied = ownedFields(configuration, schema, subresource: subresource)
        let isMine = { (entry: Entry) in entry.manager == manager && entry.operation == "Apply" && entry.subresource == subresource }
        let previous = entries.first(where: isMine)?.fields ?? KubeFieldSet()
        let scoped: OrderedJSON = if subresource == "status" {
            .object(configuration["status"].map { [("status", $0)] } ?? [])
        } else {
            configuration.setting(["status"], to: nil)
        }
        var merged = merge(base, scoped, schema, path: [])
        if live != nil {
            var conflicts: [(manager: String, path: [String])] = []
            for path in applied.leaves {
                let before = KubeFieldSet.value(at: path, in: base)
                guard !KubeObjectStore.sameContent(before, KubeFieldSet.value(at: path, in: configuration)) else { continue }
                for entry in entries where entry.manager != manager && entry.fields.contains(path) {
                    conflicts.append((entry.printed, path))
                }
            }
            if !conflicts.isEmpty, !force { throw conflict(conflicts, resource: resource, name: base.string("metadata", "name") ?? "") }
            for (index, entry) in entries.enumerated() where entry.manager != manager {
                for path in conflicts.map(\.path) where entry.fields.contains(path) {
                    entries[index].fields.subtract(KubeFieldSet([path]))
                }
            }
        }
        // Fields this manager applied before and no longer does go, unless someone else owns them.
        let others = entries.filter { !isMine($0) }
        let removable = previous.paths.subtracting(applied.paths).filter { path in
            !others.contains { entry in entry.fields.paths.contains { $0.starts(with: path) } }
        }
        let owned = others.reduce(applied) { union, entry in
            var union = union
            union.formUnion(entry.fields)
            return union
        }
        // Whole subtrees go at once (a list element by its keys, before its key fields are gone);
        // a list or map left empty goes too unless someone owns it.
        for path in removable where !removable.contains(where: { $0.count < path.count && path.starts(with: $0) }) {
            merged = KubeFieldSet.removing(path, from: merged)
            var parent = Array(path.dropLast())
            while !parent.isEmpty, !owned.contains(parent), let value = KubeFieldSet.value(at: parent, in: merged),
                  value == .array([]) || value == .object([]) {
                merged = KubeFieldSet.removing(parent, from: merged)
                parent.removeLast()
            }
        }
        entries.removeAll(where: isMine)
        entries.append(Entry(manager: manager, operation: "Apply", apiVersion: resource.apiVersion, time: now(), subresource: subresource,
                             fields: applied))
        return setting(entries, on: merged)
    }

    /// Records a non-apply write (create, update, patch) by `manager`: the fields it changed
    /// become its own and no longer anyone else's; fields the write removed leave every entry.
    /// A write that changes no field keeps the managed fields as they are.
    public static func recordUpdate(from live: OrderedJSON?, to object: OrderedJSON, manager: String, resource: KubeResource) -> OrderedJSON {
        let schema = KubeSchema.of(resource)
        let base = live ?? .object([])
        // A body without managed fields keeps the stored ones.
        var object = object
        if object.value(at: ["metadata", "managedFields"]) == nil, let kept = base.value(at: ["metadata", "managedFields"]) {
            object = object.setting(["metadata", "managedFields"], to: kept)
        }
        let current = ownedFields(object, schema)
        var changed = KubeFieldSet()
        for path in current.paths {
            let before = KubeFieldSet.value(at: path, in: base)
            let leaf = !current.paths.contains { $0.count > path.count && $0.starts(with: path) }
            if before == nil || (leaf && !KubeObjectStore.sameContent(before, KubeFieldSet.value(at: path, in: object))) {
                changed.formUnion(KubeFieldSet([path]))
            }
        }
        var entries = entries(of: object)
        var touched = false
        for index in entries.indices {
            let kept = KubeFieldSet(entries[index].fields.paths.filter { current.contains($0) })
            var updated = kept
            if entries[index].manager != manager || entries[index].operation != "Update" { updated.subtract(changed) }
            if updated != entries[index].fields {
                entries[index].fields = updated
                touched = true
            }
        }
        if !changed.isEmpty, !manager.isEmpty {
            if let index = entries.firstIndex(where: { $0.manager == manager && $0.operation == "Update" && $0.subresource == nil }) {
                entries[index].fields.formUnion(changed)
                entries[index].time = now()
            } else {
                entries.append(Entry(manager: manager, operation: "Update", apiVersion: resource.apiVersion, time: now(), fields: changed))
            }
            touched = true
        }
        return touched ? setting(entries, on: object) : object
    }

    /// The 409 upstream answers for conflicting fields.
    static func conflict(_ conflicts: [(manager: String, path: [String])], resource: KubeResource, name: String) -> KubeAPIError {
        let message: String
        if conflicts.count == 1 {
            message = "Apply failed with 1 conflict: conflict with \(conflicts[0].manager): \(KubeFieldSet.describe(conflicts[0].path))"
        } else {
            var lines: [String] = []
            for manager in Set(conflicts.map(\.manager)).sorted() {
                lines.append("conflicts with \(manager):")
                lines += conflicts.filter { $0.manager == manager }.map { "- " + KubeFieldSet.describe($0.path) }
            }
            message = "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
        }
        return KubeAPIError(code: 409, reason: "Conflict", message: message, name: name, group: resource.group, kind: resource.plural,
                            causes: conflicts.map { .init(reason: "FieldManagerConflict", message: "conflict with \($0.manager)",
                                                          field: KubeFieldSet.describe($0.path)) })
    }

    /// The configuration merged into `live`: structs and maps field by field, keyed lists element
    /// by element, sets as unions; everything else (atomic lists, scalars) replaced.
    static func merge(_ live: OrderedJSON, _ configuration: OrderedJSON, _ schema: KubeSchema?, path: [String]) -> OrderedJSON {
        switch (live, configuration) {
        case (.object, .object(let members)):
            if let schema, schema.preservesUnknownFields || schema.mapType == "atomic" { return configuration }
            var result = live
            for (key, value) in members {
                if value == .null {
                    result = result.setting([key], to: nil)
                    continue
                }
                let inner = schema?.property(key)
                result = result.setting([key], to: result[key].map { merge($0, value, inner, path: path + [key]) } ?? value)
            }
            return result
        case (.array(let current), .array(let incoming)):
            guard let schema, let element = schema.items else { return configuration }
            switch schema.listType {
            case "set":
                var result = current
                for item in incoming where !result.contains(item) { result.append(item) }
                return .array(result)
            case "map":
                var result = current
                for item in incoming {
                    let identity = KubeFieldSet.identity(of: item, keys: schema.listMapKeys)
                    if let index = result.firstIndex(where: { KubeFieldSet.identity(of: $0, keys: schema.listMapKeys) == identity }) {
                        result[index] = merge(result[index], item, element, path: path)
                    } else {
                        result.append(item)
                    }
                }
                return .array(result)
            default:
                return configuration
            }
        default:
            return configuration
        }
    }
}
