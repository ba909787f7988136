import ArgumentParser
import BerthEngine
import BerthNetwork
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// `berth network …`: manage networks.
struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage networks.",
        subcommands: [NetworkCreate.self, NetworkList.self, NetworkInspect.self, NetworkRemove.self, NetworkPrune.self,
                      NetworkConnect.self, NetworkDisconnect.self])
}

/// Docker prefixes what its daemon refuses with this.
private func daemonError(_ error: Error) -> ExitCode {
    printDaemonError(error)
    return ExitCode(1)
}

/// `berth network create NAME`: a bridge network whose containers resolve each other by name.
struct NetworkCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Driver to manage the Network (only \"bridge\").", valueName: "string"))
    var driver = "bridge"

    @Option(help: ArgumentHelp("Subnet in CIDR format that represents a network segment.", valueName: "strings"))
    var subnet: String?

    @Option(help: ArgumentHelp("IPv4 Gateway for the master subnet.", valueName: "strings"))
    var gateway: String?

    @Option(name: .customLong("ip-range"), help: ArgumentHelp("Allocate container ip from a sub-range.", valueName: "strings"))
    var ipRange: String?

    @Flag(help: "Restrict external access to the network.")
    var `internal` = false

    @Option(name: [.customShort("o"), .customLong("opt")], help: ArgumentHelp("Set driver specific options (com.docker.network.bridge.name).", valueName: "map"))
    var opt: [String] = []

    @Option(help: ArgumentHelp("Set metadata on a network.", valueName: "list"))
    var label: [String] = []

    @Argument(help: ArgumentHelp("The network's name.", valueName: "network"))
    var name: String

    func run() throws {
        var options = NetworkCreateOptions(name: name)
        options.driver = driver
        options.subnet = subnet
        options.gateway = gateway
        options.ipRange = ipRange
        options.isInternal = `internal`
        options.options = keyValues(opt)
        options.labels = keyValues(label)
        do {
            print(try global.openEngine().createNetwork(options).id)
        } catch let error as EngineError {
            throw daemonError(error)
        } catch let error as NetworkError {
            throw daemonError(error)
        }
    }
}

/// `berth network ls`.
struct NetworkList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.", aliases: ["list"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Only display network IDs.")
    var quiet = false

    @Flag(name: .customLong("no-trunc"), help: "Do not truncate the output.")
    var noTrunc = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Provide filter values (e.g. 'driver=bridge', 'name=x', 'id=…', 'label=k=v', 'type=custom|builtin').", valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp("Format output: 'table', 'table TEMPLATE', 'json', or a Go template such as '{{.Name}}'.", valueName: "string"))
    var format: String?

    func run() throws {
        // Sorted by name, as the Docker CLI sorts them.
        let networks = try usageErrors { try global.openEngine().networks(filters: try Filters(cli: filter)) }
            .sorted { naturalLess($0.name, $1.name) }
        if quiet {
            for network in networks { print(noTrunc ? network.id : String(network.id.prefix(12))) }
            return
        }
        let rows = networks.map { network in
            OrderedJSON.object([
                ("CreatedAt", .string(Timestamp.format(network.created))),
                ("Driver", .string(network.driver)),
                ("ID", .string(noTrunc ? network.id : String(network.id.prefix(12)))),
                ("IPv4", .string("false")), ("IPv6", .string("false")), ("Internal", .string(String(network.bridge?.internal ?? false))),
                ("Labels", .string(network.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))),
                ("Name", .string(network.name)), ("Scope", .string("local")),
            ])
        }
        try ListFormatter(format: format,
                          columns: [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"), ("SCOPE", "Scope")],
                          headers: ["ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                                    "CreatedAt": "CREATED AT", "Labels": "LABELS", "IPv6": "IPV6", "Internal": "INTERNAL"],
                          typeName: "*network.networkContext")
            .write(rows)
    }
}

/// `berth network inspect`: Docker's network document, with the attached containers.
struct NetworkInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more networks.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a Go template, or 'json'.", valueName: "string"))
    var format: String?

    @Argument(help: ArgumentHelp("Networks to inspect.", valueName: "network"))
    var networks: [String]

    func run() throws {
        let engine = try global.openEngine()
        try InspectPrinter(format: format, missingNoun: "network").print(networks) { reference in
            try engine.networkDetails(engine.network(reference)).document()
        }
    }
}

/// `berth network rm`.
struct NetworkRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more networks.", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Do not error if the network does not exist.")
    var force = false

    @Argument(help: ArgumentHelp("Networks to remove.", valueName: "network"))
    var networks: [String]

    func run() throws {
        let engine = try global.openEngine()
        var failed = false
        for reference in networks {
            do {
                try engine.removeNetwork(reference)
                print(reference)
            } catch NetworkError.unknownNetwork(let missing) {
                if force { continue }
                // dockerd's wording (NetworkError's own description).
                printDaemonError(NetworkError.unknownNetwork(missing))
                failed = true
            } catch {
                printDaemonError(error)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `berth network prune`: user networks that no container refers to.
struct NetworkPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() throws {
        if !force {
            guard confirm("WARNING! This will remove all custom networks not used by at least one container.\n") else { return }
        }
        let removed = try global.openEngine().pruneNetworks(filters: Filters())
        if !removed.isEmpty { print("Deleted Networks:\n" + removed.joined(separator: "\n") + "\n") }
    }
}

/// `berth network connect NETWORK CONTAINER`.
struct NetworkConnect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Connect a container to a network.")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Add network-scoped alias for the container.", valueName: "strings"))
    var alias: [String] = []

    @Argument(help: ArgumentHelp("The network.", valueName: "network"))
    var network: String

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func run() throws {
        var options = NetworkConnectOptions(container: container, network: network)
        options.aliases = alias
        do {
            try global.openEngine().connect(options)
        } catch {
            throw daemonError(error)
        }
    }
}

/// `berth network disconnect NETWORK CONTAINER`.
struct NetworkDisconnect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a container from a network.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Force the container to disconnect from a network.")
    var force = false

    @Argument(help: ArgumentHelp("The network.", valueName: "network"))
    var network: String

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func run() throws {
        do {
            try global.openEngine().disconnect(container: container, network: network, force: force)
        } catch {
            throw daemonError(error)
        }
    }
}
