/// A timestamp with nanosecond precision, as carried by PAX `mtime` records.
public struct TarTime: Sendable, Hashable, Comparable {
    /// Seconds since the Unix epoch (may be negative).
    public var seconds: Int64
    /// Nanoseconds within the second, 0..<1_000_000_000.
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: TarTime, rhs: TarTime) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }
}

/// One member of a tar archive: its metadata, without its contents.
///
/// Paths are stored as in the archive but without a trailing slash; the writer adds the slash
/// for directories, as GNU tar and Docker do.
public struct TarEntry: Sendable, Equatable {
    /// The type of a member (ustar `typeflag`).
    public enum Kind: Sendable {
        case file, directory, symlink, hardlink, characterDevice, blockDevice, fifo
    }

    public var kind: Kind
    /// The member's path inside the archive.
    public var path: String
    /// Target of a symlink (any string) or of a hard link (a path inside the archive).
    public var linkName: String
    /// Permission bits plus setuid, setgid and sticky (the low 12 bits of `st_mode`).
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var userName: String
    public var groupName: String
    /// Size of the contents; 0 for everything but regular files.
    public var size: Int64
    public var modificationTime: TarTime
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes, carried in PAX `SCHILY.xattr.<name>` records.
    public var xattrs: [String: [UInt8]]

    public init(
        kind: Kind, path: String, linkName: String = "", mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0,
        userName: String = "", groupName: String = "", size: Int64 = 0,
        modificationTime: TarTime = TarTime(seconds: 0), deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0,
        xattrs: [String: [UInt8]] = [:]
    ) {
        self.kind = kind
        self.path = path
        self.linkName = linkName
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.userName = userName
        self.groupName = groupName
        self.size = size
        self.modificationTime = modificationTime
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.xattrs = xattrs
    }
}

extension TarEntry.Kind {
    /// The ustar type flag for this kind.
    var typeFlag: UInt8 {
        switch self {
        case .file: return UInt8(ascii: "0")
        case .hardlink: return UInt8(ascii: "1")
        case .symlink: return UInt8(ascii: "2")
        case .characterDevice: return UInt8(ascii: "3")
        case .blockDevice: return UInt8(ascii: "4")
        case .directory: return UInt8(ascii: "5")
        case .fifo: return UInt8(ascii: "6")
        }
    }
}
