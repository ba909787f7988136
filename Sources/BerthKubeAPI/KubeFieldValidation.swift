import BerthTemplate

/// Server-side field validation (`fieldValidation=Strict|Warn|Ignore`, default Warn): fields the
/// kind does not have are an error (Strict, 400), a warning each (Warn), or nothing (Ignore), and
/// are dropped from the stored object in every mode, as decoding into the kind's type drops them.
public enum KubeFieldValidation: String, Sendable {
    case strict = "Strict"
    case warn = "Warn"
    case ignore = "Ignore"

    /// The fields each served kind has: named fields, lists of them, or `free` content (a map of
    /// user keys, or a value).
    indirect enum Shape: Sendable {
        case fields([String: Shape])
        case list(Shape)
        case free
    }

    static let objectMeta: Shape = .fields([
        "name": .free, "generateName": .free, "namespace": .free, "selfLink": .free, "uid": .free,
        "resourceVersion": .free, "generation": .free, "creationTimestamp": .free, "deletionTimestamp": .free,
        "deletionGracePeriodSeconds": .free, "labels": .free, "annotations": .free, "finalizers": .free, "managedFields": .free,
        "ownerReferences": .list(.fields(["apiVersion": .free, "kind": .free, "name": .free, "uid": .free,
                                          "controller": .free, "blockOwnerDeletion": .free])),
    ])

    static func shape(_ kind: String) -> Shape? {
        let common: [String: Shape] = ["apiVersion": .free, "kind": .free, "metadata": objectMeta]
        switch kind {
        case "ConfigMap":
            return .fields(common.merging(["data": .free, "binaryData": .free, "immutable": .free]) { $1 })
        case "Secret":
            return .fields(common.merging(["data": .free, "stringData": .free, "type": .free, "immutable": .free]) { $1 })
        case "Namespace":
            return .fields(common.merging([
                "spec": .fields(["finalizers": .free]),
                "status": .fields(["phase": .free, "conditions": .free]),
            ]) { $1 })
        case "Event":
            let reference: Shape = .fields(["kind": .free, "namespace": .free, "name": .free, "uid": .free, "apiVersion": .free,
                                            "resourceVersion": .free, "fieldPath": .free])
            return .fields(common.merging([
                "involvedObject": reference, "related": reference, "reason": .free, "message": .free,
                "source": .fields(["component": .free, "host": .free]), "firstTimestamp": .free, "lastTimestamp": .free,
                "count": .free, "type": .free, "eventTime": .free, "series": .fields(["count": .free, "lastObservedTime": .free]),
                "action": .free, "reportingComponent": .free, "reportingInstance": .free,
            ]) { $1 })
        default:
            return nil
        }
    }

    /// The object without unknown fields, and the warnings (`unknown field "spec.foo"`) for them.
    /// Strict mode throws instead, with upstream's message.
    public func check(_ object: OrderedJSON, _ resource: KubeResource) throws(KubeAPIError) -> (OrderedJSON, [String]) {
        guard let shape = Self.shape(resource.kind) else { return (object, []) }
        var unknown: [String] = []
        let cleaned = Self.prune(object, shape, path: "", unknown: &unknown)
        let problems = unknown.map { "unknown field \"\($0)\"" }
        if self == .strict, !problems.isEmpty {
            throw .badRequest("\(resource.kind) in version \"\(resource.version)\" cannot be handled as a \(resource.kind): strict decoding error: "
                              + problems.joined(separator: ", "))
        }
        return (cleaned, self == .warn ? problems : [])
    }

    private static func prune(_ value: OrderedJSON, _ shape: Shape, path: String, unknown: inout [String]) -> OrderedJSON {
        switch (shape, value) {
        case (.fields(let fields), .object(let members)):
            var kept: [(String, OrderedJSON)] = []
            for (key, member) in members {
                let memberPath = path.isEmpty ? key : "\(path).\(key)"
                guard let inner = fields[key] else {
                    unknown.append(memberPath)
                    continue
                }
                kept.append((key, prune(member, inner, path: memberPath, unknown: &unknown)))
            }
            return .object(kept)
        case (.list(let element), .array(let items)):
            return .array(items.enumerated().map { prune($1, element, path: "\(path)[\($0)]", unknown: &unknown) })
        default:
            return value
        }
    }
}
