import BerthTemplate

/// The `scale` subresource: an autoscaling/v1 Scale view of an object's replica count.
public enum KubeScale {
    /// The Scale of a Deployment, ReplicaSet or StatefulSet.
    public static func scale(of object: OrderedJSON) throws -> OrderedJSON {
        var metadata: [(String, OrderedJSON)] = []
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let value = object.value(at: ["metadata", field]) { metadata.append((field, value)) }
        }
        var status: [(String, OrderedJSON)] = [("replicas", .int(object.value(at: ["status", "replicas"])?.int ?? 0))]
        let selector = KubeKinds.selectorString(object.value(at: ["spec", "selector"]))
        if !selector.isEmpty { status.append(("selector", .string(selector))) }
        return .object([("kind", .string("Scale")), ("apiVersion", .string("autoscaling/v1")), ("metadata", .object(metadata)),
                        ("spec", .object([("replicas", .int(object.value(at: ["spec", "replicas"])?.int ?? 0))])),
                        ("status", .object(status))])
    }

    /// `object` with the Scale's `spec.replicas`, or 422 for a negative count.
    public static func applying(_ scale: OrderedJSON, to object: OrderedJSON, name: String) throws(KubeAPIError) -> OrderedJSON {
        if let kind = scale.string("kind"), !kind.isEmpty, kind != "Scale" {
            throw .badRequest("the API version in the data (\(scale.string("apiVersion") ?? "")) does not match the expected API version (autoscaling/v1)")
        }
        let replicas = scale.value(at: ["spec", "replicas"])?.int ?? 0
        guard replicas >= 0 else {
            let cause = KubeAPIError.Cause(reason: "FieldValueInvalid", message: "Invalid value: \(replicas): must be greater than or equal to 0", field: "spec.replicas")
            throw KubeAPIError(code: 422, reason: "Invalid", message: "Scale.autoscaling \"\(name)\" is invalid: spec.replicas: \(cause.message)",
                               name: name, group: "autoscaling", kind: "Scale", causes: [cause])
        }
        return object.setting(["spec", "replicas"], to: .int(replicas))
    }
}
