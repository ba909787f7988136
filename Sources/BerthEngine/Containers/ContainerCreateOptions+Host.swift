import BerthOCI
import BerthRuntime
import Foundation

extension ContainerCreateOptions {
    /// Checks the namespace, name resolution, device, kernel-parameter and cgroup options as dockerd
    /// does at create (its messages), and records them in the host config.
    func applyHostOptions(to host: inout ContainerRecord.HostConfig) throws {
        try Self.checkNamespaceModes(ipc: ipcMode, pid: pidMode, uts: utsMode, networkMode: host.networkMode)
        if utsMode == "host", let hostname, !hostname.isEmpty {
            throw EngineError.invalidParameter("conflicting options: hostname and the UTS mode")
        }
        if oomScoreAdj < -1000 || oomScoreAdj > 1000 {
            throw EngineError.invalidParameter("Invalid value \(oomScoreAdj), range for oom score adj is [-1000, 1000]")
        }
        if shmSize < 0 { throw EngineError.invalidParameter("SHM size can not be less than 0") }
        for (key, value) in sysctls { try Self.checkSysctl(key, value) }
        for entry in extraHosts ?? [] { _ = try ExtraHost(parsing: entry) }
        for server in dns where !IPAddressText.isValid(server) {
            throw EngineError.invalidParameter("\(server) is not an ip address")
        }
        for ulimit in ulimits { try Self.checkUlimit(ulimit) }
        for device in devices { try Self.checkDevice(device) }
        try Self.checkMoreResources(memory: memory, memorySwap: memorySwap, memoryReservation: memoryReservation,
                                    nanoCPUs: nanoCPUs, cpuPeriod: cpuPeriod, cpuQuota: cpuQuota,
                                    cpusetCpus: cpusetCpus, cpusetMems: cpusetMems)
        if let ipv4Address, !ipv4Address.isEmpty, !IPAddressText.isValid(ipv4Address) || ipv4Address.contains(":") {
            throw EngineError.invalidParameter("invalid IPv4 address: \(ipv4Address)")
        }
        if let macAddress, !macAddress.isEmpty, !MACAddressText.isValid(macAddress) {
            throw EngineError.invalidParameter("invalid MAC address: \(macAddress)")
        }
        if let platform, !platform.isEmpty { _ = try PlatformText(parsing: platform) }

        host.containerIDFile = containerIDFile ?? ""
        host.extraHosts = extraHosts
        (host.dns, host.dnsOptions, host.dnsSearch) = (dns, dnsOptions, dnsSearch)
        host.ipcMode = ipcMode.isEmpty ? "private" : ipcMode
        (host.pidMode, host.utsMode) = (pidMode, utsMode)
        host.oomScoreAdj = oomScoreAdj
        host.shmSize = shmSize == 0 ? ContainerRecord.Defaults.ShmSize.defaultValue : shmSize
        host.sysctls = sysctls
        (host.cpuPeriod, host.cpuQuota, host.cpusetCpus, host.cpusetMems) = (cpuPeriod, cpuQuota, cpusetCpus, cpusetMems)
        host.devices = devices
        (host.memoryReservation, host.memorySwap) = (memoryReservation, memorySwap)
        host.ulimits = ulimits
        host.volumesFrom = volumesFrom.isEmpty ? nil : volumesFrom
    }

    /// dockerd's namespace modes: IPC `private`, `shareable`, `host`, `none`, `container:X`;
    /// PID `host` or `container:X`; UTS `host`.
    static func checkNamespaceModes(ipc: String, pid: String, uts: String, networkMode: String) throws {
        func joinsContainer(_ mode: String) -> Bool { mode.hasPrefix("container:") && mode.count > "container:".count }
        guard ["", "private", "shareable", "host", "none"].contains(ipc) || joinsContainer(ipc) else {
            throw EngineError.invalidParameter("Invalid IPC mode: \(ipc)")
        }
        guard ["", "host"].contains(pid) || joinsContainer(pid) else {
            throw EngineError.invalidParameter("invalid PID mode: \(pid)")
        }
        guard ["", "host"].contains(uts) else { throw EngineError.invalidParameter("invalid UTS mode: \(uts)") }
    }

