import BerthOCI
import BerthProcess
import Foundation
import GRDB
import Glibc

/// A record that a holder needs content, so garbage collection keeps it (containerd's leases):
/// a container holds its image, a build in progress what it reads and writes, the build cache its
/// layers. Leases live in the metadata database and are taken under the shared store lock, so a
/// collection (which holds the lock exclusively) sees every hold made before it starts.
///
/// A lease is alive while its holder is: while the process that took it runs (pid and start
/// time), or while its holder's path exists (a container's directory), or for ever when it names
/// neither (the build cache's, released by `builder prune`). A lease whose holder is gone is stale:
/// the next collection deletes it, so a killed `berth` never pins content for ever.
public struct Lease: Sendable, Hashable {
    public let id: String
    /// The process whose life the lease lasts, if any.
    public let holder: ProcessIdentity?
    /// The path whose existence the lease lasts, if any.
    public let path: String?

    public init(id: String, holder: ProcessIdentity?, path: String?) {
        self.id = id
        self.holder = holder
        self.path = path
    }

    /// A lease of this process (a build, a pull), until it is released or the process dies.
    public static func process() -> Lease {
        Lease(id: "process " + UUID().uuidString, holder: .current, path: nil)
    }

    /// A container's lease: alive while this process (which creates the container) runs and
    /// while the container's directory exists.
    public static func container(_ containerID: String, directory: String) -> Lease {
        Lease(id: "container " + containerID, holder: .current, path: directory)
    }

    /// The build cache's lease, held until `builder prune`.
    public static let buildCache = Lease(id: "buildcache", holder: nil, path: nil)
}

/// What a lease holds.
public enum LeaseResource: Sendable, Hashable {
    /// An image by ID (its config digest): what `rmi` and `image prune` look for.
    case image(Digest)
    /// An image's manifest, and through it its config, its layers and their snapshots.
    case manifest(Digest)
    /// One blob.
    case blob(Digest)
    /// An unpacked layer by chain ID: the store's snapshot and the builder's.
    case snapshot(Digest)

    var row: (kind: String, key: String) {
        switch self {
        case .image(let digest): return ("image", digest.description)
        case .manifest(let digest): return ("manifest", digest.description)
        case .blob(let digest): return ("blob", digest.description)
        case .snapshot(let chainID): return ("snapshot", chainID.description)
        }
    }

    init?(kind: String, key: String) {
        guard let digest = try? Digest(parsing: key) else { return nil }
        switch kind {
        case "image": self = .image(digest)
        case "manifest": self = .manifest(digest)
        case "blob": self = .blob(digest)
        case "snapshot": self = .snapshot(digest)
        default: return nil
        }
    }

    /// The image's own resources: its ID and its manifest.
    public static func image(_ image: ImageRecord) -> [LeaseResource] {
        [.image(image.id), .manifest(image.manifestDigest)]
    }
}

extension Store {
    /// Adds `resources` to `lease`, under the shared store lock, after checking that the content
    /// they name is in the store (`checkPresent`).
    /// The first hold records the lease itself.
    public func hold(_ resources: [LeaseResource], in lease: Lease) throws {
        guard !resources.isEmpty else { return }
        try lock.withShared {
            try database.write { db in try insert(resources, into: lease, db) }
        }
    }

    /// Runs `body` (which writes content) under the shared store lock and holds what it returns in
    /// `lease` before the lock is released, so no collection can come between the write and the hold.
    public func hold<T>(in lease: Lease, _ body: () throws -> (T, [LeaseResource])) throws -> T {
        try lock.withShared {
            let (result, resources) = try body()
            try database.write { db in try insert(resources, into: lease, db) }
            return result
        }
    }

    /// Throws `missingBlob` for the first blob among `resources` that the store does not have
    /// (snapshots are not checked: a holder may name one it is about to make).
    public func checkPresent(_ resources: [LeaseResource]) throws {
        for resource in resources {
            switch resource {
            case .image(let digest), .manifest(let digest), .blob(let digest):
                guard content.contains(digest) else { throw StoreError.missingBlob(digest) }
            case .snapshot:
                break
            }
        }
    }

    /// Finds an image by name and holds it in `lease`, in one transaction: an `rmi` running at the
    /// same time either comes first (and the image is not found) or sees the holder.
    public func holdImage(named name: String, in lease: Lease) throws -> ImageRecord {
        try lock.withShared {
            try database.write { db in
                let image = try Self.image(named: name, in: db)
                try insert(LeaseResource.image(image), into: lease, db)
                return image
            }
        }
    }

