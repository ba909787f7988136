import BerthProcess
import Foundation
import Glibc
import Synchronization

/// Publishing on `[::]`, as Docker does where the host has IPv6: containers have IPv4 addresses
/// only, so no DNAT can reach them from IPv6 and a userland proxy (Docker's docker-proxy) relays
/// instead. One proxy process per published TCP or UDP port listens on `[::]:hostPort`
/// (IPv6 only: IPv4 stays with the DNAT rules) and forwards to `containerIP:containerPort`. It
/// runs as `berth-monitor --port-proxy …`, a child of the container's monitor, and exits when the
/// monitor is gone.
public enum PortProxy {
    /// Whether the host has IPv6 (an address on any interface, `::1` on lo included).
    public static var hostHasIPv6: Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8) else { return false }
        return !table.isEmpty
    }

    /// The argument that selects the proxy in `berth-monitor`.
    public static let argument = "--port-proxy"

    /// Starts a proxy for `port` (resolved, on every host address) to `containerIP`, through
    /// `executable` (berth-monitor); returns its pid once it listens, or throws Docker's error when
    /// it cannot.
    public static func start(executable: String, port: PortMapping, containerIP: String) throws -> pid_t {
        let pipe = try BerthProcess.Pipe.make()
        let pid: pid_t
        do {
            pid = try Spawn.start([executable, argument, port.proto, String(port.hostPort), containerIP,
                                   String(port.containerPort)], descriptors: [(pipe.write, 3)])
        } catch {
            pipe.closeBoth()
            throw error
        }
        close(pipe.write)
        var reply = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let count = read(pipe.read, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            reply += buffer[0..<count]
        }
        close(pipe.read)
        let answer = String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard answer == "ok" else {
            kill(pid, SIGKILL)
            _ = Spawn.wait(pid)
            throw NetworkError.proxyFailed(answer.isEmpty ? "the port proxy exited" : answer)
        }
        return pid
    }

    /// Stops the proxies in `pids` that are still this container's proxies.
    public static func stop(_ pids: [pid_t]) {
        for pid in pids {
            guard let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                  command.contains(argument) else { continue }
            kill(pid, SIGKILL)
        }
    }

    // MARK: The proxy process

    /// `--port-proxy PROTO HOSTPORT CONTAINERIP CONTAINERPORT`, reporting `ok` (or `error …`) on
    /// descriptor 3 once it listens.
    public static func main(_ arguments: [String]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        func report(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(3, $0.baseAddress, $0.count) }
            close(3)
        }
        guard arguments.count == 4, let hostPort = UInt16(arguments[1]), let containerPort = UInt16(arguments[3]),
              ["tcp", "udp"].contains(arguments[0]) else {
            report("error usage: --port-proxy tcp|udp HOSTPORT CONTAINERIP CONTAINERPORT")
            return 2
        }
        var upstream = sockaddr_in()
        upstream.sin_family = sa_family_t(AF_INET)
        upstream.sin_port = containerPort.bigEndian
        guard inet_pton(AF_INET, arguments[2], &upstream.sin_addr) == 1 else {
            report("error not an IPv4 address: \(arguments[2])")
            return 2
        }
        let isTCP = arguments[0] == "tcp"
        let listener = socket(AF_INET6, Int32(isTCP ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = hostPort.bigEndian
        address.sin6_addr = in6addr_any
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        if bound != 0 || (isTCP && listen(listener, 128) != 0) {
            // Docker's wording for a proxy that cannot listen.
            report("error Error starting userland proxy: listen \(arguments[0])6 [::]:\(hostPort): bind: "
                   + String(cString: strerror(errno)).lowercased())
            return 1
        }
        report("ok")
        let parent = getppid()
        return isTCP ? relayTCP(listener, to: upstream, parent: parent) : relayUDP(listener, to: upstream, parent: parent)
    }

    /// Waits up to a second for `descriptor` to be readable; false when the parent (the
    /// monitor) is gone, so the proxy ends with the container.
    private static func waitReadable(_ descriptor: Int32, parent: pid_t) -> Bool? {
        guard getppid() == parent else { return nil }
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, 1000) > 0
    }

    private static func connectUpstream(_ upstream: sockaddr_in, type: Int32) -> Int32? {
        let descriptor = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var target = upstream
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(descriptor); return nil }
        return descriptor
    }

    // MARK: TCP

    /// One accepted connection and its upstream: the second direction to finish closes both.
    private final class Connection: Sendable {
        let client: Int32
        let upstream: Int32
        let finished = Atomic<Int>(0)

        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }

        func copy(from source: Int32, to destination: Int32) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            copying: while true {
                let count = read(source, &buffer, buffer.count)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                var offset = 0
                while offset < count {
                    let written = buffer[offset..<count].withUnsafeBytes { write(destination, $0.baseAddress, $0.count) }
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { break copying }
                    offset += written
                }
            }
            shutdown(destination, Int32(SHUT_WR))
            if finished.add(1, ordering: .acquiringAndReleasing).newValue == 2 {
                close(client)
                close(upstream)
            }
        }
    }

    private static func relayTCP(_ listener: Int32, to upstream: sockaddr_in, parent: pid_t) -> Int32 {
        while let readable = waitReadable(listener, parent: parent) {
            guard readable else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            Thread.detachNewThread {
                guard let server = connectUpstream(upstream, type: Int32(SOCK_STREAM.rawValue)) else {
                    close(client)
                    return
                }
                let connection = Connection(client: client, upstream: server)
                Thread.detachNewThread { connection.copy(from: server, to: client) }
                connection.copy(from: client, to: server)
            }
        }
        return 0
    }

    // MARK: UDP

    /// A client's flow: its address, and a socket connected to the container for its datagrams.
    private struct Flow: Sendable {
        var upstream: Int32
    }

    private final class Flows: Sendable {
        let table = Mutex<[[UInt8]: Flow]>([:])
    }

    /// Flows idle this long end, as docker-proxy's UDP connections time out.
    private static let udpIdleSeconds = 90

    private static func relayUDP(_ listener: Int32, to upstream: sockaddr_in, parent: pid_t) -> Int32 {
        let flows = Flows()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while let readable = waitReadable(listener, parent: parent) {
            guard readable else { continue }
            var client = sockaddr_in6()
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            let count = withUnsafeMutablePointer(to: &client) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(listener, &buffer, buffer.count, 0, $0, &length) }
            }
            guard count >= 0 else { continue }
            let key = withUnsafeBytes(of: client) { Array($0) }
            let existing = flows.table.withLock { $0[key] }
            var flow: Flow
            if let existing {
                flow = existing
            } else {
                guard let server = connectUpstream(upstream, type: Int32(SOCK_DGRAM.rawValue)) else { continue }
                flow = Flow(upstream: server)
                flows.table.withLock { $0[key] = flow }
                let replyTo = client
                Thread.detachNewThread {
                    var timeout = timeval(tv_sec: udpIdleSeconds, tv_usec: 0)
                    setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    var reply = [UInt8](repeating: 0, count: 65536)
                    var destination = replyTo
                    while true {
                        let received = recv(server, &reply, reply.count, 0)
                        if received < 0, errno == EINTR { continue }
                        guard received >= 0 else { break }
                        _ = withUnsafePointer(to: &destination) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                sendto(listener, reply, received, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                            }
                        }
                    }
                    flows.table.withLock { _ = $0.removeValue(forKey: key) }
                    close(server)
                }
            }
            _ = send(flow.upstream, buffer, count, 0)
        }
        return 0
    }
}
