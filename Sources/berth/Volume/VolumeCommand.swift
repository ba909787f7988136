import ArgumentParser
import BerthEngine
import BerthOCI
import BerthRuntime
import BerthTemplate
import Foundation

/// `berth volume …`: manage volumes.
struct VolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Manage volumes.",
        subcommands: [VolumeCreate.self, VolumeList.self, VolumeInspect.self, VolumeRemove.self, VolumePrune.self])
}

/// `berth volume create [NAME]`.
struct VolumeCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Specify volume driver name (only \"local\").", valueName: "string"))
    var driver = "local"

    @Option(help: ArgumentHelp("Set metadata for a volume.", valueName: "list"))
    var label: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Set driver specific options.", valueName: "map"))
    var opt: [String] = []

    @Argument(help: ArgumentHelp("The volume's name (random if not given).", valueName: "volume"))
    var name: String?

    func run() throws {
        var options = VolumeCreateOptions(name: name)
        options.driver = driver
        options.labels = keyValues(label)
        options.driverOptions = keyValues(opt)
        do {
            print(try global.openEngine().createVolume(options).name)
        } catch let error as EngineError {
            printDaemonError(error)
            throw ExitCode(1)
        } catch let error as RuntimeError {
            printDaemonError(error)
            throw ExitCode(1)
        }
    }
}

/// `berth volume ls`.
struct VolumeList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes.", aliases: ["list"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Only display volume names.")
    var quiet = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Provide filter values (e.g. 'dangling=true', 'name=x', 'label=k=v', 'driver=local').", valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp("Format output: 'table', 'table TEMPLATE', 'json', or a Go template such as '{{.Name}}'.", valueName: "string"))
    var format: String?

    func run() throws {
        let volumes = try usageErrors { try global.openEngine().volumes(filters: try Filters(cli: filter)) }
        if quiet {
            for volume in volumes { print(volume.name) }
            return
        }
        let rows = volumes.map { volume in
            OrderedJSON.object([
                ("Availability", .string("N/A")), ("Driver", .string(volume.driver)), ("Group", .string("N/A")),
                ("Labels", .string(volume.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))),
                ("Links", .string("N/A")), ("Mountpoint", .string(volume.mountpoint)), ("Name", .string(volume.name)),
                ("Scope", .string("local")), ("Size", .string("N/A")), ("Status", .string("N/A")),
            ])
        }
        try ListFormatter(format: format, columns: [("DRIVER", "Driver"), ("VOLUME NAME", "Name")],
                          headers: ["Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT",
                                    "Labels": "LABELS", "Scope": "SCOPE", "Size": "SIZE", "Links": "LINKS"],
                          typeName: "*formatter.volumeContext")
            .write(rows)
    }
}

/// `berth volume inspect`.
struct VolumeInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more volumes.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Format output using a Go template, or 'json'.", valueName: "string"))
    var format: String?

    @Argument(help: ArgumentHelp("Volumes to inspect.", valueName: "volume"))
    var volumes: [String]

    func run() throws {
        let engine = try global.openEngine()
        try InspectPrinter(format: format, missingNoun: "volume").print(volumes) { name in
            try engine.volume(name).document()
        }
    }
}

/// `berth volume rm`.
struct VolumeRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more volumes.", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Do not fail when a volume does not exist.")
    var force = false

    @Argument(help: ArgumentHelp("Volumes to remove.", valueName: "volume"))
    var volumes: [String]

    func run() throws {
        let engine = try global.openEngine()
        var failed = false
        for name in volumes {
            do {
                try engine.removeVolume(name, force: force)
                print(name)
            } catch {
                printDaemonError(error)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

/// `berth volume prune`: anonymous volumes no container uses (`-a`: every unused volume).
struct VolumePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused local volumes.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all unused volumes, not just anonymous ones.")
    var all = false

    @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.")
    var force = false

    func run() throws {
        if !force {
            let what = all ? "all local volumes" : "anonymous local volumes"
            guard confirm("WARNING! This will remove \(what) not used by at least one container.\n") else { return }
        }
        var filters = Filters()
        if all { filters.add("all", "true") }
        let report = try global.openEngine().pruneVolumes(filters: filters)
        if !report.deleted.isEmpty { print("Deleted Volumes:\n" + report.deleted.joined(separator: "\n") + "\n") }
        print("Total reclaimed space: \(HumanUnits.size(report.spaceReclaimed, precision: 4))")
    }
}
