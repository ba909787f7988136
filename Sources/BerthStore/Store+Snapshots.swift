import BerthArchive
import BerthFiles
import BerthOCI
import Foundation
import GRDB
import Glibc

/// Unpacked layers, one directory per chain ID (`snapshots/<chain-id hex>/fs`), each holding only
/// its own layer's files with whiteouts in overlayfs form, so a stack of them mounts directly as
/// overlay lower directories (containerd's overlay snapshotter model).
extension Store {
    public func snapshotPath(_ chainID: Digest) -> String {
        stateRoot.snapshotFilesystem(chainID.encoded)
    }

    /// Unpacks every layer of `image` not yet unpacked and returns the snapshot directories from
    /// the base layer up. Each layer's content is checked against its diff ID while extracting.
    public func unpack(_ image: ImageRecord) throws -> [String] {
        try lock.withShared {
            let manifest = try manifest(of: image)
            let diffIDs = try config(of: image).rootfs.diffIDs
            guard diffIDs.count == manifest.layers.count else {
                throw StoreError.invalidImage("\(image.id.shortID): manifest and config disagree on the layer count")
            }
            let chain = ChainID.chain(diffIDs)
            for (position, chainID) in chain.enumerated() {
                try unpackLayer(manifest.layers[position], diffID: diffIDs[position], chainID: chainID,
                                parent: position > 0 ? chain[position - 1] : nil)
            }
            return chain.map(snapshotPath)
        }
    }

    private func unpackLayer(_ layer: Descriptor, diffID: Digest, chainID: Digest, parent: Digest?) throws {
        let directory = stateRoot.snapshot(chainID.encoded)
        if access(directory, F_OK) == 0 { return }
        let staging = stateRoot.snapshots + "/.unpack-\(UUID().uuidString)"
        try FileSystem.makeDirectories(staging + "/fs", mode: 0o755)
        var committed = false
        defer { if !committed { try? FileSystem.removeTree(staging) } }
        let hashing = HashingSource(try DecompressingSource(content.open(layer.digest)))
        do {
            _ = try SafeExtractor(root: staging + "/fs", whiteouts: .overlay).extract(TarReader(hashing))
        } catch ArchiveError.io(let operation, let path, let code) {
            throw StoreError.io(operation: "unpack layer \(layer.digest): \(operation)", path: path, errno: code)
        }
        let actual = try hashing.drain()
        guard actual == diffID else {
            throw StoreError.digestMismatch(expected: diffID, actual: actual, what: "layer \(layer.digest) (diff ID)")
        }
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO snapshots (chain_id, parent, diff_id) VALUES (?, ?, ?)",
                           arguments: [chainID.description, parent?.description, diffID.description])
        }
        if rename(staging, directory) != 0 {
            // Another process unpacked the same layer first; its copy is as good as ours.
            guard errno == EEXIST || errno == ENOTEMPTY else { throw StoreError.lastIO("rename", directory) }
        } else {
            committed = true
        }
    }

    /// Chain IDs of unpacked snapshots.
    public func snapshots() throws -> [Digest] {
        try FileSystem.entries(of: stateRoot.snapshots).compactMap { try? Digest(parsing: "sha256:" + $0) }
    }
}
