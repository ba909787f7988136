import BerthOCI
import BerthRuntime
import BerthStore
import BerthTemplate
import Foundation

/// A container's disk use (the API's `size=1`): its writable layer, and that with its image.
public struct ContainerSize: Sendable, Equatable {
    public var rw: Int64
    public var rootFs: Int64
}

/// What `ps` and `GET /containers/json` ask for.
public struct ContainerListOptions: Sendable, Equatable {
    /// Stopped containers too (implied by a `status`, `before` or `since` filter, or a limit).
    public var all = false
    /// At most this many, newest first; 0 or less is no limit.
    public var limit = 0
    public var filters = Filters()

    public init(all: Bool = false, limit: Int = 0, filters: Filters = Filters()) {
        self.all = all
        self.limit = limit
        self.filters = filters
    }

    /// The filters `ps` takes (Berth's `restart-policy` is Podman's, for starting at boot).
    public static let filterKeys: Set<String> = [
        "id", "name", "label", "status", "exited", "ancestor", "before", "since", "publish", "expose",
        "network", "health", "volume", "is-task", "restart-policy",
    ]
}

extension Engine {
    /// Every container (newest first) the options ask for, reconciled with reality.
    public func listContainers(_ options: ContainerListOptions) async throws -> [ContainerRecord] {
        try await blocking { try self.listContainersNow(options) }
    }

    /// As `listContainers`, on the calling thread (for the CLI, which has nothing else to do).
    public func listContainersNow(_ options: ContainerListOptions) throws -> [ContainerRecord] {
        let filters = options.filters
        try Self.checkListFilters(filters)
        let showStopped = options.all || options.limit > 0 || filters.contains("status") || filters.contains("before")
            || filters.contains("since")
        var records = try Self.filter(try runtime.list(), by: filters) { [self] in try store() }
            .filter { showStopped || [.running, .paused, .restarting].contains($0.state.status) }
        if options.limit > 0 { records = Array(records.prefix(options.limit)) }
        return records
    }

    /// The container's disk use, for `size=1`.
    public func containerSize(_ record: ContainerRecord) -> ContainerSize {
        let rw = DiskUsage.bytes(runtime.containers.path(of: record.id) + "/upper")
        // The image's size as `images` reports it, as dockerd adds it (the layers' bytes on
        // disk when the image is gone).
        let image = (try? store().image(named: record.imageID).size) ?? record.layers.reduce(0) { $0 + DiskUsage.bytes($1) }
        return ContainerSize(rw: rw, rootFs: rw + image)
    }

    /// The inspect document of a container.
    public func inspectContainer(_ reference: String, size: Bool = false) async throws -> OrderedJSON {
        try await blocking {
            let record = try self.runtime.container(reference)
            return ContainerInspectJSON.document(for: record, runtime: self.runtime, size: size ? self.containerSize(record) : nil)
        }
    }

    /// dockerd's checks of `ps` filter values.
    static func checkListFilters(_ filters: Filters) throws {
        try filters.validate(ContainerListOptions.filterKeys)
        for status in filters.values("status") where ContainerRecord.Status(rawValue: status) == nil {
            throw EngineError.invalidParameter("invalid filter 'status=\(status)'")
        }
        for code in filters.values("exited") where Int32(code) == nil {
            throw EngineError.invalidParameter("invalid filter 'exited=\(code)'")
        }
        for health in filters.values("health") where !["starting", "healthy", "unhealthy", "none"].contains(health) {
            throw EngineError.invalidParameter("invalid filter 'health=\(health)'")
        }
        for policy in filters.values("restart-policy") where !["no", "on-failure", "always", "unless-stopped"].contains(policy) {
            throw EngineError.invalidParameter("invalid filter 'restart-policy=\(policy)'")
        }
        for task in filters.values("is-task") where !["true", "false"].contains(task) {
            throw EngineError.invalidParameter("invalid filter 'is-task=\(task)'")
        }
    }

