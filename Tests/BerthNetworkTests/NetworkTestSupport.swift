import BerthOCI
import BerthProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import BerthNetwork

/// What the networking tests need from the host, and why they are skipped without it.
enum NetworkTestHost {
    static let unavailableReason: String? = {
        var missing: [String] = []
        if geteuid() != 0 { missing.append("root (euid is \(geteuid()))") }
        for tool in ["ip", "iptables", "iptables-save", "iptables-restore", "nft", "busybox"] where (try? Command.locate(tool)) == nil {
            missing.append(tool)
        }
        guard !missing.isEmpty else { return nil }
        let reason = "needs " + missing.joined(separator: ", ")
        FileHandle.standardError.write(Data("\n*** SKIPPING BerthNetwork integration tests: \(reason) ***\n\n".utf8))
        return reason
    }()

    static var skipMessage: String { "BerthNetwork integration tests skipped: \(unavailableReason ?? "")" }

    /// The CNI plugins a test of older attachments (or of host-local beside Berth's leases) runs;
    /// nil when all are installed, else says loudly that the test is skipped.
    static func missingPlugins(_ plugins: [String], test: String) -> String? {
        let missing = plugins.filter { (try? CNI().locate($0)) == nil }
        guard !missing.isEmpty else { return nil }
        let message = "SKIPPED \(test): CNI plugins \(missing.joined(separator: ", ")) missing (apt-get install containernetworking-plugins)"
        FileHandle.standardError.write(Data("\n*** \(message) ***\n\n".utf8))
        return message
    }

    /// A global IPv4 address of this host, for checking that published ports answer there too.
    static func nonLoopbackAddress(excluding bridge: String) throws -> String? {
        let listing = try Command.check("ip", ["-o", "-4", "addr", "show", "scope", "global"]).stdoutText
        for line in listing.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 4, words[1] != Substring(bridge), let slash = words[3].firstIndex(of: "/") else { continue }
            return String(words[3][..<slash])
        }
        return nil
    }

    /// The host end of the namespace's eth0 veth, found by the peer's interface index.
    static func hostVeth(of namespace: TestNamespace) throws -> String? {
        let inside = try namespace.run(["ip", "-o", "link", "show", "eth0"])
        // "2: eth0@if17: <...>": the host end has index 17.
        guard let range = inside.range(of: #"@if[0-9]+"#, options: .regularExpression) else { return nil }
        let index = inside[range].dropFirst(3)
        let host = try Command.check("ip", ["-o", "link"]).stdoutText
        for line in host.split(separator: "\n") where line.hasPrefix("\(index): ") {
            let name = line.split(separator: " ")[1]
            return String(name.split(separator: "@")[0]).trimmingCharacters(in: CharacterSet(charactersIn: ":"))
        }
        return nil
    }
}

extension BridgeNetwork {
    /// The plugin chain older Berth versions attached containers with: `bridge` with host-local
    /// IPAM, each configuration carrying the list's `name` and `cniVersion`. The tests recreate such
    /// attachments with it, and run host-local beside Berth's own leases.
    func pluginConfigurations(ipamDataDirectory: String) -> [JSONValue] {
        let bridge: JSONValue = .object([
            "type": .string("bridge"),
            "bridge": .string(self.bridge),
            "isGateway": .bool(true),
            "ipMasq": .bool(false),
            "hairpinMode": .bool(true),
            "ipam": .object([
                "type": .string("host-local"),
                "ranges": .array([.array([.object(["subnet": .string(subnet), "gateway": .string(gateway)])])]),
                "routes": .array([.object(["dst": .string("0.0.0.0/0")])]),
                "dataDir": .string(ipamDataDirectory),
            ]),
        ])
        return [bridge.setting("name", to: .string(cniName)).setting("cniVersion", to: .string(CNI.version))]
    }
}

