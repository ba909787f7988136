import Foundation
import Glibc

/// A terminal's window size in character cells.
public struct TerminalSize: Equatable, Sendable, Codable {
    public var rows: UInt16
    public var columns: UInt16

    public init(rows: UInt16, columns: UInt16) {
        self.rows = rows
        self.columns = columns
    }

    /// The size of the terminal `descriptor` refers to, or nil if it is not a terminal.
    public static func of(_ descriptor: Int32) -> TerminalSize? {
        var size = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0 else { return nil }
        return TerminalSize(rows: size.ws_row, columns: size.ws_col)
    }

    /// Sets the size of the terminal `descriptor` (a pty master), which signals SIGWINCH to its
    /// foreground process group.
    public func apply(to descriptor: Int32) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(descriptor, UInt(TIOCSWINSZ), &size)
    }
}

/// A listening unix socket in a directory. Socket paths are limited to 107 bytes and container
/// directories can be longer, so the socket is bound and reached through /proc's link to an open
/// descriptor of the directory.
final class UnixListener {
    let descriptor: Int32
    private let directoryDescriptor: Int32
    private let name: String

    /// Binds `name` in `directory` (replacing a stale socket), mode 0600, close-on-exec.
    init(directory: String, name: String) throws {
        directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw RuntimeError.lastIO("open", directory) }
        self.name = name
        let path = "/proc/self/fd/\(directoryDescriptor)/\(name)"
        unlink(path)
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            Glibc.close(directoryDescriptor)
            throw RuntimeError.lastIO("socket", directory + "/" + name)
        }
        // The socket is private to root from the moment it exists.
        let previousMask = umask(0o177)
        let bound = UnixAddress.with(path) { bind(descriptor, $0, $1) }
        umask(previousMask)
        guard bound == 0, Glibc.listen(descriptor, 16) == 0 else {
            let error = RuntimeError.lastIO("bind", directory + "/" + name)
            Glibc.close(descriptor)
            Glibc.close(directoryDescriptor)
            throw error
        }
    }

    /// Takes over a listener bound to `name` in `directory` by the process this one was before
    /// its execve (the monitor's handover).
    init(adopting descriptor: Int32, directory: String, name: String) throws {
        directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw RuntimeError.lastIO("open", directory) }
        self.descriptor = descriptor
        self.name = name
    }

    /// The socket's path as another process can reach it while this one keeps the listener.
    var pathForOtherProcesses: String { "/proc/\(getpid())/fd/\(directoryDescriptor)/\(name)" }

    /// Accepts a connection (close-on-exec); nil if none is pending on a non-blocking listener.
    func accept() -> Int32? {
        let connection = Glibc.accept(descriptor, nil, nil)
        guard connection >= 0 else { return nil }
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        return connection
    }

    /// Waits up to `milliseconds` for a connection to be pending.
    func waitForConnection(milliseconds: Int32) -> Bool {
        var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
        return poll(&fds, 1, milliseconds) > 0
    }

    /// Stops listening and removes the socket.
    func close() {
        unlink("/proc/self/fd/\(directoryDescriptor)/\(name)")
        Glibc.close(descriptor)
        Glibc.close(directoryDescriptor)
    }
}

enum UnixAddress {
    /// Calls `body` with `path` as a sockaddr_un (which must fit its 108 bytes).
    static func with(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            errno = ENAMETOOLONG
            return -1
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Connects to the socket `name` in `directory` (any length, through /proc); the connected
    /// descriptor, close-on-exec.
    static func connect(directory: String, name: String) throws -> Int32 {
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw RuntimeError.lastIO("open", directory) }
        defer { close(directoryDescriptor) }
        let connection = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard connection >= 0 else { throw RuntimeError.lastIO("socket", directory + "/" + name) }
        let result = with("/proc/self/fd/\(directoryDescriptor)/\(name)") { Glibc.connect(connection, $0, $1) }
        guard result == 0 else {
            let error = RuntimeError.lastIO("connect", directory + "/" + name)
            close(connection)
            throw error
        }
        return connection
    }
}

/// runc's console socket protocol (runc docs/terminals.md): with `--console-socket`, runc
/// connects to the socket and sends the pseudo-terminal's master as SCM_RIGHTS ancillary data.
enum ConsoleSocket {
    /// Receives the master on the accepted `connection` (close-on-exec).
    static func receiveMaster(from connection: Int32) throws -> Int32 {
        var name = [UInt8](repeating: 0, count: 4096)
        // CMSG_SPACE(sizeof(int)) is 24 on 64-bit Linux; room for more is harmless.
        var control = [UInt8](repeating: 0, count: 64)
        let received: Int = name.withUnsafeMutableBytes { nameBuffer in
            control.withUnsafeMutableBytes { controlBuffer in
                var vector = iovec(iov_base: nameBuffer.baseAddress, iov_len: nameBuffer.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBuffer.baseAddress
                    message.msg_controllen = controlBuffer.count
                    while true {
                        let count = recvmsg(connection, &message, 0x4000_0000 /* MSG_CMSG_CLOEXEC */)
                        if count < 0, errno == EINTR { continue }
                        return count < 0 ? -1 : message.msg_controllen
                    }
                }
            }
        }
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the data.
        let header = MemoryLayout<cmsghdr>.size
        guard received >= header + 4 else { throw RuntimeError.runtime("runc sent no terminal on the console socket") }
        let (length, level, type, descriptor) = control.withUnsafeBytes { bytes in
            (bytes.load(as: Int.self), bytes.load(fromByteOffset: 8, as: Int32.self),
             bytes.load(fromByteOffset: 12, as: Int32.self), bytes.load(fromByteOffset: header, as: Int32.self))
        }
        guard level == SOL_SOCKET, type == Int32(SCM_RIGHTS), length >= header + 4, descriptor >= 0 else {
            throw RuntimeError.runtime("runc sent no terminal on the console socket")
        }
        return descriptor
    }

    /// The master runc sent on `listener` before it exited (it connects and sends before
    /// `create` or `exec --detach` returns, and the connection waits in the backlog).
    static func takeMaster(from listener: UnixListener) throws -> Int32 {
        guard listener.waitForConnection(milliseconds: 0), let connection = listener.accept() else {
            throw RuntimeError.runtime("runc did not send the container's terminal")
        }
        defer { close(connection) }
        return try receiveMaster(from: connection)
    }
}
