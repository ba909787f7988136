import ArgumentParser
import BerthRuntime
import Foundation
import Glibc

/// `berth exec`: run a command in a running container.
struct ContainerExec: ParsableCommand {
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

    @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.")
    var tty = false

    @Option(name: [.customShort("u"), .long], help: ArgumentHelp("Username or UID (format: <name|uid>[:<group|gid>]).", valueName: "string"))
    var user: String?

    @Option(name: [.customShort("w"), .long], help: ArgumentHelp("Working directory inside the container.", valueName: "string"))
    var workdir: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The container, then the command and its arguments.", valueName: "container command [arg...]"))
    var containerAndCommand: [String] = []

    func validate() throws {
        guard containerAndCommand.count >= 2, !containerAndCommand[0].hasPrefix("-") else {
            throw ValidationError("requires at least 2 arguments: CONTAINER COMMAND [ARG...]")
        }
    }

    func run() throws {
        var environment: [String] = []
        for file in envFile { environment += try EnvironmentFile.read(file) }
        environment += env.compactMap(EnvironmentFile.resolve)
        // `exec -d -t` has nobody to show the terminal to: it runs without one.
        let terminal = tty && !detach
        if terminal, interactive { try TerminalRelay.checkInputIsTerminal() }
        let options = ExecOptions(command: Array(containerAndCommand.dropFirst()), env: environment, user: user,
                                  workingDir: workdir, interactive: interactive, detach: detach,
                                  tty: terminal, consoleSize: terminal ? TerminalRelay.windowSize : nil)
        do {
            let runtime = try global.openRuntime()
            let status = terminal ? try runtime.exec(containerAndCommand[0], options, terminal: relay)
                                  : try runtime.exec(containerAndCommand[0], options)
            if status != 0 { throw ExitCode(status) }
        } catch let error as RuntimeError {
            printError("Error response from daemon: \(error)")
            if case .execFailed(let message) = error { throw ExitCode(StartFailure.exitCode(for: message)) }
            throw ExitCode(1)
        }
    }

    /// Copies between this process's stdio and the command's terminal (its master) until the
    /// terminal closes, or the command has exited and nothing more is to be read; with `-i`, this
    /// process's terminal is raw and stdin is forwarded.
    private func relay(master: Int32, hasExited: @escaping @Sendable () -> Bool) {
        let raw = interactive ? RawTerminal(0) : nil
        defer { raw?.restore() }
        if interactive {
            TerminalRelay.forwardInput({ TerminalRelay.writeAll(master, $0) }, end: {})
        }
        let windowChanges = TerminalRelay.forwardWindowChanges { $0.apply(to: master) }
        defer { windowChanges.cancel() }
        TerminalRelay.copyOutput { buffer in
            while true {
                var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
                let ready = poll(&fds, 1, 100)
                if ready < 0, errno == EINTR { continue }
                if ready == 0 {
                    if hasExited() { return 0 }
                    continue
                }
                let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                // EIO once the command's side of the terminal is closed.
                return count
            }
        }
    }
}
