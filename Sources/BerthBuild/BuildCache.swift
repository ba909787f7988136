import BerthFiles
import BerthOCI
import BerthStore
import Foundation
import Glibc

/// The build cache: what each step produced, by cache key, as one small JSON file per key under
/// `<root>/buildcache/keys/`, written through a temporary file and rename so a killed build never
/// leaves a torn entry. Shared by every build that uses the same root. The layers themselves are
/// blobs in the content store; `<root>/buildcache/snapshots/` holds them unpacked for RUN steps
/// and `<root>/buildcache/mounts/` the RUN --mount=type=cache directories.
public struct BuildCache: Sendable {
    /// A layer a step produced, stored uncompressed in the content store (digest = diff ID).
    public struct Layer: Codable, Equatable, Sendable {
        public var diffID: Digest
        public var size: Int64
        /// File bytes plus symlink target lengths, as image sizes count them.
        public var fileBytes: Int64
    }

    /// The result of one step.
    public struct Entry: Codable, Equatable, Sendable {
        public var layer: Layer?
        public var config: ContainerConfig
        public var author: String?
        public var history: History
    }

    public let directory: String
    let stateRoot: StateRoot

    public init(root: String) {
        stateRoot = StateRoot(root)
        directory = stateRoot.buildCacheKeys
    }

    /// The entry for `key`, or nil on a miss or an unreadable entry.
    public func entry(for key: Digest) -> Entry? {
        guard let data = FileManager.default.contents(atPath: path(of: key)) else { return nil }
        return try? JSONDecoder().decode(Entry.self, from: data)
    }

    public func store(_ entry: Entry, for key: Digest) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(entry)
        // Not synced to disk (a sync per step would dominate a cached build): the rename keeps a killed build from
        // leaving a torn entry, and an entry a power loss tears reads as a miss.
        do {
            try AtomicFile.write(data, to: path(of: key), durability: .atomicOnly)
        } catch {
            throw BuildError.io(operation: error.operation, path: error.path, errno: error.code)
        }
    }

    /// Removes every entry, the builder's snapshots and the cache mounts, keeping what builds
    /// running now use, and ends the cache's hold on its layers so that garbage collection takes
    /// them (for `builder prune`); returns the entries' keys (hex). Runs under the exclusive
    /// store lock, so no build takes a hold meanwhile.
    @discardableResult
    public func prune(store: Store) throws -> [String] {
        try store.withExclusiveLock {
            let inUse = try store.liveResources()
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names { unlink(directory + "/" + name) }
            let snapshots = stateRoot.buildSnapshots
            for name in (try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? [] {
                if let chainID = try? Digest(parsing: "sha256:" + name), inUse.contains(.snapshot(chainID)) { continue }
                try FileManager.default.removeItem(atPath: snapshots + "/" + name)
            }
            // A running build may be using any cache mount.
            let mounts = stateRoot.buildMounts
            if try !store.hasLiveProcessLeases(), FileManager.default.fileExists(atPath: mounts) {
                try FileManager.default.removeItem(atPath: mounts)
            }
            try store.release(.buildCache)
            return names.filter { !$0.hasPrefix(".") }.map { $0.hasSuffix(".json") ? String($0.dropLast(5)) : $0 }
        }
    }

    private func path(of key: Digest) -> String { directory + "/" + key.encoded + ".json" }
}
