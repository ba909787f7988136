import BerthArchive
import BerthNetwork
import BerthOCI
import Foundation
import Glibc

/// Builds a container's OCI runtime configuration with Docker's defaults: its capability set,
/// seccomp profile, masked and read-only kernel paths, device rules, mounts, and rlimits the host
/// allows; `--privileged` lifts the confinement as Docker's does.
struct BundleBuilder {
    var record: ContainerRecord
    /// The container's directory (the bundle), holding hosts, hostname and resolv.conf.
    var directory: String
    /// The mounted root filesystem.
    var rootfs: String
    var layout: CgroupLayout
    /// The namespaces joined from other containers (`--ipc`/`--pid container:NAME`), by OCI type,
    /// and `shm`, the donor's shared /dev/shm directory.
    var sharedNamespaces: [String: String] = [:]

    /// Docker's default capabilities (moby's oci/caps.DefaultCapabilities).
    static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]

    /// Every capability name up to the kernel's last one.
    static let knownCapabilities: [String] = {
        let names = [
            "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
            "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
            "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
            "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
            "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
            "PERFMON", "BPF", "CHECKPOINT_RESTORE",
        ]
        var last = names.count - 1
        if let value: Int = Files.readNumber("/proc/sys/kernel/cap_last_cap") {
            last = min(value, last)
        }
        return names[0...last].map { "CAP_" + $0 }
    }()

    /// The known capabilities this process may grant, for `--privileged` and `--cap-add ALL`:
    /// asking for one outside Berth's own bounding set makes runc fail with EPERM.
    static let allCapabilities: [String] = {
        var bounding = UInt64.max
        if let status = try? Files.read("/proc/self/status") {
            for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapBnd:") {
                bounding = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? .max
            }
        }
        return knownCapabilities.enumerated().filter { bounding & (1 << UInt64($0.offset)) != 0 }.map(\.element)
    }()

    /// Docker's masked paths (moby's oci.DefaultSpec): kernel files that expose the host or act on
    /// it, and each CPU's thermal_throttle directory where the machine has one.
    static let maskedPaths: [String] = {
        var paths = [
            "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap",
            "/sys/firmware",
        ]
        for cpu in possibleCPUs() {
            let path = "/sys/devices/system/cpu/cpu\(cpu)/thermal_throttle"
            if Files.exists(path) { paths.append(path) }
        }
        return paths
    }()

    /// Docker's read-only paths.
    static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// The CPUs the kernel may bring online (/sys/devices/system/cpu/possible, such as `0-3,6`).
    static func possibleCPUs() -> [Int] {
        guard let text = try? Files.read("/sys/devices/system/cpu/possible") else { return [] }
        var cpus: [Int] = []
        for range in String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            if let first = bounds.first, let last = bounds.last, first <= last { cpus += Array(first...last) }
        }
        return cpus
    }

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Where `--init` puts the init inside the container, as Docker does.
    static let initPath = "/sbin/docker-init"

    /// The host's static tini (Debian's tini package), which `--init` mounts at `initPath`:
    /// static, so it runs in any image.
    static func initBinary() throws -> String {
        for candidate in ["/usr/bin/docker-init", "/usr/bin/tini-static"] where Files.exists(candidate) {
            return candidate
        }
        throw RuntimeError.invalidOption("--init needs a static tini: install Debian's tini package (/usr/bin/tini-static)")
    }

    /// Normalizes a capability name as Docker accepts it (`net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN`).
    static func capabilityName(_ name: String) -> String {
        let upper = name.uppercased()
        return upper == "ALL" || upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
    }

    /// The capability set after `--cap-add`/`--cap-drop` (drops apply first, as in Docker, and
    /// `ALL` on either side means every capability).
    static func capabilities(add: [String], drop: [String], privileged: Bool) throws -> [String] {
        if privileged { return allCapabilities }
        let adds = add.map(capabilityName)
        let drops = drop.map(capabilityName)
        for name in adds + drops where name != "ALL" && !knownCapabilities.contains(name) {
            throw RuntimeError.invalidOption("unknown capability: \"\(name)\"")
        }
        var result = drops.contains("ALL") ? [] : defaultCapabilities.filter { !drops.contains($0) }
        if adds.contains("ALL") {
            result = allCapabilities.filter { !drops.contains($0) || adds.contains($0) }
        } else {
            for name in adds where !result.contains(name) { result.append(name) }
        }
        return result
    }

    /// The hard RLIMIT_NOFILE of this process, which a container may not exceed.
    static func hostNofileHardLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return UInt64(limit.rlim_max)
    }

    func spec(user: RuntimeSpec.User, home: String, networkNamespace: String?) throws -> RuntimeSpec {
        let hostConfig = record.hostConfig
        let config = record.config
        let capabilities = try Self.capabilities(add: hostConfig.capAdd, drop: hostConfig.capDrop,
                                                 privileged: hostConfig.privileged)
        let security = try SecurityOptions(parsing: hostConfig.securityOpt ?? [])
        let nofile = min(1_048_576, Self.hostNofileHardLimit())
        var arguments = config.argv
        if hostConfig.initProcess { arguments = [Self.initPath, "--"] + arguments }
        var process = RuntimeSpec.Process(
            terminal: config.tty, user: user, args: arguments, env: Self.environment(config, home: home),
            cwd: config.workingDir.isEmpty ? "/" : config.workingDir,
            capabilities: RuntimeSpec.Capabilities(bounding: capabilities, effective: capabilities,
                                                   permitted: capabilities),
            rlimits: Self.rlimits(hostConfig.ulimits, nofile: nofile),
            noNewPrivileges: security.noNewPrivileges)
        process.oomScoreAdj = hostConfig.oomScoreAdj

        var linux = RuntimeSpec.Linux()
        // `--pid`/`--ipc`/`--uts host` leave a namespace out; `container:NAME` joins that one's.
        let hostModes = ["pid": hostConfig.pidMode, "ipc": hostConfig.ipcMode, "uts": hostConfig.utsMode]
        var namespaces = ["pid", "ipc", "uts", "mount"].filter { hostModes[$0] != "host" }.map {
            RuntimeSpec.Namespace(type: $0, path: sharedNamespaces[$0])
        }
        switch hostConfig.networkMode {
        case "host": break
        case let mode where mode.hasPrefix("container:"):
            namespaces.append(RuntimeSpec.Namespace(type: "network", path: sharedNamespaces["net"]))
        default: namespaces.append(RuntimeSpec.Namespace(type: "network", path: networkNamespace))
        }
        var sysctls = hostConfig.sysctls
        // The NIS domain name goes in as dockerd sets it: runc 1.1 knows no spec field for it.
        if !config.domainname.isEmpty { sysctls["kernel.domainname"] = config.domainname }
        if !sysctls.isEmpty { linux.sysctl = sysctls }
        if layout == .v2 { namespaces.append(RuntimeSpec.Namespace(type: "cgroup")) }
        linux.namespaces = namespaces
        linux.cgroupsPath = CgroupLayout.path(for: record.id)
        // As in Docker's spec, no devices but a privileged container's: the runtime makes the
        // default ones (null, zero, full, random, urandom, tty) and allows them in the cgroup only
        // when the spec does not list them itself.
        if hostConfig.privileged { linux.devices = try Self.hostDevices() }
        linux.resources = Self.resources(hostConfig)
        if !hostConfig.devices.isEmpty {
            let mapped = try hostConfig.devices.flatMap(Self.devices(for:))
            linux.devices = (linux.devices ?? []).filter { device in !mapped.contains { $0.0.path == device.path } } + mapped.map(\.0)
        }
        // Records written before Berth kept the paths have none: they get what create records now.
        let masked = hostConfig.maskedPaths ?? (hostConfig.privileged ? [] : Self.maskedPaths)
        let readonly = hostConfig.readonlyPaths ?? (hostConfig.privileged ? [] : Self.readonlyPaths)
        if !masked.isEmpty { linux.maskedPaths = masked }
        if !readonly.isEmpty { linux.readonlyPaths = readonly }
        linux.seccomp = try security.linuxSeccomp(capabilities: capabilities, privileged: hostConfig.privileged)

        return RuntimeSpec(
            process: process,
            root: RuntimeSpec.Root(path: rootfs, readonly: hostConfig.readonlyRootfs),
            // With the host's UTS namespace the host's names stay, as Docker leaves them.
            hostname: hostConfig.utsMode == "host" ? nil : config.hostname,
            mounts: mounts(privileged: hostConfig.privileged),
            annotations: ["org.berth.container.name": record.name],
            linux: linux)
    }

    /// Docker's RLIMIT_NOFILE default (as high as this process may grant), then `--ulimit`s, each
    /// replacing the default of its kind; -1 is unlimited.
    static func rlimits(_ ulimits: [Ulimit], nofile: UInt64) -> [RuntimeSpec.POSIXRlimit] {
        var result = [RuntimeSpec.POSIXRlimit(type: "RLIMIT_NOFILE", hard: nofile, soft: nofile)]
        for ulimit in ulimits {
            let type = "RLIMIT_" + ulimit.name.uppercased()
            let limit = { (value: Int64) in value < 0 ? UInt64.max : UInt64(value) }
            result.removeAll { $0.type == type }
            result.append(RuntimeSpec.POSIXRlimit(type: type, hard: limit(ulimit.hard), soft: limit(ulimit.soft)))
        }
        return result
    }

    /// The device nodes a `--device` mapping makes in the container, with the cgroup rule allowing
    /// each: one for a device, every device beneath a directory (dockerd's message when the host
    /// path is neither).
    static func devices(for mapping: DeviceMapping) throws -> [(RuntimeSpec.Device, RuntimeSpec.DeviceCgroup)] {
        var info = stat()
        guard stat(mapping.pathOnHost, &info) == 0 else {
            throw RuntimeError.invalidOption("error gathering device information while adding custom device \"\(mapping.pathOnHost)\": \(String(cString: strerror(errno)).lowercased())")
        }
        let found: [(path: String, device: RuntimeSpec.Device)]
        switch info.st_mode & S_IFMT {
        case S_IFCHR, S_IFBLK:
            found = [(mapping.pathInContainer, RuntimeSpec.Device(
                path: mapping.pathInContainer, type: info.st_mode & S_IFMT == S_IFCHR ? "c" : "b",
                major: Int64(FileSystem.major(info.st_rdev)), minor: Int64(FileSystem.minor(info.st_rdev)),
                fileMode: info.st_mode & 0o7777, uid: info.st_uid, gid: info.st_gid))]
        case S_IFDIR:
            found = try hostDevices(in: mapping.pathOnHost).map { device in
                var moved = device
                moved.path = mapping.pathInContainer + device.path.dropFirst(mapping.pathOnHost.count)
                return (moved.path, moved)
            }
        default:
            throw RuntimeError.invalidOption("error gathering device information while adding custom device \"\(mapping.pathOnHost)\": not a device node")
        }
        return found.map { entry in
            (entry.device, RuntimeSpec.DeviceCgroup(allow: true, type: entry.device.type, major: entry.device.major,
                                                    minor: entry.device.minor, access: mapping.cgroupPermissions))
        }
    }

    /// Docker's environment: HOSTNAME, PATH unless the image sets one, TERM=xterm with `-t`, the
    /// image's Env, then `-e` (already merged into the record's env, later entries replacing
    /// earlier ones by name).
    static func environment(_ config: ContainerRecord.Config, home: String) -> [String] {
        var result = ["HOSTNAME=\(config.hostname)"]
        if !config.env.contains(where: { $0.hasPrefix("PATH=") }) { result.append("PATH=\(defaultPath)") }
        if config.tty { result.append("TERM=xterm") }
        result = mergeEnvironment(result, config.env)
        if !result.contains(where: { $0.hasPrefix("HOME=") }) { result.append("HOME=\(home)") }
        return result
    }

    /// Appends `overrides` to `base`, replacing entries with the same variable name in place.
    static func mergeEnvironment(_ base: [String], _ overrides: [String]) -> [String] {
        var result = base
        for entry in overrides {
            let name = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? entry
            if let index = result.firstIndex(where: {
                ($0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? $0) == name
            }) {
                result[index] = entry
            } else {
                result.append(entry)
            }
        }
        return result
    }

    func mounts(privileged: Bool) -> [RuntimeSpec.Mount] {
        typealias Mount = RuntimeSpec.Mount
        var mounts = [
            Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            Mount(destination: "/dev", type: "tmpfs", source: "tmpfs",
                  options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                  options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            Mount(destination: "/sys", type: "sysfs", source: "sysfs",
                  options: ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"]),
            Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                  options: ["nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"]),
            Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        ]
        // /dev/shm: the host's with `--ipc host`, none with `none`, the donor's shared one when
        // joining a container's IPC, this container's host-side one when `shareable`, else its own.
        let hostConfig = record.hostConfig
        if hostConfig.ipcMode == "host" {
            mounts.append(Mount(destination: "/dev/shm", type: "bind", source: "/dev/shm", options: ["rbind", "rprivate"]))
        } else if let shared = sharedNamespaces["shm"] {
            mounts.append(Mount(destination: "/dev/shm", type: "bind", source: shared, options: ["rbind", "rprivate"]))
        } else if hostConfig.ipcMode == "shareable" {
            mounts.append(Mount(destination: "/dev/shm", type: "bind", source: directory + "/shm", options: ["rbind", "rprivate"]))
        } else if hostConfig.ipcMode != "none" {
            mounts.append(Mount(destination: "/dev/shm", type: "tmpfs", source: "shm",
                                options: ["nosuid", "noexec", "nodev", "mode=1777", "size=\(hostConfig.shmSize)"]))
        }
        for file in ["resolv.conf", "hostname", "hosts"] {
            mounts.append(Mount(destination: "/etc/" + file, type: "bind", source: directory + "/" + file,
                                options: ["rbind", "rprivate"]))
        }
        if record.hostConfig.initProcess, let binary = try? Self.initBinary() {
            mounts.append(Mount(destination: Self.initPath, type: "bind", source: binary, options: ["rbind", "rprivate", "ro"]))
        }
        // Parents before children, as Docker orders them, so a mount inside another lands on top.
        let depth = { (path: String) in path.split(separator: "/").count }
        let ordered = record.mounts.enumerated().sorted {
            (depth($0.element.destination), $0.offset) < (depth($1.element.destination), $1.offset)
        }.map(\.element)
        for mount in ordered {
            switch mount.type {
            case .bind, .volume:
                let propagation = mount.propagation.isEmpty ? "rprivate" : mount.propagation
                mounts.append(Mount(destination: mount.destination, type: "bind", source: mount.source,
                                    options: ["rbind", propagation, mount.readWrite ? "rw" : "ro"]))
            case .tmpfs:
                mounts.append(Mount(destination: mount.destination, type: "tmpfs", source: "tmpfs",
                                    options: MountParser.tmpfsMountOptions(mount)))
            }
        }
        return mounts
    }

    /// Docker's device cgroup rules (moby's oci.DefaultSpec): deny everything, allow
    /// /dev/{zero,null,urandom,random,tty,console} and deny /dev/fuse. The runtime appends its own
    /// defaults to these (runc: mknod of any device, the default devices, ptys and /dev/net/tun),
    /// as it does for Docker's containers.
    static let deviceRules: [RuntimeSpec.DeviceCgroup] = {
        typealias Rule = RuntimeSpec.DeviceCgroup
        return [Rule(allow: false, access: "rwm")]
            + ([(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)] as [(Int64, Int64)]).map {
                Rule(allow: true, type: "c", major: $0.0, minor: $0.1, access: "rwm")
            }
            + [Rule(allow: false, type: "c", major: 10, minor: 229, access: "rwm")]
    }()

    /// Every device node under the host's /dev, for a privileged container, as Docker lists them
    /// (containerd's HostDevices): not the pseudo-terminals, shared memory, message queues or
    /// console, and no FIFOs.
    static func hostDevices(in directory: String = "/dev") throws -> [RuntimeSpec.Device] {
        guard let stream = opendir(directory) else { throw RuntimeError.lastIO("open", directory) }
        defer { closedir(stream) }
        var devices: [RuntimeSpec.Device] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name == "." || name == ".." || name == "console" { continue }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"].contains(name) { continue }
                devices += try hostDevices(in: path)
            case S_IFCHR, S_IFBLK:
                devices.append(RuntimeSpec.Device(
                    path: path, type: info.st_mode & S_IFMT == S_IFCHR ? "c" : "b",
                    major: Int64(FileSystem.major(info.st_rdev)), minor: Int64(FileSystem.minor(info.st_rdev)),
                    fileMode: info.st_mode & 0o7777, uid: info.st_uid, gid: info.st_gid))
            default:
                continue
            }
        }
        return devices
    }

    /// Writes /etc/hostname, /etc/hosts and /etc/resolv.conf for the container, in place so the
    /// bind mounts keep seeing them when they are rewritten after the network is attached.
    static func writeEtcFiles(directory: String, record: ContainerRecord) throws {
        let hostname = record.config.hostname
        try Files.write(Array((hostname + "\n").utf8), to: directory + "/hostname")
        var hosts = """
        127.0.0.1\tlocalhost
        ::1\tlocalhost ip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        ff00::0\tip6-mcastprefix
        ff02::1\tip6-allnodes
        ff02::2\tip6-allrouters

        """
        if record.hostConfig.networkMode == "host" {
            hosts = (try? Files.read("/etc/hosts")).map { String(decoding: $0, as: UTF8.self) } ?? hosts
            if !hosts.isEmpty, !hosts.hasSuffix("\n") { hosts += "\n" }
        }
        // `--add-host` entries, `host-gateway` being the default bridge's gateway (Docker's docker0 address).
        for entry in record.hostConfig.extraHosts ?? [] {
            let separator = entry.firstIndex { $0 == ":" || $0 == "=" } ?? entry.endIndex
            var address = separator < entry.endIndex ? String(entry[entry.index(after: separator)...]) : ""
            if address == "host-gateway" { address = BridgeNetwork.default.gateway }
            if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
            hosts += "\(address)\t\(entry[..<separator])\n"
        }
        if record.hostConfig.networkMode != "host", !record.network.ipAddress.isEmpty {
            let domain = record.config.domainname
            hosts += "\(record.network.ipAddress)\t" + (domain.isEmpty ? hostname : "\(hostname).\(domain) \(hostname)") + "\n"
        }
        try Files.write(Array(hosts.utf8), to: directory + "/hosts")
        var resolv = resolvConf(hostNetwork: record.hostConfig.networkMode == "host", nameServer: record.network.nameServer)
        let host = record.hostConfig
        if !host.dns.isEmpty || !host.dnsSearch.isEmpty || !host.dnsOptions.isEmpty {
            resolv = Self.overriding(resolv, servers: record.network.nameServer == nil ? host.dns : [],
                                     search: host.dnsSearch, options: host.dnsOptions)
        }
        try Files.write(Array(resolv.utf8), to: directory + "/resolv.conf")
    }

    /// resolv.conf with `--dns`, `--dns-search` and `--dns-option` replacing its servers, search
    /// domains and options, in Docker's order (search, name servers, options); `--dns-search .`
    /// leaves no search line. On a network with DNS the embedded server stays the name server.
    static func overriding(_ text: String, servers: [String], search: [String], options: [String]) -> String {
        var hostServers: [String] = [], hostSearch: [String] = [], hostOptions: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let key = fields.first else { continue }
            switch key {
            case "nameserver": hostServers += fields.dropFirst().prefix(1)
            case "search", "domain": hostSearch = Array(fields.dropFirst())
            case "options": hostOptions += fields.dropFirst()
            default: continue
            }
        }
        let chosenSearch = search.isEmpty ? hostSearch : search.filter { $0 != "." }
        var lines: [String] = []
        if !chosenSearch.isEmpty { lines.append("search " + chosenSearch.joined(separator: " ")) }
        lines += (servers.isEmpty ? hostServers : servers).map { "nameserver " + $0 }
        let chosenOptions = options.isEmpty ? hostOptions : options
        if !chosenOptions.isEmpty { lines.append("options " + chosenOptions.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The host's resolv.conf; off the host network, loopback name servers are unreachable so they
    /// are dropped, falling back to Google's public servers when none is left (Docker's rule). On a
    /// network with DNS, its server replaces them all (it forwards what it does not know itself).
    static func resolvConf(hostNetwork: Bool, nameServer: String? = nil) -> String {
        let host = (try? Files.read("/etc/resolv.conf")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        if hostNetwork { return host }
        if let nameServer {
            let kept = host.split(separator: "\n").filter { line in
                let first = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first
                return first == "search" || first == "options"
            }
            return (kept.map(String.init) + ["nameserver \(nameServer)"]).joined(separator: "\n") + "\n"
        }
        var lines: [String] = []
        var servers = 0
        for line in host.split(separator: "\n", omittingEmptySubsequences: false) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first == "nameserver", fields.count >= 2 {
                let address = String(fields[1])
                if address.hasPrefix("127.") || address == "::1" { continue }
                servers += 1
            }
            lines.append(String(line))
        }
        var text = lines.joined(separator: "\n")
        if servers == 0 {
            if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
            text += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        } else if !text.hasSuffix("\n") {
            text += "\n"
        }
        return text
    }
}

extension BundleBuilder {
    /// The container's cgroup limits and device rules (also what `update` applies to a running one).
    static func resources(_ hostConfig: ContainerRecord.HostConfig) -> RuntimeSpec.Resources {
        // `--device` rules follow the defaults; a device gone since the start is left out (the start checked them).
        let mapped = hostConfig.privileged ? [] : hostConfig.devices.flatMap { (try? devices(for: $0)) ?? [] }.map(\.1)
        var resources = RuntimeSpec.Resources(devices: hostConfig.privileged ? [RuntimeSpec.DeviceCgroup(allow: true, access: "rwm")]
                                                                           : deviceRules + mapped)
        if hostConfig.memory > 0 || hostConfig.memoryReservation > 0 || hostConfig.memorySwap != 0 {
            resources.memory = RuntimeSpec.Memory(limit: hostConfig.memory > 0 ? hostConfig.memory : nil,
                                                  reservation: hostConfig.memoryReservation > 0 ? hostConfig.memoryReservation : nil,
                                                  swap: hostConfig.memorySwap != 0 ? hostConfig.memorySwap : nil)
        }
        if hostConfig.nanoCPUs > 0 || hostConfig.cpuShares > 0 || hostConfig.cpuQuota != 0 || hostConfig.cpuPeriod > 0
            || !hostConfig.cpusetCpus.isEmpty || !hostConfig.cpusetMems.isEmpty {
            let period: UInt64 = 100_000
            var cpu = RuntimeSpec.CPU(shares: hostConfig.cpuShares > 0 ? UInt64(hostConfig.cpuShares) : nil,
                                      quota: hostConfig.nanoCPUs > 0 ? hostConfig.nanoCPUs * Int64(period) / 1_000_000_000 : nil,
                                      period: hostConfig.nanoCPUs > 0 ? period : nil)
            if hostConfig.cpuQuota != 0 { cpu.quota = hostConfig.cpuQuota }
            if hostConfig.cpuPeriod > 0 { cpu.period = UInt64(hostConfig.cpuPeriod) }
            if !hostConfig.cpusetCpus.isEmpty { cpu.cpus = hostConfig.cpusetCpus }
            if !hostConfig.cpusetMems.isEmpty { cpu.mems = hostConfig.cpusetMems }
            resources.cpu = cpu
        }
        if let pids = hostConfig.pidsLimit, pids > 0 { resources.pids = RuntimeSpec.Pids(limit: pids) }
        return resources
    }
}
