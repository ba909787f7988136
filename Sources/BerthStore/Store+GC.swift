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

    /// Removes blobs and snapshots no image references, and leftovers of interrupted writers
    /// (ingest files, unfinished unpacks). Holds the store lock exclusively, so nothing another
    /// `berth` process is writing can be taken: waits for writers to finish.
    @discardableResult
    public func collectGarbage() throws -> CollectedGarbage {
        try lock.withExclusive(sweep)
    }

    /// Runs `body`, which writes content that becomes referenced only at its end (a pull), under
    /// the shared store lock, so garbage collection in any process waits rather than taking the
    /// blobs in between. The lock is taken through its own descriptor: the store's own shared
    /// sections inside `body` lock and unlock theirs without releasing this one.
    public func withWriterLock<T>(_ body: () async throws -> T) async throws -> T {
        let writer = try StoreLock(path: root + "/store.lock")
        try writer.lockShared()
        defer { writer.unlock() }
        return try await body()
    }

    /// Collects garbage only if no other process is writing to the store right now (as after
    /// `rmi`, which should not wait for a long `load` elsewhere); returns nil if it did not run.
    @discardableResult
    public func collectGarbageIfIdle() throws -> CollectedGarbage? {
        try lock.withExclusiveIfFree(sweep)
    }

    private func sweep() throws -> CollectedGarbage {
        var liveBlobs = Set<Digest>()
        var liveSnapshots = Set<Digest>()
        var liveLayers = Set<Digest>()
        for image in try images() {
            liveBlobs.insert(image.manifestDigest)
            liveBlobs.insert(image.id)
            guard let manifest = try? manifest(of: image) else { continue }
            liveBlobs.formUnion(manifest.layers.map(\.digest))
            if let config = try? config(of: image) {
                liveSnapshots.formUnion(ChainID.chain(config.rootfs.diffIDs))
                liveLayers.formUnion(config.rootfs.diffIDs)
            }
        }
        var garbage = CollectedGarbage()
        for digest in try content.list() where !liveBlobs.contains(digest) {
            garbage.reclaimedBytes += (try? content.size(of: digest)) ?? 0
            try content.delete(digest)
            garbage.blobs.append(digest)
        }
        try content.removeAbandonedIngests()
        let snapshotRoot = root + "/snapshots"
        for name in try FileSystem.entries(of: snapshotRoot) {
            if name.hasPrefix(".unpack-") {
                try FileSystem.removeTree("\(snapshotRoot)/\(name)")
                continue
            }
            guard let chainID = try? Digest(parsing: "sha256:" + name), !liveSnapshots.contains(chainID) else { continue }
            try FileSystem.removeTree("\(snapshotRoot)/\(name)")
            garbage.snapshots.append(chainID)
        }
        try database.write { db in
            for chainID in garbage.snapshots {
                try db.execute(sql: "DELETE FROM snapshots WHERE chain_id = ?", arguments: [chainID.description])
            }
            let live = Set(liveLayers.map(\.description))
            for diffID in try String.fetchAll(db, sql: "SELECT diff_id FROM layers") where !live.contains(diffID) {
                try db.execute(sql: "DELETE FROM layers WHERE diff_id = ?", arguments: [diffID])
            }
        }
        return garbage
    }
}
