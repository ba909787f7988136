import BerthOCI
import BerthRuntime
import Foundation

extension ContainerCreateOptions {
    /// Translates the body of `POST /containers/create` (moby's ContainerConfig with its
    /// HostConfig and NetworkingConfig) as the docker CLI, docker-py and Compose send it. Every
    /// field Berth does not implement is refused when it asks for something other than dockerd's
    /// default, naming the field; fields Berth does not know at all are ignored, as dockerd
    /// ignores them.
    public init(apiBody data: Data, name: String?) throws {
        let body: JSONValue
        do {
            body = try JSONValue.decoded(from: data)
        } catch {
            throw EngineError.invalidParameter("invalid JSON: \(error.localizedDescription)")
        }
        guard case .object(let config) = body else { throw EngineError.invalidParameter("invalid JSON: the body must be an object") }
        let fields = APIFields(config, path: "")
        guard let image = try fields.string("Image"), !image.isEmpty else {
            throw EngineError.invalidParameter("Config.Image is required: the image to create the container from")
        }
        self.init(image: image)
        self.name = name.flatMap { $0.isEmpty ? nil : $0 }
        try applyConfig(fields)
        if let host = try fields.object("HostConfig") { try applyHostConfig(host) }
        if let networking = try fields.object("NetworkingConfig") { try applyNetworkingConfig(networking) }
        // `-v /path` (an anonymous volume) arrives as Config.Volumes; docker-py also lists there
        // the destinations its Binds mount, which those take.
        let mounted = Set(binds.compactMap { try? MountParser.parseVolumeFlag($0).destination }
            + mounts.compactMap { try? MountParser.parseMountFlag($0).destination }
            + tmpfs.compactMap { try? MountParser.parseTmpfsFlag($0).destination })
        binds += (try fields.object("Volumes")?.keys ?? []).sorted().filter { !mounted.contains(MountParser.clean($0)) }
    }

    private mutating func applyConfig(_ fields: APIFields) throws {
        hostname = try fields.string("Hostname")
        user = try fields.string("User")
        attachStdin = try fields.bool("AttachStdin") ?? false
        attachStdout = try fields.bool("AttachStdout") ?? false
        attachStderr = try fields.bool("AttachStderr") ?? false
        tty = try fields.bool("Tty") ?? false
        openStdin = try fields.bool("OpenStdin") ?? false
        stdinOnce = try fields.bool("StdinOnce") ?? false
        env = try fields.strings("Env") ?? []
        command = try fields.strings("Cmd") ?? []
        entrypoint = try fields.strings("Entrypoint")
        workingDir = try fields.string("WorkingDir")
        labels = try fields.stringMap("Labels") ?? [:]
        stopSignal = try fields.string("StopSignal")
        stopTimeout = try fields.int("StopTimeout").map { Int($0) }
        exposedPorts = try fields.object("ExposedPorts")?.keys ?? []
        if let health = try fields.object("Healthcheck") {
            var config = HealthConfig(Test: try health.strings("Test"))
            config.Interval = try health.int("Interval")
            config.Timeout = try health.int("Timeout")
            config.StartPeriod = try health.int("StartPeriod")
            config.StartInterval = try health.int("StartInterval")
            config.Retries = try health.int("Retries").map { Int($0) }
            healthcheck = config
        }
        domainname = try fields.string("Domainname")
        try fields.refuse("NetworkDisabled", ifNot: .false, why: "use NetworkMode none")
        macAddress = try fields.string("MacAddress")
        try fields.refuse("OnBuild", ifNot: .emptyArray)
        try fields.refuse("Shell", ifNot: .emptyArray)
        try fields.refuse("ArgsEscaped", ifNot: .false, why: "it applies to Windows containers only")
    }

