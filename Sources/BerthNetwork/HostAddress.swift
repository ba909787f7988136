import Foundation

/// The host's IPv4 addresses: what a Node publishes as its InternalIP, what LoadBalancers and the
/// `kubernetes` endpoints name, and what a pod subnet must not overlap.
public enum HostAddress {
    /// The primary address: the one of the interface the default route leaves by; 127.0.0.1 without one.
    public static func primary() -> String {
        guard let interface = defaultRouteInterface() else { return "127.0.0.1" }
        return all().first { $0.interface == interface }?.address ?? "127.0.0.1"
    }

    /// The interface of the IPv4 default route (`/proc/net/route`: destination 0, mask 0), lowest
    /// metric first. Read to its end: Foundation's string reading stops after a page of a /proc file.
    static func defaultRouteInterface() -> String? {
        guard let data = FileHandle(forReadingAtPath: "/proc/net/route")?.readDataToEndOfFile() else { return nil }
        let routes = String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst().compactMap { line -> (String, Int)? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count > 7, fields[1] == "00000000", fields[7] == "00000000" else { return nil }
            return (String(fields[0]), Int(fields[6]) ?? 0)
        }
        return routes.min { $0.1 < $1.1 }?.0
    }

    /// The interfaces with an address in `cidr` (`10.244.3.0/24`).
    public static func interfaces(inSubnet cidr: String) -> Set<String> {
        guard let subnet = IPv4Network(cidr) else { return [] }
        return Set(all().filter { IPv4Network($0.address).map { subnet.contains($0.address) } ?? false }.map(\.interface))
    }

    /// Every IPv4 address of the host's interfaces, with the interface's name.
    public static func all() -> [(interface: String, address: String)] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [(interface: String, address: String)] = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                var value = inet.pointee.sin_addr
                _ = inet_ntop(AF_INET, &value, &text, socklen_t(INET_ADDRSTRLEN))
            }
            addresses.append((String(cString: entry.pointee.ifa_name), String(cString: text)))
        }
        return addresses
    }
}