/// A network namespace made with `ip netns add`, standing in for a container's.
final class TestNamespace {
    let name = "berth-test-\(UUID().uuidString.prefix(8).lowercased())"
    var path: String { "/var/run/netns/\(name)" }
    private var deleted = false

    init() throws {
        try Command.check("ip", ["netns", "add", name])
    }

    func delete() {
        guard !deleted else { return }
        deleted = true
        _ = try? Command.check("ip", ["netns", "delete", name])
    }

    /// Runs a tool inside the namespace; returns its stdout.
    @discardableResult
    func run(_ arguments: [String], input: Data? = nil) throws -> String {
        let output = try Command.run(try Command.locate("ip"), ["netns", "exec", name] + arguments, input: input)
        return output.stdoutText + output.stderrText
    }

    /// busybox httpd inside the namespace, serving `body` at /.
    func serveHTTP(port: UInt16, body: String) throws -> HTTPServer {
        try HTTPServer(address: nil, port: port, body: body, namespace: name)
    }

    /// An HTTP GET from inside the namespace (busybox nc), retried while the server starts.
    func fetch(host: String, port: UInt16) throws -> String {
        var reply = ""
        for _ in 0..<30 {
            reply = try run(["busybox", "nc", "-w", "3", host, "\(port)"], input: Data("GET / HTTP/1.0\r\n\r\n".utf8))
            if reply.hasPrefix("HTTP/") { return reply }
            usleep(100_000)
        }
        return reply
    }
}

/// busybox httpd in the foreground, on the host or in a namespace.
final class HTTPServer {
    let port: UInt16
    private let pid: pid_t
    private let directory: String

    init(address: String?, port requested: UInt16 = 0, body: String, namespace: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-www-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data((body + "\n").utf8).write(to: URL(fileURLWithPath: "\(directory)/index.html"))
        if requested != 0 {
            port = requested
        } else if case .bound(let free) = HostPorts.probe(hostIP: address ?? "", port: 0, proto: "tcp") {
            port = free
        } else {
            throw NetworkError.noFreePort(hostIP: address ?? "", range: "ephemeral", proto: "tcp")
        }
        let portNumber = port
        let listen = address.map { "\($0):\(portNumber)" } ?? "\(portNumber)"
        let httpd = ["httpd", "-f", "-p", listen, "-h", directory]
        if let namespace {
            pid = try Spawn.start([try Command.locate("ip"), "netns", "exec", namespace, "busybox"] + httpd)
        } else {
            pid = try Spawn.start([try Command.locate("busybox")] + httpd)
        }
    }

    func terminate() {
        kill(pid, SIGKILL)
        _ = Spawn.wait(pid)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Holds a host port the way another program would: a TCP listener or a bound UDP socket.
final class PortHolder {
    let port: UInt16
    private let descriptor: Int32

    init(proto: String) throws {
        let type = proto == "udp" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
        let descriptor = socket(AF_INET, type, 0)
        self.descriptor = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = INADDR_ANY
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard ok, type == Int32(SOCK_DGRAM.rawValue) || listen(descriptor, 1) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw NetworkError.io(path: "socket", reason: reason)
        }
        port = UInt16(bigEndian: address.sin_port)
    }

    func close() { Glibc.close(descriptor) }
}

/// An HTTP GET from the host over a plain socket, retried while the server starts.
func fetch(host: String, port: UInt16) throws -> String {
    var last = ""
    for _ in 0..<30 {
        if let reply = httpGet(host: host, port: port), reply.hasPrefix("HTTP/") { return reply }
        last = "no HTTP reply from \(host):\(port)"
        usleep(100_000)
    }
    return last
}

private func httpGet(host: String, port: UInt16) -> String? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var timeout = timeval(tv_sec: 3, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET / HTTP/1.0\r\nHost: \(host)\r\n\r\n".utf8)
    guard send(descriptor, request, request.count, 0) == request.count else { return nil }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count <= 0 { break }
        reply.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: reply, as: UTF8.self)
}
