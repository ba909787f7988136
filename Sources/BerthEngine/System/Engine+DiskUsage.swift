import BerthBuild
import BerthOCI
import BerthRuntime
import BerthStore
import BerthTemplate
import Foundation
import Glibc

/// `system df`: the space images, containers, volumes and the build cache take.
extension Engine {
    /// dockerd's `/system/df` document: `LayersSize`, `Images`, `Containers`, `Volumes`, `BuildCache`.
    public func diskUsage() throws -> OrderedJSON {
        let store = try store()
        let records = try runtime.containers.records()
        let images = try store.images()
        let configs = images.map { try? store.config(of: $0) }
        var layerUsers: [Digest: Int] = [:]
        for config in configs.compactMap({ $0 }) {
            for diffID in Set(config.rootfs.diffIDs) { layerUsers[diffID, default: 0] += 1 }
        }
        let layerSizes = try store.layerSizes(Array(layerUsers.keys))
        let imageDocuments: [OrderedJSON] = zip(images, configs).map { image, config in
            let diffIDs = Set(config?.rootfs.diffIDs ?? [])
            let shared = diffIDs.filter { (layerUsers[$0] ?? 0) > 1 }.reduce(Int64(0)) { $0 + (layerSizes[$1] ?? 0) }
            let labels = config?.config?.Labels ?? [:]
            return .object([
                ("Containers", .int(records.filter { $0.imageID == image.id.description }.count)),
                ("Created", .int(Int64(image.createdDate?.timeIntervalSince1970 ?? 0))),
                ("Id", .string(image.id.description)),
                ("Labels", .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ("ParentId", .string("")),
                ("RepoDigests", .array(image.repoDigests.map { .string($0.description) })),
                ("RepoTags", .array(image.tags.map { .string($0.description) })),
                ("SharedSize", .int(shared)),
                ("Size", .int(image.size)),
            ])
        }
        let imageSizes = Dictionary(images.map { ($0.id.description, $0.size) }, uniquingKeysWith: { first, _ in first })
        let containerDocuments: [OrderedJSON] = records.map { record in
            let sizeRw = Self.treeSize(runtime.containers.path(of: record.id) + "/upper")
            let mounts: [OrderedJSON] = record.mounts.map { mount in
                .object([
                    ("Type", .string(mount.type.rawValue)), ("Name", .string(mount.name)), ("Source", .string(mount.source)),
                    ("Destination", .string(mount.destination)), ("Driver", .string(mount.type == .volume ? "local" : "")),
                    ("Mode", .string(mount.mode)), ("RW", .bool(mount.readWrite)), ("Propagation", .string(mount.propagation)),
                ])
            }
            return .object([
                ("Id", .string(record.id)),
                ("Names", .array([.string("/" + record.name)])),
                ("Image", .string(record.imageName)),
                ("ImageID", .string(record.imageID)),
                ("Command", .string((record.config.entrypoint + record.config.cmd).joined(separator: " "))),
                ("Created", .int(Int64(record.created.timeIntervalSince1970))),
                ("SizeRw", .int(sizeRw)),
                ("SizeRootFs", .int(sizeRw + (imageSizes[record.imageID] ?? 0))),
                ("Labels", .object(record.config.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ("State", .string(record.state.status.rawValue)),
                ("Status", .string(Self.briefStatus(record.state))),
                ("Mounts", .array(mounts)),
            ])
        }
        let volumeDocuments: [OrderedJSON] = try runtime.volumes.list().map { volume in
            volume.document(usage: try volumeUsage(volume))
        }
        return .object([
            ("LayersSize", .int(layerSizes.values.reduce(0, +))),
            ("Images", .array(imageDocuments)),
            ("Containers", .array(containerDocuments)),
            ("Volumes", .array(volumeDocuments)),
            ("BuildCache", .array(buildCacheRecords())),
        ])
    }

    /// The classic builder's cache entries as dockerd's BuildCache records: each holds the layer
    /// its step made, if any.
    private func buildCacheRecords() -> [OrderedJSON] {
        let directory = BuildCache(root: root).directory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { name -> OrderedJSON? in
            guard let data = FileManager.default.contents(atPath: directory + "/" + name),
                  let entry = try? JSONDecoder().decode(BuildCache.Entry.self, from: data) else { return nil }
            let created = entry.history.created ?? Timestamp.format(Date(timeIntervalSince1970: 0))
            return .object([
                ("ID", .string(String(name.prefix(25)))),
                ("Parents", .null),
                ("Type", .string("regular")),
                ("Description", .string(entry.history.createdBy ?? "")),
                ("InUse", .bool(false)),
                ("Shared", .bool(false)),
                ("Size", .int(entry.layer?.size ?? 0)),
                ("CreatedAt", .string(created)),
                ("LastUsedAt", .null),
                ("UsageCount", .int(0)),
            ])
        }
    }

    /// Docker's status column without the durations (`Up`, `Exited (0)`, `Created`).
    private static func briefStatus(_ state: ContainerRecord.State) -> String {
        switch state.status {
        case .running: "Up"
        case .paused: "Up (Paused)"
        case .restarting: "Restarting (\(state.exitCode))"
        case .exited: "Exited (\(state.exitCode))"
        case .created: "Created"
        case .removing: "Removal In Progress"
        case .dead: "Dead"
        }
    }

    /// Bytes of the regular files under `path` (hard links counted once).
    static func treeSize(_ path: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        var seen = Set<UInt64>()
        for case let relative as String in walker {
            var info = stat()
            guard lstat(path + "/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            if info.st_nlink > 1, !seen.insert(UInt64(info.st_ino)).inserted { continue }
            total += Int64(info.st_size)
        }
        return total
    }
}