    private mutating func applyHostConfig(_ host: APIFields) throws {
        binds += try host.strings("Binds") ?? []
        if let log = try host.object("LogConfig") {
            logDriver = try log.string("Type")
            logOptions = (try log.stringMap("Config") ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        }
        networkMode = try host.string("NetworkMode") ?? "bridge"
        if networkMode.hasPrefix("container:") {
            throw EngineError.invalidParameter("HostConfig.NetworkMode is not supported by berth (got \"\(networkMode)\"): a container joins a network, not another container's namespace")
        }
        if let bindings = try host.object("PortBindings") {
            for port in bindings.keys.sorted() {
                for binding in try bindings.objects(port) ?? [] {
                    publish.append(Self.publishSpec(port: port, hostIP: try binding.string("HostIp") ?? "",
                                                    hostPort: try binding.string("HostPort") ?? ""))
                }
            }
        }
        if let policy = try host.object("RestartPolicy") {
            let name = try policy.string("Name") ?? ""
            let count = try policy.int("MaximumRetryCount") ?? 0
            do {
                restartPolicy = try RestartPolicy(parsing: count != 0 ? "\(name):\(count)" : name)
            } catch let error as RuntimeError {
                throw EngineError.invalidParameter(error.description)
            }
        }
        autoRemove = try host.bool("AutoRemove") ?? false
        capAdd = try host.strings("CapAdd") ?? []
        capDrop = try host.strings("CapDrop") ?? []
        privileged = try host.bool("Privileged") ?? false
        groupAdd = try host.strings("GroupAdd") ?? []
        publishAllPorts = try host.bool("PublishAllPorts") ?? false
        readonlyRootfs = try host.bool("ReadonlyRootfs") ?? false
        securityOpt = try host.strings("SecurityOpt")
        // The docker CLI's `--security-opt systempaths=unconfined` arrives as empty path lists.
        let masked = try host.strings("MaskedPaths"), readonly = try host.strings("ReadonlyPaths")
        if masked != nil || readonly != nil {
            guard masked == [] && readonly == [] else {
                throw EngineError.invalidParameter("HostConfig.MaskedPaths and HostConfig.ReadonlyPaths are not supported by berth other than both empty (systempaths=unconfined)")
            }
            unconfinedSystemPaths = true
        }
        if let tmpfs = try host.stringMap("Tmpfs") {
            self.tmpfs = tmpfs.sorted { $0.key < $1.key }.map { $0.value.isEmpty ? $0.key : "\($0.key):\($0.value)" }
        }
        runtime = try host.string("Runtime")
        memory = try host.int("Memory") ?? 0
        nanoCPUs = try host.int("NanoCpus") ?? 0
        cpuShares = try host.int("CpuShares") ?? 0
        pidsLimit = try host.int("PidsLimit")
        initProcess = try host.bool("Init") ?? false
        for mount in try host.objects("Mounts") ?? [] { mounts.append(try Self.mountSpec(mount)) }

        // The docker CLI sends ContainerIDFile (its own file, written client-side) and ConsoleSize
        // (the terminal's size, which the client sets again by resizing): neither asks the daemon
        // for anything.
        try applyMoreHostConfig(host)
        for field in ["VolumeDriver", "CgroupParent", "Cgroup", "UsernsMode"] {
            try host.refuse(field, ifNot: .emptyString)
        }
        try host.refuse("CgroupnsMode", ifNot: .oneOf(["", "host"]), why: "containers share the host's cgroup namespace on this cgroup layout")
        try host.refuse("Isolation", ifNot: .oneOf(["", "default"]))
        for field in ["Links", "DeviceCgroupRules", "DeviceRequests", "BlkioWeightDevice", "BlkioDeviceReadBps",
                      "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "Capabilities"] {
            try host.refuse(field, ifNot: .emptyArray)
        }
        for field in ["StorageOpt", "Annotations"] { try host.refuse(field, ifNot: .emptyObject) }
        for field in ["BlkioWeight", "CpuRealtimePeriod", "CpuRealtimeRuntime", "KernelMemory", "KernelMemoryTCP", "CpuCount",
                      "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth"] {
            try host.refuse(field, ifNot: .zero)
        }
        try host.refuse("MemorySwappiness", ifNot: .numbers([-1]))
        try host.refuse("OomKillDisable", ifNot: .false)
    }

    /// The HostConfig fields of namespaces, name resolution, devices, kernel parameters and the
    /// further cgroup limits.
    private mutating func applyMoreHostConfig(_ host: APIFields) throws {
        containerIDFile = try host.string("ContainerIDFile")
        extraHosts = try host.strings("ExtraHosts")
        dns = try host.strings("Dns") ?? []
        dnsOptions = try host.strings("DnsOptions") ?? []
        dnsSearch = try host.strings("DnsSearch") ?? []
        ipcMode = try host.string("IpcMode") ?? ""
        pidMode = try host.string("PidMode") ?? ""
        utsMode = try host.string("UTSMode") ?? ""
        oomScoreAdj = Int(try host.int("OomScoreAdj") ?? 0)
        shmSize = try host.int("ShmSize") ?? 0
        sysctls = try host.stringMap("Sysctls") ?? [:]
        cpuPeriod = try host.int("CpuPeriod") ?? 0
        cpuQuota = try host.int("CpuQuota") ?? 0
        cpusetCpus = try host.string("CpusetCpus") ?? ""
        cpusetMems = try host.string("CpusetMems") ?? ""
        memoryReservation = try host.int("MemoryReservation") ?? 0
        memorySwap = try host.int("MemorySwap") ?? 0
        volumesFrom = try host.strings("VolumesFrom") ?? []
        for device in try host.objects("Devices") ?? [] {
            let source = try device.string("PathOnHost") ?? ""
            let target = try device.string("PathInContainer") ?? ""
            devices.append(DeviceMapping(pathOnHost: source, pathInContainer: target.isEmpty ? source : target,
                                         cgroupPermissions: try device.string("CgroupPermissions").flatMap { $0.isEmpty ? nil : $0 } ?? "rwm"))
        }
        for ulimit in try host.objects("Ulimits") ?? [] {
            ulimits.append(Ulimit(name: try ulimit.string("Name") ?? "", hard: try ulimit.int("Hard") ?? 0,
                                  soft: try ulimit.int("Soft") ?? 0))
        }
    }

    private mutating func applyNetworkingConfig(_ networking: APIFields) throws {
        guard let endpoints = try networking.object("EndpointsConfig") else { return }
        let names = endpoints.keys.sorted()
        guard names.count <= 1 else {
            throw EngineError.invalidParameter("NetworkingConfig.EndpointsConfig: berth connects a new container to one network (\(names.joined(separator: ", ")) given): connect the others after creating it")
        }
        guard let network = names.first, let endpoint = try endpoints.object(network) else { return }
        let mode = networkMode == "default" ? "bridge" : networkMode
        if !["default", "bridge", mode].contains(network) || (network == "bridge" && mode != "bridge") {
            throw EngineError.invalidParameter("NetworkingConfig.EndpointsConfig names \(network), but HostConfig.NetworkMode is \(networkMode)")
        }
        networkAliases = try endpoint.strings("Aliases") ?? []
        try endpoint.refuse("Links", ifNot: .emptyArray)
        // API 1.44 moved the MAC address to the endpoint.
        if let address = try endpoint.string("MacAddress"), !address.isEmpty { macAddress = address }
        try endpoint.refuse("DriverOpts", ifNot: .emptyObject)
        if let ipam = try endpoint.object("IPAMConfig") {
            ipv4Address = try ipam.string("IPv4Address")
            try ipam.refuse("IPv6Address", ifNot: .emptyString)
            try ipam.refuse("LinkLocalIPs", ifNot: .emptyArray)
        }
    }

    /// A PortBindings entry in `-p` form: `[ip:][hostPort:]port/proto`.
    static func publishSpec(port: String, hostIP: String, hostPort: String) -> String {
        let ip = hostIP.contains(":") ? "[\(hostIP)]" : hostIP
        if ip.isEmpty { return hostPort.isEmpty ? port : "\(hostPort):\(port)" }
        return "\(ip):\(hostPort):\(port)"
    }

    /// A HostConfig.Mounts entry in `--mount` form.
    static func mountSpec(_ mount: APIFields) throws -> String {
        var parts = ["type=" + (try mount.string("Type") ?? "")]
        if let source = try mount.string("Source"), !source.isEmpty { parts.append("source=" + source) }
        parts.append("target=" + (try mount.string("Target") ?? ""))
        if try mount.bool("ReadOnly") == true { parts.append("readonly") }
        try mount.refuse("Consistency", ifNot: .oneOf(["", "default", "consistent"]))
        if let bind = try mount.object("BindOptions") {
            if let propagation = try bind.string("Propagation"), !propagation.isEmpty { parts.append("bind-propagation=" + propagation) }
            for field in ["NonRecursive", "CreateMountpoint", "ReadOnlyNonRecursive", "ReadOnlyForceRecursive"] {
                try bind.refuse(field, ifNot: .false)
            }
        }
        if let volume = try mount.object("VolumeOptions") {
            if try volume.bool("NoCopy") == true { parts.append("volume-nocopy=true") }
            try volume.refuse("Labels", ifNot: .emptyObject)
            try volume.refuse("Subpath", ifNot: .emptyString)
            if let driver = try volume.object("DriverConfig") {
                try driver.refuse("Name", ifNot: .oneOf(["", "local"]))
                try driver.refuse("Options", ifNot: .emptyObject)
            }
        }
        if let tmpfs = try mount.object("TmpfsOptions") {
            if let size = try tmpfs.int("SizeBytes"), size != 0 { parts.append("tmpfs-size=\(size)") }
            if let mode = try tmpfs.int("Mode"), mode != 0 { parts.append("tmpfs-mode=" + String(mode, radix: 8)) }
            try tmpfs.refuse("Options", ifNot: .emptyArray)
        }
        try mount.refuse("ImageOptions", ifNot: .emptyObject)
        try mount.refuse("ClusterOptions", ifNot: .emptyObject)
        return parts.joined(separator: ",")
    }
}

/// One JSON object of a request body, read field by field with the field's path in every error.
struct APIFields {
    let values: [String: JSONValue]
    let path: String

