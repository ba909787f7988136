import Foundation
import Glibc

/// One file of a configMap, secret, downwardAPI or projected volume.
public struct VolumeFile: Sendable, Equatable {
    public var data: Data
    /// Permission bits (`defaultMode`/`mode`).
    public var mode: Int

    public init(data: Data, mode: Int) {
        self.data = data
        self.mode = mode
    }
}

/// Writes the files of a volume whose content follows an API object, so that a reader never sees
/// a half-updated set: the kubelet's layout. Each version of the files lives in its own hidden
/// directory `..<timestamp>`; the symlink `..data` points at the current one and is replaced
/// atomically by a rename; each visible top-level name is a symlink through `..data`.
///
/// ```
/// <volume>/..2026_12_06_17_00_00.123456789/key     the files
/// <volume>/..data -> ..2026_12_06_17_00_00.123456789
/// <volume>/key -> ..data/key
/// ```
public enum AtomicVolumeWriter {
    static let dataLink = "..data"

    /// Makes `directory` hold exactly `files` (relative paths), replacing the previous version in
    /// one rename when anything differs; `fsGroup` owns the new files as the kubelet sets volume
    /// ownership (group read bits added, directories setgid). Answers whether anything changed.
    @discardableResult
    public static func write(_ files: [String: VolumeFile], to directory: String, fsGroup: Int? = nil) throws -> Bool {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let current = try? manager.destinationOfSymbolicLink(atPath: directory + "/" + dataLink)
        if let current, try matches(files, in: directory + "/" + current, fsGroup: fsGroup) { return false }

        let version = try makeVersionDirectory(in: directory)
        let versionPath = directory + "/" + version
        do {
            for (path, file) in files.sorted(by: { $0.key < $1.key }) {
                let target = versionPath + "/" + path
                try manager.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard manager.createFile(atPath: target, contents: file.data) else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target]) }
                guard chmod(target, mode_t(file.mode & 0o7777)) == 0 else { throw posixError("chmod", target) }
            }
            if let fsGroup { try VolumeOwnership.apply(group: fsGroup, to: versionPath, readOnly: true) }
            let temporaryLink = directory + "/" + dataLink + "_tmp"
            unlink(temporaryLink)
            guard symlink(version, temporaryLink) == 0 else { throw posixError("symlink", temporaryLink) }
            guard rename(temporaryLink, directory + "/" + dataLink) == 0 else { throw posixError("rename", temporaryLink) }
        } catch {
            try? manager.removeItem(atPath: versionPath)
            throw error
        }

        let visible = Set(files.keys.map { String($0.split(separator: "/", maxSplits: 1)[0]) })
        for name in visible.sorted() where (try? manager.destinationOfSymbolicLink(atPath: directory + "/" + name)) == nil {
            guard symlink(dataLink + "/" + name, directory + "/" + name) == 0 else { throw posixError("symlink", directory + "/" + name) }
        }
        for name in try manager.contentsOfDirectory(atPath: directory) where !name.hasPrefix("..") && !visible.contains(name) {
            try manager.removeItem(atPath: directory + "/" + name)
        }
        if let current { try? manager.removeItem(atPath: directory + "/" + current) }
        if let fsGroup { try VolumeOwnership.apply(group: fsGroup, to: directory, readOnly: true, recursive: false) }
        return true
    }

    /// The files a version directory holds, by relative path.
    static func read(_ directory: String) throws -> [String: VolumeFile] {
        var files: [String: VolumeFile] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return files }
        while let path = enumerator.nextObject() as? String {
            var info = stat()
            guard lstat(directory + "/" + path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + path))
            files[path] = VolumeFile(data: data, mode: Int(info.st_mode & 0o7777))
        }
        return files
    }

    private static func matches(_ files: [String: VolumeFile], in directory: String, fsGroup: Int?) throws -> Bool {
        let existing = try read(directory)
        guard existing.count == files.count else { return false }
        return files.allSatisfy { path, file in
            guard let found = existing[path], found.data == file.data else { return false }
            let expected = fsGroup == nil ? file.mode : VolumeOwnership.mode(file.mode, directory: false, readOnly: true)
            return found.mode == expected & 0o7777
        }
    }

    /// A new `..YYYY_MM_DD_HH_MM_SS.<random>` directory, as the kubelet names each version.
    private static func makeVersionDirectory(in directory: String) throws -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        let name = String(format: "..%04d_%02d_%02d_%02d_%02d_%02d.XXXXXX", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        var template = Array((directory + "/" + name).utf8CString)
        guard mkdtemp(&template) != nil else { throw posixError("mkdtemp", directory) }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        chmod(path, 0o755)
        return (path as NSString).lastPathComponent
    }
}

/// Volume ownership for a pod's `fsGroup`, as the kubelet sets it: everything gets the group, files
/// gain group read (and write, on writable volumes), directories also setgid and search bits.
enum VolumeOwnership {
    static func mode(_ mode: Int, directory: Bool, readOnly: Bool) -> Int {
        var mask = readOnly ? 0o440 : 0o660
        if directory { mask |= Int(S_ISGID) | 0o110 }
        return mode | mask
    }

    static func apply(group: Int, to path: String, readOnly: Bool, recursive: Bool = true) throws {
        var paths = [path]
        if recursive, let enumerator = FileManager.default.enumerator(atPath: path) {
            while let child = enumerator.nextObject() as? String { paths.append(path + "/" + child) }
        }
        for item in paths {
            var info = stat()
            guard lstat(item, &info) == 0 else { throw posixError("lstat", item) }
            guard lchown(item, uid_t(bitPattern: -1), gid_t(group)) == 0 else { throw posixError("lchown", item) }
            let kind = info.st_mode & S_IFMT
            guard kind != S_IFLNK else { continue }
            let updated = mode(Int(info.st_mode & 0o7777), directory: kind == S_IFDIR, readOnly: readOnly)
            guard chmod(item, mode_t(updated)) == 0 else { throw posixError("chmod", item) }
        }
    }
}

/// A failed system call as one line: `symlink /path: permission denied`.
func posixError(_ call: String, _ path: String) -> CocoaError {
    CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(call) \(path): \(String(cString: strerror(errno)).lowercased())"])
}
