import BerthNetwork
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// The Docker Engine API's ContainerInspect document, in Docker's field order.
public enum ContainerInspectJSON {
    /// With `size`, the document has SizeRw and SizeRootFs (the API's `size=1`).
    public static func document(for record: ContainerRecord, runtime: ContainerRuntime, size: ContainerSize? = nil) -> OrderedJSON {
        let directory = runtime.containers.path(of: record.id)
        let state = record.state
        let argv = record.config.argv
        let sizes: [(String, OrderedJSON)] = size.map { [("SizeRw", .int($0.rw)), ("SizeRootFs", .int($0.rootFs))] } ?? []
        let head: [(String, OrderedJSON)] = [
            ("Id", .string(record.id)),
            ("Created", .string(Timestamp.format(record.created))),
            ("Path", .string(argv.first ?? "")),
            ("Args", .array(argv.dropFirst().map(OrderedJSON.string))),
            ("State", .object([
                ("Status", .string(state.status.rawValue)),
                ("Running", .bool(state.status == .running || state.status == .paused)),
                ("Paused", .bool(state.status == .paused)),
                ("Restarting", .bool(state.status == .restarting)),
                ("OOMKilled", .bool(state.oomKilled)),
                ("Dead", .bool(state.status == .dead)),
                ("Pid", .int(state.status == .running || state.status == .paused ? state.pid : 0)),
                ("ExitCode", .int(state.exitCode)),
                ("Error", .string(state.error)),
                ("StartedAt", .string(time(state.startedAt))),
                ("FinishedAt", .string(time(state.finishedAt))),
            ] + (state.health.map { [("Health", health($0))] } ?? []))),
            ("Image", .string(record.imageID)),
            ("ResolvConfPath", .string(directory + "/resolv.conf")),
            ("HostnamePath", .string(directory + "/hostname")),
            ("HostsPath", .string(directory + "/hosts")),
            ("LogPath", .string(record.hostConfig.logConfig?.isReadable ?? true ? runtime.containers.logPath(of: record.id) : "")),
            ("Name", .string("/" + record.name)),
            ("RestartCount", .int(Int64(record.state.restartCount))),
            ("Driver", .string("overlay2")),
            ("Platform", .string("linux")),
            ("MountLabel", .string("")),
            ("ProcessLabel", .string("")),
            ("AppArmorProfile", .string("")),
            ("ExecIDs", .null),
            ("HostConfig", hostConfig(record, layout: runtime.layout)),
            ("GraphDriver", .object([
                ("Data", .object([
                    ("LowerDir", .string(record.layers.reversed().joined(separator: ":"))),
                    ("MergedDir", .string(directory + "/rootfs")),
                    ("UpperDir", .string(directory + "/upper")),
                    ("WorkDir", .string(directory + "/work")),
                ])),
                ("Name", .string("overlay2")),
            ])),
        ]
        let tail: [(String, OrderedJSON)] = [
            ("Mounts", .array(record.mounts.filter { !$0.fromTmpfsFlag }.map(mountPoint))),
            ("Config", config(record)),
            ("NetworkSettings", networkSettings(record, runtime: runtime)),
        ]
        return .object(head + sizes + tail)
    }

    /// Docker's State.Health.
    static func health(_ health: Health) -> OrderedJSON {
        .object([
            ("Status", .string(health.status)),
            ("FailingStreak", .int(Int64(health.failingStreak))),
            ("Log", .array(health.log.map { probe in
                .object([("Start", .string(Timestamp.format(probe.start))), ("End", .string(Timestamp.format(probe.end))),
                         ("ExitCode", .int(Int64(probe.exitCode))), ("Output", .string(probe.output))])
            })),
        ])
    }

    /// One of Docker's `Mounts` entries.
    public static func mountPoint(_ mount: MountPoint) -> OrderedJSON {
        var members: [(String, OrderedJSON)] = [("Type", .string(mount.type.rawValue))]
        if mount.type == .volume { members.append(("Name", .string(mount.name))) }
        members += [("Source", .string(mount.source)), ("Destination", .string(mount.destination))]
        if mount.type == .volume { members.append(("Driver", .string("local"))) }
        let mode = mount.type == .volume && mount.mode.isEmpty ? "z" : mount.mode
        members += [("Mode", .string(mode)), ("RW", .bool(mount.readWrite)), ("Propagation", .string(mount.propagation))]
        return .object(members)
    }

    static func time(_ date: Date?) -> String {
        date.map(Timestamp.format) ?? "0001-01-01T00:00:00Z"
    }

