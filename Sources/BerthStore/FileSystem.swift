import Foundation
import Glibc

/// Small file-system helpers with errors the store can report.
enum FileSystem {
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: Int(mode)])
        } catch {
            throw StoreError.io(operation: "create directory", path: path, errno: EACCES)
        }
    }

    static func entries(of directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw StoreError.lastIO("list", directory)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a tree, including read-only directories.
    static func removeTree(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw StoreError.io(operation: "remove", path: path, errno: EACCES)
        }
    }

    /// Writes a small file atomically (temporary file + rename).
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw StoreError.io(operation: "write", path: temporary, errno: EACCES)
        }
        guard rename(temporary, path) == 0 else { throw StoreError.lastIO("rename", path) }
    }
}
