import ArgumentParser
import BerthRuntime
import Foundation

/// `berth stop`: the stop signal, then SIGKILL after the grace period.
struct ContainerStop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("t"), .long], help: ArgumentHelp("Seconds to wait before killing the container.", valueName: "int"))
    var time: Int?

    @Option(name: [.customShort("s"), .long], help: ArgumentHelp("Signal to send to the container.", valueName: "string"))
    var signal: String?

    @Argument(help: ArgumentHelp("Containers to stop.", valueName: "container"))
    var containers: [String]

    func run() throws {
        let runtime = try global.openRuntime()
        try forEachContainer(containers) { reference in
            try runtime.stop(reference, timeout: time, signal: signal)
        }
    }
}

/// `berth kill`: send a signal (SIGKILL by default).
struct ContainerKill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("s"), .long], help: ArgumentHelp("Signal to send to the container.", valueName: "string"))
    var signal = "KILL"

    @Argument(help: ArgumentHelp("Containers to kill.", valueName: "container"))
    var containers: [String]

    func run() throws {
        let runtime = try global.openRuntime()
        try forEachContainer(containers) { reference in
            try runtime.kill(reference, signal: signal)
        }
    }
}

/// `berth rm`.
struct ContainerRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more containers.", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Force the removal of a running container (uses SIGKILL).")
    var force = false

    @Flag(name: .shortAndLong, help: "Remove anonymous volumes associated with the container.")
    var volumes = false

    @Argument(help: ArgumentHelp("Containers to remove.", valueName: "container"))
    var containers: [String]

    func run() throws {
        let runtime = try global.openRuntime()
        try forEachContainer(containers) { reference in
            try runtime.remove(reference, force: force, volumes: volumes)
        }
    }
}

/// `berth wait`: block until containers stop, then print their exit codes.
struct ContainerWait: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Block until one or more containers stop, then print their exit codes.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Containers to wait for.", valueName: "container"))
    var containers: [String]

    func run() throws {
        let runtime = try global.openRuntime()
        try forEachContainer(containers, printReference: false) { reference in
            let code = try runtime.wait(reference)
            print(code.map(String.init) ?? "0")
        }
    }
}
