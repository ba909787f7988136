import BerthEngine
import NIOCore
import NIOHTTP1

extension Routes {
    static func networks(_ engine: Engine) -> [Route] {
        [
            Route(.GET, "/networks") { request, response in
                let filters = try Filters(json: request.query.string("filters"))
                let documents = try await engine.blocking {
                    try engine.networks(filters: filters).map { try engine.networkDetails($0).document(withContainers: false).compact }
                }
                try await response.sendJSONText("[" + documents.joined(separator: ",") + "]")
            },
            Route(.GET, "/networks/{id}") { request, response in
                let reference = request.parameter("id")
                let document = try await engine.blocking { try engine.networkDetails(engine.network(reference)).document().compact }
                try await response.sendJSONText(document)
            },
            Route(.POST, "/networks/create") { request, response in
                let body = try await request.decodeBody(NetworkCreateRequest.self)
                let options = try body.engineOptions()
                let created = try await engine.blocking { try engine.createNetwork(options) }
                try await response.sendJSON(NetworkCreateResponse(id: created.id, warning: ""), status: .created)
            },
            Route(.POST, "/networks/{id}/connect") { request, response in
                let body = try await request.decodeBody(NetworkConnectRequest.self)
                let options = try body.options(network: request.parameter("id"))
                try await engine.blocking { try engine.connect(options) }
                try await response.sendStatus(.ok)
            },
            Route(.POST, "/networks/{id}/disconnect") { request, response in
                let body = try await request.decodeBody(NetworkDisconnectRequest.self)
                let network = request.parameter("id")
                try await engine.blocking {
                    try engine.disconnect(container: body.container, network: network, force: body.force ?? false)
                }
                try await response.sendStatus(.ok)
            },
            Route(.DELETE, "/networks/{id}") { request, response in
                let reference = request.parameter("id")
                try await engine.blocking { try engine.removeNetwork(reference) }
                try await response.sendStatus(.noContent)
            },
            Route(.POST, "/networks/prune") { request, response in
                let filters = try Filters(json: request.query.string("filters"))
                let removed = try await engine.blocking { try engine.pruneNetworks(filters: filters) }
                try await response.sendJSON(NetworkPruneResponse(networksDeleted: removed))
            },
        ]
    }
}

extension ResponseWriter {
    /// A JSON document already encoded (Docker's field order), with dockerd's trailing newline.
    func sendJSONText(_ text: String, status: HTTPResponseStatus = .ok) async throws {
        try await send(status, headers: ["Content-Type": "application/json"], body: ByteBuffer(string: text + "\n"))
    }
}

/// `POST /networks/create`'s body (moby's NetworkCreateRequest).
struct NetworkCreateRequest: Decodable {
    struct IPAM: Decodable {
        struct Config: Decodable {
            let subnet: String?
            let ipRange: String?
            let gateway: String?
            let auxiliaryAddresses: [String: String]?

            enum CodingKeys: String, CodingKey {
                case subnet = "Subnet", ipRange = "IPRange", gateway = "Gateway", auxiliaryAddresses = "AuxiliaryAddresses"
            }
        }

        let driver: String?
        let config: [Config]?
        let options: [String: String]?

        enum CodingKeys: String, CodingKey {
            case driver = "Driver", config = "Config", options = "Options"
        }
    }

    struct ConfigFrom: Decodable {
        let network: String?

        enum CodingKeys: String, CodingKey { case network = "Network" }
    }

