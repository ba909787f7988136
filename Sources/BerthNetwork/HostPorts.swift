import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Host port checks and allocation. Published ports are DNAT rules (`Iptables`) that hold no socket,
/// so a port is free when nothing on the host can bind it and no other attachment publishes it.
enum HostPorts {
    enum BindOutcome: Equatable {
        case bound(UInt16)
        case inUse
        case unavailable(String)
    }

    /// Binds `hostIP:port` (port 0: a kernel-chosen ephemeral port) and releases it at once.
    static func probe(hostIP: String, port: UInt16, proto: String) -> BindOutcome {
        let (type, socketProtocol): (Int32, Int32) = switch proto {
        case "udp": (Int32(SOCK_DGRAM.rawValue), Int32(IPPROTO_UDP))
        case "sctp": (Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_SCTP))
        default: (Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_TCP))
        }
        let descriptor = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), socketProtocol)
        guard descriptor >= 0 else {
            // No SCTP in this kernel: nothing can hold an SCTP port, so it is free.
            if proto == "sctp" { return .bound(port) }
            return .unavailable(String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        if type == Int32(SOCK_STREAM.rawValue) {
            // Lingering TIME_WAIT connections do not hold a port; a listener still does.
            var one: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        if hostIP.isEmpty {
            address.sin_addr.s_addr = INADDR_ANY
        } else if inet_pton(AF_INET, hostIP, &address.sin_addr) != 1 {
            return .unavailable("not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if bound != 0 {
            let code = errno
            if code == EADDRINUSE { return .inUse }
            return .unavailable(String(cString: strerror(code)))
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return .unavailable(String(cString: strerror(errno))) }
        return .bound(UInt16(bigEndian: actual.sin_port))
    }

    /// Whether two publications would catch the same packets.
    static func conflict(_ a: PortMapping, _ b: PortMapping) -> Bool {
        a.proto == b.proto && a.hostPort == b.hostPort
            && (a.hostIP.isEmpty || b.hostIP.isEmpty || a.hostIP == b.hostIP)
    }

    /// Gives every mapping a concrete, free host port, or fails naming the first that cannot have one.
    /// `taken` holds the ports other attachments publish.
    static func resolve(_ requested: [PortMapping], taken: [PortMapping]) throws -> [PortMapping] {
        var allocated = taken
        var resolved: [PortMapping] = []
        for mapping in requested {
            if IPAddress.isIPv6(mapping.hostIP) { throw NetworkError.ipv6NotSupported(mapping.hostIP) }
            var concrete = mapping
            // Docker's 0.0.0.0 means every address; in a DNAT rule it would be a literal destination.
            if concrete.hostIP == "0.0.0.0" { concrete.hostIP = "" }
            let port = try pick(concrete, allocated: allocated)
            concrete.hostPort = port
            concrete.hostPortEnd = nil
            allocated.append(concrete)
            resolved.append(concrete)
        }
        return resolved
    }

    private static func pick(_ mapping: PortMapping, allocated: [PortMapping]) throws -> UInt16 {
        func isAllocated(_ port: UInt16) -> Bool {
            var candidate = mapping
            candidate.hostPort = port
            return allocated.contains { conflict($0, candidate) }
        }
        func unavailable(_ reason: String) -> NetworkError {
            .hostAddressUnavailable(hostIP: mapping.hostIP.isEmpty ? "0.0.0.0" : mapping.hostIP,
                                    port: mapping.hostPort, proto: mapping.proto, reason: reason)
        }

        if let end = mapping.hostPortEnd {
            for port in mapping.hostPort...end where !isAllocated(port) {
                switch probe(hostIP: mapping.hostIP, port: port, proto: mapping.proto) {
                case .bound: return port
                case .inUse: continue
                case .unavailable(let reason): throw unavailable(reason)
                }
            }
            throw NetworkError.noFreePort(hostIP: mapping.hostIP, range: "\(mapping.hostPort)-\(end)",
                                          proto: mapping.proto)
        }
        if mapping.hostPort != 0 {
            if isAllocated(mapping.hostPort) {
                throw NetworkError.portAllocated(hostIP: mapping.hostIP, port: mapping.hostPort, proto: mapping.proto)
            }
            switch probe(hostIP: mapping.hostIP, port: mapping.hostPort, proto: mapping.proto) {
            case .bound: return mapping.hostPort
            case .inUse:
                throw NetworkError.portAllocated(hostIP: mapping.hostIP, port: mapping.hostPort, proto: mapping.proto)
            case .unavailable(let reason): throw unavailable(reason)
            }
        }
        // Random port: the kernel's choice from the ephemeral range, unless another attachment has it.
        for _ in 0..<64 {
            switch probe(hostIP: mapping.hostIP, port: 0, proto: mapping.proto) {
            case .bound(let port) where !isAllocated(port): return port
            case .bound, .inUse: continue
            case .unavailable(let reason): throw unavailable(reason)
            }
        }
        throw NetworkError.noFreePort(hostIP: mapping.hostIP, range: "the ephemeral range", proto: mapping.proto)
    }
}
