import BerthTemplate

/// The OpenAPI v3 documents kubectl reads before `apply`, `create -f` and `replace -f`: per group
/// version, every path and operation served, each tagged with its kind
/// (`x-kubernetes-group-version-kind`), the PATCH operations with the patch types accepted and the
/// inline `fieldValidation` parameter, which makes kubectl leave validation to the server.
/// Components carry no schemas yet: kubectl then computes apply patches from the types compiled
/// into it, which it has for every kind served so far.
public enum KubeOpenAPI {
    /// The group versions that have a document, as the index names them (`api/v1`, `apis/apps/v1`).
    public static func groupVersionPaths(_ registry: KubeResourceRegistry) -> [String] {
        KubeDiscovery.groups(registry).flatMap { entry in
            entry.versions.map { entry.group.isEmpty ? "api/\($0)" : "apis/\(entry.group)/\($0)" }
        }
    }

    /// The document of `path` (`api/v1`); nil when no group version is served there.
    public static func document(_ registry: KubeResourceRegistry, path: String) -> OrderedJSON? {
        let resources = registry.resources.filter { ($0.group.isEmpty ? "api/\($0.version)" : "apis/\($0.group)/\($0.version)") == path }
        guard !resources.isEmpty else { return nil }
        var paths: [(String, OrderedJSON)] = []
        for resource in resources {
            let prefix = "/" + path
            let collection = resource.namespaced ? "\(prefix)/namespaces/{namespace}/\(resource.plural)" : "\(prefix)/\(resource.plural)"
            let item = collection + "/{name}"
            var collectionOperations: [(String, OrderedJSON)] = [
                ("get", operation(resource, action: "list", id: "list")),
                ("post", operation(resource, action: "post", id: "create", fieldValidation: true)),
            ]
            if resource.verbs.contains("deletecollection") {
                collectionOperations.append(("delete", operation(resource, action: "deletecollection", id: "deletecollection")))
            }
            let pathParameters = resource.namespaced ? [parameter("namespace", in: "path")] : []
            paths.append((collection, .object(collectionOperations + [("parameters", .array(pathParameters))])))
            paths.append((item, .object([
                ("get", operation(resource, action: "get", id: "read")),
                ("put", operation(resource, action: "put", id: "replace", fieldValidation: true)),
                ("patch", operation(resource, action: "patch", id: "patch", fieldValidation: true, patchTypes: true)),
                ("delete", operation(resource, action: "delete", id: "delete")),
                ("parameters", .array([parameter("name", in: "path")] + pathParameters)),
            ])))
            if resource.namespaced {
                paths.append(("\(prefix)/\(resource.plural)", .object([("get", operation(resource, action: "list", id: "listForAllNamespaces"))])))
            }
        }
        return .object([
            ("openapi", .string("3.0.0")),
            ("info", .object([("title", .string("Kubernetes")), ("version", KubeDiscovery.version["gitVersion"] ?? .string(""))])),
            ("paths", .object(paths)),
            ("components", .object([("schemas", .object([]))])),
        ])
    }

    private static func operation(_ resource: KubeResource, action: String, id: String,
                                  fieldValidation: Bool = false, patchTypes: Bool = false) -> OrderedJSON {
        var members: [(String, OrderedJSON)] = [
            ("operationId", .string("\(id)\(resource.kind)")),
            ("x-kubernetes-action", .string(action)),
            ("x-kubernetes-group-version-kind", .object([("group", .string(resource.group)), ("version", .string(resource.version)),
                                                         ("kind", .string(resource.kind))])),
        ]
        var parameters: [OrderedJSON] = []
        if fieldValidation {
            parameters += [parameter("dryRun"), parameter("fieldManager"), parameter("fieldValidation")]
        }
        if !parameters.isEmpty { members.append(("parameters", .array(parameters))) }
        if patchTypes {
            let types = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"]
            members.append(("requestBody", .object([("content", .object(types.map { ($0, .object([("schema", .object([("type", .string("object"))]))])) })),
                                                    ("required", .bool(true))])))
        } else if fieldValidation {
            members.append(("requestBody", .object([("content", .object([("*/*", .object([("schema", .object([("type", .string("object"))]))]))])),
                                                    ("required", .bool(true))])))
        }
        members.append(("responses", .object([("200", .object([("description", .string("OK"))]))])))
        return .object(members)
    }

    private static func parameter(_ name: String, in location: String = "query") -> OrderedJSON {
        var members: [(String, OrderedJSON)] = [("name", .string(name)), ("in", .string(location))]
        if location == "path" { members.append(("required", .bool(true))) }
        members.append(("schema", .object([("type", .string("string")), ("uniqueItems", .bool(true))])))
        return .object(members)
    }
}
