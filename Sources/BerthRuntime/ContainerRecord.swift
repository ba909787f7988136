import BerthOCI
import Foundation

/// What a container is made of and what happened to it, persisted as `container.json` in the
/// container's directory. Field names follow Docker's inspect document where one exists.
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
    public var state: State
    public var network: NetworkSettings
    /// The image's snapshot directories, base layer first: the overlay's lower directories.
    public var layers: [String]
    /// Bind mounts, volumes and tmpfs mounts, resolved at create time.
    public var mounts: [MountPoint] = []
    /// The networks connected at start, in order (Docker's NetworkingConfig.EndpointsConfig): the
    /// `--network` one, then those `network connect` added. Empty for `host` and `none`.
    public var endpointsConfig: [EndpointConfig] = []

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
        public var hostname: String
        public var user: String
        public var env: [String]
        /// The entrypoint and command the container was created with (Docker's Config.Entrypoint/Cmd).
        public var entrypoint: [String]
        public var cmd: [String]
        public var workingDir: String
        public var labels: [String: String]
        public var stopSignal: String
        public var stopTimeout: Int?
        public var exposedPorts: [String]
        /// The health check: the image's HEALTHCHECK with the `--health-*` flags applied.
        public var healthcheck: HealthConfig?
        /// `-t`: the process runs on a pseudo-terminal (Docker's Config.Tty).
        public var tty: Bool = false
        /// `-i`: the process's stdin is a pipe attached clients write to (Config.OpenStdin).
        public var openStdin: Bool = false
        /// The container's stdin closes when the attached client's does (Config.StdinOnce).
        public var stdinOnce: Bool = false
        /// Which streams `run`/`create` attach (Config.AttachStdin/AttachStdout/AttachStderr).
        public var attachStdin: Bool = false
        public var attachStdout: Bool = false
        public var attachStderr: Bool = false

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
        public var autoRemove: Bool
        /// `bridge`, `host`, `none` or a user network's name.
        public var networkMode: String
        /// Port specs as given to `-p`, handed to the network layer at start.
        public var publish: [String]
        /// Memory limit in bytes; 0 means unlimited.
        public var memory: Int64
        /// CPU quota in units of 10⁻⁹ CPUs; 0 means unlimited.
        public var nanoCPUs: Int64
        /// CPU shares, the weight against other containers (Docker's CpuShares); 0 is the default.
        public var cpuShares: Int64 = 0
        /// Maximum number of tasks; nil means unlimited.
        public var pidsLimit: Int64?
        public var readonlyRootfs: Bool
        public var capAdd: [String]
        public var capDrop: [String]
        public var privileged: Bool
        /// What the monitor does when the container exits (`--restart`).
        public var restartPolicy: RestartPolicy = RestartPolicy()
        /// `--init`: run tini as the container's PID 1, forwarding signals and reaping zombies.
        public var initProcess: Bool = false
        /// `-P`: publish every exposed port on a random host port.
        public var publishAllPorts: Bool = false
        /// `-v` specs as given (Docker's HostConfig.Binds).
        public var binds: [String] = []
        /// `--mount` specs as given.
        public var mountSpecs: [String] = []
        /// `--tmpfs` mounts: path → options (Docker's HostConfig.Tmpfs).
        public var tmpfs: [String: String] = [:]
        /// The OCI runtime, `runc` or `crun` (Docker's HostConfig.Runtime).
        public var runtime: String = "runc"
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
        public var status: Status = .created
        /// The container's init process on the host, while running.
        public var pid: Int32 = 0
        public var exitCode: Int32 = 0
        public var error: String = ""
        public var oomKilled: Bool = false
        public var startedAt: Date?
        public var finishedAt: Date?
        /// Times the monitor restarted the container under its restart policy.
        public var restartCount: Int = 0
        /// Set by `stop` and `kill`, cleared by `start`: a stopped container is not restarted.
        public var manuallyStopped: Bool = false
        /// The health check's findings, for containers that have one.
        public var health: Health?
        /// The monitor process, while it runs.
        public var monitorPID: Int32 = 0

        public init() {}

        public var running: Bool { status == .running }
    }

    /// What the network layer gave the container.
    public struct NetworkSettings: Codable, Hashable, Sendable {
        public var ipAddress: String = ""
        public var gateway: String = ""
        public var macAddress: String = ""
        public var prefixLength: Int = 0
        /// Published ports: container `port/proto` → host bindings.
        public var ports: [PortBinding] = []
        /// The network namespace the container was attached through, for detaching.
        public var networkNamespace: String?
        /// Every network the running container is attached to, `eth0` first.
        public var endpoints: [Endpoint] = []
        /// The name server for /etc/resolv.conf: the gateway of the first network with DNS.
        public var nameServer: String?

        public init() {}
    }

    /// A network to connect the container to, with the extra names it answers to there.
    public struct EndpointConfig: Codable, Hashable, Sendable {
        public var network: String
        public var aliases: [String]

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

/// Docker's restart policies: `no`, `on-failure[:max-retries]`, `always`, `unless-stopped`.
public struct RestartPolicy: Codable, Hashable, Sendable {
    public var name: String
    public var maximumRetryCount: Int

    public init(name: String = "no", maximumRetryCount: Int = 0) {
        self.name = name
        self.maximumRetryCount = maximumRetryCount
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

// MARK: - Records written by earlier versions

// Synthesized decoding ignores property defaults, so a record written before a field existed
// would fail to load and hide its container from `ps`, `rm` and the restart at boot. These
// initializers give every field that was added later its default when the key is missing.

extension KeyedDecodingContainer {
    /// The value under `key`, or `fallback` when the record predates the field.
    fileprivate func decode<T: Decodable>(_ key: Key, or fallback: @autoclosure () -> T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback()
    }
}

extension ContainerRecord {
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        id = try values.decode(String.self, forKey: .id)
        name = try values.decode(String.self, forKey: .name)
        created = try values.decode(Date.self, forKey: .created)
        imageName = try values.decode(String.self, forKey: .imageName)
        imageID = try values.decode(String.self, forKey: .imageID)
        config = try values.decode(Config.self, forKey: .config)
        hostConfig = try values.decode(HostConfig.self, forKey: .hostConfig)
        state = try values.decode(.state, or: State())
        network = try values.decode(.network, or: NetworkSettings())
        layers = try values.decode([String].self, forKey: .layers)
        mounts = try values.decode(.mounts, or: [])
        endpointsConfig = try values.decode(.endpointsConfig, or: [])
    }
}

extension ContainerRecord.Config {
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(hostname: try values.decode(.hostname, or: ""), user: try values.decode(.user, or: ""),
                  env: try values.decode(.env, or: []), entrypoint: try values.decode(.entrypoint, or: []),
                  cmd: try values.decode(.cmd, or: []), workingDir: try values.decode(.workingDir, or: ""),
                  labels: try values.decode(.labels, or: [:]), stopSignal: try values.decode(.stopSignal, or: "SIGTERM"),
                  stopTimeout: try values.decodeIfPresent(Int.self, forKey: .stopTimeout),
                  exposedPorts: try values.decode(.exposedPorts, or: []))
        healthcheck = try values.decodeIfPresent(HealthConfig.self, forKey: .healthcheck)
        tty = try values.decode(.tty, or: false)
        openStdin = try values.decode(.openStdin, or: false)
        stdinOnce = try values.decode(.stdinOnce, or: false)
        attachStdin = try values.decode(.attachStdin, or: false)
        attachStdout = try values.decode(.attachStdout, or: false)
        attachStderr = try values.decode(.attachStderr, or: false)
    }
}

extension ContainerRecord.HostConfig {
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(autoRemove: try values.decode(.autoRemove, or: false),
                  networkMode: try values.decode(.networkMode, or: "bridge"), publish: try values.decode(.publish, or: []),
                  memory: try values.decode(.memory, or: 0), nanoCPUs: try values.decode(.nanoCPUs, or: 0),
                  pidsLimit: try values.decodeIfPresent(Int64.self, forKey: .pidsLimit),
                  readonlyRootfs: try values.decode(.readonlyRootfs, or: false), capAdd: try values.decode(.capAdd, or: []),
                  capDrop: try values.decode(.capDrop, or: []), privileged: try values.decode(.privileged, or: false))
        restartPolicy = try values.decode(.restartPolicy, or: RestartPolicy())
        cpuShares = try values.decode(.cpuShares, or: 0)
        initProcess = try values.decode(.initProcess, or: false)
        publishAllPorts = try values.decode(.publishAllPorts, or: false)
        binds = try values.decode(.binds, or: [])
        mountSpecs = try values.decode(.mountSpecs, or: [])
        tmpfs = try values.decode(.tmpfs, or: [:])
        runtime = try values.decode(.runtime, or: "runc")
        logConfig = try values.decodeIfPresent(LogConfig.self, forKey: .logConfig)
        securityOpt = try values.decodeIfPresent([String].self, forKey: .securityOpt)
        maskedPaths = try values.decodeIfPresent([String].self, forKey: .maskedPaths)
        readonlyPaths = try values.decodeIfPresent([String].self, forKey: .readonlyPaths)
    }
}

