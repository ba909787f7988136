import BerthFiles
import BerthOCI
import Foundation

/// What a container is made of and what happened to it, persisted as `container.json` in the
/// container's directory. Field names follow Docker's inspect document where one exists.
///
/// Records written by earlier versions must keep loading (a record that fails to decode hides its
/// container from `ps`, `rm` and the restart at boot): a field added later is optional or has a
/// default through `@Defaulted`/`@Default` (BerthFiles), which synthesized decoding applies when
/// the key is missing.
public struct ContainerRecord: Codable, Hashable, Sendable {
    /// 64 lowercase hex characters.
    public var id: String
    /// The name without Docker's leading slash.
    public var name: String
    public var created: Date
    /// The image as the user named it.
    public var imageName: String
    /// The image's config digest (`sha256:…`).
    public var imageID: String
    public var config: Config
    public var hostConfig: HostConfig
    @Defaulted public var state: State
    @Defaulted public var network: NetworkSettings
    /// The image's snapshot directories, base layer first: the overlay's lower directories.
    public var layers: [String]
    /// Bind mounts, volumes and tmpfs mounts, resolved at create time.
    @Defaulted public var mounts: [MountPoint]
    /// The networks connected at start, in order (Docker's NetworkingConfig.EndpointsConfig): the
    /// `--network` one, then those `network connect` added. Empty for `host` and `none`.
    @Defaulted public var endpointsConfig: [EndpointConfig]

    public init(id: String, name: String, created: Date, imageName: String, imageID: String, config: Config,
                hostConfig: HostConfig, layers: [String]) {
        self.id = id
        self.name = name
        self.created = created
        self.imageName = imageName
        self.imageID = imageID
        self.config = config
        self.hostConfig = hostConfig
        self.state = State()
        self.network = NetworkSettings()
        self.layers = layers
    }

    public var shortID: String { String(id.prefix(12)) }

    /// The process the container runs, resolved from the image and the options.
    public struct Config: Codable, Hashable, Sendable {
        @Defaulted public var hostname: String
        @Defaulted public var user: String
        @Defaulted public var env: [String]
        /// The entrypoint and command the container was created with (Docker's Config.Entrypoint/Cmd).
        @Defaulted public var entrypoint: [String]
        @Defaulted public var cmd: [String]
        @Defaulted public var workingDir: String
        @Defaulted public var labels: [String: String]
        @Default<Defaults.StopSignal> public var stopSignal: String
        public var stopTimeout: Int?
        @Defaulted public var exposedPorts: [String]
        /// The health check: the image's HEALTHCHECK with the `--health-*` flags applied.
        public var healthcheck: HealthConfig?
        /// `-t`: the process runs on a pseudo-terminal (Docker's Config.Tty).
        @Defaulted public var tty: Bool
        /// `-i`: the process's stdin is a pipe attached clients write to (Config.OpenStdin).
        @Defaulted public var openStdin: Bool
        /// The container's stdin closes when the attached client's does (Config.StdinOnce).
        @Defaulted public var stdinOnce: Bool
        /// Which streams `run`/`create` attach (Config.AttachStdin/AttachStdout/AttachStderr).
        @Defaulted public var attachStdin: Bool
        @Defaulted public var attachStdout: Bool
        @Defaulted public var attachStderr: Bool
        /// `--domainname`: the NIS domain name of the container's UTS namespace (Config.Domainname).
        @Defaulted public var domainname: String
        /// `--mac-address`: the MAC address asked for on the first network (Config.MacAddress).
        @Defaulted public var macAddress: String

        public init(hostname: String = "", user: String = "", env: [String] = [], entrypoint: [String] = [],
                    cmd: [String] = [], workingDir: String = "", labels: [String: String] = [:],
                    stopSignal: String = "SIGTERM", stopTimeout: Int? = nil, exposedPorts: [String] = []) {
            self.hostname = hostname
            self.user = user
            self.env = env
            self.entrypoint = entrypoint
            self.cmd = cmd
            self.workingDir = workingDir
            self.labels = labels
            self.stopSignal = stopSignal
            self.stopTimeout = stopTimeout
            self.exposedPorts = exposedPorts
        }

        /// The argv the container's process runs: entrypoint then command.
        public var argv: [String] { entrypoint + cmd }
    }

