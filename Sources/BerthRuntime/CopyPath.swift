/// Docker's `cp` path rules (moby's pkg/archive copy rules) on slash-separated paths: a trailing
/// `/` or `/.` says "this is a directory" (`/.` also "its contents"), and where an archive is
/// extracted and under which name follows from what the source and the destination are.
public enum CopyPath {
    /// Go's `filepath.Clean`: one slash between components, `.` dropped, `..` applied (never above
    /// the root of an absolute path), "." for an empty result.
    public static func clean(_ path: String) -> String {
        let rooted = path.hasPrefix("/")
        var components: [Substring] = []
        var leadingParents = 0
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                if !components.isEmpty {
                    components.removeLast()
                } else if !rooted {
                    leadingParents += 1
                }
            default: components.append(component)
            }
        }
        let body = (Array(repeating: "..", count: leadingParents) + components.map(String.init)).joined(separator: "/")
        if rooted { return "/" + body }
        return body.isEmpty ? "." : body
    }

    /// Go's `filepath.Base`: the last component ("/" for the root, "." for an empty path).
    public static func base(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        if trimmed.isEmpty { return "." }
        if trimmed == "/" { return "/" }
        if let slash = trimmed.lastIndex(of: "/") { return String(trimmed[trimmed.index(after: slash)...]) }
        return String(trimmed)
    }

    /// Go's `filepath.Dir`: everything before the last component, cleaned.
    public static func directory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return clean(String(path[...slash]))
    }

    public static func hasTrailingSeparator(_ path: String) -> Bool { path.hasSuffix("/") }

    /// The path names the current directory of its parent: `x/.`, `.`.
    public static func specifiesCurrentDirectory(_ path: String) -> Bool { base(path) == "." }

    /// The path can only be a directory: it ends in `/` or `/.`.
    public static func assertsDirectory(_ path: String) -> Bool {
        hasTrailingSeparator(path) || specifiesCurrentDirectory(path)
    }

    /// `cleaned` with the trailing `/.` or `/` of `original` put back (Clean removes them).
    public static func preservingTrailing(_ cleaned: String, of original: String) -> String {
        var result = cleaned
        if !specifiesCurrentDirectory(result), specifiesCurrentDirectory(original) {
            if !hasTrailingSeparator(result) { result += "/" }
            result += "."
        }
        if !hasTrailingSeparator(result), hasTrailingSeparator(original) { result += "/" }
        return result
    }

    /// A path inside the container as an absolute path: relative paths are taken from `/`, as
    /// Docker takes them, with the trailing `/` or `/.` kept.
    public static func inContainer(_ path: String) -> String {
        preservingTrailing(clean("/" + path), of: path)
    }

    /// A host path made absolute against `workingDirectory`, trailing `/` or `/.` kept.
    public static func onHost(_ path: String, workingDirectory: String) -> String {
        let joined = path.hasPrefix("/") ? path : workingDirectory + "/" + path
        return preservingTrailing(clean(joined), of: path)
    }

    /// moby's `SplitPathDirEntry`: the directory holding the entry and the entry's name, where
    /// `x/.` is the entry `.` of `x`.
    public static func splitEntry(_ path: String) -> (directory: String, base: String) {
        var cleaned = clean(path)
        if specifiesCurrentDirectory(path), cleaned != "." { cleaned += "/." }
        return (directory(cleaned), base(cleaned))
    }

    /// The name the source's top entry has in the archive: its base name, `.` for a directory's
    /// contents (`x/.`) and for the root.
    public static func archiveName(_ path: String) -> String {
        let name = base(path)
        return name == "/" ? "." : name
    }

    /// Where to extract the source's archive and under which top-level name, given what the
    /// destination is (moby's `PrepareArchiveCopy`): into an existing directory as is; else into
    /// the destination's parent, renamed to the destination's base name.
    public static func extraction(sourceName: String, sourceIsDirectory: Bool, destination: String,
                                  destinationExists: Bool, destinationIsDirectory: Bool) throws
        -> (directory: String, name: String) {
        let (parent, destinationBase) = splitEntry(destination)
        if destinationExists, destinationIsDirectory { return (destination, sourceName) }
        if destinationExists, sourceIsDirectory { throw CopyError(message: "cannot copy directory", fromDaemon: false) }
        if !destinationExists, !sourceIsDirectory, assertsDirectory(destination) {
            throw CopyError(message: "no such directory", fromDaemon: false)
        }
        return (parent, destinationBase)
    }
}

/// Why a copy between a container and the host failed, worded as Docker words it.
public struct CopyError: Error, CustomStringConvertible, Equatable {
    public var message: String
    /// Docker reports it from the daemon ("Error response from daemon: …"), not from the CLI.
    public var fromDaemon: Bool

    public init(message: String, fromDaemon: Bool) {
        self.message = message
        self.fromDaemon = fromDaemon
    }

    public var description: String { message }
}
