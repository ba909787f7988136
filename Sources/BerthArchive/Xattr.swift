import CBerth
import Glibc

/// The xattr system calls, through CBerth: Swift's Glibc module does not include <sys/xattr.h>.
enum Xattr {
    /// Sets an attribute on `path` without following a final symlink; returns false with errno set.
    static func set(path: String, name: String, value: [UInt8]) -> Bool {
        value.withUnsafeBytes { berth_lsetxattr(path, name, $0.baseAddress, $0.count, 0) } == 0
    }

    /// Sets an attribute on an open file; returns false with errno set.
    static func set(fileDescriptor: Int32, name: String, value: [UInt8]) -> Bool {
        value.withUnsafeBytes { berth_fsetxattr(fileDescriptor, name, $0.baseAddress, $0.count, 0) } == 0
    }

    /// Returns the value of one attribute, or nil with errno set.
    static func get(path: String, name: String) -> [UInt8]? {
        while true {
            let size = berth_lgetxattr(path, name, nil, 0)
            guard size >= 0 else { return nil }
            var value = [UInt8](repeating: 0, count: size)
            let read = value.withUnsafeMutableBytes { berth_lgetxattr(path, name, $0.baseAddress, size) }
            if read >= 0 { return Array(value[0..<read]) }
            if errno != ERANGE { return nil }  // ERANGE: the value grew in between; retry
        }
    }

    /// Returns the attribute names of `path`, or nil with errno set.
    static func list(path: String) -> [String]? {
        while true {
            let size = berth_llistxattr(path, nil, 0)
            guard size >= 0 else { return nil }
            if size == 0 { return [] }
            var names = [CChar](repeating: 0, count: size)
            let read = berth_llistxattr(path, &names, size)
            if read >= 0 {
                return names[0..<read].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            }
            if errno != ERANGE { return nil }
        }
    }
}