    /// The kernel parameters a container may set: those of its own IPC and network namespaces
    /// (the docker CLI's list and message).
    static func checkSysctl(_ key: String, _ value: String) throws {
        let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                   "kernel.shmmni", "kernel.shm_rmid_forced"]
        guard ipc.contains(key) || key.hasPrefix("fs.mqueue.") || key.hasPrefix("net.") else {
            throw EngineError.invalidParameter("sysctl '\(key)=\(value)' is not allowed")
        }
    }

    /// Ulimit names as Docker spells them, with the RLIMIT_ each stands for.
    public static let ulimitNames: [String: String] = [
        "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
        "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE",
        "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
        "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
    ]

    static func checkUlimit(_ ulimit: Ulimit) throws {
        guard ulimitNames[ulimit.name] != nil else { throw EngineError.invalidParameter("invalid ulimit type: \(ulimit.name)") }
        if ulimit.soft > ulimit.hard, ulimit.hard != -1 {
            throw EngineError.invalidParameter("ulimit soft limit must be less than or equal to hard limit: \(ulimit.soft) > \(ulimit.hard)")
        }
    }

    static func checkDevice(_ device: DeviceMapping) throws {
        guard device.pathInContainer.hasPrefix("/") else { throw EngineError.invalidParameter("bad format for path: \(device.pathInContainer)") }
        guard !device.cgroupPermissions.isEmpty, device.cgroupPermissions.allSatisfy({ "rwm".contains($0) }) else {
            throw EngineError.invalidParameter("bad mode specified: \(device.cgroupPermissions)")
        }
    }

    /// dockerd's checks of the swap, reservation, CFS and cpuset limits, with its messages.
    static func checkMoreResources(memory: Int64, memorySwap: Int64, memoryReservation: Int64, nanoCPUs: Int64,
                                   cpuPeriod: Int64, cpuQuota: Int64, cpusetCpus: String, cpusetMems: String) throws {
        if memory > 0, memorySwap > 0, memorySwap < memory {
            throw EngineError.invalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
        }
        if memory == 0, memorySwap > 0 {
            throw EngineError.invalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
        }
        if memoryReservation > 0, memoryReservation < 6 * 1024 * 1024 {
            throw EngineError.invalidParameter("Minimum memory reservation allowed is 6MB")
        }
        if memory > 0, memoryReservation > 0, memory < memoryReservation {
            throw EngineError.invalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")
        }
        if nanoCPUs > 0, cpuPeriod > 0 {
            throw EngineError.invalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
        }
        if nanoCPUs > 0, cpuQuota > 0 {
            throw EngineError.invalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
        }
        if cpuPeriod != 0, cpuPeriod < 1000 || cpuPeriod > 1_000_000 {
            throw EngineError.invalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
        }
        if cpuQuota > 0, cpuQuota < 1000 { throw EngineError.invalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)") }
        for (value, file, noun, nodes) in [(cpusetCpus, "/sys/devices/system/cpu/online", "cpus", "CPUs"),
                                          (cpusetMems, "/sys/devices/system/node/online", "mems", "memory nodes")]
            where !value.isEmpty {
            guard let requested = CPUSet(value) else { throw EngineError.invalidParameter("Invalid value \(value) for cpuset \(noun)") }
            let availableText = (try? String(contentsOfFile: file, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "0"
            if let available = CPUSet(availableText), !requested.members.isSubset(of: available.members) {
                throw EngineError.invalidParameter("Requested \(nodes) are not available - requested \(value), available: \(availableText)")
            }
        }
    }
}

/// A cpuset list as the kernel writes it: `0-2,4`.
struct CPUSet {
    var members: Set<Int>

    init?(_ text: String) {
        members = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let first = Int(bounds[0]), let last = Int(bounds[bounds.count - 1]),
                  first >= 0, first <= last else { return nil }
            members.formUnion(first...last)
        }
    }
}

