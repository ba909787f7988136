import BerthFiles
import BerthOCI
import Foundation
import GRDB
import Glibc

extension Store {
    /// One thing `check` found wrong, and whether it repaired it.
    public struct Problem: Sendable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// A blob whose content does not hash to its name; repaired by removing it, so the
            /// next pull or load stores it again.
            case corruptBlob(Digest, actual: Digest)
            /// A blob an image needs is missing: only a pull or load of the image brings it back.
            case missingBlob(Digest, image: String)
            /// A snapshot recorded in the metadata whose directory is missing or has no `fs`
            /// (an interrupted unpack); repaired by forgetting it, so it is unpacked again.
            case unfinishedSnapshot(Digest)
            /// A snapshot whose record does not match its chain ID; repaired by removing both.
            case inconsistentSnapshot(Digest, reason: String)
            /// A snapshot directory of an image's layer with no record; repaired by recording it.
            case unrecordedSnapshot(Digest)
        }

        public var kind: Kind
        public var repaired: Bool

        public var description: String {
            let text: String
            switch kind {
            case .corruptBlob(let digest, let actual):
                text = "blob \(digest): corrupt: its content hashes to \(actual)" + (repaired ? "; removed, the next pull or load stores it again" : "")
            case .missingBlob(let digest, let image):
                text = "image \(image): blob \(digest) is missing: pull or load the image again"
            case .unfinishedSnapshot(let chainID):
                text = "snapshot \(chainID): recorded but not unpacked" + (repaired ? "; forgotten, it is unpacked again when needed" : "")
            case .inconsistentSnapshot(let chainID, let reason):
                text = "snapshot \(chainID): \(reason)" + (repaired ? "; removed, it is unpacked again when needed" : "")
            case .unrecordedSnapshot(let chainID):
                text = "snapshot \(chainID): unpacked but not recorded" + (repaired ? "; recorded" : "")
            }
            return text
        }
    }

    /// What `check` looked at and found.
    public struct CheckReport: Sendable {
        public var blobs = 0
        public var snapshots = 0
        public var problems: [Problem] = []
        /// Problems left after any repairs.
        public var remaining: Int { problems.filter { !$0.repaired }.count }
    }

    /// Verifies every blob against its digest, that every image's blobs are present, and every
    /// snapshot against its record, as `git fsck` does for a repository. With `repair`, fixes what
    /// can be fixed; then it holds the store lock exclusively, so no writer is in the middle of a
    /// change (and garbage collection waits).
    public func check(repair: Bool, progress: (Problem) -> Void = { _ in }) throws -> CheckReport {
        try repair ? lock.withExclusive { try runCheck(repair: true, progress: progress) }
            : lock.withShared { try runCheck(repair: false, progress: progress) }
    }

    private func runCheck(repair: Bool, progress: (Problem) -> Void) throws -> CheckReport {
        var report = CheckReport()
        /// Records a problem, repairing it with `fix` when asked and when it can be.
        func found(_ kind: Problem.Kind, repairing fix: (() throws -> Void)?) throws {
            if repair, let fix { try fix() }
            let problem = Problem(kind: kind, repaired: repair && fix != nil)
            report.problems.append(problem)
            progress(problem)
        }
        for digest in try content.list().sorted(by: { $0.description < $1.description }) {
            report.blobs += 1
            guard let actual = try content.actualDigest(of: digest), actual != digest else { continue }
            try found(.corruptBlob(digest, actual: actual)) { try self.content.delete(digest) }
        }

        // The chain of each image's layers: what every snapshot record should say.
        var expected: [Digest: (parent: Digest?, diffID: Digest)] = [:]
        for image in try images() {
            let name = image.tags.first?.familiarString ?? image.id.shortID
            var needed = [image.manifestDigest, image.id]
            if let manifest = try? manifest(of: image) { needed += manifest.layers.map(\.digest) }
            for digest in needed where !content.contains(digest) {
                try found(.missingBlob(digest, image: name), repairing: nil)
            }
            guard let diffIDs = try? config(of: image).rootfs.diffIDs else { continue }
            let chain = ChainID.chain(diffIDs)
            for (position, chainID) in chain.enumerated() {
                expected[chainID] = (position > 0 ? chain[position - 1] : nil, diffIDs[position])
            }
        }

        let records = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT chain_id, parent, diff_id FROM snapshots").compactMap { row -> (Digest, Digest?, Digest?)? in
                guard let chainID = try? Digest(parsing: row["chain_id"] as String) else { return nil }
                let parent = (row["parent"] as String?).flatMap { try? Digest(parsing: $0) }
                return (chainID, parent, try? Digest(parsing: row["diff_id"] as String))
            }
        }
        var recorded = Set<Digest>()
        for (chainID, parent, diffID) in records {
            report.snapshots += 1
            recorded.insert(chainID)
            let directory = stateRoot.snapshot(chainID.encoded)
            let consistent = diffID.map { ChainID.next(parent: parent, diffID: $0) == chainID } ?? false
            if !consistent {
                try found(.inconsistentSnapshot(chainID, reason: "its record's parent and diff ID do not make its chain ID")) {
                    try FileSystem.removeTree(directory)
                    try self.forgetSnapshot(chainID)
                }
            } else if access(stateRoot.snapshotFilesystem(chainID.encoded), F_OK) != 0 {
                try found(.unfinishedSnapshot(chainID)) {
                    try FileSystem.removeTree(directory)
                    try self.forgetSnapshot(chainID)
                }
            }
        }
        for chainID in try snapshots() where !recorded.contains(chainID) {
            guard let record = expected[chainID], access(snapshotPath(chainID), F_OK) == 0 else { continue }
            report.snapshots += 1
            try found(.unrecordedSnapshot(chainID)) {
                try self.database.write { db in
                    try db.execute(sql: "INSERT OR REPLACE INTO snapshots (chain_id, parent, diff_id) VALUES (?, ?, ?)",
                                   arguments: [chainID.description, record.parent?.description, record.diffID.description])
                }
            }
        }
        return report
    }

    private func forgetSnapshot(_ chainID: Digest) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM snapshots WHERE chain_id = ?", arguments: [chainID.description])
        }
    }
}
