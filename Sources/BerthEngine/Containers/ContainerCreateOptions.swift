import BerthOCI
import BerthRuntime
import Foundation

/// What a new container is asked for, as `berth run`/`create` and `POST /containers/create` both
/// say it: each front end fills this one type (one line per flag or field), and the engine checks
/// it, fills in the defaults and creates the container. Fields keep Docker's names and meaning.
public struct ContainerCreateOptions: Sendable, Equatable {
    /// The image as the user named it.
    public var image: String
    /// The command and its arguments; empty means the image's Cmd.
    public var command: [String] = []
    /// Config.Entrypoint: nil keeps the image's; `[""]` (`--entrypoint ""`) clears it.
    public var entrypoint: [String]?
    public var name: String?
    /// `NAME=value` entries, later ones winning, merged over the image's.
    public var env: [String] = []
    public var workingDir: String?
    public var user: String?
    public var hostname: String?
    public var labels: [String: String] = [:]
    public var stopSignal: String?
    public var stopTimeout: Int?
    /// The health check fields to set over the image's (`Test ["NONE"]` disables it).
    public var healthcheck: HealthConfig?
    public var tty = false
    public var openStdin = false
    public var stdinOnce = false
    public var attachStdin = false
    public var attachStdout = false
    public var attachStderr = false

    /// `bridge` (Docker's `default`), `host`, `none` or a user network's name or ID.
    public var networkMode = "bridge"
    /// More names the container answers to on its user-defined network.
    public var networkAliases: [String] = []
    /// `-p` specs (`[ip:][hostPort:]containerPort[/proto]`).
    public var publish: [String] = []
    public var publishAllPorts = false
    public var autoRemove = false
    public var restartPolicy = RestartPolicy()
    /// Memory limit in bytes; 0 is none.
    public var memory: Int64 = 0
    /// CPU quota in units of 10⁻⁹ CPUs; 0 is none.
    public var nanoCPUs: Int64 = 0
    public var cpuShares: Int64 = 0
    /// nil or 0 (and, as Docker takes it, a negative value) is no limit.
    public var pidsLimit: Int64?
    public var readonlyRootfs = false
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    public var privileged = false
    /// `--group-add`: more groups for the container's processes, names (from the container's
    /// /etc/group, resolved at start) or IDs.
    public var groupAdd: [String] = []
    /// HostConfig.SecurityOpt as dockerd takes it (a `seccomp=` profile as its JSON, not a file
    /// name: `SecurityOptions.clientForm` reads the file, on the client's side); nil when none
    /// was given.
    public var securityOpt: [String]?
    /// `--security-opt systempaths=unconfined`: no masked or read-only kernel paths.
    public var unconfinedSystemPaths = false
    /// Ports the container exposes besides the image's (`80/tcp`); the docker CLI adds the ones `-p` publishes.
    public var exposedPorts: [String] = []
    /// `--init`.
    public var initProcess = false
    /// `runc` or `crun`; nil is `$BERTH_RUNTIME`, else runc.
    public var runtime: String?
    public var logDriver: String?
    /// `--log-opt` entries, `key=value`.
    public var logOptions: [String] = []
    /// `-v` specs (Docker's HostConfig.Binds): a missing host directory is made, as Docker makes it.
    public var binds: [String] = []
    /// `--mount` specs (`type=…,source=…,target=…[,readonly]`): a bind's source must exist.
    public var mounts: [String] = []
    /// `--tmpfs` specs (`path[:options]`).
    public var tmpfs: [String] = []

    public init(image: String) {
        self.image = image
    }

