import BerthOCI
import Glibc

/// Resolves Docker's `--user` forms (`name`, `uid`, `name:group`, `uid:gid`) against the
/// container's own /etc/passwd and /etc/group, as Docker does (never the host's).
struct UserResolver {
    struct PasswdEntry {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    struct GroupEntry {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    let users: [PasswdEntry]
    let groups: [GroupEntry]

    init(rootfs: String) {
        users = Self.lines(SecurePath.join(rootfs, "/etc/passwd")).compactMap { fields in
            guard fields.count >= 6, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return PasswdEntry(name: fields[0], uid: uid, gid: gid, home: fields[5])
        }
        groups = Self.lines(SecurePath.join(rootfs, "/etc/group")).compactMap { fields in
            guard fields.count >= 3, let gid = UInt32(fields[2]) else { return nil }
            let members = fields.count >= 4 ? fields[3].split(separator: ",").map(String.init) : []
            return GroupEntry(name: fields[0], gid: gid, members: members)
        }
    }

    private static func lines(_ path: String) -> [[String]] {
        guard let bytes = try? Files.read(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            return line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// The process user for a `--user` value (empty means root) and the container's `--group-add`
    /// groups, plus the home directory. The supplementary groups are Docker's (moby's getUser):
    /// the primary group, the groups of /etc/group that list the user when the group was not
    /// given explicitly, and the added groups (a name must be in /etc/group, a number may be any).
    func resolve(_ spec: String, groupAdd: [String] = []) throws -> (user: RuntimeSpec.User, home: String) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        let groupPart = parts.count > 1 ? parts[1] : nil
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var home = "/"
        var name: String?
        if userPart.isEmpty {
            if let root = users.first(where: { $0.uid == 0 }) {
                name = root.name
                home = root.home
            }
        } else if let numeric = try Self.numericID(userPart) {
            uid = numeric
            if let entry = users.first(where: { $0.uid == numeric }) {
                gid = entry.gid
                name = entry.name
                home = entry.home
            }
        } else {
            guard let entry = users.first(where: { $0.name == userPart }) else { throw RuntimeError.unknownUser(userPart) }
            uid = entry.uid
            gid = entry.gid
            name = entry.name
            home = entry.home
        }
        if let groupPart {
            if let numeric = try Self.numericID(groupPart) {
                gid = numeric
            } else {
                guard let entry = groups.first(where: { $0.name == groupPart }) else {
                    throw RuntimeError.unknownGroup(groupPart)
                }
                gid = entry.gid
            }
        }
        var additional = [gid]
        if groupPart == nil, let name {
            additional += groups.filter { $0.members.contains(name) }.map(\.gid)
        }
        additional += try additionalGroups(groupAdd)
        // runc sets each group once, whatever the order: so does the spec.
        var seen = Set<UInt32>()
        additional = additional.filter { seen.insert($0).inserted }
        return (RuntimeSpec.User(uid: uid, gid: gid, additionalGids: additional), home)
    }

    /// `--group-add` values as group IDs: a name (or a number) found in /etc/group gives that
    /// group's ID; a number not found is kept as it is; a name not found is an error.
    func additionalGroups(_ names: [String]) throws -> [UInt32] {
        try names.map { name in
            let numeric = try Self.numericID(name)
            if let entry = groups.first(where: { numeric != nil ? $0.gid == numeric : $0.name == name }) { return entry.gid }
            guard let numeric else { throw RuntimeError.unknownAdditionalGroup(name) }
            return numeric
        }
    }

    /// A user or group given as a number, which must be a valid ID; nil for a name.
    private static func numericID(_ text: String) throws -> UInt32? {
        guard let value = Int(text) else { return nil }
        guard value >= 0, value <= Int(Int32.max) else { throw RuntimeError.idOutOfRange }
        return UInt32(value)
    }
}

/// Paths inside a container's root filesystem resolved as the container would resolve them:
/// symlinks are followed relative to the rootfs, and `..` never climbs above it.
public enum SecurePath {
    public static func join(_ rootfs: String, _ path: String) -> String {
        var resolved: [String] = []
        var pending = path.split(separator: "/").map(String.init)
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = rootfs + "/" + (resolved + [component]).joined(separator: "/")
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(candidate, &buffer, Int(PATH_MAX))
            if length > 0, hops < 255 {
                hops += 1
                let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if target.hasPrefix("/") { resolved = [] }
                pending = target.split(separator: "/").map(String.init) + pending
            } else {
                resolved.append(component)
            }
        }
        return rootfs + "/" + resolved.joined(separator: "/")
    }
}