    init(_ values: [String: JSONValue], path: String) {
        self.values = values
        self.path = path
    }

    var keys: [String] { Array(values.keys) }

    private func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The value under `key`; nil when absent or null, as Go decodes both.
    private func value(_ key: String) -> JSONValue? {
        guard let value = values[key], value != .null else { return nil }
        return value
    }

    private func mismatch(_ key: String, _ expected: String) -> EngineError {
        EngineError.invalidParameter("invalid JSON: \(name(key)): expected \(expected)")
    }

    func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw mismatch(key, "a string") }
        return text
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw mismatch(key, "a boolean") }
        return flag
    }

    func int(_ key: String) throws -> Int64? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, let integer = Int64(exactly: number) else { throw mismatch(key, "an integer") }
        return integer
    }

    func strings(_ key: String) throws -> [String]? {
        guard let value = value(key) else { return nil }
        // Cmd, Entrypoint and Shell may also be one string (moby's StrSlice).
        if case .string(let text) = value { return [text] }
        guard case .array(let items) = value else { throw mismatch(key, "an array of strings") }
        return try items.map { item in
            guard case .string(let text) = item else { throw mismatch(key, "an array of strings") }
            return text
        }
    }

    func object(_ key: String) throws -> APIFields? {
        guard let value = value(key) else { return nil }
        guard case .object(let members) = value else { throw mismatch(key, "an object") }
        return APIFields(members, path: name(key))
    }

    func objects(_ key: String) throws -> [APIFields]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else { throw mismatch(key, "an array of objects") }
        return try items.map { item in
            guard case .object(let members) = item else { throw mismatch(key, "an array of objects") }
            return APIFields(members, path: name(key))
        }
    }

    func stringMap(_ key: String) throws -> [String: String]? {
        guard let object = try object(key) else { return nil }
        return try Dictionary(uniqueKeysWithValues: object.values.map { entry in
            if entry.value == .null { return (entry.key, "") }
            guard case .string(let text) = entry.value else { throw mismatch(key, "an object of strings") }
            return (entry.key, text)
        })
    }

    /// What a field Berth does not implement may hold: dockerd's default for it.
    enum Default {
        case emptyString, emptyArray, emptyObject, zero, `false`
        case oneOf([String])
        case numbers([Double])

        func admits(_ value: JSONValue) -> Bool {
            switch (self, value) {
            case (_, .null): return true
            case (.emptyString, .string(let text)): return text.isEmpty
            case (.emptyArray, .array(let items)): return items.isEmpty
            case (.emptyObject, .object(let members)): return members.isEmpty
            case (.zero, .number(let number)): return number == 0
            case (.false, .bool(let flag)): return !flag
            case (.oneOf(let allowed), .string(let text)): return allowed.contains(text)
            case (.numbers(let allowed), .number(let number)): return allowed.contains(number)
            default: return false
            }
        }
    }

    /// Refuses a field Berth does not implement unless it holds its default.
    func refuse(_ key: String, ifNot allowed: Default, why: String? = nil) throws {
        guard let value = values[key], !allowed.admits(value) else { return }
        let shown = (try? String(decoding: value.encoded(), as: UTF8.self)) ?? "a value"
        throw EngineError.invalidParameter("\(name(key)) is not supported by berth (got \(shown))" + (why.map { ": \($0)" } ?? ""))
    }
}

