import BerthDockerfile
import BerthOCI

/// Applies the Dockerfile instructions that only change an image's configuration (CMD, ENV,
/// EXPOSE, …) to a ContainerConfig: used by the builder and by `import --change`.
public enum ConfigChanges {
    /// The instructions `docker import --change` accepts.
    public static let changeInstructions: Set<String> = [
        "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    ]

    public struct InvalidChange: Error, CustomStringConvertible {
        public var description: String
    }

    /// Parses one `--change` value as a Dockerfile line.
    public static func parseChange(_ text: String) throws -> Command {
        let dockerfile = try Dockerfile.parse(text, fileName: "--change")
        guard dockerfile.instructions.count == 1, let instruction = dockerfile.instructions.first else {
            throw InvalidChange(description: "--change must be exactly one instruction: \(text)")
        }
        guard changeInstructions.contains(instruction.keyword) else {
            throw InvalidChange(description: "\(instruction.keyword) is not a valid change command")
        }
        return try Command(instruction, fileName: "--change")
    }

    /// The environment an instruction sees: the config's ENV as a dictionary.
    public static func environment(of config: ContainerConfig) -> [String: String] {
        var environment: [String: String] = [:]
        for entry in config.Env ?? [] {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return environment
    }

    /// Applies a config-only command (already expanded where the builder expands) to `config`.
    public static func apply(_ command: Command, to config: inout ContainerConfig) throws {
        switch command {
        case .cmd(let line):
            config.Cmd = commandArguments(line, shell: config.Shell)
        case .entrypoint(let line):
            config.Entrypoint = commandArguments(line, shell: config.Shell)
        case .env(let env):
            for pair in env.pairs {
                var entries = config.Env ?? []
                let entry = "\(pair.key)=\(pair.value)"
                if let index = entries.firstIndex(where: { $0.hasPrefix(pair.key + "=") || $0 == pair.key }) {
                    entries[index] = entry
                } else {
                    entries.append(entry)
                }
                config.Env = entries
            }
        case .label(let label):
            var labels = config.Labels ?? [:]
            for pair in label.pairs { labels[pair.key] = pair.value }
            config.Labels = labels
        case .expose(let expose):
            var ports = config.ExposedPorts ?? [:]
            for spec in expose.ports {
                for port in try exposedPorts(spec) { ports[port] = EmptyObject() }
            }
            config.ExposedPorts = ports
        case .healthcheck(let check):
            var health = HealthConfig(Test: check.test)
            if !check.isNone {
                health.Interval = check.interval.map(nanoseconds)
                health.Timeout = check.timeout.map(nanoseconds)
                health.StartPeriod = check.startPeriod.map(nanoseconds)
                health.StartInterval = check.startInterval.map(nanoseconds)
                health.Retries = check.retries
            }
            config.Healthcheck = health
        case .onbuild(let onbuild):
            config.OnBuild = (config.OnBuild ?? []) + [onbuild.expression]
        case .stopSignal(let signal):
            config.StopSignal = signal.value
        case .user(let user):
            config.User = user.value
        case .volume(let volume):
            var volumes = config.Volumes ?? [:]
            for path in volume.paths { volumes[path] = EmptyObject() }
            config.Volumes = volumes
        case .workdir(let workdir):
            config.WorkingDir = resolveWorkdir(workdir.value, current: config.WorkingDir)
        case .shell(let shell):
            config.Shell = shell.shell
        default:
            throw InvalidChange(description: "\(command.instruction.keyword) does not only change the image configuration")
        }
    }

    /// Exec form as written; shell form wrapped in the SHELL (default `/bin/sh -c`).
    static func commandArguments(_ line: BerthDockerfile.CommandLine, shell: [String]?) -> [String] {
        guard line.prependShell else { return line.arguments }
        return (shell ?? ["/bin/sh", "-c"]) + [line.arguments.joined(separator: " ")]
    }

    /// A WORKDIR relative to the previous one, cleaned (`/a/./b/..` → `/a`).
    public static func resolveWorkdir(_ path: String, current: String?) -> String {
        let joined = path.hasPrefix("/") ? path : (current ?? "/") + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, … (Docker's nat.ParsePortSpecs for EXPOSE).
    static func exposedPorts(_ spec: String) throws -> [String] {
        let parts = spec.split(separator: "/", maxSplits: 1).map(String.init)
        let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
        guard ["tcp", "udp", "sctp"].contains(proto), let range = parts.first else {
            throw InvalidChange(description: "invalid proto: \(parts.count > 1 ? parts[1] : spec)")
        }
        let bounds = range.split(separator: "-", maxSplits: 1).map { UInt16($0) }
        guard let low = bounds.first ?? nil, let high = bounds.count > 1 ? bounds[1] : low, low <= high else {
            throw InvalidChange(description: "invalid containerPort: \(range)")
        }
        return (low...high).map { "\($0)/\(proto)" }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
