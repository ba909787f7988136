import BerthFiles
import BerthOCI
import Foundation

/// A network as `network ls` and `network inspect` show it: Docker's three predefined networks
/// (`bridge`, `host`, `none`) and the bridge networks users create.
public struct NetworkDefinition: Codable, Hashable, Sendable {
    /// 64 hex digits, like Docker's network IDs.
    public var id: String
    public var created: Date
    /// `bridge`, `host` or `null` (Docker's driver names).
    public var driver: String
    public var labels: [String: String]
    /// The bridge a `bridge`-driver network puts containers on; nil for `host` and `none`.
    public var bridge: BridgeNetwork?
    public var name: String
    /// Whether standalone containers may be attached, as Docker records for `--attachable`
    /// (nil when not asked for; every Berth network accepts containers).
    public var attachable: Bool?
    /// Whether the user gave the subnet (`--subnet`): only then may containers ask for an address (`--ip`).
    public var subnetConfigured: Bool?
    /// Whether the user gave the gateway (`--gateway`): Docker's IPAM config lists it only then,
    /// when the subnet was given.
    public var gatewayConfigured: Bool?
    /// `--opt` driver options as given (Docker's Options); `com.docker.network.bridge.name` names the bridge.
    public var options: [String: String]?

    /// Whether Docker creates this network itself (it cannot be removed).
    public var isPredefined: Bool { NetworkStore.predefinedNames.contains(name) }

    /// dockerd's attributes of a `connect` or `disconnect` event of `container` on this network.
    public func endpointEventAttributes(container: String) -> [String: String] {
        ["container": container, "name": name, "type": driver]
    }
}

/// The networks under `<root>/network/networks/<name>.json`. The predefined ones are written on
/// first use so their IDs stay the same from one command to the next, as a daemon's would.
public final class NetworkStore {
    public static let predefinedNames = ["bridge", "host", "none"]
    /// Where user networks get their /16 from when `--subnet` is not given: clear of `berth0`
    /// (10.77), the test bridges (10.78, 10.79) and Podman's defaults (10.88, 10.89). Tests that
    /// name their subnets take them above it (10.128 and up), so no parallel test's pool network
    /// ever holds them.
    static let subnetPool: [String] = (80...87).map { "10.\($0).0.0/16" } + (90...127).map { "10.\($0).0.0/16" }

    private let directory: String
    private let lock: StateLock

