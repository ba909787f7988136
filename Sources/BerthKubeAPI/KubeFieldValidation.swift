import BerthTemplate

/// Server-side field validation (`fieldValidation=Strict|Warn|Ignore`, default Warn), driven by
/// the kind's schema: fields the kind does not have and fields given twice are an error (Strict,
/// 400), a warning each (Warn), or nothing (Ignore); unknown fields are dropped from the stored
/// object in every mode, and of a duplicate the last value counts, as upstream's decoder does. A
/// value of the wrong type is a 400 in every mode, with the decoder's message.
public enum KubeFieldValidation: String, Sendable {
    case strict = "Strict"
    case warn = "Warn"
    case ignore = "Ignore"

    /// The object without unknown or repeated fields, and the warnings (`unknown field
    /// "spec.foo"`) for them. Strict mode throws instead, with upstream's message.
    public func check(_ object: OrderedJSON, _ resource: KubeResource) throws(KubeAPIError) -> (OrderedJSON, [String]) {
        guard let root = KubeSchema.of(resource) else { return (object, []) }
        var walk = Walk(owner: root.structName)
        let cleaned = walk.visit(object, root, path: "", fields: [])
        let prefix = "\(resource.kind) in version \"\(resource.version)\" cannot be handled as a \(resource.kind): "
        if let typeError = walk.typeError { throw .badRequest(prefix + typeError) }
        if self == .strict, !walk.problems.isEmpty {
            throw .badRequest(prefix + "strict decoding error: " + walk.problems.joined(separator: ", "))
        }
        return (cleaned, self == .warn ? walk.problems : [])
    }

    /// One pass over a value and its schema.
    private struct Walk {
        /// The struct whose field is being decoded (`DeploymentSpec`), as type errors name it.
        var owner: String
        var problems: [String] = []
        var typeError: String?

        mutating func visit(_ value: OrderedJSON, _ schema: KubeSchema, path: String, fields: [String]) -> OrderedJSON {
            if value == .null || schema.preservesUnknownFields { return value }
            if schema.isIntOrString {
                if case .string = value { return value }
                if case .number(let text) = value, Int64(text) != nil { return value }
                return mismatch(value, schema, fields)
            }
            if schema.isQuantity {
                switch value {
                case .string, .number: return value
                default: return mismatch(value, schema, fields)
                }
            }
            switch (schema.type, value) {
            case ("object", .object(let members)):
                return visitObject(members, schema, path: path, fields: fields)
            case ("array", .array(let elements)):
                guard let element = schema.items else { return value }
                return .array(elements.enumerated().map { index, item in
                    visit(item, element, path: "\(path)[\(index)]", fields: fields)
                })
            case ("string", .string), ("boolean", .bool), ("number", .number):
                return value
            case ("integer", .number(let text)):
                let fits = schema.format == "int32" ? Int32(text) != nil : Int64(text) != nil
                return fits ? value : mismatch(value, schema, fields)
            case (nil, _):
                return value
            default:
                return mismatch(value, schema, fields)
            }
        }

        private mutating func visitObject(_ members: [(String, OrderedJSON)], _ schema: KubeSchema, path: String, fields: [String]) -> OrderedJSON {
            let isStruct = schema.schema["properties"] != nil
            let isMap = !isStruct && schema.schema["additionalProperties"] != nil
            if !isStruct, !isMap { return .object(members) }
            let enclosing = owner
            if isStruct { owner = schema.structName }
            defer { owner = enclosing }
            var kept: [(String, OrderedJSON)] = []
            var seen: [String: Int] = [:]
            for (key, member) in members {
                let memberPath = path.isEmpty ? key : "\(path).\(key)"
                guard let inner = schema.property(key) else {
                    problems.append("unknown field \(OrderedJSON.string(memberPath).compact)")
                    continue
                }
                let checked = visit(member, inner, path: memberPath, fields: isStruct ? fields + [key] : fields)
                if let index = seen[key] {
                    problems.append("duplicate field \(OrderedJSON.string(memberPath).compact)")
                    kept[index].1 = checked
                } else {
                    seen[key] = kept.count
                    kept.append((key, checked))
                }
            }
            return .object(kept)
        }

        /// Records upstream's decoder error for the earliest value of the wrong type.
        private mutating func mismatch(_ value: OrderedJSON, _ schema: KubeSchema, _ fields: [String]) -> OrderedJSON {
            guard typeError == nil else { return value }
            let found: String
            switch value {
            case .string: found = "string"
            case .number(let text): found = schema.type == "integer" ? "number \(text)" : "number"
            case .bool: found = "bool"
            case .array: found = "array"
            case .object: found = "object"
            case .null: found = "null"
            }
            let target = fields.isEmpty ? "Go value" : "Go struct field \(owner).\(fields.joined(separator: "."))"
            typeError = "json: cannot unmarshal \(found) into \(target) of type \(schema.goTypeName)"
            return value
        }
    }
}

extension KubeSchema {
    /// The Go struct name of a definition (`DeploymentSpec`).
    var structName: String {
        definition.map { String($0.split(separator: ".").last ?? "") } ?? ""
    }
}
