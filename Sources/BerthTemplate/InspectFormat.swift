/// `docker inspect --format`: the Docker CLI runs the template over the typed document (a
/// struct's missing field is an error, a map's missing key `<no value>`) and, when that fails,
/// over the raw JSON with `missingkey=error`, whose error it reports.
public enum InspectFormat {
    /// The template over one inspect document.
    public static func render(_ template: GoTemplate, _ document: OrderedJSON) throws -> String {
        do {
            return try template.execute(typed(document, name: ""))
        } catch is TemplateExecutionError {
            return try template.execute(TemplateValue(document), missingKeyIsError: true)
        }
    }

    /// Members of Docker's inspect types (containers, images, networks, volumes) that are Go maps;
    /// every other object is a struct.
    static let mapMembers: Set<String> = [
        "Labels", "ExposedPorts", "Volumes", "Sysctls", "StorageOpt", "Tmpfs", "PortBindings", "Ports", "Networks",
        "Data", "DriverOpts", "Options", "Containers", "AuxiliaryAddresses", "Status", "Annotations",
    ]

    /// Members of those types that are pointers to structs (`<nil>` when null); the other null
    /// members are nil slices or maps.
    static let pointerMembers: Set<String> = ["IPAMConfig", "Health", "Healthcheck", "UsageData", "ClusterVolume"]

    /// Members that Docker's types have but leave out of the JSON when empty (`omitempty`), for
    /// the entries of the arrays that hold such structs: a template reads their zero value where
    /// the raw document has no key, and `json` still leaves them out. IPAM.Config's entries are
    /// network.IPAMConfig.
    static let omittedMembersOfItems: [String: [(String, TemplateValue)]] = [
        "Config": [("Subnet", .string("")), ("IPRange", .string("")), ("Gateway", .string("")),
                   ("AuxiliaryAddresses", .nilCollection(isMap: true))],
    ]

    /// The document with objects as structs or maps, as Docker's types have them.
    static func typed(_ json: OrderedJSON, name: String, parent: String = "") -> TemplateValue {
        switch json {
        case .null where !name.isEmpty && !pointerMembers.contains(name):
            return .nilCollection(isMap: mapMembers.contains(name) || (parent == "LogConfig" && name == "Config"))
        case .array(let items): return .list(items.map { typed($0, name: "", parent: name) })
        case .object(let members):
            // LogConfig.Config is a map; the other Configs are structs.
            if mapMembers.contains(name) || (parent == "LogConfig" && name == "Config") {
                return .map(members.map { ($0.0, typed($0.1, name: "", parent: name)) })
            }
            let fields = members.map { ($0.0, typed($0.1, name: $0.0, parent: name)) }
            var absent: [String: (parameters: Int, call: TemplateObject.Method)] = [:]
            if name.isEmpty, let omitted = Self.omittedMembersOfItems[parent] {
                for (member, zero) in omitted where !fields.contains(where: { $0.0 == member }) {
                    absent[member] = (0, { _ in zero })
                }
            }
            return .object(TemplateObject(typeName: "struct", fields: fields, methods: absent, kind: .structure))
        default: return TemplateValue(json)
        }
    }
}
