import BerthNetwork
import BerthOCI
import BerthRuntime
import Foundation
import Glibc

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
    /// Config.Domainname (`--domainname`).
    public var domainname: String?
    /// Config.MacAddress (`--mac-address`): the first network's interface gets it.
    public var macAddress: String?
    /// `--ip`: the IPv4 address on the first network (a user network with a configured subnet).
    public var ipv4Address: String?
    /// HostConfig.ContainerIDFile (`--cidfile`): recorded; the client writes the file.
    public var containerIDFile: String?
    /// `--add-host` entries, `name:address` or `name:host-gateway`; nil when none was given.
    public var extraHosts: [String]?
    public var dns: [String] = []
    public var dnsOptions: [String] = []
    public var dnsSearch: [String] = []
    /// `--ipc`: empty (Docker's default, `private`), `private`, `shareable`, `host`, `none` or `container:NAME`.
    public var ipcMode = ""
    /// `--pid`: empty, `host` or `container:NAME`.
    public var pidMode = ""
    /// `--uts`: empty or `host`.
    public var utsMode = ""
    public var oomScoreAdj = 0
    /// /dev/shm's size in bytes; 0 is Docker's 64 MiB.
    public var shmSize: Int64 = 0
    public var sysctls: [String: String] = [:]
    public var cpuPeriod: Int64 = 0
    public var cpuQuota: Int64 = 0
    public var cpusetCpus = ""
    public var cpusetMems = ""
    /// `--device` mappings (`DeviceMapping(parsing:)` reads the flag's form).
    public var devices: [DeviceMapping] = []
    public var memoryReservation: Int64 = 0
    /// Memory plus swap in bytes: 0 is twice `memory`, -1 unlimited.
    public var memorySwap: Int64 = 0
    public var ulimits: [Ulimit] = []
    /// `--volumes-from` entries, `container[:ro|:rw]`.
    public var volumesFrom: [String] = []
    /// `--platform` (`os[/arch[/variant]]`): must be the image's, as Berth pulls no other.
    public var platform: String?

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
        try applyHostOptions(to: &host)

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
        // A published port is an exposed one too, as the docker CLI sends it.
        let published = publish.flatMap { (try? PortMapping.parse($0)) ?? [] }.map { "\($0.containerPort)/\($0.proto)" }
        options.exposedPorts = exposedPorts + published.filter { !exposedPorts.contains($0) }
        options.domainname = domainname.flatMap { $0.isEmpty ? nil : $0 }
        options.macAddress = macAddress.flatMap { $0.isEmpty ? nil : $0 }
        options.ipv4Address = ipv4Address.flatMap { $0.isEmpty ? nil : $0 }
        options.volumesFrom = volumesFrom
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
        try lines(path).compactMap(resolve)
    }

    /// The file's lines that are neither empty nor comments (`--env-file`, `--label-file`). Read
    /// as a stream, so any readable file works: `/dev/null`, a pipe such as bash's `<(…)`.
    public static func lines(_ path: String) throws -> [String] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw EngineError.invalidParameter("open \(path): \(String(cString: strerror(errno)).lowercased())")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw EngineError.invalidParameter("read \(path): \(String(cString: strerror(errno)).lowercased())")
            }
            if count == 0 { break }
            bytes += buffer[..<count]
        }
        return String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line in
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            return String(trimmed)
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
