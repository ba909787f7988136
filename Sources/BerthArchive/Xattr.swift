import Glibc

/// The xattr system calls. Swift's Glibc module does not include <sys/xattr.h>, so the libc
/// functions are looked up once with dlsym.
enum Xattr {
    private typealias SetByPath = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    private typealias SetByDescriptor = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    private typealias GetByPath = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    private typealias ListByPath = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int

    private static func lookup<T>(_ name: String, as type: T.Type) -> T? {
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }

    private static let lsetxattr = lookup("lsetxattr", as: SetByPath.self)
    private static let fsetxattr = lookup("fsetxattr", as: SetByDescriptor.self)
    private static let lgetxattr = lookup("lgetxattr", as: GetByPath.self)
    private static let llistxattr = lookup("llistxattr", as: ListByPath.self)

    /// Sets an attribute on `path` without following a final symlink; returns false with errno set.
    static func set(path: String, name: String, value: [UInt8]) -> Bool {
        guard let call = lsetxattr else {
            errno = ENOTSUP
            return false
        }
        return value.withUnsafeBytes { call(path, name, $0.baseAddress, $0.count, 0) } == 0
    }

    /// Sets an attribute on an open file; returns false with errno set.
    static func set(fileDescriptor: Int32, name: String, value: [UInt8]) -> Bool {
        guard let call = fsetxattr else {
            errno = ENOTSUP
            return false
        }
        return value.withUnsafeBytes { call(fileDescriptor, name, $0.baseAddress, $0.count, 0) } == 0
    }

    /// Returns the value of one attribute, or nil with errno set.
    static func get(path: String, name: String) -> [UInt8]? {
        guard let call = lgetxattr else {
            errno = ENOTSUP
            return nil
        }
        while true {
            let size = call(path, name, nil, 0)
            guard size >= 0 else { return nil }
            var value = [UInt8](repeating: 0, count: size)
            let read = value.withUnsafeMutableBytes { call(path, name, $0.baseAddress, size) }
            if read >= 0 { return Array(value[0..<read]) }
            if errno != ERANGE { return nil }  // ERANGE: the value grew in between; retry
        }
    }

    /// Returns the attribute names of `path`, or nil with errno set.
    static func list(path: String) -> [String]? {
        guard let call = llistxattr else {
            errno = ENOTSUP
            return nil
        }
        while true {
            let size = call(path, nil, 0)
            guard size >= 0 else { return nil }
            if size == 0 { return [] }
            var names = [CChar](repeating: 0, count: size)
            let read = call(path, &names, size)
            if read >= 0 {
                return names[0..<read].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            }
            if errno != ERANGE { return nil }
        }
    }
}
