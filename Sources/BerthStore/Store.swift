import BerthFiles
import BerthOCI
import Foundation
import GRDB
import Synchronization

/// The local image store at a root directory (`--root`, default `/var/lib/berth`):
/// content-addressed blobs, image names, unpacked layer snapshots and the metadata database.
public final class Store: Sendable {
    public let root: String
    /// Where each part of the state lies under `root`.
    public let stateRoot: StateRoot
    public let content: ContentStore
    let database: MetadataDatabase
    let lock: StoreLock
    /// Image configs decoded before, by image ID (the config's digest, so an entry never goes
    /// stale): `berth serve` lists two hundred images without decoding two hundred configs again.
    private let decodedConfigs = Mutex<[Digest: ImageConfig]>([:])

    public init(root: String) throws {
        self.root = root
        let stateRoot = StateRoot(root)
        self.stateRoot = stateRoot
        try FileSystem.makeDirectories(root, mode: 0o711)
        content = try ContentStore(stateRoot: stateRoot)
        try FileSystem.makeDirectories(stateRoot.snapshots, mode: 0o700)
        lock = try StoreLock(path: stateRoot.storeLock)
        // Opening may create or migrate the schema; processes starting together take turns.
        database = try StoreLock(path: stateRoot.metadataLock).withExclusive {
            try MetadataDatabase(path: stateRoot.metadataDatabase)
        }
    }

    // MARK: Reading images

    /// All images, newest first (as `docker images` lists them).
    public func images() throws -> [ImageRecord] {
        try database.read { db in try Self.records(in: db, ids: nil) }
    }

