import Foundation
import Glibc

/// A TCP proxy on 127.0.0.1 in front of a real registry that injects the faults a client meets on
/// real networks: a connection reset, a 503, or a request held back until released. It reads
/// each request's head (the client's GET and HEAD requests have no body) and asks `decide`
/// what to do with it; responses flow back untouched.
final class FaultInjectingProxy: @unchecked Sendable {
    enum Action {
        case forward
        /// Closes the client's connection without an answer.
        case reset
        /// Answers with this status and an empty body, keeping the connection.
        case status(Int)
        /// Forwards the request once `release()` is called.
        case hold
    }

    let port: UInt16
    private let upstreamPort: UInt16
    private let listener: Int32
    private let decide: @Sendable (_ requestLine: String) -> Action
    private let lock = NSLock()
    private var seen: [String] = []
    private var released = false
    private let releaseCondition = NSCondition()
    /// Signalled when the accept loop has returned, so `stop()` closes the listener only then:
    /// a descriptor closed under a thread still using it may by then name another test's socket.
    private let acceptLoopEnded = DispatchSemaphore(value: 0)

    init(upstreamPort: UInt16, decide: @escaping @Sendable (_ requestLine: String) -> Action) throws {
        self.upstreamPort = upstreamPort
        self.decide = decide
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0,
                                  sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && listen(listener, 64) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard listener >= 0, bound else { throw POSIXError(.EADDRNOTAVAIL) }
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in
            acceptLoop()
            acceptLoopEnded.signal()
        }
    }

    /// Every request line the proxy saw, in order.
    var requests: [String] { lock.withLock { seen } }

    /// Lets held requests through.
    func release() {
        releaseCondition.lock()
        released = true
        releaseCondition.broadcast()
        releaseCondition.unlock()
    }

    /// Stops accepting; open connections end with their clients.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        acceptLoopEnded.wait()
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        guard let upstream = connectUpstream() else {
            close(client)
            return
        }
        // Both descriptors are closed only once this thread is done with them (see acceptLoopEnded).
        let responsesEnded = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            Self.pipe(from: upstream, to: client)
            shutdown(client, Int32(SHUT_WR))
            responsesEnded.signal()
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        loop: while true {
            let count = read(client, &buffer, buffer.count)
            guard count > 0 else { break }
            pending.append(contentsOf: buffer[0..<count])
            while let end = Self.headEnd(pending) {
                let head = Array(pending[..<end])
                pending.removeFirst(end)
                let line = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
                lock.withLock { seen.append(line) }
                switch decide(line) {
                case .forward:
                    Self.writeAll(upstream, head)
                case .reset:
                    break loop
                case .status(let code):
                    Self.writeAll(client, Array("HTTP/1.1 \(code) Injected\r\nContent-Length: 0\r\n\r\n".utf8))
                case .hold:
                    releaseCondition.lock()
                    while !released { releaseCondition.wait() }
                    releaseCondition.unlock()
                    Self.writeAll(upstream, head)
                }
            }
        }
        shutdown(upstream, Int32(SHUT_RDWR))
        shutdown(client, Int32(SHUT_RDWR))
        responsesEnded.wait()
        close(client)
        close(upstream)
    }

    private func connectUpstream() -> Int32? {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: upstreamPort.bigEndian,
                                  sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        if connected { return upstream }
        close(upstream)
        return nil
    }

    /// The length of the request head (through the blank line), if `bytes` holds a whole one.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index - 3] == 13 && bytes[index - 2] == 10 && bytes[index - 1] == 13 && bytes[index] == 10 {
            return index + 1
        }
        return nil
    }

    private static func pipe(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(source, &buffer, buffer.count)
            guard count > 0, writeAll(destination, Array(buffer[0..<count])) else { return }
        }
    }

    @discardableResult
    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
