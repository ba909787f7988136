import Foundation

/// A mount a container gets besides its root filesystem: a host directory (bind), a volume or a
/// tmpfs, with the fields of Docker's `Mounts` entries.
public struct MountPoint: Codable, Hashable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case bind, volume, tmpfs
    }

    public var type: Kind
    /// The volume's name (volumes only).
    public var name: String
    /// The host path: the bind source or the volume's data directory (empty for tmpfs).
    public var source: String
    public var destination: String
    /// The mode as the user wrote it (`ro`, `z`, …), as Docker reports it.
    public var mode: String
    public var readWrite: Bool
    /// Bind propagation (`rprivate` by default for binds, empty otherwise).
    public var propagation: String
    /// Volumes: do not fill a new volume with the image's content at the destination.
    public var noCopy: Bool
    /// tmpfs mount options (`size=64m`, `mode=1777`).
    public var tmpfsOptions: [String]
    /// A volume made for this container alone (`-v /path`, or the image's VOLUME), removed with
    /// it by `rm -v` and `--rm`.
    public var anonymous: Bool
    /// Given with `--tmpfs`, which Docker reports in HostConfig.Tmpfs rather than in Mounts.
    public var fromTmpfsFlag: Bool

    public init(type: Kind, name: String = "", source: String = "", destination: String, mode: String = "",
                readWrite: Bool = true, propagation: String = "", noCopy: Bool = false, tmpfsOptions: [String] = [],
                anonymous: Bool = false, fromTmpfsFlag: Bool = false) {
        self.type = type
        self.name = name
        self.source = source
        self.destination = destination
        self.mode = mode
        self.readWrite = readWrite
        self.propagation = propagation
        self.noCopy = noCopy
        self.tmpfsOptions = tmpfsOptions
        self.anonymous = anonymous
        self.fromTmpfsFlag = fromTmpfsFlag
    }
}

/// Parses `-v`, `--mount` and `--tmpfs` as Docker's Linux parser does. A volume named here is
/// not created yet; the runtime resolves names to volumes when it creates the container.
public enum MountParser {
    static let propagations: Set<String> = ["shared", "slave", "private", "rshared", "rslave", "rprivate"]

    /// `-v [SOURCE:]DESTINATION[:OPTIONS]`: SOURCE is an absolute host path (bind) or a volume
    /// name; no SOURCE means an anonymous volume.
    public static func parseVolumeFlag(_ spec: String) throws -> MountPoint {
        let invalid = RuntimeError.invalidOption("invalid volume specification: '\(spec)'")
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(where: \.isEmpty), (1...3).contains(parts.count) else { throw invalid }
        var source = "", destination = parts[0], options = ""
        if parts.count == 2 {
            (source, destination) = (parts[0], parts[1])
        } else if parts.count == 3 {
            (source, destination, options) = (parts[0], parts[1], parts[2])
        }
        guard destination.hasPrefix("/") else {
            let kind = source.isEmpty || !source.hasPrefix("/") ? "volume" : "bind"
            throw RuntimeError.invalidOption("invalid volume specification: '\(spec)': invalid mount config for type \"\(kind)\": invalid mount path: '\(destination)' mount path must be absolute")
        }
        guard destination != "/" else {
            throw RuntimeError.invalidOption("invalid volume specification: '\(spec)': invalid mount config for type \"bind\": invalid specification: destination can't be '/'")
        }
        var mount = MountPoint(type: source.hasPrefix("/") ? .bind : .volume, destination: clean(destination))
        if mount.type == .bind {
            mount.source = clean(source)
            mount.propagation = "rprivate"
        } else {
            mount.name = source
            mount.anonymous = source.isEmpty
            if !source.isEmpty { try VolumeStore.validateName(source) }
        }
        mount.mode = options
        for option in options.split(separator: ",").map(String.init) {
            switch option {
            case "ro": mount.readWrite = false
            case "rw": mount.readWrite = true
            case "z", "Z", "consistent", "cached", "delegated": break
            case "nocopy" where mount.type == .volume: mount.noCopy = true
            case let value where propagations.contains(value) && mount.type == .bind: mount.propagation = value
            default: throw RuntimeError.invalidOption("invalid mode: \(option)")
            }
        }
        return mount
    }

