import ArgumentParser
import BerthEngine
import BerthRuntime
import Foundation
import Glibc

/// `berth update`: change containers' resources and restart policy.
struct ContainerUpdate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Update configuration of one or more containers.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("m"), .long], help: ArgumentHelp("Memory limit.", valueName: "bytes"))
    var memory: String?

    @Option(help: ArgumentHelp("Number of CPUs.", valueName: "decimal"))
    var cpus: String?

    @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: ArgumentHelp("CPU shares (relative weight).", valueName: "int"))
    var cpuShares: Int64?

    @Option(name: .customLong("pids-limit"), help: ArgumentHelp("Tune container pids limit (set -1 for unlimited).", valueName: "int"))
    var pidsLimit: Int64?

    @Option(help: ArgumentHelp("Restart policy to apply when a container exits.", valueName: "string"))
    var restart: String?

    @Argument(help: ArgumentHelp("Containers to update.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let change = try usageErrors {
            var change = ResourceUpdate(pidsLimit: pidsLimit)
            change.memory = try memory.map(MemorySize.parse)
            change.nanoCPUs = try cpus.map(CPUCount.nanoCPUs)
            change.cpuShares = cpuShares
            do {
                change.restartPolicy = try restart.map { try RestartPolicy(parsing: $0) }
            } catch let error as RuntimeError {
                throw ValidationError("\(error)")
            }
            return change
        }
        guard change.changesResources || change.restartPolicy != nil else {
            throw ValidationError("you must provide one or more flags when using this command")
        }
        let engine = try global.openEngine()
        try await forEachContainer(containers) { reference in try await engine.updateContainer(reference, change) }
    }
}

/// `berth pause`: freeze every process of containers.
struct ContainerPause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause all processes within one or more containers.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Containers to pause.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let engine = try global.openEngine()
        try await forEachContainer(containers) { reference in try await engine.pauseContainer(reference) }
    }
}

/// `berth unpause`: thaw paused containers.
struct ContainerUnpause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", abstract: "Unpause all processes within one or more containers.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Containers to unpause.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        let engine = try global.openEngine()
        try await forEachContainer(containers) { reference in try await engine.unpauseContainer(reference) }
    }
}

/// `berth diff`: what a container changed in its filesystem, `A`, `C` or `D` and the path.
struct ContainerDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Inspect changes to files or directories on a container's filesystem.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func run() async throws {
        let engine = try global.openEngine()
        let changes: [FilesystemChange]
        do {
            changes = try await engine.containerChanges(container)
        } catch {
            printDaemonError(error)
            throw ExitCode(1)
        }
        for change in changes {
            print("\(["C", "A", "D"][change.kind.rawValue]) \(change.path)")
        }
    }
}

/// `berth export`: a container's filesystem as a tar archive.
struct ContainerExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export a container's filesystem as a tar archive.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to a file, instead of STDOUT.", valueName: "string"))
    var output: String?

    @Argument(help: ArgumentHelp("The container.", valueName: "container"))
    var container: String

    func run() async throws {
        if output == nil, isatty(1) != 0 {
            throw ValidationError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        let descriptor: Int32 = try output.map { path -> Int32 in
            let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw ValidationError("failed to export container: open \(path): \(String(cString: strerror(errno)))") }
            return descriptor
        } ?? 1
        defer { if descriptor != 1 { close(descriptor) } }
        let engine = try global.openEngine()
        do {
            try await engine.exportContainer(container) { chunk in
                var offset = 0
                while offset < chunk.count {
                    let written = chunk[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                    if written < 0, errno == EINTR { continue }
                    guard written > 0 else { throw ExitCode(1) }
                    offset += written
                }
            }
        } catch {
            printDaemonError(error)
            throw ExitCode(1)
        }
    }
}