    let name: String?
    let driver: String?
    let scope: String?
    let isInternal: Bool?
    let attachable: Bool?
    let ingress: Bool?
    let configOnly: Bool?
    let configFrom: ConfigFrom?
    let enableIPv6: Bool?
    let ipam: IPAM?
    let driverOptions: [String: String]?
    let labels: [String: String]?

    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", scope = "Scope", isInternal = "Internal", attachable = "Attachable"
        case ingress = "Ingress", configOnly = "ConfigOnly", configFrom = "ConfigFrom", enableIPv6 = "EnableIPv6"
        case ipam = "IPAM", driverOptions = "Options", labels = "Labels"
    }

    /// The engine's options; what Berth's networks cannot be is refused here or by the engine.
    func engineOptions() throws -> NetworkCreateOptions {
        var options = NetworkCreateOptions(name: name ?? "")
        options.driver = driver ?? ""
        options.scope = scope ?? ""
        options.isInternal = isInternal ?? false
        options.attachable = attachable ?? false
        options.enableIPv6 = enableIPv6 ?? false
        options.options = driverOptions ?? [:]
        options.labels = labels ?? [:]
        if ingress == true { throw APIError(status: .badRequest, message: "ingress networks are not supported by Berth") }
        if configOnly == true || !(configFrom?.network ?? "").isEmpty {
            throw APIError(status: .badRequest, message: "configuration-only networks are not supported by Berth")
        }
        if let ipam {
            if let driver = ipam.driver, !driver.isEmpty, driver != "default" {
                throw APIError(status: .notFound, message: "plugin \"\(driver)\" not found")
            }
            if let option = ipam.options?.keys.sorted().first {
                throw APIError(status: .badRequest, message: "IPAM option \(option) is not supported by Berth")
            }
            let configs = ipam.config ?? []
            guard configs.count <= 1 else {
                throw APIError(status: .badRequest, message: "Berth's networks have one IPv4 subnet: \(configs.count) IPAM configurations given")
            }
            if let config = configs.first {
                if !(config.auxiliaryAddresses ?? [:]).isEmpty {
                    throw APIError(status: .badRequest, message: "auxiliary addresses are not supported by Berth")
                }
                options.subnet = config.subnet.flatMap { $0.isEmpty ? nil : $0 }
                options.gateway = config.gateway.flatMap { $0.isEmpty ? nil : $0 }
                options.ipRange = config.ipRange.flatMap { $0.isEmpty ? nil : $0 }
            }
        }
        return options
    }
}

struct NetworkCreateResponse: Encodable {
    let id: String
    let warning: String

    enum CodingKeys: String, CodingKey { case id = "Id", warning = "Warning" }
}

/// `POST /networks/{id}/connect`'s body.
struct NetworkConnectRequest: Decodable {
    struct EndpointConfig: Decodable {
        struct IPAMConfig: Decodable {
            let ipv4Address: String?
            let ipv6Address: String?
            let linkLocalIPs: [String]?

            enum CodingKeys: String, CodingKey {
                case ipv4Address = "IPv4Address", ipv6Address = "IPv6Address", linkLocalIPs = "LinkLocalIPs"
            }
        }

        let ipamConfig: IPAMConfig?
        let links: [String]?
        let aliases: [String]?
        let macAddress: String?
        let driverOpts: [String: String]?

        enum CodingKeys: String, CodingKey {
            case ipamConfig = "IPAMConfig", links = "Links", aliases = "Aliases", macAddress = "MacAddress", driverOpts = "DriverOpts"
        }
    }

    let container: String
    let endpointConfig: EndpointConfig?

    enum CodingKeys: String, CodingKey { case container = "Container", endpointConfig = "EndpointConfig" }

    func options(network: String) throws -> NetworkConnectOptions {
        var options = NetworkConnectOptions(container: container, network: network)
        guard let endpoint = endpointConfig else { return options }
        options.aliases = endpoint.aliases ?? []
        options.ipv4Address = endpoint.ipamConfig?.ipv4Address
        func refuse(_ what: String) -> APIError {
            APIError(status: .badRequest, message: "\(what) for an endpoint is not supported by Berth")
        }
        if !(endpoint.ipamConfig?.ipv6Address ?? "").isEmpty { throw refuse("an IPv6 address") }
        if !(endpoint.ipamConfig?.linkLocalIPs ?? []).isEmpty { throw refuse("link-local addresses") }
        if !(endpoint.links ?? []).isEmpty { throw refuse("links") }
        if !(endpoint.macAddress ?? "").isEmpty { throw refuse("a MAC address") }
        if !(endpoint.driverOpts ?? [:]).isEmpty { throw refuse("driver options") }
        return options
    }
}

/// `POST /networks/{id}/disconnect`'s body.
struct NetworkDisconnectRequest: Decodable {
    let container: String
    let force: Bool?

    enum CodingKeys: String, CodingKey { case container = "Container", force = "Force" }
}

/// `{"NetworksDeleted": […]}`, `null` when none was (as dockerd's nil slice encodes).
struct NetworkPruneResponse: Encodable {
    @NullWhenEmpty var networksDeleted: [String]

    enum CodingKeys: String, CodingKey { case networksDeleted = "NetworksDeleted" }
}
