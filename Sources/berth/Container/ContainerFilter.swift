import ArgumentParser
import BerthRuntime
import BerthStore
import Foundation

/// `ps --filter KEY=VALUE` with Docker's semantics: values of one key are alternatives, different
/// keys must all match; `id` and `name` are unanchored regular expressions as in Docker's filters.
struct ContainerFilter {
    private var values: [String: [String]] = [:]

    static let keys: Set<String> = [
        "id", "name", "label", "status", "exited", "ancestor", "before", "since", "publish", "expose",
        "network", "health", "volume", "is-task", "restart-policy",
    ]

    init(_ arguments: [String]) throws {
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "=") else {
                throw ValidationError("bad format of filter (expected name=value)")
            }
            let key = argument[..<equals].lowercased()
            let value = String(argument[argument.index(after: equals)...])
            guard Self.keys.contains(key) else { throw ValidationError("invalid filter '\(key)'") }
            values[key, default: []].append(value)
        }
        for status in values["status"] ?? [] where ContainerRecord.Status(rawValue: status) == nil {
            throw ValidationError("invalid filter 'status=\(status)'")
        }
        for code in values["exited"] ?? [] where Int32(code) == nil {
            throw ValidationError("invalid filter 'exited=\(code)'")
        }
        for health in values["health"] ?? [] where !["starting", "healthy", "unhealthy", "none"].contains(health) {
            throw ValidationError("invalid filter 'health=\(health)'")
        }
        for policy in values["restart-policy"] ?? [] where !["no", "on-failure", "always", "unless-stopped"].contains(policy) {
            throw ValidationError("invalid filter 'restart-policy=\(policy)'")
        }
    }

    /// Docker lists stopped containers too when filtering by status or by another container's age.
    var includesStopped: Bool { values["status"] != nil || values["before"] != nil || values["since"] != nil }

    /// The containers that pass every filter, in the given order (newest first).
    func apply(to records: [ContainerRecord], store: () throws -> Store?) throws -> [ContainerRecord] {
        var result = records
        if let ids = values["id"] { result = result.filter { record in ids.contains { Self.matches($0, record.id) } } }
        if let names = values["name"] {
            result = result.filter { record in names.contains { Self.matches($0, "/" + record.name) } }
        }
        if let labels = values["label"] {
            result = result.filter { record in
                labels.allSatisfy { label in
                    let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                    guard let value = record.config.labels[parts[0]] else { return false }
                    return parts.count == 1 || value == parts[1]
                }
            }
        }
        if let statuses = values["status"] { result = result.filter { statuses.contains($0.state.status.rawValue) } }
        if let codes = values["exited"] {
            result = result.filter { $0.state.status == .exited && codes.contains(String($0.state.exitCode)) }
        }
        if let health = values["health"] {
            result = result.filter { health.contains($0.state.health?.status ?? "none") }
        }
        if let policies = values["restart-policy"] {
            // Podman's filter for starting containers at boot, with the Docker daemon's rule when
            // it starts: `unless-stopped` containers the user stopped stay stopped.
            result = result.filter { record in
                let policy = record.hostConfig.restartPolicy.name
                return policies.contains(policy) && !(policy == "unless-stopped" && record.state.manuallyStopped)
            }
        }
        if let networks = values["network"] {
            result = result.filter { record in
                networks.contains(record.hostConfig.networkMode) || record.endpointsConfig.contains { networks.contains($0.network) }
            }
        }
        if let ports = values["publish"] {
            result = result.filter { record in
                ports.contains { Self.portMatches($0, record.network.ports.map { (Int($0.hostPort), $0.proto) }) }
            }
        }
        if let ports = values["expose"] {
            result = result.filter { record in
                let exposed = record.config.exposedPorts.compactMap { port -> (Int, String)? in
                    let parts = port.split(separator: "/")
                    guard let number = Int(parts[0]) else { return nil }
                    return (number, parts.count > 1 ? String(parts[1]) : "tcp")
                } + record.network.ports.map { (Int($0.containerPort), $0.proto) }
                return ports.contains { Self.portMatches($0, exposed) }
            }
        }
        if let volumes = values["volume"] {
            result = result.filter { record in
                record.mounts.contains { mount in volumes.contains { $0 == mount.name || $0 == mount.destination } }
            }
        }
        if let task = values["is-task"] {
            // Berth's containers are never swarm tasks.
            result = result.filter { _ in task.contains("false") }
        }
        if let ancestors = values["ancestor"] {
            guard let store = try store() else { return [] }
            let wanted = ancestors.compactMap { try? store.image(named: $0).id.description }
            result = result.filter { wanted.contains($0.imageID) }
        }
        for (key, keep) in [("before", { (record: ContainerRecord, pivot: ContainerRecord) in record.created < pivot.created }),
                            ("since", { (record: ContainerRecord, pivot: ContainerRecord) in record.created > pivot.created })] {
            for reference in values[key] ?? [] {
                guard let pivot = records.first(where: { $0.id == reference || $0.name == reference || $0.id.hasPrefix(reference) }) else {
                    throw ValidationError("No such container: \(reference)")
                }
                result = result.filter { keep($0, pivot) }
            }
        }
        return result
    }

    private static func matches(_ pattern: String, _ text: String) -> Bool {
        if pattern == text { return true }
        return text.range(of: pattern, options: .regularExpression) != nil
    }

    /// `80`, `80/tcp` or a range `8000-8080/udp` against (port, proto) pairs.
    private static func portMatches(_ filter: String, _ ports: [(Int, String)]) -> Bool {
        let parts = filter.split(separator: "/", maxSplits: 1)
        let proto = parts.count > 1 ? String(parts[1]) : "tcp"
        let bounds = parts[0].split(separator: "-").compactMap { Int($0) }
        guard let low = bounds.first else { return false }
        let high = bounds.count > 1 ? bounds[1] : low
        return ports.contains { (low...max(low, high)).contains($0.0) && $0.1 == proto }
    }
}
