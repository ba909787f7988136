import BerthTemplate

extension OrderedJSON {
    /// `self` with `value` at `path` unless a non-null value is there: the apiserver's defaulting
    /// of an unset field.
    func defaulting(_ path: [String], _ value: OrderedJSON) -> OrderedJSON {
        if let existing = self.value(at: path), existing != .null { return self }
        return setting(path, to: value)
    }

    /// `self` with each element of the array at `path` transformed (nothing when there is no array).
    func mappingArray(_ path: [String], _ transform: (OrderedJSON) -> OrderedJSON) -> OrderedJSON {
        guard case .array(let items)? = value(at: path) else { return self }
        return setting(path, to: .array(items.map(transform)))
    }

    /// `self` with `creationTimestamp: null` in the embedded metadata at `path` unless it has one.
    func withNullCreationTimestamp(at path: [String]) -> OrderedJSON {
        value(at: path + ["creationTimestamp"]) == nil ? setting(path + ["creationTimestamp"], to: .null) : self
    }

    /// The elements of the array at `path`; empty for anything else.
    func items(_ path: String...) -> [OrderedJSON] { items(at: path) }

    func items(at path: [String]) -> [OrderedJSON] {
        guard case .array(let items)? = value(at: path) else { return [] }
        return items
    }

    /// Whether a non-null value is at `path`.
    func has(_ path: String...) -> Bool { has(at: path) }

    func has(at path: [String]) -> Bool {
        guard let value = value(at: path) else { return false }
        return value != .null
    }
}

extension KubeKinds {
    typealias Cause = KubeAPIError.Cause

    static func required(_ field: String, _ detail: String = "") -> Cause {
        Cause(reason: "FieldValueRequired", message: detail.isEmpty ? "Required value" : "Required value: \(detail)", field: field)
    }

    static func invalid(_ field: String, _ value: String, _ detail: String) -> Cause {
        Cause(reason: "FieldValueInvalid", message: "Invalid value: \(value): \(detail)", field: field)
    }

    static func unsupported(_ field: String, _ value: String, _ supported: [String]) -> Cause {
        Cause(reason: "FieldValueNotSupported",
              message: "Unsupported value: \(quoted(value)): supported values: \(supported.map(quoted).joined(separator: ", "))", field: field)
    }

    static func forbidden(_ field: String, _ detail: String) -> Cause {
        Cause(reason: "FieldValueForbidden", message: "Forbidden: \(detail)", field: field)
    }

    static func duplicate(_ field: String, _ value: String) -> Cause {
        Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \(quoted(value))", field: field)
    }

    /// A number as the apiserver prints an invalid one (`-1`).
    static func numberText(_ value: OrderedJSON?) -> String {
        if case .number(let text)? = value { return text }
        return value?.compact ?? "null"
    }

    /// Go's `%#v` of a `map[string]string` (keys sorted), as validation messages print label maps.
    static func goStringMap(_ map: [String: String]?) -> String {
        guard let map else { return "map[string]string(nil)" }
        return "map[string]string{" + map.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(quoted($0.value))" }.joined(separator: ", ") + "}"
    }

    /// Go's `%#v` of a `*v1.LabelSelector`'s value, as "field is immutable" messages print selectors.
    static func goLabelSelector(_ selector: OrderedJSON?) -> String {
        let labels = goStringMap(selector?.stringMap(at: ["matchLabels"]))
        let expressions = selector?.items("matchExpressions") ?? []
        let expressionText = expressions.isEmpty && !(selector?.has("matchExpressions") ?? false)
            ? "[]v1.LabelSelectorRequirement(nil)"
            : "[]v1.LabelSelectorRequirement{" + expressions.map { expression in
                let values = expression.value(at: ["values"]).flatMap { value -> String? in
                    guard case .array(let items) = value else { return nil }
                    return "[]string{" + items.map { $0.compact }.joined(separator: ", ") + "}"
                } ?? "[]string(nil)"
                return "v1.LabelSelectorRequirement{Key:\(quoted(expression.string("key") ?? "")), Operator:\(quoted(expression.string("operator") ?? "")), Values:\(values)}"
            }.joined(separator: ", ") + "}"
        return "v1.LabelSelector{MatchLabels:\(labels), MatchExpressions:\(expressionText)}"
    }

    /// The selector as a label-selector string (`app=web,tier in (a,b)`), requirements sorted by
    /// key; "" for an empty selector.
    public static func selectorString(_ selector: OrderedJSON?) -> String {
        guard let selector, case .object = selector else { return "" }
        var parts: [(String, String)] = (selector.stringMap(at: ["matchLabels"]) ?? [:]).map { ($0.key, "\($0.key)=\($0.value)") }
        for expression in selector.items("matchExpressions") {
            let key = expression.string("key") ?? ""
            let values = expression.items("values").compactMap { $0.string() }.sorted().joined(separator: ",")
            switch expression.string("operator") ?? "" {
            case "In": parts.append((key, "\(key) in (\(values))"))
            case "NotIn": parts.append((key, "\(key) notin (\(values))"))
            case "Exists": parts.append((key, key))
            case "DoesNotExist": parts.append((key, "!\(key)"))
            default: break
            }
        }
        return parts.sorted { $0.0 < $1.0 }.map(\.1).joined(separator: ",")
    }

    /// Whether `selector` (a LabelSelector object) selects `labels`; a missing selector selects nothing.
    static func selects(_ selector: OrderedJSON?, _ labels: [String: String]) -> Bool {
        guard let selector, case .object = selector,
              let spec = try? selector.decode(LabelSelectorSpec.self) else { return false }
        return spec.selector.matches(labels)
    }
}
