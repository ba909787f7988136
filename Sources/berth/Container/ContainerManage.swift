import ArgumentParser
import BerthEngine
import BerthRuntime
import BerthTemplate
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
            printDaemonError(error)
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
        guard let privatePort else {
            let lines = bindings.map { "\($0.containerPort)/\($0.proto) -> \(Self.address($0))" }
            for line in lines.sorted(by: naturalLess) { print(line) }
            return
        }
        // As Docker: the protocol defaults to tcp, and the message repeats the port as given.
        let parts = privatePort.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let proto = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : "tcp"
        let number = String(parts[0])
        guard let port = UInt16(number) else {
            let reason = number.allSatisfy(\.isASCII) && !number.isEmpty && number.allSatisfy(\.isNumber)
                ? "value out of range" : "invalid syntax"
            printError("Error: invalid port (\(number)): strconv.ParseUint: parsing \(goQuoted(number)): \(reason)")
            throw ExitCode(1)
        }
        let matching = bindings.filter { $0.containerPort == port && $0.proto == proto }
        guard !matching.isEmpty else {
            printError("Error: No public port '\(privatePort)' published for \(container)")
            throw ExitCode(1)
        }
        for line in matching.map(Self.address).sorted(by: naturalLess) { print(line) }
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
