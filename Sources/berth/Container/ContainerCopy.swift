import ArgumentParser
import BerthEngine
import BerthRuntime
import Foundation
import Glibc

/// `berth cp`: copy files and directories between a container and the host, or a tar stream
/// (`-`) on stdin or stdout.
struct ContainerCopy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy files/folders between a container and the local filesystem.",
        discussion: """
            berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
            berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH

            Use '-' as the source to read a tar archive from stdin and extract it to a directory destination in a \
            container. Use '-' as the destination to stream a tar archive of a container source to stdout.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Archive mode (copy all uid/gid information).")
    var archive = false

    @Flag(name: [.customShort("L"), .long], help: "Always follow symbol link in SRC_PATH.")
    var followLink = false

    @Flag(name: .shortAndLong, help: "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached.")
    var quiet = false

    @Argument(help: ArgumentHelp("CONTAINER:SRC_PATH or SRC_PATH|-", valueName: "source"))
    var source: String

    @Argument(help: ArgumentHelp("DEST_PATH|- or CONTAINER:DEST_PATH", valueName: "destination"))
    var destination: String

    /// Docker's `splitCpArg`: `CONTAINER:PATH`, unless the argument is an absolute path or starts
    /// with `.` (so `./file:name` is a local file).
    static func split(_ argument: String) -> (container: String?, path: String) {
        if argument.hasPrefix("/") { return (nil, argument) }
        guard let colon = argument.firstIndex(of: ":"), !argument.hasPrefix(".") else { return (nil, argument) }
        return (String(argument[..<colon]), String(argument[argument.index(after: colon)...]))
    }

    func run() async throws {
        guard !source.isEmpty else { throw fail("source can not be empty") }
        guard !destination.isEmpty else { throw fail("destination can not be empty") }
        let from = Self.split(source)
        let to = Self.split(destination)
        // A reader of `-` output that goes away must end the copy with an error, not a signal.
        signal(SIGPIPE, SIG_IGN)
        let engine = try global.openEngine()
        let showProgress = !quiet && isatty(1) == 1
        do {
            switch (from.container, to.container) {
            case (let container?, nil):
                if to.path == "-" {
                    try await engine.copyFromContainer(container, source: from.path, to: .stream(1), followLink: followLink)
                } else {
                    let bytes = try await engine.copyFromContainer(container, source: from.path, to: .path(to.path),
                                                                   followLink: followLink)
                    if showProgress {
                        let shown = CopyPath.onHost(to.path, workingDirectory: FileManager.default.currentDirectoryPath)
                        printError("Successfully copied \(HumanUnits.size(bytes, precision: 4)) to \(shown)")
                    }
                }
            case (nil, let container?):
                let endpoint: CopyEndpoint = from.path == "-" ? .stream(0) : .path(from.path)
                let bytes = try await engine.copyToContainer(container, from: endpoint, destination: to.path,
                                                             followLink: followLink, preserveOwnership: archive)
                if showProgress, from.path != "-" {
                    printError("Successfully copied \(HumanUnits.size(bytes, precision: 4)) to \(container):\(CopyPath.inContainer(to.path))")
                }
            case (_?, _?):
                throw fail("copying between containers is not supported")
            case (nil, nil):
                throw fail("must specify at least one container source")
            }
        } catch let error as CopyError {
            throw fail(error.fromDaemon ? "Error response from daemon: \(error.message)" : error.message)
        } catch let error as RuntimeError {
            throw fail("Error response from daemon: \(error)")
        }
    }

    /// Prints `message` as Docker's CLI does (no "Error:" prefix) and fails with status 1.
    private func fail(_ message: String) -> ExitCode {
        printError(message)
        return ExitCode(1)
    }
}