extension ResourceUpdate {
    /// Translates the body of `POST /containers/{id}/update` (moby's UpdateConfig). As in dockerd,
    /// a zero value leaves its limit as it is; limits Berth does not implement are refused.
    public init(apiBody data: Data) throws {
        let body: JSONValue
        do {
            body = try JSONValue.decoded(from: data)
        } catch {
            throw EngineError.invalidParameter("invalid JSON: \(error.localizedDescription)")
        }
        guard case .object(let values) = body else { throw EngineError.invalidParameter("invalid JSON: the body must be an object") }
        let fields = APIFields(values, path: "")
        self.init()
        memory = try fields.int("Memory").flatMap { $0 == 0 ? nil : $0 }
        nanoCPUs = try fields.int("NanoCpus").flatMap { $0 == 0 ? nil : $0 }
        cpuShares = try fields.int("CpuShares").flatMap { $0 == 0 ? nil : $0 }
        pidsLimit = try fields.int("PidsLimit")
        if let policy = try fields.object("RestartPolicy"), let name = try policy.string("Name"), !name.isEmpty {
            let count = try policy.int("MaximumRetryCount") ?? 0
            do {
                restartPolicy = try RestartPolicy(parsing: count != 0 ? "\(name):\(count)" : name)
            } catch let error as RuntimeError {
                throw EngineError.invalidParameter(error.description)
            }
        }
        for field in ["CgroupParent", "CpusetCpus", "CpusetMems"] { try fields.refuse(field, ifNot: .emptyString) }
        for field in ["BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                      "BlkioDeviceWriteIOps", "Devices", "DeviceCgroupRules", "DeviceRequests", "Ulimits"] {
            try fields.refuse(field, ifNot: .emptyArray)
        }
        for field in ["BlkioWeight", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "MemoryReservation",
                      "KernelMemory", "KernelMemoryTCP", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth"] {
            try fields.refuse(field, ifNot: .zero)
        }
        try fields.refuse("MemorySwap", ifNot: .numbers([0, -1]))
        try fields.refuse("MemorySwappiness", ifNot: .numbers([-1]))
        try fields.refuse("OomKillDisable", ifNot: .false)
    }
}
