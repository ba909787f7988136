/// The checks on a layer entry's names that need no file system: what `SafeExtractor` refuses
/// before it writes anything, and what an image store applies to each layer as it arrives, so an
/// unsafe layer is refused by `import`, `load` and `pull` rather than at the first `run`.
///
/// As Docker and containerd read layers, an absolute path is taken relative to the layer's root.
/// Refused: a path or hard-link target whose `..` climbs above the root, a hard link to the root
/// itself, a NUL byte in a name, and a whiteout that names no file (`.wh.`, `.wh..`, `.wh...`).
/// Symlink targets are not checked here: they are data, and extraction resolves them with the
/// root as `/`.
public enum LayerEntryChecks {
    /// The prefix of a whiteout entry's name; `.wh.<name>` deletes `<name>` from lower layers.
    public static let whiteoutPrefix = ".wh."
    /// The whiteout that makes its directory opaque (hides all of the lower layers' contents).
    public static let opaqueWhiteout = ".wh..wh..opq"

    /// Checks one entry of a layer (whiteouts are read as whiteouts).
    public static func check(_ entry: TarEntry) throws {
        let components = try components(of: entry.path, entry: entry.path)
        if let name = components.last, name.hasPrefix(whiteoutPrefix) {
            _ = try whiteoutTarget(name, entry: entry.path)
        }
        if entry.kind == .hardlink {
            _ = try hardLinkTarget(entry)
        }
    }

    /// Cleans `path` lexically: empty and `.` components dropped, `..` applied. A path that climbs
    /// above the root is refused; `entry` names the entry in the error.
    public static func components(of path: String, entry: String) throws -> [String] {
        guard !path.utf8.contains(0) else { throw ArchiveError.unsafePath(entry, reason: "the path contains a NUL byte") }
        var components: [String] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                guard !components.isEmpty else {
                    throw ArchiveError.unsafePath(entry, reason: "'\(path)' climbs out of the extraction root")
                }
                components.removeLast()
            default: components.append(String(component))
            }
        }
        return components
    }

    /// A hard link's target, cleaned: it must name something below the root.
    public static func hardLinkTarget(_ entry: TarEntry) throws -> (parent: [String], name: String) {
        var parent = try components(of: entry.linkName, entry: entry.path)
        guard let name = parent.popLast() else {
            throw ArchiveError.unsafePath(entry.path, reason: "hard link to the extraction root itself")
        }
        return (parent, name)
    }

    /// The name a whiteout deletes, or nil for the opaque whiteout; a whiteout that names no file
    /// is refused.
    public static func whiteoutTarget(_ name: String, entry: String) throws -> String? {
        if name == opaqueWhiteout { return nil }
        let deleted = String(name.dropFirst(whiteoutPrefix.count))
        guard !deleted.isEmpty, deleted != ".", deleted != ".." else {
            throw ArchiveError.unsafePath(entry, reason: "whiteout names no file")
        }
        return deleted
    }
}