    /// Checks every option as dockerd does and resolves them into what the runtime creates from;
    /// makes the missing host directories `-v` names. Errors are `invalidParameter`.
    func runOptions(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RunOptions {
        let networkMode = networkMode == "default" || networkMode.isEmpty ? "bridge" : networkMode
        var host = ContainerRecord.HostConfig(autoRemove: autoRemove, networkMode: networkMode)
        host.publish = publish
        host.publishAllPorts = publishAllPorts
        host.initProcess = initProcess
        host.runtime = runtime.flatMap { $0.isEmpty ? nil : $0 } ?? environment["BERTH_RUNTIME"] ?? "runc"
        host.restartPolicy = restartPolicy
        if !publish.isEmpty {
            guard !["host", "none"].contains(networkMode) else {
                throw EngineError.invalidParameter("published ports are discarded when using \(networkMode) network mode")
            }
            try ContainerRuntime.validatePublish(publish)
        }
        try Self.checkResources(memory: memory, nanoCPUs: nanoCPUs, cpuShares: cpuShares)
        (host.memory, host.nanoCPUs, host.cpuShares) = (memory, nanoCPUs, cpuShares)
        host.pidsLimit = pidsLimit.flatMap { $0 > 0 ? $0 : nil }
        host.readonlyRootfs = readonlyRootfs
        host.capAdd = capAdd
        host.capDrop = capDrop
        host.privileged = privileged
        host.groupAdd = groupAdd
        host.securityOpt = securityOpt
        if unconfinedSystemPaths { (host.maskedPaths, host.readonlyPaths) = ([], []) }
        host.logConfig = try LogConfig(driver: logDriver, options: logOptions)
        host.binds = binds
        host.mountSpecs = mounts
        var resolvedMounts: [MountPoint] = []
        try invalidParameter {
            for spec in binds {
                let parsed = try MountParser.parseVolumeFlag(spec)
                // `-v /host/path:…` makes a missing host directory, as Docker does; `--mount` does not.
                if parsed.type == .bind, !FileManager.default.fileExists(atPath: parsed.source) {
                    try FileManager.default.createDirectory(atPath: parsed.source, withIntermediateDirectories: true)
                }
                resolvedMounts.append(parsed)
            }
            for spec in mounts {
                let parsed = try MountParser.parseMountFlag(spec)
                if parsed.type == .bind, !FileManager.default.fileExists(atPath: parsed.source) {
                    throw EngineError.invalidParameter("invalid mount config for type \"bind\": bind source path does not exist: \(parsed.source)")
                }
                resolvedMounts.append(parsed)
            }
            for spec in tmpfs {
                let parsed = try MountParser.parseTmpfsFlag(spec)
                host.tmpfs[parsed.destination] = parsed.tmpfsOptions.joined(separator: ",")
                resolvedMounts.append(parsed)
            }
        }
        if let healthcheck { try Self.checkHealthcheck(healthcheck) }

        var options = RunOptions(
            image: image, command: command, entrypoint: entrypoint, name: name.flatMap { $0.isEmpty ? nil : $0 },
            env: env, workingDir: workingDir.flatMap { $0.isEmpty ? nil : $0 }, user: user.flatMap { $0.isEmpty ? nil : $0 },
            hostname: hostname.flatMap { $0.isEmpty ? nil : $0 }, labels: labels,
            stopSignal: stopSignal.flatMap { $0.isEmpty ? nil : $0 }, stopTimeout: stopTimeout, hostConfig: host)
        options.mounts = resolvedMounts
        options.healthcheck = healthcheck
        (options.tty, options.openStdin, options.stdinOnce) = (tty, openStdin, stdinOnce)
        (options.attachStdin, options.attachStdout, options.attachStderr) = (attachStdin, attachStdout, attachStderr)
        options.networkAliases = networkAliases
        options.exposedPorts = exposedPorts
        return options
    }

    /// The limits dockerd refuses at create and update, with its messages.
    static func checkResources(memory: Int64, nanoCPUs: Int64, cpuShares: Int64) throws {
        if memory > 0, memory < 6 * 1024 * 1024 { throw EngineError.invalidParameter("Minimum memory limit allowed is 6MB") }
        if memory < 0 { throw EngineError.invalidParameter("invalid memory limit: \(memory)") }
        let available = ProcessInfo.processInfo.activeProcessorCount
        if nanoCPUs < 0 || nanoCPUs > 0 && (nanoCPUs < 10_000_000 || nanoCPUs > Int64(available) * 1_000_000_000) {
            throw EngineError.invalidParameter("Range of CPUs is from 0.01 to \(available).00, as there are only \(available) CPUs available")
        }
        if cpuShares < 0 { throw EngineError.invalidParameter("invalid CPU shares: \(cpuShares)") }
    }

    /// dockerd's checks of a health config's durations and retries.
    static func checkHealthcheck(_ config: HealthConfig) throws {
        for (name, value) in [("Interval", config.Interval), ("Timeout", config.Timeout), ("StartPeriod", config.StartPeriod),
                              ("StartInterval", config.StartInterval)] {
            if let value, value != 0, value < 1_000_000 {
                throw EngineError.invalidParameter("\(name) in Healthcheck cannot be less than 1ms")
            }
        }
        if let retries = config.Retries, retries < 0 { throw EngineError.invalidParameter("Retries in Healthcheck cannot be negative") }
    }

    /// Runs `body`, reporting the runtime's complaints about an option as invalid parameters.
    private func invalidParameter(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as RuntimeError {
            throw EngineError.invalidParameter(error.description)
        } catch let error as CocoaError {
            throw EngineError.invalidParameter(error.localizedDescription)
        }
    }
}

/// `--env-file` and `-e NAME` (no value: taken from the caller's environment, as Docker's CLI does).
public enum EnvironmentFile {
    public static func read(_ path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw EngineError.invalidParameter("open \(path): no such file or directory")
        }
        return text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line in
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            return resolve(String(trimmed))
        }
    }

    public static func resolve(_ entry: String) -> String? {
        if entry.contains("=") { return entry }
        return ProcessInfo.processInfo.environment[entry].map { "\(entry)=\($0)" }
    }
}

/// Docker's memory sizes (go-units RAMInBytes): a number with an optional binary unit, `512m`, `1g`, `100kb`.
public enum MemorySize {
    public static func parse(_ text: String) throws -> Int64 {
        let lower = text.lowercased().trimmingCharacters(in: .whitespaces)
        var digits = lower
        var suffix = ""
        while let last = digits.last, !last.isNumber, last != "." {
            suffix = String(last) + suffix
            digits.removeLast()
        }
        suffix = suffix.trimmingCharacters(in: .whitespaces)
        if suffix.hasSuffix("b") { suffix.removeLast() }
        if suffix.hasSuffix("i") { suffix.removeLast() }
        let multiplier: Double
        switch suffix {
        case "": multiplier = 1
        case "k": multiplier = 1024
        case "m": multiplier = 1024 * 1024
        case "g": multiplier = 1024 * 1024 * 1024
        case "t": multiplier = 1024 * 1024 * 1024 * 1024
        case "p": multiplier = 1024 * 1024 * 1024 * 1024 * 1024
        default: throw EngineError.invalidParameter("invalid size: '\(text)'")
        }
        guard let value = Double(digits), value >= 0 else { throw EngineError.invalidParameter("invalid size: '\(text)'") }
        return Int64(value * multiplier)
    }
}

/// `--cpus`: a decimal number of CPUs as nano-CPUs.
public enum CPUCount {
    public static func nanoCPUs(_ text: String) throws -> Int64 {
        guard let value = Double(text), value >= 0 else { throw EngineError.invalidParameter("invalid argument \"\(text)\" for \"--cpus\" flag") }
        return Int64((value * 1e9).rounded())
    }
}
