import BerthNetwork

/// What `network create` and `POST /networks/create` ask for. Berth's networks are local bridges
/// with one IPv4 subnet: anything beyond that is refused by `Engine.createNetwork`, never ignored.
public struct NetworkCreateOptions: Sendable, Equatable {
    public var name: String
    /// Only `bridge` (the default when empty).
    public var driver: String = "bridge"
    public var subnet: String?
    public var gateway: String?
    /// Addresses within the subnet to hand out (refused: Berth uses the whole subnet).
    public var ipRange: String?
    public var labels: [String: String] = [:]
    /// Driver options (refused unless empty).
    public var options: [String: String] = [:]
    public var isInternal = false
    public var attachable = false
    public var enableIPv6 = false
    /// `local` or empty.
    public var scope = ""

    public init(name: String) {
        self.name = name
    }
}

/// How to attach a container to a network (`network connect`, `POST /networks/{id}/connect`).
public struct NetworkConnectOptions: Sendable, Equatable {
    public var container: String
    public var network: String
    public var aliases: [String] = []
    /// A fixed address (refused: Berth's IPAM assigns one).
    public var ipv4Address: String?

    public init(container: String, network: String) {
        self.container = container
        self.network = network
    }
}

/// A network with the containers attached to it now.
public struct NetworkDetails: Sendable {
    public struct Attached: Sendable, Equatable {
        public var containerID: String
        public var name: String
        public var endpointID: String
        public var macAddress: String
        /// `10.80.0.2/16`.
        public var ipv4Address: String
    }

    public var definition: NetworkDefinition
    public var containers: [Attached]
}