    /// Host-side settings (Docker's HostConfig).
    public struct HostConfig: Codable, Hashable, Sendable {
        @Defaulted public var autoRemove: Bool
        /// `bridge`, `host`, `none` or a user network's name.
        @Default<Defaults.NetworkMode> public var networkMode: String
        /// Port specs as given to `-p`, handed to the network layer at start.
        @Defaulted public var publish: [String]
        /// Memory limit in bytes; 0 means unlimited.
        @Defaulted public var memory: Int64
        /// CPU quota in units of 10⁻⁹ CPUs; 0 means unlimited.
        @Defaulted public var nanoCPUs: Int64
        /// CPU shares, the weight against other containers (Docker's CpuShares); 0 is the default.
        @Defaulted public var cpuShares: Int64
        /// Maximum number of tasks; nil means unlimited.
        public var pidsLimit: Int64?
        @Defaulted public var readonlyRootfs: Bool
        @Defaulted public var capAdd: [String]
        @Defaulted public var capDrop: [String]
        @Defaulted public var privileged: Bool
        /// `--group-add` groups as given, names or IDs (Docker's HostConfig.GroupAdd).
        @Defaulted public var groupAdd: [String]
        /// What the monitor does when the container exits (`--restart`).
        @Defaulted public var restartPolicy: RestartPolicy
        /// `--init`: run tini as the container's PID 1, forwarding signals and reaping zombies.
        @Defaulted public var initProcess: Bool
        /// `-P`: publish every exposed port on a random host port.
        @Defaulted public var publishAllPorts: Bool
        /// `-v` specs as given (Docker's HostConfig.Binds).
        @Defaulted public var binds: [String]
        /// `--mount` specs as given.
        @Defaulted public var mountSpecs: [String]
        /// `--tmpfs` mounts: path → options (Docker's HostConfig.Tmpfs).
        @Defaulted public var tmpfs: [String: String]
        /// The OCI runtime, `runc` or `crun` (Docker's HostConfig.Runtime).
        @Default<Defaults.Runtime> public var runtime: String
        /// `--log-driver` and `--log-opt` (Docker's HostConfig.LogConfig); nil is Docker's default,
        /// json-file without options (and what records written before these flags decode to).
        public var logConfig: LogConfig?
        /// `--security-opt` values as the client sent them (Docker's HostConfig.SecurityOpt): a
        /// `seccomp=FILE` holds the file's JSON, and `--privileged` adds `label=disable` as dockerd
        /// does; nil when none was given.
        public var securityOpt: [String]?
        /// The paths masked in the container (Docker's HostConfig.MaskedPaths): Docker's defaults,
        /// recorded at create; empty with `systempaths=unconfined`. nil (a privileged container,
        /// or a record written before Berth kept them) means the defaults, or none when privileged.
        public var maskedPaths: [String]?
        /// The paths mounted read-only in the container (Docker's HostConfig.ReadonlyPaths), likewise.
        public var readonlyPaths: [String]?
        /// `--cidfile`: the file the client wrote the container's ID to (Docker's ContainerIDFile).
        @Defaulted public var containerIDFile: String
        /// `--add-host` entries, `name:address` (`host-gateway` stands for the default bridge's
        /// gateway); nil when none was given (Docker's ExtraHosts).
        public var extraHosts: [String]?
        /// `--dns`, `--dns-option`, `--dns-search`: what /etc/resolv.conf lists instead of the host's.
        @Defaulted public var dns: [String]
        @Defaulted public var dnsOptions: [String]
        @Defaulted public var dnsSearch: [String]
        /// `--ipc`: `private`, `shareable`, `host`, `none` or `container:<name|id>` (Docker's IpcMode).
        @Default<Defaults.IpcMode> public var ipcMode: String
        /// `--pid`: empty (a namespace of its own), `host` or `container:<name|id>`.
        @Defaulted public var pidMode: String
        /// `--uts`: empty (a namespace of its own) or `host`.
        @Defaulted public var utsMode: String
        /// `--oom-score-adj`: the process's OOM score adjustment, -1000 to 1000.
        @Defaulted public var oomScoreAdj: Int
        /// `--shm-size`: the size of the container's /dev/shm in bytes.
        @Default<Defaults.ShmSize> public var shmSize: Int64
        /// `--sysctl` settings, namespaced kernel parameters (Docker's Sysctls).
        @Defaulted public var sysctls: [String: String]
        /// `--cpu-period`/`--cpu-quota`: the CFS period and quota in microseconds; 0 is none.
        @Defaulted public var cpuPeriod: Int64
        @Defaulted public var cpuQuota: Int64
        /// `--cpuset-cpus`/`--cpuset-mems`: the CPUs and memory nodes allowed (`0-2,4`); empty is all.
        @Defaulted public var cpusetCpus: String
        @Defaulted public var cpusetMems: String
        /// `--device` mappings.
        @Defaulted public var devices: [DeviceMapping]
        /// `--memory-reservation`: the soft limit in bytes; 0 is none.
        @Defaulted public var memoryReservation: Int64
        /// `--memory-swap`: memory plus swap in bytes; 0 is twice the memory limit, -1 unlimited.
        @Defaulted public var memorySwap: Int64
        /// `--ulimit` settings.
        @Defaulted public var ulimits: [Ulimit]
        /// `--volumes-from` entries, `container[:ro|:rw]`; nil when none was given.
        public var volumesFrom: [String]?

