import BerthNetwork
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// Networks with Docker's semantics: creation rules, lookups, filters, removal, prune, connect and
/// disconnect, and their events.
extension Engine {
    /// The filters `network ls` and `GET /networks` accept.
    public static let networkListFilters: Set<String> = ["driver", "id", "label", "name", "scope", "type", "dangling"]

    /// The bridge driver's `--opt`s Berth honours: the bridge interface's name.
    static let networkDriverOptions: Set<String> = ["com.docker.network.bridge.name"]

    /// Creates a bridge network; refuses what Berth's networks cannot do.
    public func createNetwork(_ options: NetworkCreateOptions) throws -> NetworkDefinition {
        let driver = options.driver.isEmpty ? "bridge" : options.driver
        guard driver == "bridge" else { throw EngineError.notFound("plugin \"\(driver)\" not found") }
        if !options.scope.isEmpty, options.scope != "local" {
            throw EngineError.invalidParameter("scope \(options.scope) is not supported: Berth's networks are local")
        }
        if options.enableIPv6 { throw EngineError.invalidParameter("IPv6 networks are not supported by Berth") }
        if let option = options.options.keys.sorted().first(where: { !Self.networkDriverOptions.contains($0) }) {
            throw EngineError.invalidParameter("network driver option \(option) is not supported by Berth (it knows \(Self.networkDriverOptions.sorted().joined(separator: ", ")))")
        }
        if NetworkStore.predefinedNames.contains(options.name) {
            // dockerd's words, trailing space included.
            throw EngineError(.forbidden, "operation is not permitted on predefined \(options.name) network ")
        }
        if let gateway = options.gateway, options.subnet == nil {
            throw EngineError.invalidParameter("no matching subnet for gateway \(gateway)")
        }
        let definition = try NetworkStore(root: root).create(
            name: options.name, subnet: options.subnet, gateway: options.gateway, labels: options.labels,
            attachable: options.attachable, internal: options.isInternal, ipRange: options.ipRange.flatMap { $0.isEmpty ? nil : $0 },
            options: options.options)
        events.record(.network, "create", id: definition.id, attributes: ["name": definition.name, "type": definition.driver])
        return definition
    }

    /// The network a name, ID or unique ID prefix refers to.
    public func network(_ reference: String) throws -> NetworkDefinition {
        try NetworkStore(root: root).find(reference)
    }

    /// The networks `filters` let through, predefined ones first.
    public func networks(filters: Filters) throws -> [NetworkDefinition] {
        try filters.validate(Self.networkListFilters)
        for type in filters.values("type") where !["custom", "builtin"].contains(type) {
            throw EngineError.invalidParameter("invalid filter: 'type'='\(type)'")
        }
        let dangling = try filters.bool("dangling")
        let inUse = dangling == nil ? [] : try networksInUse()
        return try NetworkStore(root: root).list().filter { network in
            filters.matches("driver", network.driver)
                && (!filters.contains("id") || filters.values("id").contains { network.id.hasPrefix($0) })
                && (!filters.contains("name") || filters.values("name").contains { network.name.contains($0) })
                && filters.matchesLabels(network.labels)
                && filters.matches("scope", "local")
                && filters.matches("type", network.isPredefined ? "builtin" : "custom")
                && dangling.map { $0 == (!network.isPredefined && !inUse.contains(network.name)) } ?? true
        }
    }

    /// A network with the containers attached to it now.
    public func networkDetails(_ definition: NetworkDefinition) throws -> NetworkDetails {
        let manager = try NetworkManager(root: root)
        var attached: [NetworkDetails.Attached] = []
        for id in try manager.containers(on: definition.name) {
            guard let attachment = try manager.attachment(containerID: id, network: definition.name) else { continue }
            let name = (try? runtime.containers.record(id))??.name ?? ""
            attached.append(.init(containerID: id, name: name, endpointID: Self.endpointID(container: id, network: definition.id),
                                  macAddress: attachment.macAddress,
                                  ipv4Address: "\(attachment.ipAddress)/\(attachment.prefixLength)"))
        }
        return NetworkDetails(definition: definition, containers: attached)
    }

    /// The ID of a container's endpoint on a network: Berth keeps none of its own, so it is
    /// derived from the two IDs and stays the same for as long as the attachment does.
    public static func endpointID(container: String, network: String) -> String {
        Digest.sha256(of: Array("\(container)/\(network)".utf8)).encoded
    }

    /// Removes a network (not a predefined one, nor one containers are attached to).
    public func removeNetwork(_ reference: String) throws {
        let definition = try network(reference)
        try NetworkManager(root: root).removeNetwork(definition)
        events.record(.network, "destroy", id: definition.id, attributes: ["name": definition.name, "type": definition.driver])
    }

    /// The filters `network prune` accepts.
    public static let networkPruneFilters: Set<String> = ["until", "label", "label!"]