    /// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,…]`.
    public static func parseMountFlag(_ spec: String) throws -> MountPoint {
        var fields: [String: String] = [:]
        var readOnly = false
        for field in spec.split(separator: ",").map(String.init) {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            let key = pair[0].lowercased()
            if pair.count == 1 {
                guard ["readonly", "ro", "volume-nocopy"].contains(key) else {
                    throw RuntimeError.invalidOption("invalid field '\(field)' must be a key=value pair")
                }
                if key == "volume-nocopy" { fields[key] = "true" } else { readOnly = true }
                continue
            }
            switch key {
            case "readonly", "ro":
                guard let value = parseBool(pair[1]) else { throw RuntimeError.invalidOption("invalid value for \(key): \(pair[1])") }
                readOnly = value
            case "type", "source", "src", "target", "destination", "dst", "bind-propagation", "volume-nocopy",
                 "tmpfs-size", "tmpfs-mode", "consistency", "volume-driver", "volume-label", "volume-opt",
                 "bind-nonrecursive", "volume-subpath":
                fields[key] = pair[1]
            default:
                throw RuntimeError.invalidOption("unexpected key '\(key)' in '\(field)'")
            }
        }
        guard let typeName = fields["type"] else { throw RuntimeError.invalidOption("type is required") }
        guard let type = MountPoint.Kind(rawValue: typeName) else {
            throw RuntimeError.invalidOption("invalid mount config for type \"\(typeName)\": mount type unknown")
        }
        guard let target = fields["target"] ?? fields["destination"] ?? fields["dst"] else {
            throw RuntimeError.invalidOption("invalid mount config for type \"\(typeName)\": field Target must not be empty")
        }
        guard target.hasPrefix("/") else {
            throw RuntimeError.invalidOption("invalid mount config for type \"\(typeName)\": invalid mount path: '\(target)' mount path must be absolute")
        }
        let source = fields["source"] ?? fields["src"] ?? ""
        var mount = MountPoint(type: type, destination: clean(target), readWrite: !readOnly)
        switch type {
        case .bind:
            guard !source.isEmpty else {
                throw RuntimeError.invalidOption("invalid mount config for type \"bind\": field Source must not be empty")
            }
            guard source.hasPrefix("/") else {
                throw RuntimeError.invalidOption("invalid mount config for type \"bind\": invalid mount path: '\(source)' mount path must be absolute")
            }
            mount.source = clean(source)
            mount.propagation = fields["bind-propagation"] ?? "rprivate"
            guard propagations.contains(mount.propagation) else {
                throw RuntimeError.invalidOption("invalid bind propagation: \(mount.propagation)")
            }
        case .volume:
            if !source.isEmpty { try VolumeStore.validateName(source) }
            mount.name = source
            mount.anonymous = source.isEmpty
            mount.noCopy = fields["volume-nocopy"].flatMap(parseBool) ?? false
        case .tmpfs:
            guard source.isEmpty else {
                throw RuntimeError.invalidOption("invalid mount config for type \"tmpfs\": field Source must not be specified")
            }
            if let size = fields["tmpfs-size"] { mount.tmpfsOptions.append("size=\(size)") }
            if let mode = fields["tmpfs-mode"] { mount.tmpfsOptions.append("mode=\(mode)") }
        }
        return mount
    }

    /// `--tmpfs PATH[:OPTIONS]`.
    public static func parseTmpfsFlag(_ spec: String) throws -> MountPoint {
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        guard let destination = parts.first, destination.hasPrefix("/") else {
            throw RuntimeError.invalidOption("invalid mount path: '\(parts.first ?? "")' mount path must be absolute")
        }
        var mount = MountPoint(type: .tmpfs, destination: clean(destination), fromTmpfsFlag: true)
        for option in parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : [] {
            switch option {
            case "ro": mount.readWrite = false
            case "rw": mount.readWrite = true
            default: mount.tmpfsOptions.append(option)
            }
        }
        return mount
    }

    /// The options of the OCI mount for a tmpfs: Docker's defaults, then the user's.
    static func tmpfsMountOptions(_ mount: MountPoint) -> [String] {
        var options = ["nosuid", "nodev", "noexec"]
        options.append(mount.readWrite ? "rw" : "ro")
        return options + mount.tmpfsOptions
    }

    private static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "t": return true
        case "0", "false", "f": return false
        default: return nil
        }
    }

    /// A path without `.`, `..` (resolved lexically), repeated or trailing slashes.
    public static func clean(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}
