import ArgumentParser
import BerthEngine
import BerthRuntime
import Foundation
import Glibc

/// `berth exec`: run a command in a running container, through the engine's exec (the one the
/// Engine API's exec endpoints use); this command parses, relays its terminal and renders.
struct ContainerExec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Execute a command in a running container.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Detached mode: run command in the background.")
    var detach = false

    @Option(name: [.customShort("e"), .long], help: ArgumentHelp("Set environment variables.", valueName: "list"))
    var env: [String] = []

    @Option(name: .customLong("env-file"), help: ArgumentHelp("Read in a file of environment variables.", valueName: "list"))
    var envFile: [String] = []

    @Flag(name: .shortAndLong, help: "Keep STDIN open even if not attached.")
    var interactive = false

    @Flag(help: "Give extended privileges to the command.")
    var privileged = false

    @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.")
    var tty = false

    @Option(name: [.customShort("u"), .long], help: ArgumentHelp("Username or UID (format: <name|uid>[:<group|gid>]).", valueName: "string"))
    var user: String?

    @Option(name: [.customShort("w"), .long], help: ArgumentHelp("Working directory inside the container.", valueName: "string"))
    var workdir: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The container, then the command and its arguments.", valueName: "container command [arg...]"))
    var containerAndCommand: [String] = []

    /// Options are taken before the container only (the command's own flags follow it), so what
    /// is captured starts with a dash only when it is a flag `exec` does not know, or a help
    /// request; `CommandLineFailure` reports the errors as the docker CLI does.
    func validate() throws {
        if let first = containerAndCommand.first, first.hasPrefix("-"), first.count > 1 {
            if first == "--help" || first == "-h" { throw CleanExit.helpRequest(Self.self) }
            if first.hasPrefix("--") { throw ValidationError("unknown flag: \(first.split(separator: "=")[0])") }
            throw ValidationError("unknown shorthand flag: '\(first.dropFirst().prefix(1))' in \(first)")
        }
        guard containerAndCommand.count >= 2 else { throw ValidationError("requires at least 2 arguments") }
    }

    func run() async throws {
        var environment: [String] = []
        for file in envFile { environment += try EnvironmentFile.read(file) }
        environment += env.compactMap(EnvironmentFile.resolve)
        // `exec -d -t` has nobody to show the terminal to: it runs without one.
        let terminal = tty && !detach
        if terminal, interactive { try TerminalRelay.checkInputIsTerminal() }
        let config = ExecConfig(command: Array(containerAndCommand.dropFirst()), env: environment, user: user, workingDir: workdir,
                                tty: terminal, attachStdin: interactive && !detach, attachStdout: !detach, attachStderr: !detach,
                                consoleSize: terminal ? TerminalRelay.windowSize : nil, privileged: privileged)
        let engine = try global.openEngine()
        let state: ExecState
        do {
            state = try engine.beginExec(try engine.createExec(containerAndCommand[0], config))
            if detach { return try await engine.startDetachedExec(state) }
        } catch {
            printDaemonError(error)
            throw ExitCode(1)
        }
        let status: Int32
        if terminal {
            // The engine's terminal helper copies between this terminal and the command's.
            let raw = interactive ? RawTerminal(0) : nil
            defer { raw?.restore() }
            let windowChanges = TerminalRelay.forwardWindowChanges { size in try? engine.resizeExec(state.id, to: size) }
            defer { windowChanges.cancel() }
            status = await engine.runExec(state, stdin: 0, stdout: 1, stderr: 1)
        } else {
            status = await engine.runExec(state, stdin: 0, stdout: 1, stderr: 2)
        }
        if status != 0 { throw ExitCode(status) }
    }
}