        public init(autoRemove: Bool = false, networkMode: String = "bridge", publish: [String] = [], memory: Int64 = 0,
                    nanoCPUs: Int64 = 0, pidsLimit: Int64? = nil, readonlyRootfs: Bool = false, capAdd: [String] = [],
                    capDrop: [String] = [], privileged: Bool = false) {
            self.autoRemove = autoRemove
            self.networkMode = networkMode
            self.publish = publish
            self.memory = memory
            self.nanoCPUs = nanoCPUs
            self.pidsLimit = pidsLimit
            self.readonlyRootfs = readonlyRootfs
            self.capAdd = capAdd
            self.capDrop = capDrop
            self.privileged = privileged
        }
    }

    /// Docker's container states.
    public enum Status: String, Codable, Sendable {
        case created, running, paused, restarting, removing, exited, dead
    }

    /// The container's lifecycle as Docker reports it in State.
    public struct State: Codable, Hashable, Sendable {
        @Default<Defaults.Status> public var status: Status
        /// The container's init process on the host, while running.
        @Defaulted public var pid: Int32
        @Defaulted public var exitCode: Int32
        @Defaulted public var error: String
        @Defaulted public var oomKilled: Bool
        public var startedAt: Date?
        public var finishedAt: Date?
        /// Times the monitor restarted the container under its restart policy.
        @Defaulted public var restartCount: Int
        /// Set by `stop` and `kill`, cleared by `start`: a stopped container is not restarted.
        @Defaulted public var manuallyStopped: Bool
        /// The health check's findings, for containers that have one.
        public var health: Health?
        /// The monitor process, while it runs.
        @Defaulted public var monitorPID: Int32

        public init() {}

        public var running: Bool { status == .running }
    }

    /// What the network layer gave the container.
    public struct NetworkSettings: Codable, Hashable, Sendable {
        @Defaulted public var ipAddress: String
        @Defaulted public var gateway: String
        @Defaulted public var macAddress: String
        @Defaulted public var prefixLength: Int
        /// Published ports: container `port/proto` → host bindings.
        @Defaulted public var ports: [PortBinding]
        /// The network namespace the container was attached through, for detaching.
        public var networkNamespace: String?
        /// Every network the running container is attached to, `eth0` first.
        @Defaulted public var endpoints: [Endpoint]
        /// The name server for /etc/resolv.conf: the gateway of the first network with DNS.
        public var nameServer: String?

        public init() {}
    }

    /// A network to connect the container to, with the extra names it answers to there.
    public struct EndpointConfig: Codable, Hashable, Sendable {
        public var network: String
        public var aliases: [String]
        /// `--ip`: the address asked for on this network (Docker's IPAMConfig.IPv4Address).
        public var ipv4Address: String?

        public init(network: String, aliases: [String] = []) {
            self.network = network
            self.aliases = aliases
        }
    }

    /// The running container's interface on one network (Docker's EndpointSettings).
    public struct Endpoint: Codable, Hashable, Sendable {
        public var network: String
        public var interface: String
        public var ipAddress: String
        public var gateway: String
        public var macAddress: String
        public var prefixLength: Int
    }

    /// One published port.
    public struct PortBinding: Codable, Hashable, Sendable {
        public var containerPort: UInt16
        public var proto: String
        public var hostIP: String
        public var hostPort: UInt16

        public init(containerPort: UInt16, proto: String, hostIP: String, hostPort: UInt16) {
            self.containerPort = containerPort
            self.proto = proto
            self.hostIP = hostIP
            self.hostPort = hostPort
        }
    }
}

