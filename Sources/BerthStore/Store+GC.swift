import BerthFiles
import BerthOCI
import Foundation
import GRDB

extension Store {
    /// What garbage collection removed.
    public struct CollectedGarbage: Sendable {
        public var blobs: [Digest] = []
        public var snapshots: [Digest] = []
        public var reclaimedBytes: Int64 = 0
    }

    /// Removes blobs and snapshots that no image and no live lease reaches, stale leases, and leftovers of interrupted writers
    /// (ingest files, unfinished unpacks). Holds the store lock exclusively, so nothing another
    /// `berth` process is writing can be taken: waits for writers to finish.
    @discardableResult
    public func collectGarbage() throws -> CollectedGarbage {
        try lock.withExclusive(sweep)
    }

    /// Collects garbage only if no other process is writing to the store right now (as after
    /// `rmi`, which should not wait for a long `load` elsewhere); returns nil if it did not run.
    @discardableResult
    public func collectGarbageIfIdle() throws -> CollectedGarbage? {
        try lock.withExclusiveIfFree(sweep)
    }

    /// Marks what images and live leases reach, then deletes the rest: files first and the
    /// database's rows last, so a collection on a full disk frees space before it needs any.
    private func sweep() throws -> CollectedGarbage {
        // Images, leases and what the live ones hold, in one read: a pull that registers its image
        // and then releases its lease between two reads would otherwise be in neither.
        let (images, leases, held) = try database.read { db in
            let leases = leaseRows(try Row.fetchAll(db, sql: "SELECT id, pid, pid_start, path FROM leases"))
            return (try Self.records(in: db, ids: nil), leases,
                    try Self.heldResources(of: leases.filter(\.isAlive).map(\.id), in: db))
        }
        let stale = leases.filter { !$0.isAlive }
        var roots = images.flatMap(LeaseResource.image)
        roots += held
        var liveBlobs = Set<Digest>()
        var liveSnapshots = Set<Digest>()
        var liveLayers = Set<Digest>()
        for resource in Set(roots) {
            switch resource {
            case .image(let digest), .blob(let digest):
                liveBlobs.insert(digest)
            case .snapshot(let chainID):
                liveSnapshots.insert(chainID)
            case .manifest(let digest):
                liveBlobs.insert(digest)
                guard let manifest = try? CanonicalJSON.decode(Manifest.self, from: content.read(digest)) else { continue }
                liveBlobs.insert(manifest.config.digest)
                liveBlobs.formUnion(manifest.layers.map(\.digest))
                if let config = try? CanonicalJSON.decode(ImageConfig.self, from: content.read(manifest.config.digest)) {
                    liveSnapshots.formUnion(ChainID.chain(config.rootfs.diffIDs))
                    liveLayers.formUnion(config.rootfs.diffIDs)
                }
            }
        }
        var garbage = CollectedGarbage()
        for digest in try content.list() where !liveBlobs.contains(digest) {
            garbage.reclaimedBytes += (try? content.size(of: digest)) ?? 0
            try content.delete(digest)
            garbage.blobs.append(digest)
        }
        try content.removeAbandonedIngests()
        let snapshotRoot = stateRoot.snapshots
        for name in try FileSystem.entries(of: snapshotRoot) {
            if name.hasPrefix(".unpack-") {
                try FileSystem.removeTree("\(snapshotRoot)/\(name)")
                continue
            }
            guard let chainID = try? Digest(parsing: "sha256:" + name), !liveSnapshots.contains(chainID) else { continue }
            try FileSystem.removeTree("\(snapshotRoot)/\(name)")
            garbage.snapshots.append(chainID)
        }
        try database.write(releasingSpace: true) { db in
            for lease in stale {
                try db.execute(sql: "DELETE FROM lease_resources WHERE lease_id = ?", arguments: [lease.id])
                try db.execute(sql: "DELETE FROM leases WHERE id = ?", arguments: [lease.id])
            }
            for chainID in garbage.snapshots {
                try db.execute(sql: "DELETE FROM snapshots WHERE chain_id = ?", arguments: [chainID.description])
            }
            let live = Set(liveLayers.map(\.description))
            for diffID in try String.fetchAll(db, sql: "SELECT diff_id FROM layers") where !live.contains(diffID) {
                try db.execute(sql: "DELETE FROM layers WHERE diff_id = ?", arguments: [diffID])
            }
        }
        database.restoreReserve()
        return garbage
    }
}
