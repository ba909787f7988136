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
        options.initProcess = initProcess
        options.runtime = runtime
        options.logDriver = logDriver
        options.logOptions = logOpt
        options.binds = volume
        options.mounts = mount
        options.tmpfs = tmpfs
        return options
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
            // As the docker CLI does, the pull's output goes to stderr: stdout is the container's.
            let display = TransferDisplay(quiet: quiet, descriptor: 2)
            let quiet = quiet
            let domain = (try? Reference(parsing: options.image))?.domain
            let registry = PullOptions(reference: options.image, credentials: try domain.flatMap { try RegistryOptions.savedCredentials(for: $0) })
            return try await engine.createContainer(options, pull: try PullPolicy(parsing: pull), registry: registry, missing: { name in
                if !quiet { printError("Unable to find image '\(name)' locally") }
            }, progress: display.show)
        } catch let error as EngineError where error.kind == .invalidParameter {
            throw ValidationError(error.message)
        }
    }
}

/// `--env-file` and `-e NAME` are read on the client's side; the engine has the reader.
typealias EnvironmentFile = BerthEngine.EnvironmentFile
