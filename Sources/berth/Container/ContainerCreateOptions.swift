import ArgumentParser
import BerthOCI
import BerthRuntime
import BerthStore
import Foundation

/// The options `run` and `create` share, with Docker's names.
struct ContainerCreateOptions: ParsableArguments {
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

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The image, then the command and its arguments.", valueName: "image [command] [arg...]"))
    var imageAndCommand: [String] = []

    func validate() throws {
        guard let image = imageAndCommand.first, !image.hasPrefix("-") else {
            throw ValidationError("requires at least 1 argument: IMAGE [COMMAND] [ARG...]")
        }
    }

    /// The run options these flags describe.
    func runOptions() throws -> RunOptions {
        var hostConfig = ContainerRecord.HostConfig(autoRemove: rm, networkMode: network == "default" ? "bridge" : network)
        hostConfig.publish = publish
        hostConfig.publishAllPorts = publishAll
        hostConfig.initProcess = initProcess
        hostConfig.runtime = runtime ?? ProcessInfo.processInfo.environment["BERTH_RUNTIME"] ?? "runc"
        do {
            hostConfig.restartPolicy = try RestartPolicy(parsing: restart)
        } catch let error as RuntimeError {
            throw ValidationError("\(error)")
        }
        if !publish.isEmpty {
            guard !["host", "none"].contains(hostConfig.networkMode) else {
                throw ValidationError("published ports are discarded when using \(hostConfig.networkMode) network mode")
            }
            try ContainerRuntime.validatePublish(publish)
        }
        if let memory {
            let bytes = try MemorySize.parse(memory)
            if bytes > 0, bytes < 6 * 1024 * 1024 {
                throw ValidationError("Minimum memory limit allowed is 6MB")
            }
            hostConfig.memory = bytes
        }
        if let cpus {
            guard let value = Double(cpus), value >= 0 else { throw ValidationError("invalid argument \"\(cpus)\" for \"--cpus\" flag") }
            let available = ProcessInfo.processInfo.activeProcessorCount
            if value > 0, value < 0.01 || value > Double(available) {
                throw ValidationError("range of CPUs is from 0.01 to \(available).00, as there are only \(available) CPUs available")
            }
            hostConfig.nanoCPUs = Int64((value * 1e9).rounded())
        }
        hostConfig.pidsLimit = pidsLimit
        hostConfig.readonlyRootfs = readOnly
        hostConfig.capAdd = capAdd
        hostConfig.capDrop = capDrop
        hostConfig.privileged = privileged
        do {
            // As in Docker, given options are recorded even when none is left (`[]`, not null).
            let security = try SecurityOptions.clientForm(securityOpt)
            hostConfig.securityOpt = securityOpt.isEmpty ? nil : security.options
            if security.unconfinedSystemPaths { (hostConfig.maskedPaths, hostConfig.readonlyPaths) = ([], []) }
        } catch let error as RuntimeError {
            throw ValidationError("\(error)")
        }
        hostConfig.logConfig = try LogConfig(driver: logDriver, options: logOpt)
        hostConfig.binds = volume
        hostConfig.mountSpecs = mount
        var mounts: [MountPoint] = []
        do {
            for spec in volume {
                let parsed = try MountParser.parseVolumeFlag(spec)
                // `-v /host/path:…` makes a missing host directory, as Docker does; `--mount` does not.
                if parsed.type == .bind, !FileManager.default.fileExists(atPath: parsed.source) {
                    try FileManager.default.createDirectory(atPath: parsed.source, withIntermediateDirectories: true)
                }
                mounts.append(parsed)
            }
            for spec in mount {
                let parsed = try MountParser.parseMountFlag(spec)
                if parsed.type == .bind, !FileManager.default.fileExists(atPath: parsed.source) {
                    throw ValidationError("invalid mount config for type \"bind\": bind source path does not exist: \(parsed.source)")
                }
                mounts.append(parsed)
            }
            for spec in tmpfs {
                let parsed = try MountParser.parseTmpfsFlag(spec)
                hostConfig.tmpfs[parsed.destination] = parsed.tmpfsOptions.joined(separator: ",")
                mounts.append(parsed)
            }
        } catch let error as RuntimeError {
            throw ValidationError("\(error)")
        }

        var environment: [String] = []
        for file in envFile { environment += try EnvironmentFile.read(file) }
        environment += env.compactMap(EnvironmentFile.resolve)
        var labels: [String: String] = [:]
        for entry in label {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            labels[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        var options = RunOptions(
            image: imageAndCommand[0], command: Array(imageAndCommand.dropFirst()), entrypoint: entrypoint, name: name,
            env: environment, workingDir: workdir, user: user, hostname: hostname, labels: labels,
            stopSignal: stopSignal, stopTimeout: stopTimeout, hostConfig: hostConfig)
        options.mounts = mounts
        options.healthcheck = try healthcheck()
        // Docker's Config: `-i` opens and attaches stdin, closed when the client's closes.
        (options.tty, options.openStdin, options.attachStdin, options.stdinOnce) = (tty, interactive, interactive, interactive)
        (options.attachStdout, options.attachStderr) = (true, true)
        options.networkAliases = networkAlias
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
            guard let seconds = TimeArgument.goDuration(value), seconds >= 0 else {
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

    /// Creates the container, as `create` and `run` do; `run -d` attaches nothing.
    func create(_ runtime: ContainerRuntime, detached: Bool = false) throws -> ContainerRecord {
        var options = try runOptions()
        if detached { (options.attachStdin, options.attachStdout, options.attachStderr, options.stdinOnce) = (false, false, false, false) }
        let store = try global.openStore()
        // The container holds its image from before it exists (its lease lives while this process
        // or the container's directory does), so no `rmi` or prune can take the layers under it.
        let id = ContainerID.random()
        let lease = Lease.container(id, directory: runtime.containers.path(of: id))
        do {
            let image = try store.holdImage(named: options.image, in: lease)
            let config = try store.config(of: image).config ?? ContainerConfig()
            return try runtime.create(options, image: ContainerImage(id: image.id.description, config: config,
                                                                     layers: store.unpack(image)), id: id)
        } catch {
            try? store.release(lease)
            throw error
        }
    }
}

/// `--env-file` and `-e NAME` (no value: taken from Berth's own environment, as Docker does).
enum EnvironmentFile {
    static func read(_ path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("open \(path): no such file or directory")
        }
        return text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line in
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            return resolve(String(trimmed))
        }
    }

    static func resolve(_ entry: String) -> String? {
        if entry.contains("=") { return entry }
        return ProcessInfo.processInfo.environment[entry].map { "\(entry)=\($0)" }
    }
}

/// Docker's memory sizes (go-units RAMInBytes): a number with an optional binary unit, `512m`, `1g`, `100kb`.
enum MemorySize {
    static func parse(_ text: String) throws -> Int64 {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        var digits = lower
        var multiplier: Double = 1
        var suffix = ""
        while let last = digits.last, !last.isNumber, last != "." {
            suffix = String(last) + suffix
            digits.removeLast()
        }
        suffix = suffix.trimmingCharacters(in: .whitespaces)
        if suffix.hasSuffix("b") { suffix.removeLast() }
        if suffix.hasSuffix("i") { suffix.removeLast() }
        switch suffix {
        case "": multiplier = 1
        case "k": multiplier = 1024
        case "m": multiplier = 1024 * 1024
        case "g": multiplier = 1024 * 1024 * 1024
        case "t": multiplier = 1024 * 1024 * 1024 * 1024
        case "p": multiplier = 1024 * 1024 * 1024 * 1024 * 1024
        default: throw ValidationError("invalid size: '\(text)'")
        }
        guard let value = Double(digits), value >= 0 else { throw ValidationError("invalid size: '\(text)'") }
        return Int64(value * multiplier)
    }
}
