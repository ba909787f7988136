import Glibc

/// One mount of this process's mount namespace.
public struct MountEntry: Sendable, Equatable {
    /// Where it is mounted (octal escapes decoded).
    public let mountPoint: String
    /// The file system type (`tmpfs`, `overlay`, …).
    public let type: String
    /// The per-mount options followed by the file system's own (`size=8192k` of a tmpfs).
    public let options: [String]
}

/// The mount table, from /proc/self/mountinfo read to its end with read(2): Foundation's file
/// reading stops after the first page of a /proc file, which on a host with many mounts loses
/// the ones listed last (the newest).
public enum MountTable {
    public static func entries() -> [MountEntry] {
        guard let bytes = readAll("/proc/self/mountinfo") else { return [] }
        return bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            // id parent major:minor root mount-point options [optional fields…] - type source super-options
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count > 6, let dash = fields.firstIndex(where: { $0.elementsEqual("-".utf8) }), dash + 1 < fields.count else { return nil }
            var options = fields[5].split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) }
            if dash + 3 < fields.count {
                options += fields[dash + 3].split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) }
            }
            return MountEntry(mountPoint: unescape(fields[4]), type: String(decoding: fields[dash + 1], as: UTF8.self), options: options)
        }
    }

    /// Every mount point.
    public static func mountPoints() -> Set<String> {
        Set(entries().map(\.mountPoint))
    }

    /// The last mount at `path` (the one on top), if any.
    public static func entry(at path: String) -> MountEntry? {
        entries().last { $0.mountPoint == path }
    }

    private static func readAll(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
        }
    }

    /// Decodes the octal escapes (`\040` for a space) the kernel writes into mount points.
    private static func unescape(_ field: ArraySlice<UInt8>) -> String {
        guard field.contains(UInt8(ascii: "\\")) else { return String(decoding: field, as: UTF8.self) }
        var bytes: [UInt8] = []
        var index = field.startIndex
        while index < field.endIndex {
            if field[index] == UInt8(ascii: "\\"), index + 3 < field.endIndex,
               let value = UInt8(String(decoding: field[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(field[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
