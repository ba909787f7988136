import ArgumentParser
import BerthEngine
import BerthRuntime
import Foundation

/// `berth restart`: stop (as `stop` does), then start again.
struct ContainerRestart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("t"), .customLong("timeout"), .customLong("time")], help: ArgumentHelp("Seconds to wait before killing the container.", valueName: "int"))
    var time: Int?

    @Option(name: [.customShort("s"), .long], help: ArgumentHelp("Signal to send to the container.", valueName: "string"))
    var signal: String?

    @Argument(help: ArgumentHelp("Containers to restart.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let engine = try global.openEngine()
        try await forEachContainer(containers) { reference in
            // The monitor keeps the container running after this command exits.
            try await engine.restartContainer(reference, timeout: time, signal: signal)
        }
    }
}

/// `berth rename OLD NEW`.
struct ContainerRename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a container.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    @Argument(help: ArgumentHelp("Its new name.", valueName: "new-name"))
    var newName: String

    func run() async throws {
        let engine = try global.openEngine()
        do {
            try await engine.renameContainer(container, to: newName)
        } catch {
            printError("Error response from daemon: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports.
struct ContainerPort: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "port", abstract: "List port mappings or a specific mapping for the container.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    @Argument(help: ArgumentHelp("A private port, optionally with its protocol (80/tcp).", valueName: "private-port"))
    var privatePort: String?

    func run() throws {
        let record = try global.openRuntime().container(container)
        let bindings = record.state.running ? record.network.ports : []
        let sorted = bindings.sorted { ($0.containerPort, $0.proto, $0.hostPort) < ($1.containerPort, $1.proto, $1.hostPort) }
        guard let privatePort else {
            for binding in sorted { print("\(binding.containerPort)/\(binding.proto) -> \(Self.address(binding))") }
            return
        }
        let parts = privatePort.split(separator: "/", maxSplits: 1)
        let proto = parts.count > 1 ? String(parts[1]) : "tcp"
        guard let port = UInt16(parts.first ?? ""), ["tcp", "udp", "sctp"].contains(proto) else {
            throw ValidationError("Invalid port: \(privatePort)")
        }
        let matching = sorted.filter { $0.containerPort == port && $0.proto == proto }
        guard !matching.isEmpty else {
            printError("Error: No public port '\(port)/\(proto)' published for \(container)")
            throw ExitCode(1)
        }
        for binding in matching { print(Self.address(binding)) }
    }

    private static func address(_ binding: ContainerRecord.PortBinding) -> String {
        let ip = binding.hostIP.isEmpty ? "0.0.0.0" : binding.hostIP
        return (ip.contains(":") ? "[\(ip)]" : ip) + ":\(binding.hostPort)"
    }
}

/// `berth container prune`: remove every stopped container.
struct ContainerPrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all stopped containers.")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>').", valueName: "filter"))
    var filter: [String] = []

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() async throws {
        let filters = try usageErrors {
            let filters = try Filters(cli: filter)
            try filters.validate(Engine.pruneFilterKeys)
            _ = try filters.time("until")
            return filters
        }
        if !force {
            guard confirm("WARNING! This will remove all stopped containers.\n") else { return }
        }
        let engine = try global.openEngine()
        let pruned = try await engine.pruneContainers(filters)
        if !pruned.deleted.isEmpty {
            print("Deleted Containers:\n" + pruned.deleted.joined(separator: "\n") + "\n")
        }
        print("Total reclaimed space: \(HumanUnits.size(pruned.spaceReclaimed, precision: 4))")
    }
}