    /// The records that pass every filter, in their order, with Docker's semantics: values of one
    /// key are alternatives, different keys must all match; `id` and `name` match as unanchored
    /// regular expressions. `store` is opened only for an `ancestor` filter.
    static func filter(_ records: [ContainerRecord], by filters: Filters, store: () throws -> Store) throws -> [ContainerRecord] {
        var result = records
        func keep(_ key: String, _ matches: (ContainerRecord, String) -> Bool) {
            let values = filters.values(key)
            guard !values.isEmpty else { return }
            result = result.filter { record in values.contains { matches(record, $0) } }
        }
        keep("id") { record, pattern in regexMatches(pattern, record.id) }
        keep("name") { record, pattern in regexMatches(pattern, "/" + record.name) }
        if filters.contains("label") || filters.contains("label!") {
            result = result.filter { filters.matchesLabels($0.config.labels) }
        }
        keep("status") { record, status in record.state.status.rawValue == status }
        keep("exited") { record, code in record.state.status == .exited && String(record.state.exitCode) == code }
        keep("health") { record, health in (record.state.health?.status ?? "none") == health }
        keep("restart-policy") { record, policy in
            // Podman's filter for starting containers at boot, with the Docker daemon's rule when
            // it starts: `unless-stopped` containers the user stopped stay stopped.
            let name = record.hostConfig.restartPolicy.name
            return name == policy && !(name == "unless-stopped" && record.state.manuallyStopped)
        }
        keep("network") { record, network in
            record.hostConfig.networkMode == network || record.endpointsConfig.contains { $0.network == network }
        }
        keep("publish") { record, port in portMatches(port, record.network.ports.map { (Int($0.hostPort), $0.proto) }) }
        keep("expose") { record, port in
            let exposed = record.config.exposedPorts.compactMap { port -> (Int, String)? in
                let parts = port.split(separator: "/")
                guard let number = Int(parts[0]) else { return nil }
                return (number, parts.count > 1 ? String(parts[1]) : "tcp")
            } + record.network.ports.map { (Int($0.containerPort), $0.proto) }
            return portMatches(port, exposed)
        }
        keep("volume") { record, volume in record.mounts.contains { volume == $0.name || volume == $0.destination } }
        // Berth's containers are never swarm tasks.
        keep("is-task") { _, task in task == "false" }
        let ancestors = filters.values("ancestor")
        if !ancestors.isEmpty {
            let store = try store()
            let wanted = Set(ancestors.compactMap { try? store.image(named: $0).id.description })
            result = result.filter { wanted.contains($0.imageID) }
        }
        for (key, before) in [("before", true), ("since", false)] {
            for reference in filters.values(key) {
                guard let pivot = records.first(where: { $0.id == reference || $0.name == reference || $0.id.hasPrefix(reference) }) else {
                    throw EngineError.notFound("No such container: \(reference)")
                }
                result = result.filter { before ? $0.created < pivot.created : $0.created > pivot.created }
            }
        }
        return result
    }

    private static func regexMatches(_ pattern: String, _ text: String) -> Bool {
        if pattern == text { return true }
        return text.range(of: pattern, options: .regularExpression) != nil
    }

    /// `80`, `80/tcp` or a range `8000-8080/udp` against (port, proto) pairs.
    private static func portMatches(_ filter: String, _ ports: [(Int, String)]) -> Bool {
        let parts = filter.split(separator: "/", maxSplits: 1)
        guard let first = parts.first else { return false }
        let proto = parts.count > 1 ? String(parts[1]) : "tcp"
        let bounds = first.split(separator: "-").compactMap { Int($0) }
        guard let low = bounds.first else { return false }
        let high = bounds.count > 1 ? bounds[1] : low
        return ports.contains { (low...max(low, high)).contains($0.0) && $0.1 == proto }
    }
}

/// Docker's words for a container's state (`ps`'s STATUS column, the API's Status).
public enum ContainerStatus {
    public static func describe(_ record: ContainerRecord, now: Date = Date()) -> String {
        let state = record.state
        switch state.status {
        case .running:
            let up = "Up " + HumanDuration.describe(now.timeIntervalSince(state.startedAt ?? now))
            switch state.health?.status {
            case "starting": return up + " (health: starting)"
            case let status?: return up + " (\(status))"
            case nil: return up
            }
        case .exited:
            guard let finished = state.finishedAt else { return "Exited (\(state.exitCode))" }
            return "Exited (\(state.exitCode)) " + HumanDuration.describe(now.timeIntervalSince(finished)) + " ago"
        case .created: return "Created"
        case .paused: return "Up " + HumanDuration.describe(now.timeIntervalSince(state.startedAt ?? now)) + " (Paused)"
        case .restarting:
            guard let finished = state.finishedAt else { return "Restarting (\(state.exitCode))" }
            return "Restarting (\(state.exitCode)) " + HumanDuration.describe(now.timeIntervalSince(finished)) + " ago"
        case .removing: return "Removal In Progress"
        case .dead: return "Dead"
        }
    }
}

