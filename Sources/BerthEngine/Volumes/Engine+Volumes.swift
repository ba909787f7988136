import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// What `volume create` and `POST /volumes/create` ask for.
public struct VolumeCreateOptions: Sendable, Equatable {
    /// Random (64 hex digits) when nil.
    public var name: String?
    /// Only `local` (the default when empty).
    public var driver = "local"
    public var labels: [String: String] = [:]
    /// The local driver's mount options (refused: Berth's volumes are directories).
    public var driverOptions: [String: String] = [:]

    public init(name: String? = nil) {
        self.name = name
    }
}

/// A volume with what `system df` and `GET /volumes` report about its use.
public struct VolumeUsage: Sendable, Equatable {
    public var size: Int64
    /// How many containers use it.
    public var referenceCount: Int
}

/// What a prune removed.
public struct PruneReport: Sendable, Equatable {
    public var deleted: [String]
    public var spaceReclaimed: Int64
}

/// Volumes with Docker's semantics: creation, lookups, filters, removal (refused while in use),
/// prune, and their events.
extension Engine {
    /// The filters `volume ls` and `GET /volumes` accept.
    public static let volumeListFilters: Set<String> = ["dangling", "name", "label", "driver"]
    /// The filters `volume prune` accepts (`all`: named volumes too, API 1.42 and later).
    public static let volumePruneFilters: Set<String> = ["label", "label!", "all"]

    /// Creates a volume, or returns the existing one of that name, as Docker does.
    public func createVolume(_ options: VolumeCreateOptions) throws -> Volume {
        let driver = options.driver.isEmpty ? "local" : options.driver
        guard driver == "local" else {
            throw EngineError.notFound(
                "create \(options.name ?? ""): error looking up volume plugin \(driver): plugin \"\(driver)\" not found")
        }
        if let option = options.driverOptions.keys.sorted().first {
            throw EngineError.invalidParameter("volume driver option \(option) is not supported by Berth: its volumes are directories")
        }
        let volume = try runtime.volumes.create(options.name, labels: options.labels)
        events.record(.volume, "create", id: volume.name, attributes: ["driver": volume.driver])
        return volume
    }

    /// The volume called `name`.
    public func volume(_ name: String) throws -> Volume {
        guard let volume = try runtime.volumes.volume(name) else { throw RuntimeError.noSuchVolume(name) }
        return volume
    }

    /// The volumes `filters` let through, by name.
    public func volumes(filters: Filters) throws -> [Volume] {
        try filters.validate(Self.volumeListFilters)
        let dangling = try filters.bool("dangling")
        let inUse = dangling == nil ? [] : try volumesInUse()
        return try runtime.volumes.list().filter { volume in
            dangling.map { $0 == !inUse.contains(volume.name) } ?? true
                && (!filters.contains("name") || filters.values("name").contains { volume.name.contains($0) })
                && filters.matches("driver", volume.driver)
                && filters.matchesLabels(volume.labels)
        }
    }

    /// Each volume's size and number of users (`system df`).
    public func volumeUsage(_ volume: Volume) throws -> VolumeUsage {
        VolumeUsage(size: runtime.volumes.size(of: volume.name), referenceCount: try runtime.users(ofVolume: volume.name).count)
    }

    /// Removes a volume no container uses; with `force`, a missing one is no error. (Docker's
    /// force does not remove a volume in use either.)
    public func removeVolume(_ name: String, force: Bool = false) throws {
        do {
            try runtime.removeVolume(name)
        } catch RuntimeError.noSuchVolume where force {
            return
        }
        events.record(.volume, "destroy", id: name, attributes: ["driver": "local"])
    }

    /// Removes the volumes no container uses: anonymous ones, or every one with `all=true`.
    public func pruneVolumes(filters: Filters) throws -> PruneReport {
        try filters.validate(Self.volumePruneFilters)
        let all = try filters.bool("all") ?? false
        var report = PruneReport(deleted: [], spaceReclaimed: 0)
        for volume in try runtime.volumes.list() where (all || volume.anonymous) && filters.matchesLabels(volume.labels) {
            let size = runtime.volumes.size(of: volume.name)
            // One in use is kept; so is one another process removed meanwhile.
            guard (try? runtime.removeVolume(volume.name)) != nil else { continue }
            events.record(.volume, "destroy", id: volume.name, attributes: ["driver": volume.driver])
            report.deleted.append(volume.name)
            report.spaceReclaimed += size
        }
        events.record(.volume, "prune", id: "", attributes: ["reclaimed": String(report.spaceReclaimed)])
        return report
    }

    private func volumesInUse() throws -> Set<String> {
        Set(try runtime.containers.records().flatMap { $0.mounts.filter { $0.type == .volume }.map(\.name) })
    }
}

extension Volume {
    /// Docker's volume document, in its field order (`volume inspect`, `GET /volumes/{name}`);
    /// with `usage`, the `UsageData` that `system df` reads.
    public func document(usage: VolumeUsage? = nil) -> OrderedJSON {
        func map(_ values: [String: String], emptyIsNull: Bool) -> OrderedJSON {
            if values.isEmpty && emptyIsNull { return .null }
            return .object(values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        }
        var fields: [(String, OrderedJSON)] = [
            ("CreatedAt", .string(Timestamp.format(createdAt))),
            ("Driver", .string(driver)),
            // dockerd 20.10 shows a volume without labels with null, named or anonymous.
            ("Labels", map(labels, emptyIsNull: true)),
            ("Mountpoint", .string(mountpoint)),
            ("Name", .string(name)),
            ("Options", map(options, emptyIsNull: true)),
            ("Scope", .string("local")),
        ]
        if let usage {
            fields.append(("UsageData", .object([("RefCount", .int(usage.referenceCount)), ("Size", .int(usage.size))])))
        }
        return .object(fields)
    }
}
