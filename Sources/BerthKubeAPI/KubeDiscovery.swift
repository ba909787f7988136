import BerthTemplate

/// The documents that tell clients what the server serves: `/version`, aggregated discovery
/// (what kubectl 1.32 asks for) and the legacy forms (other clients).
public enum KubeDiscovery {
    /// The Kubernetes version Berth's API follows; kubectl warns beyond one minor version of skew.
    public static let version: OrderedJSON = .object([
        ("major", .string("1")), ("minor", .string("32")), ("gitVersion", .string("v1.32.0-berth")),
        ("gitCommit", .string("")), ("gitTreeState", .string("clean")), ("buildDate", .string("2026-12-06T00:00:00Z")),
        ("goVersion", .string("")), ("compiler", .string("swift")), ("platform", .string("linux/amd64")),
    ])

    /// The content type of an aggregated discovery answer; a plain JSON type makes kubectl read
    /// the answer as legacy discovery.
    public static let aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

    /// The group/versions served, in preference order; "" is the core group.
    static func groups(_ registry: KubeResourceRegistry) -> [(group: String, versions: [String])] {
        var groups: [(group: String, versions: [String])] = []
        for resource in registry.resources {
            if let index = groups.firstIndex(where: { $0.group == resource.group }) {
                if !groups[index].versions.contains(resource.version) { groups[index].versions.append(resource.version) }
            } else {
                groups.append((resource.group, [resource.version]))
            }
        }
        return groups
    }

    /// `GET /api` or `/apis` in the aggregated form: `core` selects the core group (for `/api`).
    public static func aggregated(_ registry: KubeResourceRegistry, core: Bool) -> OrderedJSON {
        let items: [OrderedJSON] = groups(registry).filter { $0.group.isEmpty == core }.map { entry in
            let versions: [OrderedJSON] = entry.versions.map { version in
                let resources: [OrderedJSON] = registry.resources.filter { $0.group == entry.group && $0.version == version }.map { resource in
                    var members: [(String, OrderedJSON)] = [
                        ("resource", .string(resource.plural)),
                        ("responseKind", .object([("group", .string(resource.group)), ("version", .string(resource.version)), ("kind", .string(resource.kind))])),
                        ("scope", .string(resource.namespaced ? "Namespaced" : "Cluster")),
                        ("singularResource", .string(resource.singular)),
                        ("verbs", .strings(resource.verbs)),
                    ]
                    if !resource.shortNames.isEmpty { members.append(("shortNames", .strings(resource.shortNames))) }
                    if !resource.categories.isEmpty { members.append(("categories", .strings(resource.categories))) }
                    if !resource.subresources.isEmpty {
                        members.append(("subresources", .array(resource.subresources.map { subresource in
                            .object([("subresource", .string(subresource.name)),
                                     ("responseKind", .object([("group", .string(subresource.group)), ("version", .string(subresource.version)),
                                                               ("kind", .string(subresource.kind))])),
                                     ("verbs", .strings(subresource.verbs))])
                        })))
                    }
                    return .object(members)
                }
                return .object([("version", .string(version)), ("resources", .array(resources)), ("freshness", .string("Current"))])
            }
            return .object([("metadata", .object([("name", .string(entry.group))])), ("versions", .array(versions))])
        }
        return .object([("kind", .string("APIGroupDiscoveryList")), ("apiVersion", .string("apidiscovery.k8s.io/v2")),
                        ("metadata", .object([])), ("items", .array(items))])
    }

    /// Legacy `GET /api`.
    public static func apiVersions(serverAddress: String) -> OrderedJSON {
        .object([("kind", .string("APIVersions")), ("versions", .strings(["v1"])),
                 ("serverAddressByClientCIDRs", .array([.object([("clientCIDR", .string("0.0.0.0/0")), ("serverAddress", .string(serverAddress))])]))])
    }

    /// Legacy `GET /apis`: every named group.
    public static func apiGroupList(_ registry: KubeResourceRegistry) -> OrderedJSON {
        .object([("kind", .string("APIGroupList")), ("apiVersion", .string("v1")),
                 ("groups", .array(groups(registry).filter { !$0.group.isEmpty }.map { apiGroupMembers($0.group, $0.versions) }))])
    }

    /// Legacy `GET /apis/<group>`; nil for a group not served.
    public static func apiGroup(_ registry: KubeResourceRegistry, group: String) -> OrderedJSON? {
        guard !group.isEmpty, let entry = groups(registry).first(where: { $0.group == group }) else { return nil }
        guard case .object(let members) = apiGroupMembers(entry.group, entry.versions) else { return nil }
        return .object([("kind", .string("APIGroup")), ("apiVersion", .string("v1"))] + members)
    }

    private static func apiGroupMembers(_ group: String, _ versions: [String]) -> OrderedJSON {
        let entries: [OrderedJSON] = versions.map { .object([("groupVersion", .string("\(group)/\($0)")), ("version", .string($0))]) }
        return .object([("name", .string(group)), ("versions", .array(entries)), ("preferredVersion", entries[0])])
    }

    /// Legacy `GET /api/v1` or `/apis/<group>/<version>`; nil when nothing is served there.
    public static func apiResourceList(_ registry: KubeResourceRegistry, group: String, version: String) -> OrderedJSON? {
        let resources = registry.resources.filter { $0.group == group && $0.version == version }
        guard !resources.isEmpty else { return nil }
        let entries: [OrderedJSON] = resources.flatMap { resource in
            var members: [(String, OrderedJSON)] = [
                ("name", .string(resource.plural)), ("singularName", .string(resource.singular)),
                ("namespaced", .bool(resource.namespaced)), ("kind", .string(resource.kind)), ("verbs", .strings(resource.verbs)),
            ]
            if !resource.shortNames.isEmpty { members.append(("shortNames", .strings(resource.shortNames))) }
            if !resource.categories.isEmpty { members.append(("categories", .strings(resource.categories))) }
            let subresources: [OrderedJSON] = resource.subresources.map { subresource in
                var members: [(String, OrderedJSON)] = [("name", .string("\(resource.plural)/\(subresource.name)")), ("singularName", .string("")),
                                                        ("namespaced", .bool(resource.namespaced))]
                if subresource.group != resource.group { members.append(("group", .string(subresource.group))) }
                if subresource.version != resource.version { members.append(("version", .string(subresource.version))) }
                members += [("kind", .string(subresource.kind)), ("verbs", .strings(subresource.verbs))]
                return .object(members)
            }
            return [OrderedJSON.object(members)] + subresources
        }
        return .object([("kind", .string("APIResourceList")), ("apiVersion", .string("v1")),
                        ("groupVersion", .string(group.isEmpty ? version : "\(group)/\(version)")), ("resources", .array(entries))])
    }
}
