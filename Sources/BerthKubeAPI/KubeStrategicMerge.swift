import BerthTemplate

/// Strategic merge patch (`application/strategic-merge-patch+json`, what `kubectl apply` and
/// `edit` send): a merge patch in which some lists merge element by element instead of being
/// replaced, steered by `$patch`, `$retainKeys`, `$setElementOrder/…` and
/// `$deleteFromPrimitiveList/…` directives. Which lists merge, and by which key, is the kind's
/// patch metadata in the schema table (`KubeSchema.listStrategies`).
public enum KubeStrategicMerge {
    /// How a list field merges.
    public enum ListStrategy: Sendable, Equatable {
        /// Elements are objects matched by the value of `key`.
        case mergeByKey(String)
        /// Elements are primitive values; the patch's values are added (a union).
        case mergePrimitives
    }

    /// Applies `patch` to `target`; `strategy` gives the list strategy of a field path.
    public static func apply(_ patch: OrderedJSON, to target: OrderedJSON,
                             strategy: (_ path: [String]) -> ListStrategy?) throws(KubeAPIError) -> OrderedJSON {
        try mergeMap(target, patch, path: [], strategy: strategy)
    }

    private static func mergeMap(_ target: OrderedJSON, _ patch: OrderedJSON, path: [String],
                                 strategy: (_ path: [String]) -> ListStrategy?) throws(KubeAPIError) -> OrderedJSON {
        guard case .object(let changes) = patch else { return patch }
        var result: OrderedJSON = if case .object = target { target } else { .object([]) }
        switch patch.string("$patch") {
        case "replace":
            return .object(changes.filter { $0.0 != "$patch" })
        case "delete":
            return .object([])
        case nil, "merge":
            break
        case let other?:
            throw .badRequest("unknown patch type: \(other) in map: \(patch.compact)")
        }
        var retainKeys: [String]?
        var orders: [(String, [OrderedJSON])] = []
        for (key, value) in changes {
            if key == "$patch" { continue }
            if key == "$retainKeys" {
                guard case .array(let keys) = value else { throw .badRequest("$retainKeys must be a list of strings") }
                retainKeys = keys.compactMap { if case .string(let text) = $0 { text } else { nil } }
                continue
            }
            if key.hasPrefix("$setElementOrder/") {
                guard case .array(let order) = value else { throw .badRequest("\(key) must be a list") }
                orders.append((String(key.dropFirst("$setElementOrder/".count)), order))
                continue
            }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                guard case .array(let removed) = value else { throw .badRequest("\(key) must be a list") }
                if case .array(let items)? = result[field] {
                    result = result.setting([field], to: .array(items.filter { !removed.contains($0) }))
                }
                continue
            }
            if value == .null {
                result = result.setting([key], to: nil)
                continue
            }
            let fieldPath = path + [key]
            switch (result[key], value) {
            case (.array(let current)?, .array(let incoming)):
                result = result.setting([key], to: try mergeList(current, incoming, path: fieldPath, strategy: strategy))
            case (_, .array(let incoming)):
                result = result.setting([key], to: try mergeList([], incoming, path: fieldPath, strategy: strategy))
            case (_, .object):
                let merged = try mergeMap(result[key] ?? .object([]), value, path: fieldPath, strategy: strategy)
                result = result.setting([key], to: merged)
            default:
                result = result.setting([key], to: value)
            }
        }
        for (field, order) in orders {
            guard case .array(let items)? = result[field] else { continue }
            let original: [OrderedJSON] = if case .array(let before)? = target[field] { before } else { [] }
            result = result.setting([field], to: .array(ordered(items, by: order, original: original, strategy: strategy(path + [field]))))
        }
        if let retainKeys {
            result = .object(result.members.filter { retainKeys.contains($0.0) })
        }
        return result
    }

    private static func mergeList(_ current: [OrderedJSON], _ incoming: [OrderedJSON], path: [String],
                                  strategy: (_ path: [String]) -> ListStrategy?) throws(KubeAPIError) -> OrderedJSON {
        switch strategy(path) {
        case nil:
            // No strategy: the patch's list replaces the live one (directives are not allowed in it).
            return .array(incoming.filter { $0.string("$patch") == nil })
        case .mergePrimitives:
            var result = current
            for value in incoming where !result.contains(value) { result.append(value) }
            return .array(result)
        case .mergeByKey(let key):
            if incoming.contains(where: { $0.string("$patch") == "replace" }) {
                return .array(incoming.filter { $0.string("$patch") == nil })
            }
            var result = current
            for element in incoming {
                guard let identity = element[key] else {
                    throw .badRequest("map: \(element.compact) does not contain declared merge key: \(key)")
                }
                let index = result.firstIndex { $0[key] == identity }
                if element.string("$patch") == "delete" {
                    if let index { result.remove(at: index) }
                } else if let index {
                    result[index] = try mergeMap(result[index], element, path: path, strategy: strategy)
                } else {
                    result.append(try mergeMap(.object([]), element, path: path, strategy: strategy))
                }
            }
            return .array(result)
        }
    }

    /// `$setElementOrder`: the listed elements in the given order, merged with the elements only
    /// the server has (in their order) by their positions in the server's list before the patch;
    /// elements new to the server sort first.
    private static func ordered(_ items: [OrderedJSON], by order: [OrderedJSON], original: [OrderedJSON],
                                strategy: ListStrategy?) -> [OrderedJSON] {
        func identity(_ item: OrderedJSON) -> OrderedJSON? {
            if case .mergeByKey(let key)? = strategy { return item[key] }
            return item
        }
        let wanted = order.map(identity)
        let listed = wanted.compactMap { key in items.first { identity($0) == key } }
        let serverOnly = items.filter { !wanted.contains(identity($0)) }
        func position(_ item: OrderedJSON) -> Int {
            original.firstIndex { identity($0) == identity(item) } ?? -1
        }
        var result: [OrderedJSON] = []
        var left = listed[...], right = serverOnly[...]
        while let first = left.first, let second = right.first {
            if position(first) < position(second) {
                result.append(first)
                left = left.dropFirst()
            } else {
                result.append(second)
                right = right.dropFirst()
            }
        }
        return result + left + right
    }
}
