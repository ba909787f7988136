import BerthArchive
import BerthBuild
import BerthOCI
import BerthStore
import BerthTemplate
import Foundation
import Glibc

/// `images` / `GET /images/json`: which images to list.
public struct ImageListOptions: Sendable {
    /// `-a` / `all`: accepted as Docker's; Berth keeps no intermediate images, so every image is listed either way.
    public var all: Bool
    /// `dangling`, `label`, `before`, `since`, `reference`.
    public var filters: Filters

    public init(all: Bool = false, filters: Filters) {
        self.all = all
        self.filters = filters
    }
}

/// One image as `GET /images/json` lists it.
public struct ImageSummary: Sendable {
    public var image: ImageRecord
    public var labels: [String: String]?
    /// Bytes of this image's layers that other images share; nil unless asked for.
    public var sharedSize: Int64?
}

/// One entry of an image's history, newest first, as `history` shows it.
public struct ImageHistoryEntry: Sendable, Equatable {
    /// The image's ID for the newest entry; nil (Docker's `<missing>`) for the others.
    public var imageID: Digest?
    public var created: Date?
    public var createdBy: String
    /// The image's tags on the newest entry.
    public var tags: [String]
    /// The bytes the entry's layer adds (0 for an instruction that made none).
    public var size: Int64
    public var comment: String
}

/// `import` / `POST /images/create?fromSrc=…`: what to make of a root filesystem tarball.
public struct ImageImportOptions: Sendable {
    /// Dockerfile instructions applied to the image's config (`--change`).
    public var changes: [String]
    public var message: String?
    public var platform: String?
    /// The name to give the image (`REPOSITORY[:TAG]`).
    public var reference: String?
    /// What the history comment says it came from when there is no message.
    public var sourceName: String

    public init(changes: [String] = [], message: String? = nil, platform: String? = nil, reference: String? = nil,
                sourceName: String = "-") {
        self.changes = changes
        self.message = message
        self.platform = platform
        self.reference = reference
        self.sourceName = sourceName
    }
}

/// What `image prune` removed.
public struct ImagePruneReport: Sendable {
    public var removed: [Store.RemovalEvent]
    public var reclaimedBytes: Int64
}

extension Engine {
    /// The filters `images` takes.
    public static let imageListFilters: Set<String> = ["dangling", "label", "before", "since", "reference"]
    /// The filters `image prune` takes.
    public static let imagePruneFilters: Set<String> = ["dangling", "label", "label!", "until"]

    // MARK: Reading

    /// The image `name` (a tag, `name@digest`, an ID or a unique ID prefix) names, or dockerd's
    /// not-found error (`No such image: name:latest`).
    public func image(named name: String) throws -> ImageRecord {
        do {
            return try store().image(named: name)
        } catch StoreError.noSuchImage {
            throw EngineError.notFound("No such image: \(Self.shownName(name))")
        }
    }

    /// A name as dockerd repeats it in errors: a reference with its default tag.
    static func shownName(_ name: String) -> String {
        let hex = name.hasPrefix("sha256:") ? name.dropFirst(7) : Substring(name)
        if !hex.isEmpty, hex.allSatisfy(\.isHexDigit), name.hasPrefix("sha256:") || hex.count == 64 { return name }
        guard let reference = try? Reference(parsing: name), reference.digest == nil else { return name }
        return reference.withDefaultTag.familiarString
    }

    /// Images newest first, filtered as Docker filters them. With a `reference` filter, each image
    /// keeps only the names that match it, as dockerd lists them.
    public func images(_ options: ImageListOptions) throws -> [ImageRecord] {
        let filters = options.filters
        try filters.validate(Self.imageListFilters)
        let store = try store()
        var predicates: [(ImageRecord) -> Bool] = []
        if let dangling = try filters.bool("dangling") { predicates.append { $0.tags.isEmpty == dangling } }
        if filters.contains("label") {
            predicates.append { image in filters.matchesLabels(Self.labels(of: image, in: store) ?? [:]) }
        }
        for (key, before) in [("before", true), ("since", false)] {
            for value in filters.values(key) {
                let pivot = try image(named: value)
                predicates.append { image in
                    let created = image.created ?? ""
                    return before ? created < (pivot.created ?? "") : created > (pivot.created ?? "")
                }
            }
        }
        var images = try store.images().filter { image in predicates.allSatisfy { $0(image) } }
        let patterns = filters.values("reference")
        if !patterns.isEmpty {
            func matches(_ reference: Reference) -> Bool {
                patterns.contains { pattern in
                    fnmatch(pattern, reference.familiarName, FNM_PATHNAME) == 0
                        || fnmatch(pattern, reference.familiarString, FNM_PATHNAME) == 0
                }
            }
            images = images.compactMap { image in
                var narrowed = image
                narrowed.tags = image.tags.filter(matches)
                narrowed.repoDigests = image.repoDigests.filter(matches)
                return narrowed.tags.isEmpty ? nil : narrowed
            }
        }
        return images
    }