/// go-units HumanDuration, e.g. "About a minute", "3 weeks".
public enum HumanDuration {
    public static func describe(_ interval: TimeInterval) -> String {
        let seconds = Int(interval)
        if seconds < 1 { return "Less than a second" }
        if seconds == 1 { return "1 second" }
        if seconds < 60 { return "\(seconds) seconds" }
        let minutes = Int(interval / 60)
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int((interval / 3600).rounded())
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(Int(interval / 3600 / 24 / 365)) years"
    }
}

/// One entry of `GET /containers/json` (moby's ContainerSummary), in Docker's field order.
public enum ContainerSummaryJSON {
    public static func document(for record: ContainerRecord, size: ContainerSize? = nil) -> OrderedJSON {
        var ports: [OrderedJSON] = []
        var published = Set<String>()
        if record.state.running || record.state.status == .paused {
            for binding in record.network.ports {
                ports.append(.object([("IP", .string(binding.hostIP.isEmpty ? "0.0.0.0" : binding.hostIP)),
                                      ("PrivatePort", .int(binding.containerPort)), ("PublicPort", .int(binding.hostPort)),
                                      ("Type", .string(binding.proto))]))
                published.insert("\(binding.containerPort)/\(binding.proto)")
            }
        }
        for port in record.config.exposedPorts where !published.contains(port.contains("/") ? port : port + "/tcp") {
            let parts = port.split(separator: "/")
            guard let number = parts.first.flatMap({ Int($0) }) else { continue }
            ports.append(.object([("PrivatePort", .int(number)), ("Type", .string(parts.count > 1 ? String(parts[1]) : "tcp"))]))
        }
        let running = record.state.running || record.state.status == .paused
        var networks: [(String, OrderedJSON)] = []
        if ["host", "none"].contains(record.hostConfig.networkMode) {
            networks.append((record.hostConfig.networkMode, endpoint(nil)))
        }
        for config in record.endpointsConfig {
            networks.append((config.network, endpoint(running ? record.network.endpoints.first { $0.network == config.network } : nil)))
        }
        var members: [(String, OrderedJSON)] = [
            ("Id", .string(record.id)),
            ("Names", .array([.string("/" + record.name)])),
            ("Image", .string(record.imageName)),
            ("ImageID", .string(record.imageID)),
            ("Command", .string(command(record.config.argv))),
            ("Created", .int(Int64(record.created.timeIntervalSince1970))),
            ("Ports", .array(ports)),
        ]
        if let size { members += [("SizeRw", .int(size.rw)), ("SizeRootFs", .int(size.rootFs))] }
        members += [
            ("Labels", .object(record.config.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("State", .string(record.state.status.rawValue)),
            ("Status", .string(ContainerStatus.describe(record))),
            ("HostConfig", .object([("NetworkMode", .string(record.hostConfig.networkMode))])),
            ("NetworkSettings", .object([("Networks", .object(networks))])),
            ("Mounts", .array(record.mounts.filter { !$0.fromTmpfsFlag && $0.type != .tmpfs }.map(ContainerInspectJSON.mountPoint))),
        ]
        return .object(members)
    }

    /// dockerd's Command of a listed container: the path and its arguments, each argument that
    /// holds a space wrapped in single quotes (nothing is escaped).
    public static func command(_ argv: [String]) -> String {
        guard let path = argv.first else { return "" }
        return ([path] + argv.dropFirst().map { $0.contains(" ") ? "'\($0)'" : $0 }).joined(separator: " ")
    }

    private static func endpoint(_ endpoint: ContainerRecord.Endpoint?) -> OrderedJSON {
        .object([
            ("IPAMConfig", .null), ("Links", .null), ("Aliases", .null), ("NetworkID", .string("")), ("EndpointID", .string("")),
            ("Gateway", .string(endpoint?.gateway ?? "")), ("IPAddress", .string(endpoint?.ipAddress ?? "")),
            ("IPPrefixLen", .int(endpoint?.prefixLength ?? 0)), ("IPv6Gateway", .string("")),
            ("GlobalIPv6Address", .string("")), ("GlobalIPv6PrefixLen", .int(0)),
            ("MacAddress", .string(endpoint?.macAddress ?? "")), ("DriverOpts", .null),
        ])
    }
}
