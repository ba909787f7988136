/// A resource type the API serves: how it is named in URLs and discovery, and what it holds.
public struct KubeResource: Sendable, Hashable {
    /// The API group; "" for the core group (`/api/v1`).
    public var group: String
    public var version: String
    public var kind: String
    /// The plural lower-case name used in paths (`configmaps`).
    public var plural: String
    public var singular: String
    public var namespaced: Bool
    public var shortNames: [String]
    public var categories: [String]
    public var verbs: [String]
    /// Whether objects count `metadata.generation` up on each change of their `spec`.
    public var hasGeneration = false

    /// `v1` or `apps/v1`, as objects carry it in `apiVersion`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `configmaps` or `deployments.apps`, as error messages name a resource.
    public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
    public var listKind: String { kind + "List" }

    static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
}

/// The resource types Berth serves, in discovery order.
public struct KubeResourceRegistry: Sendable {
    public let resources: [KubeResource]

    public init(resources: [KubeResource]) {
        self.resources = resources
    }

    /// The kinds implemented so far.
    public static let builtIn = KubeResourceRegistry(resources: [
        KubeResource(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap",
                     namespaced: true, shortNames: ["cm"], categories: [], verbs: KubeResource.allVerbs),
        KubeResource(group: "", version: "v1", kind: "Event", plural: "events", singular: "event",
                     namespaced: true, shortNames: ["ev"], categories: [], verbs: KubeResource.allVerbs),
        KubeResource(group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace",
                     namespaced: false, shortNames: ["ns"], categories: [],
                     verbs: ["create", "delete", "get", "list", "patch", "update", "watch"]),
        KubeResource(group: "", version: "v1", kind: "Node", plural: "nodes", singular: "node",
                     namespaced: false, shortNames: ["no"], categories: [], verbs: KubeResource.allVerbs),
        KubeResource(group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod",
                     namespaced: true, shortNames: ["po"], categories: ["all"], verbs: KubeResource.allVerbs),
        KubeResource(group: "", version: "v1", kind: "Secret", plural: "secrets", singular: "secret",
                     namespaced: true, shortNames: [], categories: [], verbs: KubeResource.allVerbs),
        KubeResource(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", singular: "serviceaccount",
                     namespaced: true, shortNames: ["sa"], categories: [], verbs: KubeResource.allVerbs),
    ])

    /// The resource served at `group`/`version` under the plural name `plural`.
    public func resource(group: String, version: String, plural: String) -> KubeResource? {
        resources.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    public static let configMaps = builtIn.core("configmaps")
    public static let events = builtIn.core("events")
    public static let namespaces = builtIn.core("namespaces")
    public static let nodes = builtIn.core("nodes")
    public static let pods = builtIn.core("pods")
    public static let secrets = builtIn.core("secrets")
    public static let serviceAccounts = builtIn.core("serviceaccounts")

    private func core(_ plural: String) -> KubeResource {
        guard let resource = resource(group: "", version: "v1", plural: plural) else { preconditionFailure("\(plural) is not registered") }
        return resource
    }
}

extension KubeResourceRegistry {
    /// The field-selector labels `resource` supports.
    public static func selectableFields(_ resource: KubeResource) -> Set<String> {
        KubeKinds.selectableFields(resource)
    }

    /// The strategic-merge list strategy of a field path of the served kinds.
    public static func listStrategy(_ path: [String]) -> KubeStrategicMerge.ListStrategy? {
        KubeKinds.listStrategy(path)
    }
}
