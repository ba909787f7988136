import ArgumentParser
import BerthRuntime
import Foundation
import Glibc

/// `berth container …`: manage containers.
struct ContainerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container",
        abstract: "Manage containers.",
        subcommands: [
            ContainerCreate.self, ContainerRun.self, ContainerStart.self, ContainerList.self, ContainerLogs.self,
            ContainerStop.self, ContainerKill.self, ContainerRestart.self, ContainerRemove.self, ContainerWait.self,
            ContainerInspect.self, ContainerRename.self, ContainerPort.self, ContainerPrune.self, ContainerExec.self, ContainerAttach.self, ContainerTop.self, ContainerStats.self,
            ContainerCopy.self,
        ]
    )
}

/// `berth __monitor ID`: the per-container monitor (hidden; started by `run` and `start`).
struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__monitor", abstract: "Monitor a container (internal).", shouldDisplay: false)

    @OptionGroup var global: GlobalOptions

    /// The caller attaches (`run -i`/`-t`, `start -a -i`): wait for it before starting the process.
    @Flag var attach = false

    @Argument var id: String

    func run() throws {
        let status = Monitor.main(root: global.root, id: id, awaitAttach: attach)
        if status != 0 { throw ExitCode(status) }
    }
}

extension GlobalOptions {
    /// The container runtime on this root, with this very binary as the containers' monitor.
    func openRuntime() throws -> ContainerRuntime {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        let executable = length > 0
            ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : CommandLine.arguments[0]
        return try ContainerRuntime(root: root, monitorExecutable: executable)
    }
}

/// Runs `body` for each container reference, printing each reference on success as Docker does,
/// and reporting failures on stderr; fails the command if any failed.
func forEachContainer(_ references: [String], printReference: Bool = true, _ body: (String) throws -> Void) throws {
    var failed = false
    for reference in references {
        do {
            try body(reference)
            if printReference { print(reference) }
        } catch {
            printError("Error response from daemon: \(error)")
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}
