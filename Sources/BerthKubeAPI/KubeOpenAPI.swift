import BerthTemplate
import Foundation

/// The OpenAPI documents kubectl reads before `apply`, `create -f`, `replace -f` and `explain`:
/// per group version (v3), every path and operation served, each tagged with its kind
/// (`x-kubernetes-group-version-kind`), the PATCH operations with the patch types accepted and the
/// inline `fieldValidation` parameter (which makes kubectl leave validation to the server), and
/// the schemas of the kinds served there from Berth's schema table (kubectl computes apply's
/// strategic merge patches from their patch metadata). `/openapi/v2` is the same in one
/// Swagger 2.0 document.
public enum KubeOpenAPI {
    /// The group versions that have a document, as the index names them (`api/v1`, `apis/apps/v1`).
    public static func groupVersionPaths(_ registry: KubeResourceRegistry) -> [String] {
        KubeDiscovery.groups(registry).flatMap { entry in
            entry.versions.map { entry.group.isEmpty ? "api/\($0)" : "apis/\(entry.group)/\($0)" }
        }
    }

    private static func documentPath(_ resource: KubeResource) -> String {
        resource.group.isEmpty ? "api/\(resource.version)" : "apis/\(resource.group)/\(resource.version)"
    }

    /// The v3 document of `path` (`api/v1`); nil when no group version is served there.
    public static func document(_ registry: KubeResourceRegistry, path: String) -> OrderedJSON? {
        let resources = registry.resources.filter { documentPath($0) == path }
        guard !resources.isEmpty else { return nil }
        return .object([
            ("openapi", .string("3.0.0")),
            ("info", info),
            ("paths", .object(resources.flatMap { paths($0, v2: false) })),
            ("components", .object([("schemas", .object(schemas(for: resources, v2: false)))])),
        ])
    }

    /// The v2 (Swagger 2.0) document of every served resource.
    public static func swagger(_ registry: KubeResourceRegistry) -> OrderedJSON {
        .object([
            ("swagger", .string("2.0")),
            ("info", info),
            ("paths", .object(registry.resources.flatMap { paths($0, v2: true) })),
            ("definitions", .object(schemas(for: registry.resources, v2: true))),
        ])
    }

    private static var info: OrderedJSON {
        .object([("title", .string("Kubernetes")), ("version", KubeDiscovery.version["gitVersion"] ?? .string(""))])
    }

    // MARK: Schemas