extension ContainerRecord.State {
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        status = try values.decode(.status, or: status)
        pid = try values.decode(.pid, or: pid)
        exitCode = try values.decode(.exitCode, or: exitCode)
        error = try values.decode(.error, or: error)
        oomKilled = try values.decode(.oomKilled, or: oomKilled)
        startedAt = try values.decodeIfPresent(Date.self, forKey: .startedAt)
        finishedAt = try values.decodeIfPresent(Date.self, forKey: .finishedAt)
        restartCount = try values.decode(.restartCount, or: restartCount)
        manuallyStopped = try values.decode(.manuallyStopped, or: manuallyStopped)
        health = try values.decodeIfPresent(Health.self, forKey: .health)
        monitorPID = try values.decode(.monitorPID, or: monitorPID)
    }
}

extension ContainerRecord.NetworkSettings {
    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        ipAddress = try values.decode(.ipAddress, or: ipAddress)
        gateway = try values.decode(.gateway, or: gateway)
        macAddress = try values.decode(.macAddress, or: macAddress)
        prefixLength = try values.decode(.prefixLength, or: prefixLength)
        ports = try values.decode(.ports, or: ports)
        networkNamespace = try values.decodeIfPresent(String.self, forKey: .networkNamespace)
        endpoints = try values.decode(.endpoints, or: endpoints)
        nameServer = try values.decodeIfPresent(String.self, forKey: .nameServer)
    }
}
