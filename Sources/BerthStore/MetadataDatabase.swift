import BerthOCI
import CSQLite
import Foundation
import GRDB

/// The store's metadata: images, tags, repo digests, layer sizes, snapshots and leases, in SQLite (WAL).
/// Every user-visible change is one immediate transaction, so concurrent `berth` processes
/// serialize cleanly and kill -9 leaves either the whole change or none of it.
final class MetadataDatabase: Sendable {
    private let queue: DatabaseQueue
    private let writeAheadLog: String
    /// The write-ahead log's size past which a write checkpoints it (see `init`).
    static let writeAheadLogLimit = 100 * 4096

    /// Space set aside so that removals can commit on a full disk (see `write`).
    private let reserve: String
    static let reserveSize: Int64 = 4 << 20

    init(path: String) throws {
        writeAheadLog = path + "-wal"
        reserve = path + "-reserve"
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.label = "berth-metadata"
        // WAL with NORMAL sync is what GRDB's `.wal` mode sets, but that mode also writes a
        // transaction at every open when the -wal file is missing, which it is whenever no other
        // process has the database open: every command, even `images`, would pay three or four
        // syncs. Setting the mode ourselves lets read-only commands write nothing.
        configuration.prepareDatabase { db in
            // SQLite checkpoints the WAL into the database when the last connection closes, with
            // four syncs: with one process per command, after every command that
            // wrote. Instead the WAL is kept, and `write` checkpoints and empties it once it
            // passes `writeAheadLogLimit`. Not SQLite's automatic checkpoints: the first connection
            // of each process rebuilds the WAL's index by reading and checksumming all of it, so
            // it forgets what a checkpoint already copied and never starts the log over; the WAL
            // grew without end, and every command paid to read all of it. Commits stay as durable
            // as before (WAL, synchronous NORMAL).
            try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0")
            _ = berth_sqlite3_keep_wal_on_close(db.sqliteConnection)
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        // Migrating takes the write lock; most commands only need to see that nothing is pending.
        if try !queue.read(Self.migrator.hasCompletedMigrations) {
            try Self.migrator.migrate(queue)
        }
        restoreReserve()
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE images (
                    id TEXT PRIMARY KEY NOT NULL,
                    manifest_digest TEXT NOT NULL,
                    created TEXT,
                    size INTEGER NOT NULL,
                    added_at TEXT NOT NULL
                );
                CREATE TABLE tags (
                    reference TEXT PRIMARY KEY NOT NULL,
                    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
                    tagged_at TEXT NOT NULL
                );
                CREATE INDEX tags_by_image ON tags(image_id);
                CREATE TABLE repo_digests (
                    reference TEXT PRIMARY KEY NOT NULL,
                    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
                );
                CREATE TABLE layers (
                    diff_id TEXT PRIMARY KEY NOT NULL,
                    size INTEGER NOT NULL
                );
                CREATE TABLE snapshots (
                    chain_id TEXT PRIMARY KEY NOT NULL,
                    parent TEXT,
                    diff_id TEXT NOT NULL
                );
                """)
        }
        // Leases (see Lease): what holds content besides images; the holder is a process (pid and
        // start time), a path that exists, or neither (held until released).
        migrator.registerMigration("v2-leases") { db in
            try db.execute(sql: """
                CREATE TABLE leases (
                    id TEXT PRIMARY KEY NOT NULL,
                    pid INTEGER,
                    pid_start INTEGER,
                    path TEXT,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE lease_resources (
                    lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    key TEXT NOT NULL,
                    PRIMARY KEY (lease_id, kind, key)
                );
                CREATE INDEX lease_resources_by_key ON lease_resources(kind, key);
                """)
        }
        return migrator
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.read(body)
    }

    /// Runs `body` in one IMMEDIATE transaction (the write lock is taken up front, so a
    /// concurrent writer waits instead of failing on a stale snapshot). A write that frees space
    /// (`releasingSpace`: removing images, leases, collected content) that fails because the disk
    /// is full gives up the reserve file and runs again: the user can free space with Berth itself.
    func write<T>(releasingSpace: Bool = false, _ body: (Database) throws -> T) throws -> T {
        do {
            return try transaction(body)
        } catch let error as DatabaseError where releasingSpace && error.resultCode == .SQLITE_FULL && unlink(reserve) == 0 {
            return try transaction(body)
        }
    }

    /// Sets the reserve file aside again if it is missing and the disk has room for it.
    func restoreReserve() {
        guard access(reserve, F_OK) != 0 else { return }
        let descriptor = open(reserve, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        let failed = posix_fallocate(descriptor, 0, off_t(Self.reserveSize)) != 0
        close(descriptor)
        if failed { unlink(reserve) }
    }

    private func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.writeWithoutTransaction { db in
            var result: T?
            try db.inTransaction(.immediate) {
                result = try body(db)
                return .commit
            }
            guard let result else { preconditionFailure("transaction committed without a result") }
            // The change is committed: a checkpoint that cannot run now (another process reading)
            // is left to the next write rather than reported as this one failing.
            var log = stat()
            if stat(writeAheadLog, &log) == 0, log.st_size > Self.writeAheadLogLimit {
                _ = try? db.checkpoint(.truncate)
            }
            return result
        }
    }
}