/// One `--add-host` entry: `name:address`, the address `host-gateway` standing for the default
/// bridge's gateway, as Docker's does for its docker0.
public struct ExtraHost: Sendable, Equatable {
    public var name: String
    public var address: String

    public init(parsing entry: String) throws {
        // The docker CLI also accepts `name=address`; the API form is `name:address`.
        let separator = entry.firstIndex(where: { $0 == ":" || $0 == "=" })
        guard let separator, !entry[..<separator].isEmpty else {
            throw EngineError.invalidParameter("bad format for add-host: \"\(entry)\"")
        }
        name = String(entry[..<separator])
        address = String(entry[entry.index(after: separator)...])
        if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        guard address == "host-gateway" || IPAddressText.isValid(address) else {
            throw EngineError.invalidParameter("invalid IP address in add-host: \"\(address)\"")
        }
    }
}

/// Textual IP and MAC addresses.
enum IPAddressText {
    static func isValid(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}

enum MACAddressText {
    static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
    }
}

/// `--platform os[/arch[/variant]]`.
public struct PlatformText: Sendable, Equatable {
    public var os: String
    public var architecture: String?
    public var variant: String?

    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw EngineError.invalidParameter("\"\(text)\": unknown operating system or architecture: invalid argument")
        }
        os = parts[0]
        architecture = parts.count > 1 ? Self.normalized(parts[1]) : nil
        variant = parts.count > 2 ? parts[2] : nil
    }

    /// containerd's architecture aliases.
    static func normalized(_ architecture: String) -> String {
        switch architecture {
        case "x86_64", "x86-64": return "amd64"
        case "aarch64": return "arm64"
        default: return architecture
        }
    }

    /// Whether an image made for `os`/`architecture` runs this platform: the OS must match, the
    /// architecture when one is given.
    public func matches(os imageOS: String, architecture imageArchitecture: String) -> Bool {
        os == imageOS.lowercased() && (architecture == nil || architecture == Self.normalized(imageArchitecture.lowercased()))
    }
}

extension DeviceMapping {
    /// The docker CLI's `--device` form: `host-path[:container-path][:permissions]`, permissions
    /// some of `rwm` (all three by default).
    public init(parsing spec: String) throws {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count) else { throw EngineError.invalidParameter("invalid device specification: \(spec)") }
        var permissions = "rwm"
        var destination = ""
        if parts.count == 3 {
            permissions = parts[2]
            destination = parts[1]
        } else if parts.count == 2 {
            if !parts[1].isEmpty, parts[1].allSatisfy({ "rwm".contains($0) }) { permissions = parts[1] } else { destination = parts[1] }
        }
        self.init(pathOnHost: parts[0], pathInContainer: destination.isEmpty ? parts[0] : destination,
                  cgroupPermissions: permissions)
    }
}

extension Ulimit {
    /// `name=soft[:hard]` (go-units' ParseUlimit): the hard limit defaults to the soft one.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { throw EngineError.invalidParameter("invalid ulimit argument: \(text)") }
        guard ContainerCreateOptions.ulimitNames[parts[0]] != nil else {
            throw EngineError.invalidParameter("invalid ulimit type: \(parts[0])")
        }
        let limits = parts[1].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard limits.count <= 2 else {
            throw EngineError.invalidParameter("too many limit value arguments - \(parts[1]), can only have up to two, `soft[:hard]`")
        }
        guard let soft = Int64(limits[0]) else { throw EngineError.invalidParameter("invalid ulimit soft value: \(limits[0])") }
        var hard = soft
        if limits.count == 2 {
            guard let value = Int64(limits[1]) else { throw EngineError.invalidParameter("invalid ulimit hard value: \(limits[1])") }
            hard = value
        }
        if soft > hard {
            throw EngineError.invalidParameter("ulimit soft limit must be less than or equal to hard limit: \(soft) > \(hard)")
        }
        self.init(name: parts[0], hard: hard, soft: soft)
    }
}