    /// Image records with their tags and repo digests, all of them or those with the given IDs.
    static func records(in db: Database, ids: [String]?) throws -> [ImageRecord] {
        let placeholders = ids.map { Array(repeating: "?", count: $0.count).joined(separator: ",") }
        let byImage = placeholders.map { "WHERE image_id IN (\($0))" } ?? ""
        let arguments = StatementArguments(ids ?? [])
        var tags: [String: [Reference]] = [:]
        var tagTimes: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT reference, image_id, tagged_at FROM tags \(byImage)",
                                    arguments: arguments) {
            let id: String = row["image_id"]
            if let reference = storedReference(row["reference"]) { tags[id, default: []].append(reference) }
            let time: String = row["tagged_at"]
            if !time.isEmpty, time > tagTimes[id, default: ""] { tagTimes[id] = time }
        }
        var digests: [String: [Reference]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT reference, image_id FROM repo_digests \(byImage)",
                                    arguments: arguments) {
            if let reference = storedReference(row["reference"]) {
                digests[row["image_id"], default: []].append(reference)
            }
        }
        let byID = placeholders.map { "WHERE id IN (\($0))" } ?? ""
        return try Row.fetchAll(db, sql: "SELECT * FROM images \(byID)", arguments: arguments).compactMap { row in
            let id: String = row["id"]
            guard let digest = try? Digest(parsing: id),
                  let manifest = try? Digest(parsing: row["manifest_digest"] as String) else { return nil }
            return ImageRecord(
                id: digest, manifestDigest: manifest, created: row["created"], size: row["size"],
                tags: (tags[id] ?? []).sorted { $0.description < $1.description },
                repoDigests: (digests[id] ?? []).sorted { $0.description < $1.description },
                lastTagTime: tagTimes[id])
        }.sorted { ($0.created ?? "", $0.id) > ($1.created ?? "", $1.id) }
    }

    /// Splits a reference the store wrote itself (already validated and normalized to
    /// `domain/path[:tag][@digest]`) without parsing it again: listing hundreds of tags stays cheap.
    static func storedReference(_ text: String) -> Reference? {
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            digest = try? Digest(parsing: String(rest[rest.index(after: at)...]))
            rest = rest[..<at]
        }
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), colon > slash {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        return Reference(domain: String(rest[..<slash]), path: String(rest[rest.index(after: slash)...]),
                         tag: tag, digest: digest)
    }

    /// Finds an image by tag, `name@digest`, full ID or unique ID prefix, the way Docker does.
    public func image(named name: String) throws -> ImageRecord {
        try database.read { db in try Self.image(named: name, in: db) }
    }

    static func image(named name: String, in db: Database) throws -> ImageRecord {
        let hex = name.hasPrefix("sha256:") ? String(name.dropFirst(7)) : name
        let isHex = !hex.isEmpty && hex.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        func found(_ id: String?) throws -> ImageRecord? {
            try id.flatMap { try Self.records(in: db, ids: [$0]).first }
        }
        if isHex, hex.count == 64, let image = try found("sha256:" + hex) { return image }
        if let reference = try? Reference(parsing: name) {
            let (table, key) = reference.digest.map { ("repo_digests", "\(reference.repository)@\($0)") }
                ?? ("tags", reference.withDefaultTag.description)
            let id = try String.fetchOne(db, sql: "SELECT image_id FROM \(table) WHERE reference = ?", arguments: [key])
            if let image = try found(id) { return image }
        }
        if isHex {
            let matches = try String.fetchAll(db, sql: "SELECT id FROM images WHERE id LIKE ? LIMIT 2",
                                              arguments: ["sha256:\(hex)%"])
            if matches.count > 1 { throw StoreError.ambiguousImageID(name) }
            if let image = try found(matches.first) { return image }
        }
        throw StoreError.noSuchImage(name)
    }

    /// The image's manifest, read from the content store.
    public func manifest(of image: ImageRecord) throws -> Manifest {
        try CanonicalJSON.decode(Manifest.self, from: content.read(image.manifestDigest))
    }

    /// The image's config exactly as stored (its digest is the image ID).
    public func configBytes(of image: ImageRecord) throws -> [UInt8] {
        try content.read(image.id)
    }

    public func config(of image: ImageRecord) throws -> ImageConfig {
        if let decoded = decodedConfigs.withLock({ $0[image.id] }) { return decoded }
        let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes(of: image))
        decodedConfigs.withLock { decoded in
            // Bounded: a store with more images than this decodes the rest each time.
            if decoded.count < 4096 { decoded[image.id] = config }
        }
        return config
    }

    /// Uncompressed sizes of the given layers (by diff ID), where known.
    public func layerSizes(_ diffIDs: [Digest]) throws -> [Digest: Int64] {
        try database.read { db in
            var sizes: [Digest: Int64] = [:]
            for diffID in diffIDs {
                if let size = try Int64.fetchOne(db, sql: "SELECT size FROM layers WHERE diff_id = ?",
                                                 arguments: [diffID.description]) {
                    sizes[diffID] = size
                }
            }
            return sizes
        }
    }

    // MARK: Registering and naming images

    /// Result of naming an image: tags that moved away from another image that is now untagged.
    public struct TagChange: Sendable {
        public var reference: Reference
        /// The image the tag pointed at before, if it was another one.
        public var previousImage: Digest?
    }

    /// Records an image whose blobs are all in the content store, and points `tags` at it, in one
    /// transaction. `layerSizes` are sizes by diff ID. Like Docker, `load` names images without
    /// touching their LastTagTime (`recordingTagTime: false`); tagging (import, tag) sets it.
    @discardableResult
    public func register(manifestDigest: Digest, config: ImageConfig, configDigest: Digest,
                         layerSizes: [Digest: Int64], tags: [Reference], recordingTagTime: Bool = true) throws -> [TagChange] {
        let now = Timestamp.format(Date())
        let tagTime = recordingTagTime ? now : ""
        return try database.write { db in
            for (diffID, size) in layerSizes {
                try db.execute(sql: "INSERT OR REPLACE INTO layers (diff_id, size) VALUES (?, ?)",
                               arguments: [diffID.description, size])
            }
            var total: Int64 = 0
            for diffID in config.rootfs.diffIDs {
                guard let size = try Int64.fetchOne(db, sql: "SELECT size FROM layers WHERE diff_id = ?",
                                                    arguments: [diffID.description]) else {
                    throw StoreError.invalidImage("layer \(diffID) has no recorded size")
                }
                total += size
            }
            try db.execute(sql: """
                INSERT INTO images (id, manifest_digest, created, size, added_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest
                """, arguments: [configDigest.description, manifestDigest.description, config.created, total, now])
            return try tags.map { try Self.setTag($0, to: configDigest, at: tagTime, in: db) }
        }
    }

    /// Points `reference` (a tag) at an existing image.
    @discardableResult
    public func tag(_ image: ImageRecord, as reference: Reference) throws -> TagChange {
        let now = Timestamp.format(Date())
        return try database.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM images WHERE id = ?", arguments: [image.id.description]) != nil
            else { throw StoreError.noSuchImage(image.id.description) }
            return try Self.setTag(reference.withDefaultTag, to: image.id, at: now, in: db)
        }
    }

    private static func setTag(_ reference: Reference, to id: Digest, at time: String, in db: Database) throws -> TagChange {
        let previous = try String.fetchOne(db, sql: "SELECT image_id FROM tags WHERE reference = ?",
                                           arguments: [reference.description])
        try db.execute(sql: "INSERT OR REPLACE INTO tags (reference, image_id, tagged_at) VALUES (?, ?, ?)",
                       arguments: [reference.description, id.description, time])
        let moved = previous.flatMap { $0 == id.description ? nil : try? Digest(parsing: $0) }
        return TagChange(reference: reference, previousImage: moved)
    }

    /// Records `name@digest` for an image (after a push or pull).
    public func addRepoDigest(_ reference: Reference, to image: Digest) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO repo_digests (reference, image_id) VALUES (?, ?)",
                           arguments: [reference.repository.description + "@" + (reference.digest?.description ?? ""),
                                       image.description])
        }
    }

    /// What `rmi` did, in Docker's terms.
    public enum RemovalEvent: Equatable, Sendable {
        case untagged(String)
        case deleted(Digest)
    }

    /// Removes a tag, or an image by ID, with Docker's `rmi` rules (moby's daemon/images/image_delete.go):
    /// a tag reference only untags, deleting the image when it was the last name; an ID with several
    /// tags needs `force`. An image a container uses is kept: without `force`, removing its last
    /// name or its ID is a conflict naming the container; with `force`, an image a running container
    /// uses is only untagged, and one a stopped container uses is deleted while the container's
    /// lease keeps its content. `isRunning` tells whether a container (by ID) runs.
    public func remove(_ name: String, force: Bool, isRunning: (String) -> Bool) throws -> [RemovalEvent] {
        try database.write(releasingSpace: true) { db in
            let image = try Self.image(named: name, in: db)
            let users = try containerLeaseRows(holding: image.id, db).filter(\.isAlive).map(\.containerID).sorted()
            let running = users.first(where: isRunning)
            let stopped = users.first { !isRunning($0) }
            var tags = image.tags
            var digests = image.repoDigests
            var events: [RemovalEvent] = []
            let byTag: Reference? = {
                guard let reference = try? Reference(parsing: name) else { return nil }
                return tags.contains(reference.withDefaultTag) ? reference.withDefaultTag : nil
            }()
            let singleReference = Self.isSingleReference(tags: tags, digests: digests)

            func untag(_ reference: Reference, table: String) throws {
                try db.execute(sql: "DELETE FROM \(table) WHERE reference = ?", arguments: [
                    table == "tags" ? reference.description : "\(reference.repository)@\(reference.digest?.description ?? "")",
                ])
                events.append(.untagged(reference.familiarString))
            }

            if let byTag {
                if !force, singleReference, let user = users.first {
                    throw StoreError.conflict("unable to remove repository reference \"\(name)\" (must force) - container "
                        + "\(user.prefix(12)) is using its referenced image \(image.id.shortID)")
                }
                try untag(byTag, table: "tags")
                tags.removeAll { $0 == byTag }
                // Digest references of the repository go with its last tag.
                if !tags.contains(where: { $0.name == byTag.name }) {
                    for digest in digests where digest.name == byTag.name { try untag(digest, table: "repo_digests") }
                    digests.removeAll { $0.name == byTag.name }
                }
                if !tags.isEmpty || !digests.isEmpty { return events }
                // The image lost its last name; a container using it keeps it (untagged), as Docker does.
                if running != nil || (!force && stopped != nil) { return events }
            } else {
                if let running {
                    throw StoreError.conflict("unable to delete \(image.id.shortID) (cannot be forced) - image is being used by running container \(running.prefix(12))")
                }
                if !force, !singleReference, !(tags.isEmpty && digests.isEmpty) {
                    throw StoreError.conflict(
                        "unable to delete \(image.id.shortID) (must be forced) - image is referenced in multiple repositories")
                }
                if !force, let stopped {
                    throw StoreError.conflict("unable to delete \(image.id.shortID) (must be forced) - image is being used by stopped container \(stopped.prefix(12))")
                }
                for tag in tags { try untag(tag, table: "tags") }
                for digest in digests { try untag(digest, table: "repo_digests") }
            }
            try db.execute(sql: "DELETE FROM images WHERE id = ?", arguments: [image.id.description])
            events.append(.deleted(image.id))
            return events
        }
    }

    /// Whether an image's names are one tag (with digest references of that repository only), as
    /// moby's isSingleReference decides.
    private static func isSingleReference(tags: [Reference], digests: [Reference]) -> Bool {
        if tags.count + digests.count <= 1 { return tags.count + digests.count == 1 }
        guard tags.count <= 1 else { return false }
        let repositories = Set(digests.map(\.name))
        return repositories.count == 1 && repositories.contains((tags.first ?? digests[0]).name)
    }

    /// Deletes an untagged image record (for `image prune`); returns false if it gained a tag meanwhile.
    public func removeIfUntagged(_ id: Digest) throws -> Bool {
        try database.write(releasingSpace: true) { db in
            let tags = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tags WHERE image_id = ?", arguments: [id.description]) ?? 0
            guard tags == 0 else { return false }
            try db.execute(sql: "DELETE FROM repo_digests WHERE image_id = ?", arguments: [id.description])
            try db.execute(sql: "DELETE FROM images WHERE id = ?", arguments: [id.description])
            return true
        }
    }
}