    /// Docker's HostConfig, every field in its order, with its zero values (null for the lists
    /// the client left out, [] for those the docker CLI always sends).
    static func hostConfig(_ record: ContainerRecord, layout: CgroupLayout) -> OrderedJSON {
        let host = record.hostConfig
        let binds = host.binds.filter { $0.contains(":") }
        let strings = { (values: [String]) in OrderedJSON.strings(values) }
        let emptyArray = OrderedJSON.array([])
        var members: [(String, OrderedJSON)] = [
            // `-v /path` (an anonymous volume) is Config.Volumes, not a bind, as the docker CLI sends it.
            ("Binds", binds.isEmpty ? .null : .strings(binds)),
            ("ContainerIDFile", .string(host.containerIDFile)),
            ("LogConfig", .object([
                ("Type", .string(host.logConfig?.type ?? "json-file")),
                ("Config", .object((host.logConfig?.config ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ])),
            ("NetworkMode", .string(host.networkMode)),
            ("PortBindings", .object(portBindings(record))),
            ("RestartPolicy", .object([("Name", .string(host.restartPolicy.name)),
                                       ("MaximumRetryCount", .int(Int64(host.restartPolicy.maximumRetryCount)))])),
            ("AutoRemove", .bool(host.autoRemove)),
            ("VolumeDriver", .string("")),
            ("VolumesFrom", host.volumesFrom.map(strings) ?? .null),
            ("CapAdd", host.capAdd.isEmpty ? .null : .strings(host.capAdd)),
            ("CapDrop", host.capDrop.isEmpty ? .null : .strings(host.capDrop)),
            // Containers share the host's cgroup namespace except on a unified (v2) hierarchy.
            ("CgroupnsMode", .string(layout == .v2 ? "private" : "host")),
            ("Dns", strings(host.dns)),
            ("DnsOptions", strings(host.dnsOptions)),
            ("DnsSearch", strings(host.dnsSearch)),
            ("ExtraHosts", host.extraHosts.map(strings) ?? .null),
            ("GroupAdd", host.groupAdd.isEmpty ? .null : .strings(host.groupAdd)),
            ("IpcMode", .string(host.ipcMode)),
            ("Cgroup", .string("")),
            ("Links", .null),
            ("OomScoreAdj", .int(Int64(host.oomScoreAdj))),
            ("PidMode", .string(host.pidMode)),
            ("Privileged", .bool(host.privileged)),
            ("PublishAllPorts", .bool(host.publishAllPorts)),
            ("ReadonlyRootfs", .bool(host.readonlyRootfs)),
            ("SecurityOpt", .strings(host.securityOpt)),
        ]
        if !host.tmpfs.isEmpty {
            members.append(("Tmpfs", .object(host.tmpfs.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        members += [
            ("UTSMode", .string(host.utsMode)),
            ("UsernsMode", .string("")),
            ("ShmSize", .int(host.shmSize)),
        ]
        if !host.sysctls.isEmpty {
            members.append(("Sysctls", .object(host.sysctls.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        members += [
            ("Runtime", .string(host.runtime)),
            ("ConsoleSize", .array([.int(0), .int(0)])),
            ("Isolation", .string("")),
            ("CpuShares", .int(host.cpuShares)),
            ("Memory", .int(host.memory)),
            ("NanoCpus", .int(host.nanoCPUs)),
            ("CgroupParent", .string("")),
            ("BlkioWeight", .int(0)),
            ("BlkioWeightDevice", emptyArray),
            ("BlkioDeviceReadBps", emptyArray),
            ("BlkioDeviceWriteBps", emptyArray),
            ("BlkioDeviceReadIOps", emptyArray),
            ("BlkioDeviceWriteIOps", emptyArray),
            ("CpuPeriod", .int(host.cpuPeriod)),
            ("CpuQuota", .int(host.cpuQuota)),
            ("CpuRealtimePeriod", .int(0)),
            ("CpuRealtimeRuntime", .int(0)),
            ("CpusetCpus", .string(host.cpusetCpus)),
            ("CpusetMems", .string(host.cpusetMems)),
            ("Devices", .array(host.devices.map { device in
                .object([("PathOnHost", .string(device.pathOnHost)), ("PathInContainer", .string(device.pathInContainer)),
                         ("CgroupPermissions", .string(device.cgroupPermissions))])
            })),
            ("DeviceCgroupRules", .null),
            ("DeviceRequests", .null),
            ("KernelMemory", .int(0)),
            ("KernelMemoryTCP", .int(0)),
            ("MemoryReservation", .int(host.memoryReservation)),
            // dockerd records twice the memory limit as the swap limit when none is given.
            ("MemorySwap", .int(host.memorySwap == 0 && host.memory > 0 ? 2 * host.memory : host.memorySwap)),
            ("MemorySwappiness", .null),
            ("OomKillDisable", .bool(false)),
            ("PidsLimit", host.pidsLimit.map { OrderedJSON.int($0) } ?? .null),
            ("Ulimits", .array(host.ulimits.map { ulimit in
                .object([("Name", .string(ulimit.name)), ("Hard", .int(ulimit.hard)), ("Soft", .int(ulimit.soft))])
            })),
            ("CpuCount", .int(0)),
            ("CpuPercent", .int(0)),
            ("IOMaximumIOps", .int(0)),
            ("IOMaximumBandwidth", .int(0)),
        ]
        // HostConfig.Mounts: the `--mount` requests as given, in Docker's shape.
        let requested = host.mountSpecs.compactMap { try? MountParser.parseMountFlag($0) }
        if !requested.isEmpty {
            members.append(("Mounts", .array(requested.map { mount in
                var fields: [(String, OrderedJSON)] = [("Type", .string(mount.type.rawValue))]
                let source = mount.type == .bind ? mount.source : mount.name
                if !source.isEmpty { fields.append(("Source", .string(source))) }
                fields.append(("Target", .string(mount.destination)))
                if !mount.readWrite { fields.append(("ReadOnly", .bool(true))) }
                return .object(fields)
            })))
        }
        members += [
            ("MaskedPaths", .strings(host.maskedPaths)),
            ("ReadonlyPaths", .strings(host.readonlyPaths)),
        ]
        if host.initProcess { members.append(("Init", .bool(true))) }
        return .object(members)
    }

    /// `HostConfig.PortBindings` as requested: `"80/tcp": [{"HostIp": "", "HostPort": "8080"}]`.
    static func portBindings(_ record: ContainerRecord) -> [(String, OrderedJSON)] {
        var result: [(String, [OrderedJSON])] = []
        // The [::] twins of ports published on every address were not asked for (PortProxy).
        for binding in record.network.ports where binding.hostIP != "::" {
            let key = "\(binding.containerPort)/\(binding.proto)"
            let value = OrderedJSON.object([("HostIp", .string(binding.hostIP)), ("HostPort", .string(String(binding.hostPort)))])
            if let index = result.firstIndex(where: { $0.0 == key }) { result[index].1.append(value) } else { result.append((key, [value])) }
        }
        return result.map { ($0.0, .array($0.1)) }
    }

    static func config(_ record: ContainerRecord) -> OrderedJSON {
        let config = record.config
        // Docker's Config.Volumes: the image's VOLUMEs and `-v /path` anonymous volumes.
        let requested = Set(record.hostConfig.mountSpecs.compactMap { try? MountParser.parseMountFlag($0).destination })
        let anonymousVolumes = record.mounts.filter { $0.anonymous && !requested.contains($0.destination) }.map(\.destination).sorted()
        var members: [(String, OrderedJSON)] = [
            ("Hostname", .string(config.hostname)),
            ("Domainname", .string(config.domainname)),
            ("User", .string(config.user)),
            ("AttachStdin", .bool(config.attachStdin)),
            ("AttachStdout", .bool(config.attachStdout)),
            ("AttachStderr", .bool(config.attachStderr)),
        ]
        if !config.exposedPorts.isEmpty {
            members.append(("ExposedPorts", .object(config.exposedPorts.map { ($0, .object([])) })))
        }
        members += [
            ("Tty", .bool(config.tty)),
            ("OpenStdin", .bool(config.openStdin)),
            ("StdinOnce", .bool(config.stdinOnce)),
            ("Env", config.env.isEmpty ? .null : .strings(config.env)),
            ("Cmd", config.cmd.isEmpty ? .null : .strings(config.cmd)),
        ]
        if let health = config.healthcheck {
            var fields: [(String, OrderedJSON)] = [("Test", health.Test.map(OrderedJSON.strings) ?? .null)]
            if let value = health.Interval { fields.append(("Interval", .int(value))) }
            if let value = health.Timeout { fields.append(("Timeout", .int(value))) }
            if let value = health.StartPeriod { fields.append(("StartPeriod", .int(value))) }
            if let value = health.Retries { fields.append(("Retries", .int(Int64(value)))) }
            members.append(("Healthcheck", .object(fields)))
        }
        members += [
            ("Image", .string(record.imageName)),
            ("Volumes", anonymousVolumes.isEmpty ? .null : .object(anonymousVolumes.map { ($0, .object([])) })),
            ("WorkingDir", .string(config.workingDir)),
            ("Entrypoint", config.entrypoint.isEmpty ? .null : .strings(config.entrypoint)),
        ]
        if !config.macAddress.isEmpty { members.append(("MacAddress", .string(config.macAddress))) }
        members += [
            ("OnBuild", .null),
            ("Labels", .object(config.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ]
        // dockerd shows a stop signal only when the image or the client set one; SIGTERM is the
        // default a record cannot tell from a chosen one.
        if config.stopSignal != "SIGTERM" { members.append(("StopSignal", .string(config.stopSignal))) }
        if let timeout = config.stopTimeout { members.append(("StopTimeout", .int(timeout))) }
        return .object(members)
    }

    static func networkSettings(_ record: ContainerRecord, runtime: ContainerRuntime) -> OrderedJSON {
        let network = record.network
        let running = record.state.running
        var ports: [(String, OrderedJSON)] = []
        for port in record.config.exposedPorts where !network.ports.contains(where: { "\($0.containerPort)/\($0.proto)" == port }) {
            ports.append((port, .null))
        }
        if running {
            for (key, value) in portBindings(record) {
                guard case .array(let bindings) = value else { continue }
                ports.append((key, .array(bindings.map { binding in
                    guard case .object(let fields) = binding else { return binding }
                    return .object(fields.map { $0.0 == "HostIp" && $0.1 == .string("") ? ("HostIp", .string("0.0.0.0")) : $0 })
                })))
            }
        }
        // Docker fills the top-level address fields for the default bridge only.
        let onBridge = running && record.hostConfig.networkMode == "bridge"
        let store = try? NetworkStore(root: runtime.root)
        func networkID(_ name: String) -> String { (try? store?.named(name))??.id ?? "" }
        func endpoint(_ name: String, aliases: OrderedJSON, ipam: OrderedJSON, attached: ContainerRecord.Endpoint?) -> OrderedJSON {
            .object([
                ("IPAMConfig", ipam),
                ("Links", .null),
                ("Aliases", aliases),
                ("NetworkID", .string(networkID(name))),
                ("EndpointID", .string(attached == nil ? "" : Engine.endpointID(container: record.id, network: networkID(name)))),
                ("Gateway", .string(attached?.gateway ?? "")),
                ("IPAddress", .string(attached?.ipAddress ?? "")),
                ("IPPrefixLen", .int(attached?.prefixLength ?? 0)),
                ("IPv6Gateway", .string("")),
                ("GlobalIPv6Address", .string("")),
                ("GlobalIPv6PrefixLen", .int(0)),
                ("MacAddress", .string(attached?.macAddress ?? "")),
                ("DriverOpts", .null),
            ])
        }
        var networks: [(String, OrderedJSON)] = []
        if record.hostConfig.networkMode == "host" || record.hostConfig.networkMode == "none" {
            networks.append((record.hostConfig.networkMode, endpoint(record.hostConfig.networkMode, aliases: .null, ipam: .null, attached: nil)))
        }
        for config in record.endpointsConfig {
            let attached = running ? network.endpoints.first { $0.network == config.network } : nil
            // On a user-defined network the container also answers to its short ID, as dockerd lists it.
            let predefined = NetworkStore.predefinedNames.contains(config.network)
            let aliases = predefined && config.aliases.isEmpty ? OrderedJSON.null
                : .array((config.aliases + (predefined ? [] : [record.shortID])).map(OrderedJSON.string))
            let ipam = config.ipv4Address.map { OrderedJSON.object([("IPv4Address", .string($0))]) } ?? .null
            networks.append((config.network, endpoint(config.network, aliases: aliases, ipam: ipam, attached: attached)))
        }
        let sandboxID = running ? Digest.sha256(of: Array("sandbox/\(record.id)".utf8)).encoded : ""
        return .object([
            ("Bridge", .string("")),
            ("SandboxID", .string(sandboxID)),
            ("HairpinMode", .bool(false)),
            ("LinkLocalIPv6Address", .string("")),
            ("LinkLocalIPv6PrefixLen", .int(0)),
            ("Ports", .object(ports)),
            ("SandboxKey", .string(running ? (network.networkNamespace ?? "") : "")),
            ("SecondaryIPAddresses", .null),
            ("SecondaryIPv6Addresses", .null),
            ("EndpointID", .string(onBridge ? Engine.endpointID(container: record.id, network: networkID("bridge")) : "")),
            ("Gateway", .string(onBridge ? network.gateway : "")),
            ("GlobalIPv6Address", .string("")),
            ("GlobalIPv6PrefixLen", .int(0)),
            ("IPAddress", .string(onBridge ? network.ipAddress : "")),
            ("IPPrefixLen", .int(onBridge ? network.prefixLength : 0)),
            ("IPv6Gateway", .string("")),
            ("MacAddress", .string(onBridge ? network.macAddress : "")),
            ("Networks", .object(networks)),
        ])
    }
}
