import ArgumentParser
import BerthEngine
import Foundation

/// `berth stop`: the stop signal, then SIGKILL after the grace period.
struct ContainerStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("t"), .customLong("timeout"), .customLong("time")], help: ArgumentHelp("Seconds to wait before killing the container.", valueName: "int"))
    var time: Int?

    @Option(name: [.customShort("s"), .long], help: ArgumentHelp("Signal to send to the container.", valueName: "string"))
    var signal: String?

    @Argument(help: ArgumentHelp("Containers to stop.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let engine = try global.openEngine()
        try await forEachContainer(containers) { reference in
            // Stopping a stopped container is not an error in Docker.
            try await notModifiedIsDone { try await engine.stopContainer(reference, timeout: time, signal: signal) }
        }
    }
}

/// `berth kill`: send a signal (SIGKILL by default).
struct ContainerKill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("s"), .long], help: ArgumentHelp("Signal to send to the container.", valueName: "string"))
    var signal = "KILL"

    @Argument(help: ArgumentHelp("Containers to kill.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let engine = try global.openEngine()
        try await forEachContainer(containers) { reference in
            try await engine.killContainer(reference, signal: signal)
        }
    }
}

/// `berth rm`.
struct ContainerRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more containers.", aliases: ["remove"])

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Force the removal of a running container (uses SIGKILL).")
    var force = false

    @Flag(name: .shortAndLong, help: "Remove anonymous volumes associated with the container.")
    var volumes = false

    @Argument(help: ArgumentHelp("Containers to remove.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let engine = try global.openEngine()
        try await forEachContainer(containers) { reference in
            try await engine.removeContainer(reference, force: force, volumes: volumes)
        }
    }
}

/// `berth wait`: block until containers stop, then print their exit codes.
struct ContainerWait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Block until one or more containers stop, then print their exit codes.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Containers to wait for.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let engine = try global.openEngine()
        try await forEachContainer(containers, printReference: false) { reference in
            print(try await engine.waitContainer(reference))
        }
    }
}