/// A host device made available in the container (Docker's DeviceMapping, from `--device`).
public struct DeviceMapping: Codable, Hashable, Sendable {
    public var pathOnHost: String
    public var pathInContainer: String
    /// What the container may do with it: some of `r` (read), `w` (write), `m` (mknod).
    public var cgroupPermissions: String

    public init(pathOnHost: String, pathInContainer: String, cgroupPermissions: String) {
        self.pathOnHost = pathOnHost
        self.pathInContainer = pathInContainer
        self.cgroupPermissions = cgroupPermissions
    }
}

/// A resource limit of the container's processes (Docker's Ulimit, from `--ulimit name=soft[:hard]`).
public struct Ulimit: Codable, Hashable, Sendable {
    /// The limit's name as Docker spells it: `nofile`, `nproc`, `core`, …
    public var name: String
    public var hard: Int64
    public var soft: Int64

    public init(name: String, hard: Int64, soft: Int64) {
        self.name = name
        self.hard = hard
        self.soft = soft
    }
}

/// Docker's restart policies: `no`, `on-failure[:max-retries]`, `always`, `unless-stopped`.
public struct RestartPolicy: Codable, Hashable, Sendable {
    public var name: String
    public var maximumRetryCount: Int

    public init(name: String = "no", maximumRetryCount: Int = 0) {
        self.name = name
        self.maximumRetryCount = maximumRetryCount
    }

    /// `no`, Docker's default.
    public init() {
        self.init(name: "no")
    }

    /// Parses `--restart`, with Docker's messages for bad values.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "", "no", "always", "unless-stopped":
            guard parts.count == 1 else {
                throw RuntimeError.invalidOption("maximum retry count cannot be used with restart policy '\(parts[0])'")
            }
            self.init(name: parts[0].isEmpty ? "no" : parts[0])
        case "on-failure":
            guard parts.count == 1 || Int(parts[1]) != nil, (Int(parts.count > 1 ? parts[1] : "0") ?? 0) >= 0 else {
                throw RuntimeError.invalidOption("invalid restart policy format: maximum retry count must be an integer")
            }
            self.init(name: "on-failure", maximumRetryCount: parts.count > 1 ? Int(parts[1])! : 0)
        default:
            throw RuntimeError.invalidOption("invalid restart policy '\(parts[0])'")
        }
    }

    /// Whether a container that exited with `exitCode` after `restarts` restarts is started again.
    public func restarts(exitCode: Int32, restarts: Int, manuallyStopped: Bool) -> Bool {
        guard !manuallyStopped else { return false }
        switch name {
        case "always", "unless-stopped": return true
        case "on-failure": return exitCode != 0 && (maximumRetryCount == 0 || restarts < maximumRetryCount)
        default: return false
        }
    }
}

/// Docker's State.Health: `starting`, `healthy` or `unhealthy`, the run of failures, the last
/// five probes.
public struct Health: Codable, Hashable, Sendable {
    public var status: String
    public var failingStreak: Int
    public var log: [Probe]

    public struct Probe: Codable, Hashable, Sendable {
        public var start: Date
        public var end: Date
        public var exitCode: Int32
        public var output: String
    }

    public init(status: String = "starting", failingStreak: Int = 0, log: [Probe] = []) {
        self.status = status
        self.failingStreak = failingStreak
        self.log = log
    }
}

// MARK: - Defaults of fields that records written by earlier versions lack

extension ContainerRecord.State: DefaultInitializable {}
extension ContainerRecord.NetworkSettings: DefaultInitializable {}
extension RestartPolicy: DefaultInitializable {}

extension ContainerRecord {
    /// The defaults of `@Default` fields.
    public enum Defaults {
        /// Docker's default stop signal.
        public enum StopSignal: DefaultValueProvider {
            public static let defaultValue = "SIGTERM"
        }

        /// The default network.
        public enum NetworkMode: DefaultValueProvider {
            public static let defaultValue = "bridge"
        }

        /// The default OCI runtime.
        public enum Runtime: DefaultValueProvider {
            public static let defaultValue = "runc"
        }

        /// A container's state before its first start.
        public enum Status: DefaultValueProvider {
            public static let defaultValue = ContainerRecord.Status.created
        }

        /// Docker's default IPC mode: a namespace of the container's own, not shareable.
        public enum IpcMode: DefaultValueProvider {
            public static let defaultValue = "private"
        }

        /// Docker's /dev/shm size, 64 MiB.
        public enum ShmSize: DefaultValueProvider {
            public static let defaultValue: Int64 = 64 * 1024 * 1024
        }
    }
}