    /// `images` with each image's labels and, when asked, the size it shares with others.
    public func imageSummaries(_ options: ImageListOptions, sharedSize: Bool) throws -> [ImageSummary] {
        let store = try store()
        let images = try self.images(options)
        var summaries = images.map { ImageSummary(image: $0, labels: Self.labels(of: $0, in: store)) }
        guard sharedSize else { return summaries }
        // A layer is shared when another image (listed or not) has it too.
        var users: [Digest: Int] = [:]
        var layersOf: [Digest: [Digest]] = [:]
        for image in try store.images() {
            let layers = (try? store.config(of: image).rootfs.diffIDs) ?? []
            layersOf[image.id] = layers
            for layer in Set(layers) { users[layer, default: 0] += 1 }
        }
        let sizes = try store.layerSizes(Array(users.keys))
        for index in summaries.indices {
            let layers = Set(layersOf[summaries[index].image.id] ?? [])
            summaries[index].sharedSize = layers.filter { users[$0, default: 0] > 1 }.reduce(0) { $0 + (sizes[$1] ?? 0) }
        }
        return summaries
    }

    static func labels(of image: ImageRecord, in store: Store) -> [String: String]? {
        (try? store.config(of: image).config?.Labels) ?? nil
    }

    /// The image's inspect document, with the fields of the caller's API version.
    public func inspectImage(_ name: String, fields: ImageInspectFields = .cli) throws -> OrderedJSON {
        try ImageInspectDocument.make(for: image(named: name), store: store(), fields: fields)
    }

    /// The image's history, newest first; each entry that made a layer carries the layer's size.
    public func imageHistory(_ name: String) throws -> [ImageHistoryEntry] {
        let store = try store()
        let record = try image(named: name)
        let config = try store.config(of: record)
        let diffIDs = config.rootfs.diffIDs
        let sizes = try store.layerSizes(diffIDs)
        var entries = config.history ?? []
        if entries.isEmpty { entries = diffIDs.map { _ in History() } }
        // Entries that are not empty layers correspond, in order, to the layers.
        var layerIndex = 0
        var result: [ImageHistoryEntry] = []
        for (position, entry) in entries.enumerated() {
            var size: Int64 = 0
            if entry.emptyLayer != true, layerIndex < diffIDs.count {
                size = sizes[diffIDs[layerIndex]] ?? 0
                layerIndex += 1
            }
            let newest = position == entries.count - 1
            result.append(ImageHistoryEntry(
                imageID: newest ? record.id : nil, created: entry.created.flatMap(Timestamp.parse),
                createdBy: entry.createdBy ?? "", tags: newest ? record.tags.map(\.familiarString) : [], size: size,
                comment: entry.comment ?? ""))
        }
        return result.reversed()
    }

    // MARK: Naming and removing

    /// Points `target` (`REPOSITORY[:TAG]`, `latest` by default) at the image `source` names.
    public func tagImage(_ source: String, as target: String) throws {
        let reference: Reference
        do {
            reference = try Reference(parsing: target)
        } catch {
            throw EngineError.invalidParameter("\(error)")
        }
        guard reference.digest == nil else { throw EngineError.invalidParameter("refusing to create a tag with a digest reference") }
        let image = try image(named: source)
        let change = try store().tag(image, as: reference)
        events.record(.image, "tag", id: image.id.description, attributes: ["name": change.reference.familiarString])
    }

    /// Removes a name or an image with Docker's rules (see `Store.remove`), then the content that
    /// no longer has a holder when no build or pull runs.
    public func removeImage(_ name: String, force: Bool) throws -> [Store.RemovalEvent] {
        let store = try store()
        let removed: [Store.RemovalEvent]
        do {
            let id = try store.image(named: name).id
            removed = try store.remove(name, force: force, isRunning: runtime.isRunning)
            recordRemoval(removed, of: id)
        } catch StoreError.noSuchImage {
            throw EngineError.notFound("No such image: \(Self.shownName(name))")
        }
        if removed.contains(where: { if case .deleted = $0 { true } else { false } }) { _ = try store.collectGarbageIfIdle() }
        return removed
    }

