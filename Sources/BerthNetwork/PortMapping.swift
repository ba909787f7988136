import Foundation

/// One published port: traffic to `hostIP:hostPort` is forwarded to the container's `containerPort`.
public struct PortMapping: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The host address to publish on; "" means every host address (Docker's 0.0.0.0).
    public var hostIP: String
    /// The host port; 0 asks for a free port (Docker's random host port).
    public var hostPort: UInt16
    /// When set, a free host port is picked from `hostPort...hostPortEnd` (Docker's
    /// `8000-8010:80`, a host range for a single container port).
    public var hostPortEnd: UInt16?
    /// The port inside the container.
    public var containerPort: UInt16
    /// The transport protocol: `tcp`, `udp` or `sctp`.
    public var proto: String

    public init(hostIP: String = "", hostPort: UInt16 = 0, hostPortEnd: UInt16? = nil, containerPort: UInt16,
                proto: String = "tcp") {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.hostPortEnd = hostPortEnd
        self.containerPort = containerPort
        self.proto = proto
    }

    /// Docker's `-p` syntax: `5111:5000`, `ip:hostPort:containerPort`, `ip::containerPort` (random
    /// host port), `containerPort` (random), ranges `8000-8001:80-81`, a host range for one container
    /// port `8000-8010:80`, `/tcp` `/udp` `/sctp`, bracketed IPv6 host addresses `[::1]:80:80`.
    /// Errors are one line, worded as Docker's ("invalid containerPort: x").
    public static func parse(_ spec: String) throws -> [PortMapping] {
        var (ip, hostPort, containerPort) = splitParts(spec)
        let proto: String
        (proto, containerPort) = splitProtoPort(containerPort)
        if ip.hasPrefix("[") {
            guard ip.hasSuffix("]"), ip.count > 2 else { throw PortSpecError.invalidIP(ip) }
            ip = String(ip.dropFirst().dropLast())
        }
        if !ip.isEmpty, !IPAddress.isValid(ip) {
            throw PortSpecError.invalidIP(ip)
        }
        if containerPort.isEmpty {
            throw PortSpecError.noPort(spec)
        }
        guard let containerRange = parseRange(containerPort), containerRange.lowerBound > 0 else {
            throw PortSpecError.invalidContainerPort(containerPort)
        }
        var hostRange: ClosedRange<UInt16>?
        if !hostPort.isEmpty {
            guard let range = parseRange(hostPort) else { throw PortSpecError.invalidHostPort(hostPort) }
            hostRange = range
        }
        let lowerProto = proto.lowercased()
        if let hostRange, hostRange.count != containerRange.count, containerRange.count != 1 {
            throw PortSpecError.mismatchedRanges(container: containerPort, host: hostPort)
        }
        guard ["tcp", "udp", "sctp"].contains(lowerProto) else { throw PortSpecError.invalidProto(proto) }

        return containerRange.enumerated().map { offset, port in
            var mapping = PortMapping(hostIP: ip, containerPort: port, proto: lowerProto)
            if let hostRange {
                if containerRange.count == 1, hostRange.count > 1 {
                    mapping.hostPort = hostRange.lowerBound
                    mapping.hostPortEnd = hostRange.upperBound
                } else {
                    mapping.hostPort = hostRange.lowerBound + UInt16(offset)
                }
            }
            return mapping
        }
    }

    /// Docker's rendering: `0.0.0.0:5111->5000/tcp`.
    public var description: String {
        let ip = hostIP.isEmpty ? "0.0.0.0" : (hostIP.contains(":") ? "[\(hostIP)]" : hostIP)
        let host = hostPortEnd.map { "\(hostPort)-\($0)" } ?? "\(hostPort)"
        return "\(ip):\(host)->\(containerPort)/\(proto)"
    }

    /// `ip:hostPort:containerPort`, where everything before the last two colons is the IP (IPv6).
    private static func splitParts(_ spec: String) -> (String, String, String) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let count = parts.count
        switch count {
        case 1: return ("", "", parts[0])
        case 2: return ("", parts[0], parts[1])
        case 3: return (parts[0], parts[1], parts[2])
        default: return (parts[..<(count - 2)].joined(separator: ":"), parts[count - 2], parts[count - 1])
        }
    }

    /// `80/udp` → ("udp", "80"); no protocol means tcp.
    private static func splitProtoPort(_ raw: String) -> (String, String) {
        let parts = raw.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if raw.isEmpty || parts[0].isEmpty { return ("", "") }
        if parts.count == 1 || parts[1].isEmpty { return ("tcp", parts[0]) }
        return (parts[1], parts[0])
    }

    /// `80` or `8000-8010`.
    private static func parseRange(_ raw: String) -> ClosedRange<UInt16>? {
        let bounds = raw.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let start = parsePort(bounds[0]) else { return nil }
        guard bounds.count == 2 else { return start...start }
        guard let end = parsePort(bounds[1]), end >= start else { return nil }
        return start...end
    }

    private static func parsePort(_ raw: Substring) -> UInt16? {
        guard !raw.isEmpty, raw.allSatisfy(\.isASCII), raw.allSatisfy(\.isNumber) else { return nil }
        return UInt16(raw)
    }
}

/// Why a `-p` specification was rejected; messages are Docker's.
public enum PortSpecError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidIP(String)
    case noPort(String)
    case invalidContainerPort(String)
    case invalidHostPort(String)
    case mismatchedRanges(container: String, host: String)
    case invalidProto(String)

    public var description: String {
        switch self {
        case .invalidIP(let ip): "invalid IP address: \(ip)"
        case .noPort(let spec): "no port specified: \(spec)<empty>"
        case .invalidContainerPort(let port): "invalid containerPort: \(port)"
        case .invalidHostPort(let port): "invalid hostPort: \(port)"
        case .mismatchedRanges(let container, let host):
            "invalid ranges specified for container and host Ports: \(container) and \(host)"
        case .invalidProto(let proto): "invalid proto: \(proto)"
        }
    }
}

/// Textual IP addresses, checked by the C library's parser.
enum IPAddress {
    static func isValid(_ text: String) -> Bool { isIPv4(text) || isIPv6(text) }

    static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
