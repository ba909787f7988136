import ArgumentParser
import BerthEngine
import BerthTemplate
import Foundation

/// `berth info` (and `system info`): the engine's `/info` document in the docker CLI's layout:
/// the same sections and labels, warnings on stderr.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Display system-wide information.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a custom template: 'json', or a Go template.", valueName: "string"))
    var format: String?

    func run() throws {
        let info = try global.openEngine().info()
        let client: OrderedJSON = .object([
            ("Version", .string(Engine.version)), ("Context", .string("default")), ("Debug", .bool(false)),
            ("Plugins", .array([])), ("Warnings", .null),
        ])
        if let format {
            guard case .object(let members) = info else { return }
            print(try render(format, .object(members + [("ClientInfo", client)])))
            return
        }
        var out = ["Client:", " Version:    \(Engine.version)", " Context:    default", " Debug Mode: false", "", "Server:"]
        out += Self.serverLines(info)
        print(out.joined(separator: "\n"))
        print()
        for warning in Self.strings(info["Warnings"]) { printError(warning) }
    }

    /// The Server section as the docker CLI prints it (its `prettyPrintServerInfo`).
    static func serverLines(_ info: OrderedJSON) -> [String] {
        func text(_ key: String) -> String { info[key].map(GoTemplate.format) ?? "" }
        var lines: [String] = []
        func line(_ label: String, _ value: String) { lines.append("\(label) \(value)") }
        func nonEmpty(_ label: String, _ value: String) { if !value.isEmpty { line(label, value) } }
        line(" Containers:", text("Containers"))
        line("  Running:", text("ContainersRunning"))
        line("  Paused:", text("ContainersPaused"))
        line("  Stopped:", text("ContainersStopped"))
        line(" Images:", text("Images"))
        nonEmpty(" Server Version:", text("ServerVersion"))
        nonEmpty(" Storage Driver:", text("Driver"))
        if case .array(let pairs)? = info["DriverStatus"] {
            for pair in pairs {
                let parts = strings(pair)
                if parts.count == 2 { lines.append("  \(parts[0]): \(parts[1])") }
            }
        }
        nonEmpty(" Logging Driver:", text("LoggingDriver"))
        nonEmpty(" Cgroup Driver:", text("CgroupDriver"))
        nonEmpty(" Cgroup Version:", text("CgroupVersion"))
        let plugins = info["Plugins"]
        lines.append(" Plugins:")
        line("  Volume:", strings(plugins?["Volume"]).joined(separator: " "))
        line("  Network:", strings(plugins?["Network"]).joined(separator: " "))
        let authorization = strings(plugins?["Authorization"])
        if !authorization.isEmpty { line("  Authorization:", authorization.joined(separator: " ")) }
        line("  Log:", strings(plugins?["Log"]).joined(separator: " "))
        line(" Swarm:", info["Swarm"]?["LocalNodeState"].map(GoTemplate.format) ?? "inactive")
        if case .object(let runtimes)? = info["Runtimes"], !runtimes.isEmpty {
            line(" Runtimes:", runtimes.map(\.0).joined(separator: " "))
            line(" Default Runtime:", text("DefaultRuntime"))
        }
        if text("OSType") == "linux" {
            line(" Init Binary:", text("InitBinary"))
            line(" containerd version:", info["ContainerdCommit"]?["ID"].map(GoTemplate.format) ?? "")
            line(" runc version:", info["RuncCommit"]?["ID"].map(GoTemplate.format) ?? "")
            line(" init version:", info["InitCommit"]?["ID"].map(GoTemplate.format) ?? "")
            let security = strings(info["SecurityOptions"])
            if !security.isEmpty {
                lines.append(" Security Options:")
                // "name=seccomp,profile=builtin": the name, then its profile.
                for option in security {
                    var fields: [String: String] = [:]
                    for field in option.split(separator: ",") {
                        let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
                        if pair.count == 2 { fields[pair[0]] = pair[1] }
                    }
                    lines.append("  " + (fields["name"] ?? option))
                    if let profile = fields["profile"] { lines.append("   Profile: \(profile)") }
                }
            }
        }
        nonEmpty(" Kernel Version:", text("KernelVersion"))
        nonEmpty(" Operating System:", text("OperatingSystem"))
        nonEmpty(" OSType:", text("OSType"))
        nonEmpty(" Architecture:", text("Architecture"))
        line(" CPUs:", text("NCPU"))
        line(" Total Memory:", HumanUnits.binarySize(UInt64(text("MemTotal")) ?? 0))
        nonEmpty(" Name:", text("Name"))
        nonEmpty(" ID:", text("ID"))
        line(" Docker Root Dir:", text("DockerRootDir"))
        line(" Debug Mode:", text("Debug"))
        nonEmpty(" HTTP Proxy:", text("HttpProxy"))
        nonEmpty(" HTTPS Proxy:", text("HttpsProxy"))
        nonEmpty(" No Proxy:", text("NoProxy"))
        let labels = strings(info["Labels"])
        if !labels.isEmpty {
            lines.append(" Labels:")
            for label in labels { lines.append("  " + label) }
        }
        line(" Experimental:", text("ExperimentalBuild"))
        let registry = info["RegistryConfig"]
        let cidrs = strings(registry?["InsecureRegistryCIDRs"])
        var insecureIndexes: [String] = []
        if case .object(let indexes)? = registry?["IndexConfigs"] {
            for (_, index) in indexes where index["Secure"] == .bool(false) {
                insecureIndexes.append(index["Name"].map(GoTemplate.format) ?? "")
            }
        }
        if case .object(let indexes)? = registry?["IndexConfigs"], !cidrs.isEmpty || !indexes.isEmpty {
            lines.append(" Insecure Registries:")
            for name in insecureIndexes { lines.append("  " + name) }
            for cidr in cidrs { lines.append("  " + cidr) }
        }
        let mirrors = strings(registry?["Mirrors"])
        if !mirrors.isEmpty {
            lines.append(" Registry Mirrors:")
            for mirror in mirrors { lines.append("  " + mirror) }
        }
        line(" Live Restore Enabled:", text("LiveRestoreEnabled"))
        return lines
    }

    /// A JSON array's strings; empty for null or anything else.
    static func strings(_ value: OrderedJSON?) -> [String] {
        guard case .array(let items)? = value else { return [] }
        return items.map(GoTemplate.format)
    }
}