    /// dockerd's events for a removal: `untag` per name and `delete`, each naming the image's ID.
    private func recordRemoval(_ removed: [Store.RemovalEvent], of id: Digest) {
        for event in removed {
            switch event {
            case .untagged: events.record(.image, "untag", id: id.description, attributes: ["name": id.description])
            case .deleted: events.record(.image, "delete", id: id.description, attributes: ["name": id.description])
            }
        }
    }

    /// Removes the images no container uses: the untagged ones (`dangling=true`, the default) or
    /// all of them (`dangling=false`), narrowed by `until` and `label` / `label!`; then collects
    /// what they held.
    public func pruneImages(_ filters: Filters) throws -> ImagePruneReport {
        try filters.validate(Self.imagePruneFilters)
        let all = try filters.bool("dangling") == false
        let until = try filters.time("until")
        let store = try store()
        let inUse = try store.imagesInUse()
        let candidates = try store.images().filter { image in
            guard (all || image.tags.isEmpty), !inUse.contains(image.id) else { return false }
            if let until, (image.createdDate ?? .distantPast) >= until { return false }
            if filters.contains("label") || filters.contains("label!") {
                return filters.matchesLabels(Self.labels(of: image, in: store) ?? [:])
            }
            return true
        }
        var removed: [Store.RemovalEvent] = []
        for image in candidates {
            let events: [Store.RemovalEvent]
            if image.tags.isEmpty {
                events = try store.removeIfUntagged(image.id) ? [.deleted(image.id)] : []
            } else {
                events = try store.remove(image.id.description, force: true, isRunning: { _ in true })
            }
            recordRemoval(events, of: image.id)
            removed += events
        }
        let garbage = try store.collectGarbage()
        events.record(.image, "prune", id: "", attributes: ["reclaimed": String(garbage.reclaimedBytes)])
        return ImagePruneReport(removed: removed, reclaimedBytes: garbage.reclaimedBytes)
    }

    // MARK: Archives

    /// Loads the images of a docker-archive or OCI layout archive and returns what `load` reports,
    /// one line each (`Loaded image: busybox:latest`, `Loaded image ID: sha256:…`).
    ///
    /// `progress` hears dockerd's "Loading layer" message for each layer, with its bytes counted.
    public func loadImages(from source: ByteSource, progress: (TransferMessage) -> Void = { _ in }) throws -> [String] {
        let store = try store()
        let loaded = try store.load(from: source) { chainID, size in
            progress(TransferMessage(id: String(chainID.encoded.prefix(12)), status: "Loading layer",
                                     progress: TransferMessage.Progress(current: size, total: size)))
        }
        var lines: [String] = []
        let untaggedNow = Set(try store.images().filter(\.tags.isEmpty).map(\.id))
        for image in loaded {
            for change in image.tags {
                if let previous = change.previousImage, untaggedNow.contains(previous) {
                    lines.append("The image \(change.reference.familiarString) already exists, renaming the old one with ID \(previous) to empty string")
                }
                lines.append("Loaded image: \(change.reference.familiarString)")
            }
            if image.tags.isEmpty { lines.append("Loaded image ID: \(image.id)") }
            events.record(.image, "load", id: image.id.description, attributes: ["name": image.id.description])
        }
        return lines
    }

    /// Writes the named images to `sink` as one archive that is both a docker-archive and an OCI layout.
    public func saveImages(_ names: [String], to sink: ByteSink) throws {
        guard !names.isEmpty else { throw EngineError.invalidParameter("no images to save: name at least one") }
        let images = try names.map { try image(named: $0) }
        try store().save(names, to: sink)
        for image in images { events.record(.image, "save", id: image.id.description, attributes: ["name": image.id.description]) }
    }

    /// Makes a one-layer image of a root filesystem tarball, as `docker import` does; returns its ID.
    public func importImage(from source: ByteSource, options: ImageImportOptions) throws -> Digest {
        if let platform = options.platform, !platform.isEmpty, platform != Platform.current.description {
            throw EngineError.invalidParameter("platform \(platform) is not supported: this machine runs \(Platform.current)")
        }
        if options.sourceName.hasPrefix("http://") || options.sourceName.hasPrefix("https://") {
            throw EngineError.invalidParameter("importing from a URL is not supported; download the tarball and import the file")
        }
        let tag = try Self.newImageTag(options.reference)
        let commands = try Self.configChanges(options.changes)
        let result = try store().importImage(from: source, sourceName: options.sourceName, message: options.message, tag: tag) { config in
            for command in commands {
                let expanded = try command.expanded(with: ConfigChanges.environment(of: config), fileName: "--change")
                try ConfigChanges.apply(expanded, to: &config)
            }
        }
        events.record(.image, "import", id: result.id.description, attributes: ["name": result.id.description])
        return result.id
    }
}