    public init(root: String) throws {
        let stateRoot = StateRoot(root)
        directory = stateRoot.networkDefinitions
        lock = StateLock(path: stateRoot.networkLock)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw NetworkError.io(path: directory, reason: "\(error)")
        }
    }

    /// Every network, predefined ones first, then by name.
    public func list() throws -> [NetworkDefinition] {
        try lock.withLock { try loadAll() }
    }

    /// A network by name, full ID or unique ID prefix (Docker's lookup order).
    public func find(_ reference: String) throws -> NetworkDefinition {
        if let byName = try named(reference) { return byName }
        let all = try list()
        if let byID = all.first(where: { $0.id == reference }) { return byID }
        let matches = all.filter { !reference.isEmpty && $0.id.hasPrefix(reference) }
        if matches.count > 1 { throw NetworkError.ambiguousNetwork(reference) }
        guard let match = matches.first else { throw NetworkError.unknownNetwork(reference) }
        return match
    }

    /// The network called `name`, if there is one. A name names one file: this reads that alone
    /// (every `run` looks its network up).
    public func named(_ name: String) throws -> NetworkDefinition? {
        try lock.withLock { try loadNamed(name) }
    }

    /// Creates a bridge network on `br-<id prefix>` with the given subnet, or the first free /16 of
    /// the pool; the gateway defaults to the subnet's first address. Nothing exists on the host
    /// until a container attaches (the bridge plugin creates the bridge then).
    public func create(name: String, subnet: String?, gateway: String?, labels: [String: String], attachable: Bool = false,
                       internal: Bool = false, ipRange: String? = nil, options: [String: String] = [:])
        throws -> NetworkDefinition {
        guard Self.isValidName(name) else { throw NetworkError.invalidNetworkName(name) }
        return try lock.withLock {
            let existing = try loadAll()
            if existing.contains(where: { $0.name == name }) { throw NetworkError.networkExists(name) }
            let chosen: IPv4Network
            if let subnet {
                guard let requested = IPv4Network(subnet), requested.prefixLength <= 30,
                      requested.address & ~IPv4Network.mask(requested.prefixLength) == 0
                else { throw NetworkError.invalidSubnet(subnet) }
                if let clash = existing.first(where: { $0.bridge.flatMap { IPv4Network($0.subnet) }?.overlaps(requested) == true }) {
                    throw NetworkError.subnetInUse(subnet: subnet, interface: "network \(clash.name)")
                }
                chosen = requested
            } else {
                // Clear of the other networks and of every subnet the host's interfaces route.
                let taken = existing.compactMap { $0.bridge.flatMap { IPv4Network($0.subnet) } }
                    + (try Self.hostSubnets()).map(\.network)
                guard let free = Self.subnetPool.compactMap(IPv4Network.init).first(where: { candidate in
                    !taken.contains { $0.overlaps(candidate) }
                }) else { throw NetworkError.poolExhausted }
                chosen = free
            }
            let gatewayAddress = gateway ?? IPv4Network.format(chosen.address + 1)
            guard let parsedGateway = IPv4Network(gatewayAddress), parsedGateway.prefixLength == 32,
                  chosen.contains(parsedGateway.address)
            else { throw NetworkError.invalidGateway(gateway: gatewayAddress, subnet: chosen.description) }
            if let ipRange {
                guard let range = IPv4Network(ipRange), subnet != nil, range.prefixLength >= chosen.prefixLength,
                      chosen.contains(range.address) else {
                    throw NetworkError.invalidIPRange(range: ipRange, subnet: subnet == nil ? "" : chosen.description)
                }
            }
            let id = Self.randomID()
            let bridgeName = options["com.docker.network.bridge.name"] ?? "br-\(id.prefix(12))"
            guard !bridgeName.isEmpty, bridgeName.utf8.count <= 15, !bridgeName.contains("/"), !bridgeName.contains(" ") else {
                throw NetworkError.invalidNetworkName(bridgeName)
            }
            var bridge = BridgeNetwork(name: name, cniName: "berth-\(id.prefix(12))", bridge: bridgeName,
                                       subnet: chosen.description, gateway: gatewayAddress, embeddedDNS: true)
            bridge.`internal` = `internal`
            bridge.ipRange = ipRange
            var definition = NetworkDefinition(id: id, created: Date(), driver: "bridge", labels: labels, bridge: bridge,
                                               name: name, attachable: attachable ? true : nil)
            definition.subnetConfigured = subnet != nil ? true : nil
            definition.gatewayConfigured = gateway != nil ? true : nil
            definition.options = options.isEmpty ? nil : options
            try save(definition)
            return definition
        }
    }

    /// Removes a user network's definition; the caller has checked that no container uses it.
    func removeDefinition(_ name: String) throws {
        let path = "\(directory)/\(name).json"
        if unlink(path) != 0, errno != ENOENT {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// Docker's rule for network names.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count <= 128 else { return false }
        let alphanumeric = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let allowed = alphanumeric.union(CharacterSet(charactersIn: "_.-"))
        return alphanumeric.contains(first) && name.unicodeScalars.allSatisfy(allowed.contains)
    }

    // MARK: - Files

    private func loadAll() throws -> [NetworkDefinition] {
        var networks: [NetworkDefinition] = []
        for name in Self.predefinedNames {
            if let definition = try loadNamed(name) { networks.append(definition) }
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw NetworkError.io(path: directory, reason: "\(error)")
        }
        for file in names.sorted() where file.hasSuffix(".json") {
            let name = String(file.dropLast(5))
            if Self.predefinedNames.contains(name) { continue }
            if let definition = try load(name) { networks.append(definition) }
        }
        return networks
    }

    /// The network called `name`, if there is one; a predefined one is written on first use.
    private func loadNamed(_ name: String) throws -> NetworkDefinition? {
        if Self.predefinedNames.contains(name) { return try load(name) ?? (try savePredefined(name)) }
        guard !name.isEmpty, !name.hasPrefix("."), !name.contains("/") else { return nil }
        return try load(name)
    }

    private func load(_ name: String) throws -> NetworkDefinition? {
        let path = "\(directory)/\(name).json"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try Self.decoder.decode(NetworkDefinition.self, from: data)
        } catch {
            throw NetworkError.stateCorrupt(path: path, reason: "\(error)")
        }
    }

    private func savePredefined(_ name: String) throws -> NetworkDefinition {
        let definition = NetworkDefinition(
            id: Self.randomID(), created: Date(), driver: ["bridge": "bridge", "host": "host"][name] ?? "null",
            labels: [:], bridge: name == "bridge" ? .default : nil, name: name)
        try save(definition)
        return definition
    }

    private func save(_ definition: NetworkDefinition) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .rfc3339
        let data: Data
        do {
            data = try encoder.encode(definition)
        } catch {
            throw NetworkError.io(path: directory, reason: "\(error)")
        }
        try StateFile.write(data, to: "\(directory)/\(definition.name).json")
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .rfc3339
        return decoder
    }()

    private static func randomID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// The IPv4 subnets on this host's interfaces, so a new network avoids the LAN, a VPN or
    /// Docker's own bridges.
    static func hostSubnets() throws -> [(interface: String, network: IPv4Network)] {
        let listing = try Command.check("ip", ["-o", "-4", "addr", "show"]).stdoutText
        return listing.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 4, words[2] == "inet", let network = IPv4Network(String(words[3])) else { return nil }
            return (String(words[1]), network)
        }
    }
}

/// An exclusive flock on one file, shared by every `berth` process using the same root.
struct StateLock {
    let path: String

    func withLock<T>(_ body: () throws -> T) throws -> T {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw NetworkError.io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw NetworkError.io(path: path, reason: String(cString: strerror(errno))) }
        }
        return try body()
    }
}

/// Writes state files through a temporary file and rename, so a killed process leaves the old or
/// the new content. With `synced`, the content (and the rename) is on disk before this returns, so
/// a machine that stops keeps it too; pass false for state about what lasts only as long as the
/// machine (veths, leases, rules, the DNS entries of running containers), where the syncs buy nothing.
enum StateFile {
    static func write(_ data: Data, to path: String, mode: mode_t = 0o600, synced: Bool = true) throws {
        do {
            try AtomicFile.write(data, to: path, mode: mode, durability: synced ? .durable : .atomicOnly)
        } catch {
            throw NetworkError.io(path: error.path, reason: "\(error.operation): \(String(cString: strerror(error.code)))")
        }
    }
}