    /// The kinds' schemas, their lists' and the API machinery's (Status, DeleteOptions, Patch,
    /// WatchEvent), and everything those reach.
    private static func schemas(for resources: [KubeResource], v2: Bool) -> [(String, OrderedJSON)] {
        var roots = ["io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
                     "io.k8s.apimachinery.pkg.apis.meta.v1.Patch", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"]
        for resource in resources {
            for kind in [resource.kind, resource.listKind] {
                if let name = KubeSchema.definitionName(group: resource.group, version: resource.version, kind: kind) { roots.append(name) }
            }
            for subresource in subresourceKinds(resource) {
                if let name = KubeSchema.definitionName(group: subresource.group, version: subresource.version, kind: subresource.kind) {
                    roots.append(name)
                }
            }
        }
        return KubeSchema.reachable(from: roots).compactMap { name in
            KubeSchema.table[name].map { (name, v2 ? swaggerSchema($0) : $0) }
        }
    }

    /// Swagger 2.0 spells references `#/definitions/…`.
    private static func swaggerSchema(_ schema: OrderedJSON) -> OrderedJSON {
        switch schema {
        case .object(let members):
            return .object(members.map { key, value in
                if key == "$ref", let reference = value.stringValue {
                    return (key, .string("#/definitions/" + reference.dropFirst(KubeSchema.referencePrefix.count)))
                }
                return (key, swaggerSchema(value))
            })
        case .array(let items):
            return .array(items.map(swaggerSchema))
        default:
            return schema
        }
    }

    // MARK: Paths

    private struct Target {
        var group: String
        var version: String
        var kind: String
    }

    /// The kinds a resource's subresources answer with (`scale`: autoscaling/v1 Scale).
    private static func subresourceKinds(_ resource: KubeResource) -> [Target] {
        var kinds = resource.subresources.filter { $0.verbs.contains("update") }.map { Target(group: $0.group, version: $0.version, kind: $0.kind) }
        if resource.group.isEmpty, resource.kind == "Namespace" { kinds.append(Target(group: "", version: "v1", kind: "Namespace")) }
        return kinds
    }

    /// The subresources with documented operations: those clients write (not `log`), and a
    /// namespace's `finalize`.
    private static func subresourceNames(_ resource: KubeResource) -> [String] {
        var names = resource.subresources.filter { $0.verbs.contains("update") }.map(\.name)
        if resource.group.isEmpty, resource.kind == "Namespace" { names.append("finalize") }
        return names
    }

    private static func paths(_ resource: KubeResource, v2: Bool) -> [(String, OrderedJSON)] {
        let target = Target(group: resource.group, version: resource.version, kind: resource.kind)
        let list = Target(group: resource.group, version: resource.version, kind: resource.listKind)
        let prefix = "/" + documentPath(resource)
        let collection = resource.namespaced ? "\(prefix)/namespaces/{namespace}/\(resource.plural)" : "\(prefix)/\(resource.plural)"
        let item = collection + "/{name}"
        let namespaceParameter = resource.namespaced ? [parameter("namespace", in: "path", v2: v2)] : []
        var collectionOperations: [(String, OrderedJSON)] = []
        if resource.verbs.contains("list") {
            collectionOperations.append(("get", operation(resource, target, action: "list", id: "list", response: list, v2: v2)))
        }
        if resource.verbs.contains("create") {
            collectionOperations.append(("post", operation(resource, target, action: "post", id: "create", writes: true, response: target, v2: v2)))
        }
        if resource.verbs.contains("deletecollection") {
            collectionOperations.append(("delete", operation(resource, target, action: "deletecollection", id: "deletecollection",
                                                             response: nil, v2: v2)))
        }
        var result: [(String, OrderedJSON)] = [
            (collection, .object(collectionOperations + [("parameters", .array(namespaceParameter + [parameter("pretty", v2: v2)]))])),
        ]
        var itemOperations: [(String, OrderedJSON)] = [("get", operation(resource, target, action: "get", id: "read", response: target, v2: v2))]
        if resource.verbs.contains("update") {
            itemOperations.append(("put", operation(resource, target, action: "put", id: "replace", writes: true, response: target, v2: v2)))
        }
        if resource.verbs.contains("patch") {
            itemOperations.append(("patch", operation(resource, target, action: "patch", id: "patch", writes: true, patch: true, response: target, v2: v2)))
        }
        if resource.verbs.contains("delete") {
            itemOperations.append(("delete", operation(resource, target, action: "delete", id: "delete", response: nil, v2: v2)))
        }
        let itemParameters = [parameter("name", in: "path", v2: v2)] + namespaceParameter + [parameter("pretty", v2: v2)]
        result.append((item, .object(itemOperations + [("parameters", .array(itemParameters))])))
        for (name, answer) in zip(subresourceNames(resource), subresourceKinds(resource)) {
            let suffix = name.prefix(1).uppercased() + name.dropFirst()
            var operations: [(String, OrderedJSON)] = []
            if name != "finalize" {
                operations.append(("get", operation(resource, answer, action: "get", id: "read\(suffix)", response: answer, v2: v2)))
            }
            operations.append(("put", operation(resource, answer, action: "put", id: "replace\(suffix)", writes: true, response: answer, v2: v2)))
            if name != "finalize" {
                operations.append(("patch", operation(resource, answer, action: "patch", id: "patch\(suffix)", writes: true, patch: true,
                                                      response: answer, v2: v2)))
            }
            result.append(("\(item)/\(name)", .object(operations + [("parameters", .array(itemParameters))])))
        }
        if resource.namespaced, resource.verbs.contains("list") {
            result.append(("\(prefix)/\(resource.plural)", .object([
                ("get", operation(resource, target, action: "list", id: "listForAllNamespaces", response: list, v2: v2)),
                ("parameters", .array([parameter("pretty", v2: v2)])),
            ])))
        }
        return result
    }

    private static func reference(_ target: Target?, v2: Bool) -> OrderedJSON {
        let name = target.flatMap { KubeSchema.definitionName(group: $0.group, version: $0.version, kind: $0.kind) }
            ?? "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
        return .object([("$ref", .string((v2 ? "#/definitions/" : KubeSchema.referencePrefix) + name))])
    }

    private static func operation(_ resource: KubeResource, _ kind: Target, action: String, id: String, writes: Bool = false,
                                  patch: Bool = false, response: Target?, v2: Bool) -> OrderedJSON {
        let operationKind = kind.kind == "Scale" ? "\(resource.kind)Scale" : resource.kind
        let scope = resource.namespaced && !id.hasSuffix("ForAllNamespaces") ? "Namespaced" : ""
        var members: [(String, OrderedJSON)] = [
            ("tags", .strings([resource.group.isEmpty ? "core_\(resource.version)" : "\(resource.group)_\(resource.version)"])),
            ("operationId", .string("\(id)\(resource.group.isEmpty ? "Core" : resource.group.capitalized)\(resource.version.capitalized)\(scope)\(operationKind)")),
        ]
        var parameters: [OrderedJSON] = []
        switch action {
        case "list":
            parameters += ["allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
                           "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"].map { parameter($0, v2: v2) }
        case "delete", "deletecollection":
            parameters += ["dryRun", "gracePeriodSeconds", "propagationPolicy"].map { parameter($0, v2: v2) }
        default:
            break
        }
        if writes {
            parameters += ["dryRun", "fieldManager", "fieldValidation"].map { parameter($0, v2: v2) }
            if patch { parameters.append(parameter("force", v2: v2)) }
        }
        let body: OrderedJSON? = patch ? reference(Target(group: "", version: "v1", kind: "Patch"), v2: v2)
            : writes ? reference(kind, v2: v2)
            : (action == "delete" || action == "deletecollection") ? reference(Target(group: "", version: "v1", kind: "DeleteOptions"), v2: v2) : nil
        if v2 {
            if let body { parameters.insert(.object([("name", .string("body")), ("in", .string("body")), ("required", .bool(writes)), ("schema", body)]), at: 0) }
            if patch {
                members.append(("consumes", .strings(patchTypes)))
            }
            members.append(("produces", .strings(["application/json"])))
        }
        if !parameters.isEmpty { members.append(("parameters", .array(parameters))) }
        if !v2, let body {
            let types = patch ? patchTypes : ["*/*"]
            members.append(("requestBody", .object([("content", .object(types.map { ($0, .object([("schema", body)])) })),
                                                    ("required", .bool(writes))])))
        }
        let answer = reference(response, v2: v2)
        let responseBody: OrderedJSON = v2
            ? .object([("description", .string("OK")), ("schema", answer)])
            : .object([("description", .string("OK")), ("content", .object([("application/json", .object([("schema", answer)]))]))])
        var responses: [(String, OrderedJSON)] = [("200", responseBody)]
        if action == "post" || (writes && !patch) { responses.append(("201", responseBody)) }
        if action == "delete" { responses.append(("202", responseBody)) }
        responses.append(("401", .object([("description", .string("Unauthorized"))])))
        members.append(("responses", .object(responses)))
        members.append(("x-kubernetes-action", .string(action)))
        members.append(("x-kubernetes-group-version-kind", .object([("group", .string(kind.group)), ("version", .string(kind.version)),
                                                                      ("kind", .string(kind.kind))])))
        return .object(members)
    }

    /// The patch types PATCH accepts, as its request body lists them.
    static let patchTypes = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                             "application/strategic-merge-patch+json"]

    private static let integerParameters: Set<String> = ["gracePeriodSeconds", "limit", "timeoutSeconds"]
    private static let booleanParameters: Set<String> = ["allowWatchBookmarks", "force", "sendInitialEvents", "watch"]

    private static func parameter(_ name: String, in location: String = "query", v2: Bool) -> OrderedJSON {
        var members: [(String, OrderedJSON)] = [("name", .string(name)), ("in", .string(location))]
        if location == "path" { members.append(("required", .bool(true))) }
        let type = integerParameters.contains(name) ? "integer" : booleanParameters.contains(name) ? "boolean" : "string"
        if v2 {
            members.append(("type", .string(type)))
            members.append(("uniqueItems", .bool(true)))
        } else {
            members.append(("schema", .object([("type", .string(type)), ("uniqueItems", .bool(true))])))
        }
        return .object(members)
    }
}