    /// Removes the user networks no container refers to, older than `until` and matching the
    /// label filters; returns their names.
    public func pruneNetworks(filters: Filters) throws -> [String] {
        try filters.validate(Self.networkPruneFilters)
        let until = try filters.time("until")
        let used = try networksInUse()
        let manager = try NetworkManager(root: root)
        var removed: [String] = []
        for network in try NetworkStore(root: root).list()
        where !network.isPredefined && !used.contains(network.name) && filters.matchesLabels(network.labels)
            && until.map({ network.created < $0 }) ?? true {
            // One in use by now (a container started meanwhile) is kept, as Docker keeps it.
            guard (try? manager.removeNetwork(network)) != nil else { continue }
            events.record(.network, "destroy", id: network.id, attributes: ["name": network.name, "type": network.driver])
            removed.append(network.name)
        }
        events.record(.network, "prune", id: "", attributes: ["reclaimed": "0"])
        return removed
    }

    /// Connects a container to a network: at once while it runs, from its next start otherwise.
    public func connect(_ options: NetworkConnectOptions) throws {
        if let address = options.ipv4Address, !address.isEmpty {
            throw EngineError.invalidParameter("a fixed IPv4 address for an endpoint is not supported by Berth")
        }
        // dockerd looks the container up first: a missing one is what it reports.
        let record = try runtime.container(options.container)
        let definition = try network(options.network)
        try runtime.connect(record.id, to: definition.id, aliases: options.aliases)
        events.record(.network, "connect", id: definition.id,
                      attributes: definition.endpointEventAttributes(container: record.id))
    }

    /// Disconnects a container from a network; with `force`, one that is not connected is no error.
    public func disconnect(container: String, network reference: String, force: Bool) throws {
        let record = try runtime.container(container)
        let definition = try network(reference)
        do {
            try runtime.disconnect(record.id, from: definition.id)
        } catch NetworkError.notConnected where force {
            return
        }
        events.record(.network, "disconnect", id: definition.id,
                      attributes: definition.endpointEventAttributes(container: record.id))
    }

    /// The names of the networks some container is configured to use.
    private func networksInUse() throws -> Set<String> {
        Set(try runtime.containers.records().flatMap { $0.endpointsConfig.map(\.network) })
    }
}

extension NetworkDetails {
    /// Docker's network document, in its field order (`network inspect`, `GET /networks/{id}`);
    /// `GET /networks` lists them without their containers.
    public func document(withContainers: Bool = true) -> OrderedJSON {
        let network = definition
        // A given subnet is listed as given: its gateway only when that was given too.
        let listsGateway = network.subnetConfigured != true || network.gatewayConfigured == true
        let ipamConfig: [OrderedJSON] = network.bridge.map {
            [.object([("Subnet", .string($0.subnet))] + ($0.ipRange.map { [("IPRange", OrderedJSON.string($0))] } ?? [])
                     + (listsGateway ? [("Gateway", .string($0.gateway))] : []))]
        } ?? []
        // Like dockerd, only the predefined bridge shows its interface's name: a user network's
        // options are those it was created with (none), which Compose compares with its own.
        let options: [(String, OrderedJSON)] = network.isPredefined ? network.bridge.map {
            // dockerd's options of its default bridge, each true of Berth's too.
            [("com.docker.network.bridge.default_bridge", .string("true")),
             ("com.docker.network.bridge.enable_icc", .string("true")),
             ("com.docker.network.bridge.enable_ip_masquerade", .string("true")),
             ("com.docker.network.bridge.host_binding_ipv4", .string("0.0.0.0")),
             ("com.docker.network.bridge.name", .string($0.bridge)),
             ("com.docker.network.driver.mtu", .string("1500"))]
        } ?? [] : (network.options ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
        let attached: [(String, OrderedJSON)] = withContainers ? containers.map { container in
            (container.containerID, .object([
                ("Name", .string(container.name)),
                ("EndpointID", .string(container.endpointID)),
                ("MacAddress", .string(container.macAddress)),
                ("IPv4Address", .string(container.ipv4Address)),
                ("IPv6Address", .string("")),
            ]))
        } : []
        return .object([
            ("Name", .string(network.name)),
            ("Id", .string(network.id)),
            ("Created", .string(Timestamp.format(network.created))),
            ("Scope", .string("local")),
            ("Driver", .string(network.driver)),
            ("EnableIPv6", .bool(false)),
            ("IPAM", .object([("Driver", .string("default")), ("Options", network.isPredefined ? .null : .object([])),
                              ("Config", .array(ipamConfig))])),
            ("Internal", .bool(network.bridge?.internal ?? false)),
            ("Attachable", .bool(network.attachable ?? false)),
            ("Ingress", .bool(false)),
            ("ConfigFrom", .object([("Network", .string(""))])),
            ("ConfigOnly", .bool(false)),
            ("Containers", .object(attached)),
            ("Options", .object(options)),
            ("Labels", .object(network.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
    }
}
