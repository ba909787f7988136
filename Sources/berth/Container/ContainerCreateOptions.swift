import ArgumentParser
import BerthEngine
import BerthOCI
import BerthRuntime
import Foundation

/// The flags `run` and `create` share, with Docker's names: each fills one field of the engine's
/// `ContainerCreateOptions`, which checks them as the API's create does.
struct ContainerCreateFlags: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(help: "Assign a name to the container.")
    var name: String?

    @Flag(help: "Automatically remove the container and its resources when it exits.")
    var rm = false

    @Flag(name: .shortAndLong, help: "Keep STDIN open even if not attached.")
    var interactive = false

    @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.")
    var tty = false

    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Set environment variables.", valueName: "list"))
    var env: [String] = []

    @Option(name: .customLong("env-file"), help: ArgumentHelp("Read in a file of environment variables.", valueName: "list"))
    var envFile: [String] = []

    @Option(name: [.customShort("w"), .long], help: ArgumentHelp("Working directory inside the container.", valueName: "string"))
    var workdir: String?

    @Option(name: [.customShort("u"), .long], help: ArgumentHelp("Username or UID (format: <name|uid>[:<group|gid>]).", valueName: "string"))
    var user: String?

    @Option(help: ArgumentHelp("Overwrite the default ENTRYPOINT of the image.", valueName: "string"))
    var entrypoint: String?

    @Option(name: [.customShort("h"), .long], help: ArgumentHelp("Container host name.", valueName: "string"))
    var hostname: String?

    @Option(name: [.customShort("m"), .long], help: ArgumentHelp("Memory limit.", valueName: "bytes"))
    var memory: String?

    @Option(help: ArgumentHelp("Number of CPUs.", valueName: "decimal"))
    var cpus: String?

    @Option(name: .customLong("pids-limit"), help: ArgumentHelp("Tune container pids limit (set -1 for unlimited).", valueName: "int"))
    var pidsLimit: Int64?

    @Option(name: [.customShort("l"), .long], help: ArgumentHelp("Set meta data on a container.", valueName: "list"))
    var label: [String] = []

    @Flag(name: .customLong("read-only"), help: "Mount the container's root filesystem as read only.")
    var readOnly = false

    @Option(name: .customLong("cap-add"), help: ArgumentHelp("Add Linux capabilities.", valueName: "list"))
    var capAdd: [String] = []

    @Option(name: .customLong("cap-drop"), help: ArgumentHelp("Drop Linux capabilities.", valueName: "list"))
    var capDrop: [String] = []

    @Flag(help: "Give extended privileges to this container.")
    var privileged = false

    @Option(name: .customLong("group-add"), help: ArgumentHelp("Add additional groups to join.", valueName: "list"))
    var groupAdd: [String] = []

    @Option(name: .customLong("security-opt"), help: ArgumentHelp("Security Options (seccomp=unconfined|builtin|FILE.json, no-new-privileges[=true|false], systempaths=unconfined, label=…, apparmor=…).", valueName: "list"))
    var securityOpt: [String] = []

    @Option(name: [.customShort("p"), .long], help: ArgumentHelp("Publish a container's port(s) to the host.", valueName: "list"))
    var publish: [String] = []

    @Option(name: .customLong("health-cmd"), help: ArgumentHelp("Command to run to check health.", valueName: "string"))
    var healthCmd: String?

    @Option(name: .customLong("health-interval"), help: ArgumentHelp("Time between running the check (ms|s|m|h).", valueName: "duration"))
    var healthInterval: String?

    @Option(name: .customLong("health-timeout"), help: ArgumentHelp("Maximum time to allow one check to run (ms|s|m|h).", valueName: "duration"))
    var healthTimeout: String?

    @Option(name: .customLong("health-start-period"), help: ArgumentHelp("Start period for the container to initialize before counting retries towards unstable (ms|s|m|h).", valueName: "duration"))
    var healthStartPeriod: String?

    @Option(name: .customLong("health-retries"), help: ArgumentHelp("Consecutive failures needed to report unhealthy.", valueName: "int"))
    var healthRetries: Int?

    @Flag(name: .customLong("no-healthcheck"), help: "Disable any container-specified HEALTHCHECK.")
    var noHealthcheck = false

    @Option(help: ArgumentHelp("Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped).", valueName: "string"))
    var restart = "no"

    @Flag(name: .customLong("init"), help: "Run an init inside the container that forwards signals and reaps processes.")
    var initProcess = false

    @Flag(name: [.customShort("P"), .customLong("publish-all")], help: "Publish all exposed ports to random ports.")
    var publishAll = false

    @Option(name: [.long, .customLong("net")], help: ArgumentHelp("Connect a container to a network (bridge, host, none or a user-defined network).", valueName: "network"))
    var network = "bridge"

    @Option(name: [.customLong("network-alias"), .customLong("net-alias")], help: ArgumentHelp("Add network-scoped alias for the container.", valueName: "list"))
    var networkAlias: [String] = []

    @Option(name: .customLong("stop-signal"), help: ArgumentHelp("Signal to stop the container.", valueName: "string"))
    var stopSignal: String?

    @Option(name: [.customShort("v"), .long], help: ArgumentHelp("Bind mount a volume ([host-path|volume:]container-path[:ro]).", valueName: "list"))
    var volume: [String] = []

    @Option(help: ArgumentHelp("Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=…,target=…[,readonly]).", valueName: "mount"))
    var mount: [String] = []

    @Option(help: ArgumentHelp("Mount a tmpfs directory (path[:options]).", valueName: "list"))
    var tmpfs: [String] = []

    @Option(name: .customLong("stop-timeout"), help: ArgumentHelp("Timeout (in seconds) to stop a container.", valueName: "int"))
    var stopTimeout: Int?

    @Option(help: ArgumentHelp("Runtime to use for this container: runc or crun (default: $BERTH_RUNTIME, else runc).", valueName: "string"))
    var runtime: String?

    @Option(name: .customLong("log-driver"), help: ArgumentHelp("Logging driver for the container (json-file, none).", valueName: "string"))
    var logDriver: String?

    @Option(name: .customLong("log-opt"), help: ArgumentHelp("Log driver options (max-size=10m, max-file=3).", valueName: "list"))
    var logOpt: [String] = []

    @Option(name: .customLong("add-host"), help: ArgumentHelp("Add a custom host-to-IP mapping (host:ip, ip may be host-gateway).", valueName: "list"))
    var addHost: [String] = []

    @Option(help: ArgumentHelp("Set custom DNS servers.", valueName: "list"))
    var dns: [String] = []

    @Option(name: .customLong("dns-search"), help: ArgumentHelp("Set custom DNS search domains.", valueName: "list"))
    var dnsSearch: [String] = []

    @Option(name: [.customLong("dns-option"), .customLong("dns-opt")], help: ArgumentHelp("Set DNS options.", valueName: "list"))
    var dnsOption: [String] = []

    @Option(help: ArgumentHelp("Ulimit options (name=soft[:hard]).", valueName: "ulimit"))
    var ulimit: [String] = []

    @Option(help: ArgumentHelp("Add a host device to the container (host-path[:container-path][:rwm]).", valueName: "list"))
    var device: [String] = []

    @Option(name: .customLong("shm-size"), help: ArgumentHelp("Size of /dev/shm.", valueName: "bytes"))
    var shmSize: String?

    @Option(help: ArgumentHelp("Sysctl options.", valueName: "map"))
    var sysctl: [String] = []

    @Option(help: ArgumentHelp("IPC mode to use (private, shareable, host, none, container:<name|id>).", valueName: "string"))
    var ipc: String?

    @Option(help: ArgumentHelp("PID namespace to use (host, container:<name|id>).", valueName: "string"))
    var pid: String?

    @Option(help: ArgumentHelp("UTS namespace to use (host).", valueName: "string"))
    var uts: String?

    @Option(help: ArgumentHelp("Write the container ID to the file.", valueName: "string"))
    var cidfile: String?

    @Option(name: .customLong("label-file"), help: ArgumentHelp("Read in a line delimited file of labels.", valueName: "list"))
    var labelFile: [String] = []

    @Option(help: ArgumentHelp("Expose a port or a range of ports.", valueName: "list"))
    var expose: [String] = []

    @Option(name: .customLong("memory-swap"), help: ArgumentHelp("Swap limit equal to memory plus swap: '-1' to enable unlimited swap.", valueName: "bytes"))
    var memorySwap: String?

    @Option(name: .customLong("memory-reservation"), help: ArgumentHelp("Memory soft limit.", valueName: "bytes"))
    var memoryReservation: String?

    @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: ArgumentHelp("CPU shares (relative weight).", valueName: "int"))
    var cpuShares: Int64?

    @Option(name: .customLong("cpu-period"), help: ArgumentHelp("Limit CPU CFS (Completely Fair Scheduler) period.", valueName: "int"))
    var cpuPeriod: Int64?

    @Option(name: .customLong("cpu-quota"), help: ArgumentHelp("Limit CPU CFS (Completely Fair Scheduler) quota.", valueName: "int"))
    var cpuQuota: Int64?

    @Option(name: .customLong("cpuset-cpus"), help: ArgumentHelp("CPUs in which to allow execution (0-3, 0,1).", valueName: "string"))
    var cpusetCpus: String?

    @Option(name: .customLong("cpuset-mems"), help: ArgumentHelp("MEMs in which to allow execution (0-3, 0,1).", valueName: "string"))
    var cpusetMems: String?

    @Option(name: .customLong("oom-score-adj"), help: ArgumentHelp("Tune host's OOM preferences (-1000 to 1000).", valueName: "int"))
    var oomScoreAdj: Int?

    @Option(help: ArgumentHelp("IPv4 address (e.g., 172.30.100.104).", valueName: "string"))
    var ip: String?

    @Option(name: .customLong("mac-address"), help: ArgumentHelp("Container MAC address (e.g., 92:d0:c6:0a:29:33).", valueName: "string"))
    var macAddress: String?

    @Option(name: .customLong("detach-keys"), help: ArgumentHelp("Override the key sequence for detaching a container.", valueName: "string"))
    var detachKeys: String?

    @Option(name: .customLong("sig-proxy"), help: ArgumentHelp("Proxy received signals to the process (true|false).", valueName: "bool"))
    var sigProxy: Bool = true

    @Option(name: [.customShort("a"), .long], help: ArgumentHelp("Attach to STDIN, STDOUT or STDERR.", valueName: "list"))
    var attach: [String] = []

    @Option(help: ArgumentHelp("Container NIS domain name.", valueName: "string"))
    var domainname: String?

    @Option(name: .customLong("volumes-from"), help: ArgumentHelp("Mount volumes from the specified container(s) (container[:ro|:rw]).", valueName: "list"))
    var volumesFrom: [String] = []

    @Option(help: ArgumentHelp("Set platform if server is multi-platform capable (the host's, e.g. linux/amd64).", valueName: "string"))
    var platform: String?

    @Option(help: ArgumentHelp("Pull image before creating (\"always\", \"missing\", \"never\").", valueName: "string"))
    var pull = "missing"

    @Flag(name: .shortAndLong, help: "Suppress the pull output.")
    var quiet = false

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The image, then the command and its arguments.", valueName: "image [command] [arg...]"))
    var imageAndCommand: [String] = []

    func validate() throws {
        guard let image = imageAndCommand.first else { throw ValidationError("requires at least 1 argument") }
        // Passthrough capture takes an option ArgumentParser does not know as the image.
        if image.hasPrefix("--") { throw ValidationError("unknown flag: \(image.split(separator: "=")[0])") }
        if image.hasPrefix("-"), image.count > 1 {
            throw ValidationError("unknown shorthand flag: '\(image.dropFirst().prefix(1))' in \(image)")
        }
        _ = try usageErrors { try PullPolicy(parsing: pull) }
    }

    /// The engine's options these flags describe; what only the client can do happens here, as in
    /// Docker's CLI: reading `--env-file` and seccomp profile files, parsing sizes and durations.
    func options() throws -> ContainerCreateOptions {
        var options = ContainerCreateOptions(image: imageAndCommand[0])
        options.command = Array(imageAndCommand.dropFirst())
        options.entrypoint = entrypoint.map { [$0] }
        options.name = name
        for file in envFile { options.env += try EnvironmentFile.read(file) }
        options.env += env.compactMap(EnvironmentFile.resolve)
        options.workingDir = workdir
        options.user = user
        options.hostname = hostname
        options.labels = keyValues(label)
        options.stopSignal = stopSignal
        options.stopTimeout = stopTimeout
        options.healthcheck = try healthcheck()
        // Docker's Config: `-i` opens and attaches stdin, closed when the client's closes.
        (options.tty, options.openStdin, options.attachStdin, options.stdinOnce) = (tty, interactive, interactive, interactive)
        (options.attachStdout, options.attachStderr) = (true, true)
        options.networkMode = network
        options.networkAliases = networkAlias
        options.publish = publish
        options.publishAllPorts = publishAll
        options.autoRemove = rm
        do {
            options.restartPolicy = try RestartPolicy(parsing: restart)
            // As in Docker, given options are recorded even when none is left (`[]`, not null).
            let security = try SecurityOptions.clientForm(securityOpt)
            options.securityOpt = securityOpt.isEmpty ? nil : security.options
            options.unconfinedSystemPaths = security.unconfinedSystemPaths
        } catch let error as RuntimeError {
            throw ValidationError("\(error)")
        }
        if let memory { options.memory = try MemorySize.parse(memory) }
        if let cpus { options.nanoCPUs = try CPUCount.nanoCPUs(cpus) }
        options.pidsLimit = pidsLimit
        options.readonlyRootfs = readOnly
        options.capAdd = capAdd
        options.capDrop = capDrop
        options.privileged = privileged
        options.groupAdd = groupAdd
        options.initProcess = initProcess
        options.runtime = runtime
        options.logDriver = logDriver
        options.logOptions = logOpt
        options.binds = volume
        options.mounts = mount
        options.tmpfs = tmpfs
        try applyHostFlags(to: &options)
        return options
    }

    /// The flags of Docker's host settings; the docker CLI reads label files and parses
    /// devices, ulimits and sizes on the client's side, as this does.
    func applyHostFlags(to options: inout ContainerCreateOptions) throws {
        var labels: [String: String] = [:]
        for file in labelFile {
            for entry in try EnvironmentFile.lines(file) { labels.merge(keyValues([entry])) { _, new in new } }
        }
        options.labels = labels.merging(options.labels) { _, new in new }
        options.extraHosts = addHost.isEmpty ? nil : addHost
        (options.dns, options.dnsSearch, options.dnsOptions) = (dns, dnsSearch, dnsOption)
        // The docker CLI keeps them by name (a later one replaces an earlier) and sends them sorted.
        var ulimits: [String: Ulimit] = [:]
        for text in ulimit { let parsed = try Ulimit(parsing: text); ulimits[parsed.name] = parsed }
        options.ulimits = ulimits.values.sorted { $0.name < $1.name }
        options.devices = try device.map { try DeviceMapping(parsing: $0) }
        if let shmSize { options.shmSize = try MemorySize.parse(shmSize) }
        for entry in sysctl {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { throw ValidationError("invalid argument \"\(entry)\" for \"--sysctl\" flag: sysctl '\(entry)' is not allowed") }
            options.sysctls[parts[0]] = parts[1]
        }
        options.ipcMode = ipc ?? ""
        options.pidMode = pid ?? ""
        options.utsMode = uts ?? ""
        options.containerIDFile = cidfile
        options.exposedPorts += try expose.flatMap(Self.exposedPorts)
        if let memorySwap { options.memorySwap = memorySwap == "-1" ? -1 : try MemorySize.parse(memorySwap) }
        if let memoryReservation { options.memoryReservation = try MemorySize.parse(memoryReservation) }
        if let cpuShares { options.cpuShares = cpuShares }
        (options.cpuPeriod, options.cpuQuota) = (cpuPeriod ?? 0, cpuQuota ?? 0)
        (options.cpusetCpus, options.cpusetMems) = (cpusetCpus ?? "", cpusetMems ?? "")
        options.oomScoreAdj = oomScoreAdj ?? 0
        options.ipv4Address = ip
        options.macAddress = macAddress
        options.domainname = domainname
        options.volumesFrom = volumesFrom
        options.platform = platform
        if !attach.isEmpty {
            let streams = Set(attach.map { $0.lowercased() })
            if let unknown = streams.first(where: { !["stdin", "stdout", "stderr"].contains($0) }) {
                throw ValidationError("invalid argument \"\(unknown)\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR")
            }
            (options.attachStdin, options.attachStdout, options.attachStderr) =
                (streams.contains("stdin"), streams.contains("stdout"), streams.contains("stderr"))
            options.stdinOnce = options.attachStdin
        }
    }

    /// `--expose 80`, `--expose 7000-7002/udp`: each port as `port/proto`.
    static func exposedPorts(_ spec: String) throws -> [String] {
        let parts = spec.split(separator: "/", maxSplits: 1).map(String.init)
        let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
        let bounds = (parts.first ?? "").split(separator: "-", omittingEmptySubsequences: false).map { UInt16($0) }
        guard (1...2).contains(bounds.count), let first = bounds[0], let last = bounds[bounds.count - 1], first <= last,
              ["tcp", "udp", "sctp"].contains(proto) else {
            throw ValidationError("invalid range format for --expose: \(spec), error: invalid port")
        }
        return (first...last).map { "\($0)/\(proto)" }
    }

    /// The `--health-*` flags as a health config of the fields they set, or nil if none is given.
    func healthcheck() throws -> HealthConfig? {
        if noHealthcheck {
            guard healthCmd == nil, healthInterval == nil, healthTimeout == nil, healthStartPeriod == nil,
                  healthRetries == nil else {
                throw ValidationError("--no-healthcheck conflicts with --health-* options")
            }
            var config = HealthConfig()
            config.Test = ["NONE"]
            return config
        }
        func nanoseconds(_ value: String?, _ flag: String) throws -> Int64? {
            guard let value else { return nil }
            guard let seconds = DockerTime.goDuration(value), seconds >= 0 else {
                throw ValidationError("invalid argument \"\(value)\" for \"--\(flag)\" flag: time: invalid duration \"\(value)\"")
            }
            guard seconds == 0 || seconds >= 0.001 else { throw ValidationError("--\(flag) cannot be less than 1ms") }
            return Int64((seconds * 1e9).rounded())
        }
        var config = HealthConfig()
        config.Test = healthCmd.map { ["CMD-SHELL", $0] }
        config.Interval = try nanoseconds(healthInterval, "health-interval")
        config.Timeout = try nanoseconds(healthTimeout, "health-timeout")
        config.StartPeriod = try nanoseconds(healthStartPeriod, "health-start-period")
        if let healthRetries, healthRetries < 0 { throw ValidationError("--health-retries cannot be negative") }
        config.Retries = healthRetries
        return config == HealthConfig() ? nil : config
    }

    /// Creates the container, as `create` and `run` do (`run -d` attaches nothing). Errors in the
    /// options are usage errors, as the flags' own are.
    func create(_ engine: Engine, detached: Bool = false) async throws -> ContainerRecord {
        do {
            var options = try options()
            if detached { (options.attachStdin, options.attachStdout, options.attachStderr, options.stdinOnce) = (false, false, false, false) }
            // The docker CLI writes `--cidfile` itself, and refuses a file that exists already.
            if let cidfile, FileManager.default.fileExists(atPath: cidfile) {
                throw EngineError(.conflict, "Container ID file found, make sure the other container isn't running or delete \(cidfile)")
            }
            // As the docker CLI does, the pull's output goes to stderr: stdout is the container's.
            let display = TransferDisplay(quiet: quiet, descriptor: 2)
            let quiet = quiet
            let domain = (try? Reference(parsing: options.image))?.domain
            let registry = PullOptions(reference: options.image, credentials: try domain.flatMap { try RegistryOptions.savedCredentials(for: $0) })
            let record = try await engine.createContainer(options, pull: try PullPolicy(parsing: pull), registry: registry, missing: { name in
                if !quiet { printError("Unable to find image '\(name)' locally") }
            }, progress: display.show)
            if let cidfile {
                guard FileManager.default.createFile(atPath: cidfile, contents: Data(record.id.utf8)) else {
                    throw EngineError(.system, "failed to create the container ID file: open \(cidfile): no such file or directory")
                }
            }
            return record
        } catch let error as EngineError where error.kind == .invalidParameter {
            throw ValidationError(error.message)
        }
    }
}

/// `--env-file` and `-e NAME` are read on the client's side; the engine has the reader.
typealias EnvironmentFile = BerthEngine.EnvironmentFile
