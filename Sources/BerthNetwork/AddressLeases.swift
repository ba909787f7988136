import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A network's IPv4 address leases in the CNI `host-local` IPAM plugin's on-disk format, so that
/// leases taken by the plugin (attachments of older Berth versions) and by Berth itself share one
/// allocation: in `<ipamDirectory>/<cniName>/`, one file per leased address, named by the address
/// and holding `<container ID>\r\n<interface>`; `last_reserved_ip.0` with the latest address
/// handed out; every change under an exclusive flock of the file `lock`, as the plugin takes it.
struct AddressLeases {
    let network: BridgeNetwork
    let directory: String

    init(network: BridgeNetwork, ipamDirectory: String) {
        self.network = network
        directory = "\(ipamDirectory)/\(network.cniName)"
    }

    private static let lastReserved = "last_reserved_ip.0"

    /// Leases the first free address after the last one handed out (round-robin, as host-local
    /// does), skipping the network address, the gateway and the broadcast address.
    /// Within `--ip-range` when the network has one; `requested` (`--ip`) takes that address or fails.
    func reserve(containerID: String, interface: String, requested: String? = nil) throws -> UInt32 {
        guard let subnet = IPv4Network(network.subnet), subnet.prefixLength <= 30 else {
            throw NetworkError.invalidSubnet(network.subnet)
        }
        let gateway = IPv4Network(network.gateway)?.address
        let pool = network.ipRange.flatMap(IPv4Network.init) ?? subnet
        let mask = IPv4Network.mask(pool.prefixLength)
        let subnetMask = IPv4Network.mask(subnet.prefixLength)
        // As Docker's IPAM: neither the range's first address nor its last are handed out.
        let first = max((pool.address & mask) + 1, (subnet.address & subnetMask) + 1)
        let last = min((pool.address & mask | ~mask) - 1, (subnet.address & subnetMask | ~subnetMask) - 1)
        try makeDirectory()
        if let requested {
            guard let address = IPv4Network(requested)?.address else { throw NetworkError.invalidSubnet(requested) }
            return try StateLock(path: "\(directory)/lock").withLock {
                guard address != gateway, try claim(address, containerID: containerID, interface: interface) else {
                    throw NetworkError.addressInUse(address: requested, network: network.name)
                }
                return address
            }
        }
        return try StateLock(path: "\(directory)/lock").withLock {
            var start = first
            if let text = FileManager.default.contents(atPath: "\(directory)/\(Self.lastReserved)"),
               let previous = IPv4Network(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
               (first...last).contains(previous.address) {
                start = previous.address == last ? first : previous.address + 1
            }
            var candidate = start
            repeat {
                if candidate != gateway, try claim(candidate, containerID: containerID, interface: interface) {
                    try StateFile.write(Data(IPv4Network.format(candidate).utf8),
                                        to: "\(directory)/\(Self.lastReserved)", mode: 0o644, synced: false)
                    return candidate
                }
                candidate = candidate == last ? first : candidate + 1
            } while candidate != start
            throw NetworkError.addressesExhausted(network: network.name, subnet: network.subnet)
        }
    }

    /// Releases the container's lease of `address`; a lease held by another container stays.
    func release(address: String, containerID: String, interface: String) throws {
        try StateLock(path: "\(directory)/lock").withLock {
            try releaseIfHeld("\(directory)/\(address)", containerID: containerID, interface: interface)
        }
    }

    /// Releases whatever the container leased on `interface` (its address unknown, as after a crash
    /// between leasing and recording it), by the ID and interface the lease files hold.
    func releaseAll(containerID: String, interface: String) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        try StateLock(path: "\(directory)/lock").withLock {
            for name in names where IPv4Network(name) != nil && !name.contains("/") {
                try releaseIfHeld("\(directory)/\(name)", containerID: containerID, interface: interface)
            }
        }
    }

    /// Creates the lease file; false when the address is leased already.
    private func claim(_ address: UInt32, containerID: String, interface: String) throws -> Bool {
        let path = "\(directory)/\(IPv4Network.format(address))"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor < 0 {
            if errno == EEXIST { return false }
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
        let contents = Array("\(containerID)\r\n\(interface)".utf8)
        let written = write(descriptor, contents, contents.count)
        let reason = String(cString: strerror(errno))
        close(descriptor)
        guard written == contents.count else {
            unlink(path)
            throw NetworkError.io(path: path, reason: reason)
        }
        return true
    }

    /// host-local's release rule: the file holds exactly the ID and interface, or (leases of
    /// plugin versions before 0.8) the ID alone.
    private func releaseIfHeld(_ path: String, containerID: String, interface: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let holder = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard holder == "\(containerID)\r\n\(interface)" || holder == containerID else { return }
        if unlink(path) != 0, errno != ENOENT {
            throw NetworkError.io(path: path, reason: String(cString: strerror(errno)))
        }
    }

    private func makeDirectory() throws {
        if mkdir(directory, 0o755) != 0, errno != EEXIST {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw NetworkError.io(path: directory, reason: "\(error)")
            }
        }
    }
}