    private func insert(_ resources: [LeaseResource], into lease: Lease, _ db: Database) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO leases (id, pid, pid_start, path, created_at) VALUES (?, ?, ?, ?, ?)",
                       arguments: [lease.id, lease.holder?.pid, lease.holder.map { Int64(bitPattern: $0.startTime) },
                                   lease.path, Timestamp.format(Date())])
        try checkPresent(resources)
        for resource in resources {
            let (kind, key) = resource.row
            try db.execute(sql: "INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, ?, ?)",
                           arguments: [lease.id, kind, key])
        }
    }

    /// Ends a lease; what only it held becomes garbage.
    public func release(_ lease: Lease) throws {
        try database.write(releasingSpace: true) { db in
            try db.execute(sql: "DELETE FROM lease_resources WHERE lease_id = ?", arguments: [lease.id])
            try db.execute(sql: "DELETE FROM leases WHERE id = ?", arguments: [lease.id])
        }
    }

    /// The containers (IDs) whose leases hold the image `id`, and are alive.
    public func containers(using id: Digest) throws -> [String] {
        try database.read { db in try containerLeaseRows(holding: id, db) }.filter(\.isAlive).map(\.containerID).sorted()
    }

    func containerLeaseRows(holding id: Digest, _ db: Database) throws -> [LeaseRow] {
        leaseRows(try Row.fetchAll(db, sql: """
            SELECT l.id, l.pid, l.pid_start, l.path FROM leases l JOIN lease_resources r ON r.lease_id = l.id
            WHERE r.kind = 'image' AND r.key = ? AND l.id LIKE 'container %'
            """, arguments: [id.description]))
    }

    /// The images (IDs) that live containers hold.
    public func imagesInUse() throws -> Set<Digest> {
        let leases = try liveLeases { db in
            try Row.fetchAll(db, sql: "SELECT id, pid, pid_start, path FROM leases WHERE id LIKE 'container %'")
        }
        return Set(try heldResources(of: leases.map(\.id)).compactMap {
            if case .image(let id) = $0 { return id }
            return nil
        })
    }

    /// Everything the live leases hold, for `builder prune` (which keeps what running builds use).
    /// Call it under `withExclusiveLock`, so no hold is added meanwhile.
    public func liveResources() throws -> Set<LeaseResource> {
        let leases = try liveLeases { db in try Row.fetchAll(db, sql: "SELECT id, pid, pid_start, path FROM leases") }
        return Set(try heldResources(of: leases.map(\.id)))
    }

    /// Whether any process that took a lease (a build, a `create`) still runs.
    public func hasLiveProcessLeases() throws -> Bool {
        try !liveLeases { db in
            try Row.fetchAll(db, sql: "SELECT id, pid, pid_start, path FROM leases WHERE id LIKE 'process %'")
        }.isEmpty
    }

    /// Runs `body` under the exclusive store lock: no content is written or held meanwhile.
    public func withExclusiveLock<T>(_ body: () throws -> T) throws -> T {
        try lock.withExclusive(body)
    }

    // MARK: Reading leases

    struct LeaseRow {
        var id: String
        var holder: ProcessIdentity?
        var path: String?

        /// The container's ID, for a container's lease.
        var containerID: String { String(id.dropFirst("container ".count)) }

        /// Whether the holder is still there (see `Lease`).
        var isAlive: Bool {
            if let holder, holder.isAlive { return true }
            if let path { return access(path, F_OK) == 0 }
            return holder == nil
        }
    }

    func leaseRows(_ rows: [Row]) -> [LeaseRow] {
        rows.map { row in
            let pid: Int32? = row["pid"]
            let start: Int64? = row["pid_start"]
            return LeaseRow(id: row["id"], holder: pid.map { ProcessIdentity(pid: $0, startTime: UInt64(bitPattern: start ?? 0)) },
                            path: row["path"])
        }
    }

    private func liveLeases(_ query: (Database) throws -> [Row]) throws -> [LeaseRow] {
        leaseRows(try database.read(query)).filter(\.isAlive)
    }

    func heldResources(of leaseIDs: [String]) throws -> [LeaseResource] {
        guard !leaseIDs.isEmpty else { return [] }
        return try database.read { db in try Self.heldResources(of: leaseIDs, in: db) }
    }

    static func heldResources(of leaseIDs: [String], in db: Database) throws -> [LeaseResource] {
        guard !leaseIDs.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: leaseIDs.count).joined(separator: ",")
        return try Row.fetchAll(db, sql: "SELECT kind, key FROM lease_resources WHERE lease_id IN (\(placeholders))",
                                arguments: StatementArguments(leaseIDs))
            .compactMap { LeaseResource(kind: $0["kind"], key: $0["key"]) }
    }
}
