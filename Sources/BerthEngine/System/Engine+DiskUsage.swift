import BerthBuild
import BerthOCI
import BerthRuntime
import BerthStore
import BerthTemplate
import Foundation

/// `system df`: the space images, containers, volumes and the build cache take.
extension Engine {
    /// What `system df` can count; `GET /system/df?type=…` asks for some.
    public enum DiskUsageType: String, Sendable, CaseIterable {
        case container, image, volume, buildCache = "build-cache"
    }

    /// dockerd's `/system/df` document: `LayersSize` and `Images`, `Containers`, `Volumes`,
    /// `BuildCache`; a type not asked for is `null` (and `LayersSize` absent without images).
    public func diskUsage(_ types: Set<DiskUsageType> = Set(DiskUsageType.allCases)) throws -> OrderedJSON {
        let records = try runtime.containers.records()
        var fields: [(String, OrderedJSON)] = []
        if types.contains(.image) {
            let (layersSize, images) = try imageUsage(records)
            fields += [("LayersSize", .int(layersSize)), ("Images", .array(images))]
        } else {
            fields.append(("Images", .null))
        }
        fields.append(("Containers", types.contains(.container)
            ? .array(records.map { ContainerSummaryJSON.document(for: $0, size: containerSize($0)) }) : .null))
        fields.append(("Volumes", types.contains(.volume)
            ? .array(try runtime.volumes.list().map { volume in volume.document(usage: try volumeUsage(volume)) }) : .null))
        fields.append(("BuildCache", types.contains(.buildCache) ? .array(buildCacheRecords()) : .null))
        return .object(fields)
    }

    /// The bytes of every layer the images hold (each counted once), and each image's summary
    /// with the bytes it shares with other images.
    private func imageUsage(_ records: [ContainerRecord]) throws -> (Int64, [OrderedJSON]) {
        let store = try store()
        let images = try store.images()
        let configs = images.map { try? store.config(of: $0) }
        var layerUsers: [Digest: Int] = [:]
        for config in configs.compactMap({ $0 }) {
            for diffID in Set(config.rootfs.diffIDs) { layerUsers[diffID, default: 0] += 1 }
        }
        let layerSizes = try store.layerSizes(Array(layerUsers.keys))
        let documents: [OrderedJSON] = zip(images, configs).map { image, config in
            let diffIDs = Set(config?.rootfs.diffIDs ?? [])
            let shared = diffIDs.filter { (layerUsers[$0] ?? 0) > 1 }.reduce(Int64(0)) { $0 + (layerSizes[$1] ?? 0) }
            let labels = config?.config?.Labels ?? [:]
            return .object([
                ("Containers", .int(records.filter { $0.imageID == image.id.description }.count)),
                ("Created", .int(Int64(image.createdDate?.timeIntervalSince1970 ?? 0))),
                ("Id", .string(image.id.description)),
                ("Labels", .object(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ("ParentId", .string("")),
                ("RepoDigests", .array(image.repoDigests.map { .string($0.familiarString) })),
                ("RepoTags", .array(image.tags.map { .string($0.familiarString) })),
                ("SharedSize", .int(shared)),
                ("Size", .int(image.size)),
            ])
        }
        return (layerSizes.values.reduce(0, +), documents)
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
}
